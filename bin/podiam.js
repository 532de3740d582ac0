#!/usr/bin/env node
// The `podiam` command. Runs the esbuild bundle (dist/cli/podiam.mjs) when `npm run build` made it
// and it is not older than the sources; else the TypeScript source through tsx, so a fresh
// checkout works without a build step and an edited checkout never runs a stale bundle.
// PODIAM_CLI_FROM_SOURCE=1 forces the source.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = path.join(root, 'dist/cli/podiam.mjs');
const source = path.join(root, 'cli/src/main.ts');

function newestSource(dirs) {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  return newest;
}

function useBuilt() {
  if (process.env.PODIAM_CLI_FROM_SOURCE === '1' || !existsSync(built)) return false;
  if (!existsSync(source)) return true;
  const sources = ['cli/src', 'core/src', 'iam-model/src', 'policies/schema.json'].map((p) => path.join(root, p));
  const schema = sources.pop();
  const newest = Math.max(newestSource(sources), existsSync(schema) ? statSync(schema).mtimeMs : 0);
  return statSync(built).mtimeMs >= newest;
}

// main.ts runs the CLI when it is the process's entry point or when this flag is set.
globalThis.__podiamLaunch = true;
if (useBuilt()) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
}
