// The bundle loader is what the Lambda functions import: it must stay free of the IAM catalog and
// ajv, or every function bundle would carry megabytes of data.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

const repo = path.resolve(import.meta.dirname, '../../..');

describe('iam-model/src/bundle/parse-bundle.ts', () => {
  it('bundles to a few kilobytes with no catalog, schema validator or AWS SDK inside', async () => {
    const result = await build({
      entryPoints: [path.join(repo, 'iam-model/src/bundle/parse-bundle.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.deepEqual(inputs.filter((i) => i.includes('node_modules')), []);
    assert.ok(inputs.every((i) => /^(iam-model\/src\/bundle|core\/src)\//.test(i)), inputs.join(', '));
    const bytes = result.outputFiles[0]!.contents.length;
    assert.ok(bytes < 30_000, `${bytes} bytes`);
  });
});
