// proxy/Dockerfile's key properties, checked fast by parsing it: multi-stage, distroless Node 24 at
// runtime, non-root, only the proxy bundle (and the iptables files) copied into the final image, and an
// entrypoint that matches what scripts/build.mjs writes. The image itself is built with buildah and
// checked from the inside by test/integration/chart/image-bundle.test.ts.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './chart.ts';
import { parseDockerfile, type Instruction } from './dockerfile.ts';

const dockerfile = readFileSync(path.join(repoRoot, 'proxy/Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages.at(-1)!;
const finalOf = (keyword: string): Instruction[] => final.instructions.filter((i) => i.keyword === keyword);

describe('proxy/Dockerfile', () => {
  it('is multi-stage, with named build stages', () => {
    assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
    for (const s of stages.slice(0, -1)) assert.ok(s.name, `stage FROM ${s.from} is named`);
  });

  it('runs on distroless Node 24 (Debian 12), pinned by tag, never latest', () => {
    assert.match(final.from, /^gcr\.io\/distroless\/nodejs24-debian12(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/);
    assert.match(stages.find((s) => s.name === 'build')!.from, /^node:24-/, 'the bundle is built on the Node it runs on');
    for (const s of stages) {
      assert.match(s.from, /[:@]/, `${s.from} carries a tag or digest`);
      assert.doesNotMatch(s.from, /:latest$/);
    }
  });

  it('runs as a non-root user by default', () => {
    const users = finalOf('USER');
    assert.equal(users.length, 1);
    const [uid, gid] = users[0]!.args.split(':');
    assert.match(uid!, /^\d+$/, 'numeric, so runAsNonRoot can verify it');
    assert.notEqual(Number(uid), 0);
    assert.notEqual(Number(gid ?? uid), 0);
  });

  it('copies only the proxy bundle from the build stage, and nothing from the build context, into the image', () => {
    const copies = [...finalOf('COPY'), ...finalOf('ADD')];
    assert.ok(copies.length > 0);
    const buildStage = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('scripts/build.mjs')));
    assert.ok(buildStage?.name, 'a named stage runs scripts/build.mjs');
    for (const c of copies) {
      assert.equal(c.keyword, 'COPY', 'no ADD');
      const from = /--from=(\S+)/.exec(c.args)?.[1];
      assert.ok(from, `every COPY into the final image comes from a stage: ${c.args}`);
      const [src] = c.args.replace(/--\S+\s+/g, '').split(/\s+/);
      if (from === buildStage.name) assert.match(src!, /\/dist\/proxy\/?$/, `only dist/proxy from ${from}: ${c.args}`);
    }
  });

  it('starts the bundle that scripts/build.mjs writes (dist/proxy/main.cjs) with node', () => {
    const build = readFileSync(path.join(repoRoot, 'scripts/build.mjs'), 'utf8');
    assert.match(build, /out: 'proxy\/main'/);
    assert.match(build, /outExtension: \{ '\.js': '\.mjs' \}/);
    const entrypoint = JSON.parse(finalOf('ENTRYPOINT')[0]!.args) as string[];
    const cmd = JSON.parse(finalOf('CMD')[0]!.args) as string[];
    assert.deepEqual(entrypoint, ['/nodejs/bin/node'], 'the helm test pod overrides args and relies on this');
    // Node flags first (node refuses some in NODE_OPTIONS), then the bundle.
    assert.equal(cmd.at(-1), '/app/main.cjs');
    assert.ok(cmd.slice(0, -1).every((a) => a.startsWith('--')), JSON.stringify(cmd));
    const copyBundle = finalOf('COPY').find((c) => c.args.includes('dist/proxy'));
    assert.match(copyBundle!.args, /\s\/app\/?$/);
  });

  it('bundles from the lockfile with npm ci, and only core/ and proxy/ sources', () => {
    const buildStage = stages.find((s) => s.name === 'build')!;
    const run = buildStage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(run.some((r) => /npm ci\b/.test(r)));
    const sources = buildStage.instructions
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(!sources.includes('.'), 'never the whole context');
    assert.ok(sources.includes('package-lock.json'));
    assert.ok(!sources.some((s) => s.startsWith('functions') || s.startsWith('cli')), sources.join(' '));
  });

  it('ships the iptables binaries the proxy runs, in both variants', () => {
    const stage = stages.find((s) => s.instructions.some((i) => i.keyword === 'COPY' && i.args.startsWith('proxy/collect-iptables.sh ')));
    assert.ok(stage?.name, 'a named stage copies proxy/collect-iptables.sh');
    const installed = stage.instructions.find((i) => i.keyword === 'COPY' && i.args.startsWith('proxy/collect-iptables.sh '))!.args.split(/\s+/)[1]!;
    assert.ok(stage.instructions.some((i) => i.keyword === 'RUN' && i.args.includes(installed)), `the stage runs ${installed}`);
    assert.ok(finalOf('COPY').some((c) => c.args.includes(`--from=${stage.name}`)));
    const script = readFileSync(path.join(repoRoot, 'proxy/collect-iptables.sh'), 'utf8');
    assert.match(script, /ln -sf xtables-nft-multi "\$rootfs\/usr\/sbin\/\$tool"/);
    assert.match(script, /xtables-legacy-multi/);
  });

  it('uses no heredoc and no syntax directive, which Debian 12\'s buildah 1.28 cannot build', () => {
    assert.ok(stages.every((s) => s.instructions.every((i) => i.heredoc === undefined)));
    assert.doesNotMatch(dockerfile, /^#\s*syntax=/m);
  });

  it('keeps the build context small with a Dockerfile-specific ignore file', () => {
    const ignore = readFileSync(path.join(repoRoot, 'proxy/Dockerfile.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    assert.equal(ignore.find((l) => l && !l.startsWith('#')), '*', 'everything is excluded first');
    assert.ok(ignore.includes('!proxy/src/**'));
    assert.ok(ignore.includes('**/node_modules'));
  });
});

describe('the Dockerfile parser', () => {
  it('joins continuations, reads heredocs and splits stages', () => {
    const s = parseDockerfile("FROM a:1 AS one\nRUN x \\\n  && y\nRUN <<'E'\nhello\nE\nFROM b:2\nUSER 1:1\n");
    assert.equal(s.length, 2);
    assert.equal(s[0]!.name, 'one');
    assert.equal(s[0]!.instructions[0]!.args, 'x && y');
    assert.equal(s[0]!.instructions[1]!.heredoc, 'hello');
    assert.equal(s[1]!.instructions[0]!.args, '1:1');
  });
});
