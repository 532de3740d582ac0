// The proxy image's /app, built as proxy/Dockerfile's build stage does (see image.ts): only the proxy
// bundle, and it runs with no node_modules anywhere, as on distroless.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { buildImageApp, type ImageApp } from './image.ts';

describe('the proxy image\'s /app', () => {
  let app: ImageApp;
  before(async () => {
    app = await buildImageApp();
  });
  after(() => app?.remove());

  it('holds the proxy bundle and nothing else the build could make', () => {
    assert.deepEqual(app.distEntries, ['proxy'], 'no function or CLI bundles: their sources are not in the build stage');
    assert.ok(app.appFiles.includes('main.mjs'));
    assert.ok(app.appFiles.every((f) => f.startsWith('main.mjs')), app.appFiles.join(', '));
  });

  it('starts standalone and stops at the first missing setting, naming it (exit 2)', async () => {
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(process.execPath, [app.main], { env: { PATH: process.env.PATH }, timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: stdout + stderr });
      });
    });
    assert.doesNotMatch(result.output, /Cannot find (module|package)/);
    assert.equal(result.code, 2, result.output);
    assert.match(result.output, /PODIAM_CONFIG_INVALID/);
    assert.match(result.output, /PODIAM_CLUSTER_NAME/);
  });
});
