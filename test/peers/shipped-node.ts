// The Node.js that podiam ships on (the proxy image's base and the Lambda runtime nodejs24.x), installed by
// scripts/peers/install-node-runtime.sh. Tests run the shipped bundles with it rather than with the
// toolchain's Node (process.execPath), so they exercise the runtime users get.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PeerStartError } from './process.ts';
import { cacheDir } from './tools.ts';

export const SHIPPED_NODE_MAJOR = 24;

let checked: string | undefined;

/** Absolute path of the shipped Node binary; throws, naming the install script, when it is missing or not Node 24. */
export function shippedNode(): string {
  if (checked) return checked;
  const node = path.join(cacheDir, 'bin', `node${SHIPPED_NODE_MAJOR}`);
  if (!existsSync(node)) {
    throw new PeerStartError('node24', `${node} is missing; run bash scripts/peers/install-node-runtime.sh (or npm run peers:install)`, '');
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  if (!version.startsWith(`v${SHIPPED_NODE_MAJOR}.`)) {
    throw new PeerStartError('node24', `${node} is ${version}, not Node ${SHIPPED_NODE_MAJOR}; rerun bash scripts/peers/install-node-runtime.sh`, '');
  }
  checked = node;
  return node;
}
