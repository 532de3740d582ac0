// What ships around the proxy bundle, for the benchmarks that run it on this machine: the Node that
// the image carries, proxy/Dockerfile's runtime stage (its ENV lines and the node flags in its CMD;
// ENTRYPOINT is node, the last CMD element the bundle) and the environment the chart renders for
// the DaemonSet. Read from the Dockerfile and the chart, not kept as copies that could drift.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { tools } from '../../test/peers/index.ts';
import { parseDockerfile } from '../../test/unit/chart/dockerfile.ts';

const repo = path.join(import.meta.dirname, '../..');

/** The image's Node (24), installed by scripts/peers/install-node-runtime.sh. */
export const SHIPPED_NODE = path.join(process.env.PODIAM_CACHE_DIR ?? path.join(process.env.HOME ?? '/root', '.cache', 'podiam'), 'bin', 'node24');

/**
 * The DaemonSet's environment as the chart renders it with its defaults (helm template) and
 * `extraSets` (`--set` values); only the entries with a literal value.
 */
export function chartEnv(clusterName: string, extraSets: string[] = []): Record<string, string> {
  const out = execFileSync(tools.helm, ['template', 'bench', path.join(repo, 'chart'), '--set', `clusterName=${clusterName}`, ...extraSets.flatMap((x) => ['--set', x])], { encoding: 'utf8' });
  for (const doc of parseAllDocuments(out)) {
    const o = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> } } } } | null;
    if (o?.kind !== 'DaemonSet') continue;
    const proxy = o.spec!.template!.spec!.containers!.find((c) => c.name === 'proxy')!;
    const env: Record<string, string> = {};
    for (const e of proxy.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    return env;
  }
  throw new Error('helm template rendered no DaemonSet');
}

export interface ImageRuntime {
  env: Record<string, string>;
  /** CMD without its last element (the bundle), e.g. ['--memory-saver-mode']. */
  nodeFlags: string[];
}

export function imageRuntime(dockerfile = path.join(repo, 'proxy/Dockerfile')): ImageRuntime {
  const stage = parseDockerfile(readFileSync(dockerfile, 'utf8')).at(-1);
  if (!stage) throw new Error(`${dockerfile} has no stage`);
  const env: Record<string, string> = {};
  let cmd: string[] = [];
  for (const ins of stage.instructions) {
    if (ins.keyword === 'ENV') {
      for (const pair of ins.args.split(/\s+/)) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(pair);
        if (!m) throw new Error(`ENV ${ins.args}: only KEY=value pairs without quotes are read here`);
        env[m[1]!] = m[2]!;
      }
    } else if (ins.keyword === 'CMD') {
      cmd = JSON.parse(ins.args) as string[];
    }
  }
  if (!cmd.at(-1)?.endsWith('main.cjs')) throw new Error(`${dockerfile}: CMD ${JSON.stringify(cmd)} does not end with the bundle`);
  return { env, nodeFlags: cmd.slice(0, -1) };
}
