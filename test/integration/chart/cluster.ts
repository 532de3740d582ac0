// Shared by the chart's integration tests: the real kubectl and helm against a real kube-apiserver
// (test/peers startKube). Every call is bounded in time and never throws on a non-zero exit.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { tmpdir } from 'node:os';
import type { Kube } from '../../peers/index.ts';
import { requireTool } from '../../peers/tools.ts';
import { repoRoot } from '../../unit/chart/chart.ts';

export interface RunResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(bin: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      args,
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number | string }).code as number | null) ?? 1 : 0;
        resolve({ ok: !err, code: typeof code === 'number' ? code : 1, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** kubectl and helm bound to one API server. */
export function clients(kube: Kube) {
  const env = { ...kube.env, HELM_CACHE_HOME: path.join(tmpdir(), 'podiam-helm-cache'), HELM_CONFIG_HOME: path.join(tmpdir(), 'podiam-helm-config') };
  const kubectlBin = requireTool('kubectl');
  const helmBin = requireTool('helm');
  return {
    kubectl: (args: string[], input?: string) => run(kubectlBin, args, env, input),
    helm: (args: string[]) => run(helmBin, args, env),
    /** `kubectl get -o json`; throws with kubectl's stderr when the object cannot be read. */
    async getJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
      const r = await run(kubectlBin, ['get', ...args, '-o', 'json'], env);
      if (!r.ok) throw new Error(`kubectl get ${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
  };
}
