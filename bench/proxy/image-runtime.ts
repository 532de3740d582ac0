// What proxy/Dockerfile's runtime stage gives the process besides the chart's environment: its ENV
// lines and the node flags in its CMD (ENTRYPOINT is node, the last CMD element the bundle). The
// benchmarks run the bundle on this machine, so they read these from the Dockerfile instead of
// keeping a copy that could drift from what ships.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDockerfile } from '../../test/unit/chart/dockerfile.ts';

export interface ImageRuntime {
  env: Record<string, string>;
  /** CMD without its last element (the bundle), e.g. ['--memory-saver-mode']. */
  nodeFlags: string[];
}

export function imageRuntime(dockerfile = path.join(import.meta.dirname, '../../proxy/Dockerfile')): ImageRuntime {
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
