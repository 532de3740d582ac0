// `npm run demo`: the README's first command on a fresh machine. Installs node_modules and the
// test peers (moto, kube-apiserver + etcd, the EC2 metadata mock) when missing — cached outside
// the repository, so a second run starts at once — then runs the demo (demo/main.ts).
import { spawnSync } from 'node:child_process';
import { ensureNodeModules, ensurePeers, repoRoot } from './ensure-setup.mjs';

ensureNodeModules();
// The demo needs moto, the metadata mock and the API server, not helm, the chart linters or the Lambda
// runtime emulator; on a real node (--node) it needs helm and kubectl, the kubelet and containerd too.
process.env.PODIAM_PEERS_SKIP ??= process.argv.includes('--node') ? 'chart-tools lambda-runtime' : 'helm-kubectl chart-tools lambda-runtime';
ensurePeers();
// Ctrl-C reaches the demo too (same process group); wait for it to clean up instead of dying first.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => {});
const r = spawnSync(process.execPath, ['--disable-warning=NodeVersionSupportWarning', '--import', 'tsx', 'demo/main.ts', ...process.argv.slice(2)], { cwd: repoRoot, stdio: 'inherit' });
process.exit(r.status ?? (r.signal ? 130 : 1));
