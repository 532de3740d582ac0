// The proxy image, built from proxy/Dockerfile by buildah (scripts/images/build.sh) on the local stand-ins
// of its base images, then unpacked: its config is what the chart relies on, its own Node is 24, /app
// holds only the proxy bundle, and the bundle and the iptables binaries run inside the image's root
// (chroot: the image's glibc and files, nothing from this machine).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundledPackages, shippedLicenceFindings } from '../../support/shipped-licences.ts';
import { unpackProxyImage, type ProxyImage } from './image.ts';

interface Run { code: number | null; output: string }

/** Runs a command inside the image's root as `user` with an empty environment, as a container would. */
function inImage(image: ProxyImage, user: string, command: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('/usr/sbin/chroot', [`--userspec=${user}`, image.rootfs, ...command], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: stdout + stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f));
}

describe('the proxy image built from proxy/Dockerfile', () => {
  let image: ProxyImage;
  before(async () => {
    image = await unpackProxyImage();
  });
  after(() => image?.remove());

  it('runs /nodejs/bin/node --memory-saver-mode /app/main.cjs as user 65532 with NODE_ENV=production and one malloc arena, exposing 8181 and 9181', () => {
    assert.equal(image.config.User, '65532:65532');
    assert.deepEqual(image.config.Entrypoint, ['/nodejs/bin/node'], 'the helm test pod overrides args and relies on this');
    assert.deepEqual(image.config.Cmd, ['--memory-saver-mode', '/app/main.cjs']);
    assert.ok(image.config.Env?.includes('NODE_ENV=production'), image.config.Env?.join(' '));
    assert.ok(image.config.Env?.includes('MALLOC_ARENA_MAX=1'), image.config.Env?.join(' '));
    assert.deepEqual(Object.keys(image.config.ExposedPorts ?? {}).sort(), ['8181/tcp', '9181/tcp']);
  });

  it('carries Node 24 at /nodejs/bin/node, which runs on the image\'s own libraries as nonroot', async () => {
    const r = await inImage(image, '65532:65532', ['/nodejs/bin/node', '--version']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output.trim(), /^v24\.\d+\.\d+$/);
  });

  it('holds only the proxy bundle in /app: no node_modules and no GPL or AGPL licensed file', () => {
    assert.deepEqual(image.appFiles.filter((f) => !f.startsWith('main.cjs')), [], image.appFiles.join(', '));
    assert.ok(image.appFiles.includes('main.cjs'));
    const files = filesUnder(path.join(image.rootfs, 'app'));
    assert.ok(!files.some((f) => f.split(path.sep).includes('node_modules')), 'no node_modules');
    for (const f of files.filter((p) => statSync(p).isFile())) {
      assert.doesNotMatch(readFileSync(f, 'utf8'), /\b(A?GPL-[23]|GNU (Affero )?General Public License)/i, `${f} names a GPL licence`);
    }
  });

  // The same check as the functions' `sam build` output (issue 13): every package the bundle carries,
  // by its source map and LEGAL.txt, with its licence, and no aws-sdk v2 loaded.
  it('ships in /app no package under a GPL or AGPL licence and no aws-sdk v2, by the bundle\'s own package list', () => {
    const app = path.join(image.rootfs, 'app');
    assert.ok(bundledPackages(app).length > 0, 'the source map lists the bundled packages');
    assert.deepEqual(shippedLicenceFindings(app), []);
  });

  it('starts the bundle under the image\'s Node and stops at the first missing setting, naming it (exit 2)', async () => {
    const r = await inImage(image, '65532:65532', ['/nodejs/bin/node', ...image.config.Cmd!]);
    assert.doesNotMatch(r.output, /Cannot find (module|package)/);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /PODIAM_CONFIG_INVALID/);
    assert.match(r.output, /PODIAM_CLUSTER_NAME/);
  });

  it('runs its iptables binaries (nft, the default, and legacy) from the image\'s root', async () => {
    const nft = await inImage(image, '0:0', ['/usr/sbin/xtables-nft-multi', 'iptables', '-V']);
    assert.equal(nft.code, 0, nft.output);
    assert.match(nft.output, /^iptables v1\.8\.\d+ \(nf_tables\)/);
    const plain = await inImage(image, '0:0', ['/usr/sbin/iptables', '-V']);
    assert.match(plain.output, /\(nf_tables\)/, 'plain iptables is the nft variant');
    const legacy = await inImage(image, '0:0', ['/usr/sbin/xtables-legacy-multi', 'iptables', '-V']);
    assert.match(legacy.output, /\(legacy\)/);
  });

  it('is a distroless root: no shell and no package manager', () => {
    for (const p of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/apt-get', 'usr/bin/dpkg']) {
      assert.throws(() => statSync(path.join(image.rootfs, p)), `/${p} is absent`);
    }
  });
});
