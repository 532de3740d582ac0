// A Lambda function's deployable artifact run as AWS runs it: the Runtime Interface Emulator (aws-lambda-rie)
// starts Node 24 with the official runtime interface client (aws-lambda-ric), which loads the handler named
// by _HANDLER from LAMBDA_TASK_ROOT. That is what AWS's Node base image does (/lambda-entrypoint.sh execs
// aws-lambda-ric under the emulator when no real Runtime API is present). Invocations go through the
// emulator's HTTP API, POST /2015-03-31/functions/function/invocations, on loopback only.
// Installed by scripts/peers/install-lambda-runtime.sh into ${PODIAM_CACHE_DIR:-~/.cache/podiam}/lambda-runtime.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { PeerStartError, freePort, startProcess, type PeerProcess } from './process.ts';
import { shippedNode } from './shipped-node.ts';
import { cacheDir } from './tools.ts';

const home = path.join(cacheDir, 'lambda-runtime');
export const lambdaRuntimeTools = {
  rie: path.join(home, 'bin', 'aws-lambda-rie'),
  ric: path.join(home, 'ric', 'node_modules', 'aws-lambda-ric', 'index.mjs'),
  node24: path.join(cacheDir, 'bin', 'node24'),
} as const;

export interface LambdaRuntimeOptions {
  /** LAMBDA_TASK_ROOT: the function's packaged folder (a `sam build` output folder). */
  taskRoot: string;
  /** _HANDLER, as template.yaml's Handler says (e.g. handler.handler). */
  handler: string;
  /** template.yaml's Runtime; only nodejs24.x is installed (the Node major it names runs the client). */
  runtime: string;
  /** The function's environment (template Environment plus test endpoints and credentials). */
  env: Record<string, string>;
  functionName?: string;
  timeoutSeconds?: number;
  memoryMb?: number;
}

export interface Invocation {
  /** The emulator's HTTP status: 200 for a result or a function error, 502 when init failed. */
  status: number;
  body: string;
  /** The body parsed as JSON (what the handler returned, or the runtime's {errorType, errorMessage}). */
  json(): unknown;
}

export interface LambdaRuntime {
  readonly endpoint: string;
  invoke(event: unknown): Promise<Invocation>;
  /** The emulator's and the function's output so far (the last 16 KiB). */
  output(): string;
  /**
   * The Init phase as the runtime reported it (`INIT REPORT(durationMs: …)`: from starting the runtime
   * to its first request for an event, i.e. Node start, aws-lambda-ric, and the handler module's import).
   * Undefined before the first invocation (the emulator initialises on the first one).
   */
  initDurationMs(): number | undefined;
  /**
   * CPU time (user + system, 10 ms resolution) the Node runtime process has used so far, from /proc.
   * After the first invocation that is the Init phase's CPU plus that one invocation's: a figure the
   * load of a shared machine inflates far less than the wall-clock Init report.
   */
  runtimeCpuMs(): number | undefined;
  stop(): Promise<void>;
}

export function requireLambdaRuntime(): void {
  for (const [name, p] of Object.entries(lambdaRuntimeTools)) {
    if (!existsSync(p)) throw new PeerStartError('lambda-runtime', `${name} (${p}) is not installed`, '');
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** user + system CPU of the processes under `root` that run the Node binary, in ms. */
function nodeCpuMs(root: number): number | undefined {
  const node = realpathSync(lambdaRuntimeTools.node24);
  let ticks: number | undefined;
  const queue = [root];
  for (let i = 0; i < queue.length && i < 64; i++) {
    const pid = queue[i]!;
    queue.push(...childrenOf(pid));
    try {
      if (realpathSync(`/proc/${pid}/exe`) !== node) continue;
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      ticks = (ticks ?? 0) + Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone already.
    }
  }
  // USER_HZ is 100 on Linux.
  return ticks === undefined ? undefined : ticks * 10;
}

/**
 * Parses the emulator's report of the Init phase; the last one in `output`. Not the `REPORT … Init
 * Duration` line: this emulator version prints it with the time of its own bookkeeping (0.05 ms was
 * seen) and counts the runtime's start in the first invocation's Duration instead.
 */
export function initDurationFrom(output: string): number | undefined {
  const all = [...output.matchAll(/INIT REPORT\(durationMs: ([\d.]+)\)/g)];
  const last = all.at(-1);
  return last ? Number(last[1]) : undefined;
}

export async function startLambdaRuntime(opts: LambdaRuntimeOptions): Promise<LambdaRuntime> {
  requireLambdaRuntime();
  // Checks that the binary is Node 24 (it throws naming the install script otherwise).
  shippedNode();
  if (opts.runtime !== 'nodejs24.x') {
    throw new PeerStartError('lambda-runtime', `Runtime ${opts.runtime} is not installed (only nodejs24.x, with ${lambdaRuntimeTools.node24})`, '');
  }
  // Two ports: the emulator's invoke API, and the Runtime API the client polls (default 9001 otherwise,
  // which two runtimes at once would both take).
  for (let attempt = 1; ; attempt++) {
    const [port, apiPort] = [await freePort(), await freePort()];
    const endpoint = `http://127.0.0.1:${port}`;
    let proc: PeerProcess;
    try {
      proc = await startProcess({
        name: `lambda-runtime(${opts.functionName ?? path.basename(opts.taskRoot)})`,
        command: lambdaRuntimeTools.rie,
        args: [
          '--runtime-interface-emulator-address',
          `127.0.0.1:${port}`,
          '--runtime-api-address',
          `127.0.0.1:${apiPort}`,
          lambdaRuntimeTools.node24,
          lambdaRuntimeTools.ric,
          opts.handler,
        ],
        cwd: opts.taskRoot,
        // Only what Lambda gives a function: nothing from the test process leaks in (no AWS profile).
        env: {
          PATH: `${path.dirname(lambdaRuntimeTools.node24)}:/usr/local/bin:/usr/bin:/bin`,
          LANG: 'en_US.UTF-8',
          TZ: ':UTC',
          LAMBDA_TASK_ROOT: opts.taskRoot,
          _HANDLER: opts.handler,
          AWS_EXECUTION_ENV: `AWS_Lambda_${opts.runtime}`,
          AWS_LAMBDA_FUNCTION_NAME: opts.functionName ?? 'function',
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(opts.memoryMb ?? 512),
          AWS_LAMBDA_FUNCTION_TIMEOUT: String(opts.timeoutSeconds ?? 60),
          AWS_EC2_METADATA_DISABLED: 'true',
          ...opts.env,
        },
        ready: async () => {
          // The emulator answers 404 on its root once it listens; it starts the runtime at the first invoke.
          const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          return true;
        },
        readyTimeoutMs: 20_000,
      });
    } catch (err: unknown) {
      const inUse = err instanceof PeerStartError && /address already in use|bind: /i.test(err.message);
      if (!inUse || attempt >= 3) throw err;
      continue;
    }
    return {
      endpoint,
      invoke: async (event) => {
        const res = await fetch(`${endpoint}/2015-03-31/functions/function/invocations`, {
          method: 'POST',
          body: typeof event === 'string' ? event : JSON.stringify(event),
          signal: AbortSignal.timeout(((opts.timeoutSeconds ?? 60) + 30) * 1000),
        });
        const body = await res.text();
        return {
          status: res.status,
          body,
          json: () => {
            try {
              return JSON.parse(body) as unknown;
            } catch (err: unknown) {
              throw new Error(`the runtime answered ${res.status} with a body that is not JSON: ${body.slice(0, 500)}\n${proc.outputTail()}`, { cause: err });
            }
          },
        };
      },
      output: () => proc.outputTail(),
      initDurationMs: () => initDurationFrom(proc.outputTail()),
      runtimeCpuMs: () => nodeCpuMs(proc.pid),
      stop: () => proc.stop(),
    };
  }
}
