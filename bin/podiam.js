#!/usr/bin/env node
// The `podiam` command. Runs the esbuild bundle (dist/cli/podiam.mjs) when `npm run build` made it,
// else the TypeScript source through tsx, so a fresh checkout works without a build step.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli/podiam.mjs', import.meta.url));
const source = fileURLToPath(new URL('../cli/src/main.ts', import.meta.url));

// main.ts runs the CLI when it is the process's entry point or when this flag is set.
globalThis.__podiamLaunch = true;
if (existsSync(built) && process.env.PODIAM_CLI_FROM_SOURCE !== '1') {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
}
