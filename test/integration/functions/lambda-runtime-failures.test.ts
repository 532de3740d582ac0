// The Lambda runtime peer (aws-lambda-rie + aws-lambda-ric on Node 24) reports each way a shipped
// artifact can fail to load as a failed invocation, so lambda-runtime.test.ts cannot pass with a
// broken artifact: a Handler naming no file, CommonJS code in the ESM handler.mjs, a throw at module
// scope, and a handler that throws. Small handlers written here stand in for the artifact.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLambdaRuntime, type Invocation } from '../../peers/lambda-runtime.ts';

const base = mkdtempSync(path.join(tmpdir(), 'podiam-lambda-runtime-'));
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
async function invokeOnce(handlerFile: string, handler = 'handler.handler'): Promise<Invocation> {
  const taskRoot = path.join(base, String(++n));
  mkdirSync(taskRoot);
  writeFileSync(path.join(taskRoot, 'handler.mjs'), handlerFile);
  const rt = await startLambdaRuntime({ taskRoot, handler, runtime: 'nodejs24.x', env: {}, timeoutSeconds: 20 });
  try {
    return await rt.invoke({ ping: 1 });
  } finally {
    await rt.stop();
  }
}

const errorOf = (res: Invocation) => res.json() as { errorType?: string; errorMessage?: string };

describe('the Lambda runtime peer', () => {
  it('runs an ESM handler.mjs on Node 24 and answers with its result', async () => {
    const res = await invokeOnce('export const handler = async (event) => ({ node: process.version, event });');

    assert.equal(res.status, 200, res.body);
    const body = res.json() as { node: string; event: unknown };
    assert.deepEqual(body.event, { ping: 1 });
    assert.match(body.node, /^v24\./);
  });

  it('fails the invocation when the Handler names a file the package does not have', async () => {
    const res = await invokeOnce('export const handler = async () => ({});', 'index.handler');

    assert.equal(res.status, 502, res.body);
    assert.equal(errorOf(res).errorType, 'Runtime.ImportModuleError');
  });

  it('fails the invocation when handler.mjs holds CommonJS code', async () => {
    const res = await invokeOnce('module.exports.handler = async () => ({});');

    assert.equal(res.status, 502, res.body);
    assert.match(errorOf(res).errorMessage ?? '', /module is not defined in ES module scope/);
  });

  it('fails the invocation when the module throws at init', async () => {
    const res = await invokeOnce("throw new Error('config missing');\nexport const handler = async () => ({});");

    assert.equal(res.status, 502, res.body);
    assert.equal(errorOf(res).errorMessage, 'config missing');
  });

  it('answers a handler that throws with the error, not a result', async () => {
    const res = await invokeOnce("export const handler = async () => { throw new TypeError('bad event'); };");

    assert.deepEqual({ type: errorOf(res).errorType, message: errorOf(res).errorMessage }, { type: 'TypeError', message: 'bad event' });
  });
});
