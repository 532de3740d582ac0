// AWS SAM CLI and cfn-lint from the peer venv validate templates offline (no credentials, no network).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { requireTool, toolEnv } from '../../peers/index.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Result {
  code: number;
  out: string;
}

async function samValidate(template: string, cwd: string): Promise<Result> {
  try {
    const { stdout, stderr } = await run(requireTool('sam'), ['validate', '--lint', '--region', 'us-east-1', '-t', template], {
      cwd,
      env: toolEnv(),
      timeout: 180_000,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err: unknown) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const minimal = (handler: string): string => `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs24.x
      Handler: ${handler}
      InlineCode: "export const handler = async () => ({ ok: true });"
`;

describe('SAM CLI and cfn-lint peers', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-sam-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers cfn-lint --version', async () => {
    const { stdout } = await run(requireTool('cfnLint'), ['--version'], { env: toolEnv(), timeout: 60_000 });

    assert.match(stdout, /cfn-lint \d+\.\d+\.\d+/);
  });

  it('passes sam validate --lint for a valid throwaway template', async () => {
    writeFileSync(path.join(dir, 'ok.yaml'), minimal('index.handler'));

    const res = await samValidate('ok.yaml', dir);

    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /valid/i);
  });

  it('fails sam validate --lint for a template that references a parameter it does not define', async () => {
    writeFileSync(path.join(dir, 'bad.yaml'), minimal('!Ref NoSuchParameter'));

    const res = await samValidate('bad.yaml', dir);

    assert.notEqual(res.code, 0);
    assert.match(res.out, /NoSuchParameter/);
  });

  it("passes sam validate --lint for the project's template.yaml", async () => {
    const res = await samValidate('template.yaml', repoRoot);

    assert.equal(res.code, 0, res.out);
  });
});
