// The image's /app as proxy/Dockerfile builds it, without a container engine: the build stage's COPY
// lines are replayed from the repository into a scratch /src (node_modules linked in place of its
// `npm ci`), its RUN lines run there, and dist/proxy/ is copied to an /app folder with no
// node_modules anywhere above it, as in the distroless image.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../unit/chart/chart.ts';
import { parseDockerfile } from '../../unit/chart/dockerfile.ts';

const exec = promisify(execFile);

export interface ImageApp {
  /** The image's /app/main.mjs (the CMD). */
  main: string;
  /** What the build stage wrote under dist/. */
  distEntries: string[];
  /** Files in /app. */
  appFiles: string[];
  remove(): void;
}

export async function buildImageApp(): Promise<ImageApp> {
  const stages = parseDockerfile(readFileSync(path.join(repoRoot, 'proxy/Dockerfile'), 'utf8'));
  const build = stages.find((s) => s.name === 'build');
  if (!build) throw new Error('proxy/Dockerfile has no stage named build');
  const work = mkdtempSync(path.join(tmpdir(), 'podiam-chart-image-'));
  const src = path.join(work, 'src');
  mkdirSync(src);
  try {
    for (const ins of build.instructions) {
      if (ins.keyword === 'COPY') {
        const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        const dest = path.join(src, parts.at(-1)!);
        for (const from of parts.slice(0, -1)) {
          const target = parts.length > 2 || dest.endsWith('/') ? path.join(dest, path.basename(from)) : dest;
          mkdirSync(path.dirname(target), { recursive: true });
          cpSync(path.join(repoRoot, from), target, { recursive: true });
        }
      } else if (ins.keyword === 'RUN') {
        // `npm ci` would install what the repository already has: link it instead (no network here).
        if (/^npm ci\b/.test(ins.args)) {
          symlinkSync(path.join(repoRoot, 'node_modules'), path.join(src, 'node_modules'));
          continue;
        }
        await exec('sh', ['-c', ins.args], { cwd: src, timeout: 120_000, env: { PATH: process.env.PATH } });
      }
    }
    const app = path.join(work, 'app');
    cpSync(path.join(src, 'dist', 'proxy'), app, { recursive: true });
    const distEntries = readdirSync(path.join(src, 'dist')).sort();
    rmSync(src, { recursive: true, force: true });
    const main = path.join(app, 'main.mjs');
    if (!existsSync(main)) throw new Error('the build stage wrote no dist/proxy/main.mjs');
    return { main, distEntries, appFiles: readdirSync(app).sort(), remove: () => rmSync(work, { recursive: true, force: true }) };
  } catch (err: unknown) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}
