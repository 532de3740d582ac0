// The container images built from this working tree by scripts/images/build.sh (buildah, from
// proxy/Dockerfile and test/images/app/Dockerfile on local stand-in base images): their docker-archive
// tarballs, which a node's containerd imports, and their contents unpacked for tests that look inside.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PeerStartError } from './process.ts';
import { cacheDir } from './tools.ts';

const exec = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');

export type ImageName = 'proxy' | 'app';

export interface BuiltImage {
  /** The image reference in the archive's RepoTags (e.g. ghcr.io/podiam/proxy:dev-<key>). */
  ref: string;
  /** docker-archive tarball: `ctr -n k8s.io images import` and KubeNode.importImage take it. */
  archive: string;
  /** Hash of every input of the build. */
  key: string;
  /** Whether this call built it or found it built, and the seconds that took. */
  status: 'built' | 'cached';
  seconds: number;
}

/**
 * Builds the images (or finds them built: the script keys its cache on every input and answers in about a
 * second when nothing changed). A cold build takes minutes (the base images, then `npm ci` in the build
 * stage); the first test file to call this pays for it, the others wait on the script's lock.
 */
export async function ensureImages<N extends ImageName>(...names: N[]): Promise<Record<N, BuiltImage>> {
  const wanted = names.length ? names : (['proxy', 'app'] as N[]);
  try {
    await exec('bash', [path.join(repoRoot, 'scripts/images/build.sh'), ...wanted], { timeout: 20 * 60_000, maxBuffer: 1 << 24 });
  } catch (err: unknown) {
    const e = err as { stderr?: string; message?: string };
    throw new PeerStartError('images', `scripts/images/build.sh ${wanted.join(' ')} failed`, e.stderr ?? e.message ?? '', { cause: err });
  }
  const index = JSON.parse(readFileSync(path.join(cacheDir, 'images', 'index.json'), 'utf8')) as Record<string, BuiltImage>;
  return Object.fromEntries(wanted.map((n) => [n, index[n]!])) as Record<N, BuiltImage>;
}

/** The OCI image config as the archive carries it (docker-archive's config JSON). */
export interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  ExposedPorts?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
}

export interface UnpackedImage {
  /** The image's root filesystem, every layer applied (umoci unpack, as a runtime would). */
  rootfs: string;
  config: ImageConfig;
  remove(): void;
}

/** Unpacks a docker-archive into a temporary directory: skopeo to an OCI layout, then umoci unpack. */
export async function unpackImage(archive: string): Promise<UnpackedImage> {
  const work = mkdtempSync(path.join(tmpdir(), 'podiam-image-'));
  const remove = () => rmSync(work, { recursive: true, force: true });
  try {
    await exec('skopeo', ['copy', '--quiet', `docker-archive:${archive}`, `oci:${work}/oci:image`], { timeout: 180_000 });
    await exec('umoci', ['unpack', '--image', `${work}/oci:image`, `${work}/bundle`], { timeout: 180_000 });
    rmSync(path.join(work, 'oci'), { recursive: true, force: true });
    const { stdout } = await exec('skopeo', ['inspect', '--config', `docker-archive:${archive}`], { timeout: 60_000, maxBuffer: 1 << 24 });
    const config = (JSON.parse(stdout) as { config?: ImageConfig }).config ?? {};
    return { rootfs: path.join(work, 'bundle', 'rootfs'), config, remove };
  } catch (err: unknown) {
    remove();
    throw err;
  }
}
