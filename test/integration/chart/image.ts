// The proxy image as proxy/Dockerfile builds it, for real: scripts/images/build.sh (buildah) builds it
// from this working tree (or finds it built), and it is unpacked here into a root filesystem, so tests
// run the image's own /nodejs/bin/node on its /app/main.cjs, exactly as the DaemonSet's container does.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ensureImages, unpackImage, type ImageConfig } from '../../peers/images.ts';

export interface ProxyImage {
  /** The image reference (ghcr.io/podiam/proxy:dev-<key>) and its docker-archive. */
  ref: string;
  archive: string;
  /** The unpacked image's root filesystem. */
  rootfs: string;
  /** The image's /nodejs/bin/node (the ENTRYPOINT) and /app/main.cjs (the CMD), as paths on this machine. */
  node: string;
  main: string;
  /** Files in /app. */
  appFiles: string[];
  config: ImageConfig;
  remove(): void;
}

export async function unpackProxyImage(): Promise<ProxyImage> {
  const { proxy } = await ensureImages('proxy');
  const unpacked = await unpackImage(proxy.archive);
  const app = path.join(unpacked.rootfs, 'app');
  return {
    ref: proxy.ref,
    archive: proxy.archive,
    rootfs: unpacked.rootfs,
    node: path.join(unpacked.rootfs, 'nodejs/bin/node'),
    main: path.join(app, 'main.cjs'),
    appFiles: readdirSync(app).sort(),
    config: unpacked.config,
    remove: unpacked.remove,
  };
}
