// Tiny images made from local files (no registry is reachable): umoci builds an OCI layout,
// skopeo turns it into a docker-archive whose RepoTags give the name, and containerd imports it.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ImageSpec {
  /** Full name, e.g. docker.io/local/pause:1. */
  name: string;
  /** Path in the image -> file on this machine (copied, made executable). */
  files: Record<string, string>;
  entrypoint: string[];
}

/** Builds `spec` in `workDir`; returns the docker-archive's path. */
export async function buildImage(workDir: string, spec: ImageSpec): Promise<string> {
  const slug = spec.name.replace(/[^a-z0-9]+/gi, '-');
  const layout = path.join(workDir, `${slug}-oci`);
  const bundle = path.join(workDir, `${slug}-bundle`);
  const archive = path.join(workDir, `${slug}.tar`);
  const opts = { timeout: 60_000 };
  await run('umoci', ['init', '--layout', layout], opts);
  await run('umoci', ['new', '--image', `${layout}:img`], opts);
  await run('umoci', ['unpack', '--image', `${layout}:img`, bundle], opts);
  for (const [inImage, onHost] of Object.entries(spec.files)) {
    const dest = path.join(bundle, 'rootfs', inImage);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(onHost, dest);
    chmodSync(dest, 0o755);
  }
  await run('umoci', ['repack', '--image', `${layout}:img`, bundle], opts);
  await run('umoci', ['config', '--image', `${layout}:img`, ...spec.entrypoint.flatMap((e) => ['--config.entrypoint', e])], opts);
  await run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${layout}:img`, `docker-archive:${archive}:${spec.name}`], opts);
  rmSync(bundle, { recursive: true, force: true });
  rmSync(layout, { recursive: true, force: true });
  return archive;
}
