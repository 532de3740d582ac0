// Starts a peer as a child process, waits (bounded) until it answers, and makes sure it dies with the test:
// on stop(), on the test process's exit or SIGINT/SIGTERM, and even when the test process is SIGKILLed
// (a tiny shell guard kills the peer when its stdin pipe from us closes).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { PodiamError } from '../../core/src/errors.ts';

/** Thrown when a peer cannot be started or does not answer in time; the message carries its stderr tail. */
export class PeerStartError extends PodiamError {
  constructor(peer: string, problem: string, stderrTail: string, options: { cause?: unknown } = {}) {
    const tail = stderrTail.trim() ? `\n--- ${peer} output (tail) ---\n${stderrTail.trim()}` : '';
    super(
      'PODIAM_TEST_PEER_FAILED',
      `test peer ${peer}: ${problem}. Run 'npm run peers:install' (or 'bash scripts/peers/install.sh') and retry.${tail}`,
      options,
    );
  }
}

/** A free TCP port on 127.0.0.1, found by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

export interface StartProcessOptions {
  /** Peer name for messages, e.g. 'moto'. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves true once the peer answers; called repeatedly until it does or the deadline passes. */
  ready: () => Promise<boolean>;
  /** Readiness deadline in ms (default 30 000). */
  readyTimeoutMs?: number;
}

export interface PeerProcess {
  readonly name: string;
  readonly pid: number;
  /** Last bytes of combined stdout/stderr, for failure messages. */
  outputTail(): string;
  /** SIGTERM to the peer, SIGKILL after 5 s, then its whole process group; resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
}

const TAIL_BYTES = 16 * 1024;
const live = new Set<ChildProcess>();
let hooksInstalled = false;

function signalGuard(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // Already gone.
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the whole process group (guard, peer and anything the peer started), as the child is detached.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: tell every live guard to stop its peer; the guards finish on their own.
  process.on('exit', () => {
    for (const child of live) signalGuard(child, 'SIGTERM');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const child of live) signalGuard(child, 'SIGTERM');
      // Re-raise with the default action so the exit status still says which signal ended us.
      process.kill(process.pid, sig);
    });
  }
}

// The guard: runs the peer in the background and stops it (SIGTERM, SIGKILL 5 s later) when the guard gets
// SIGTERM/SIGINT/SIGHUP or when our end of its stdin closes (the test process ended, however it ended);
// it reaps the peer and exits with the peer's status when the peer ends first. fd 3 keeps the stdin pipe
// for the watcher, since a background job's stdin is /dev/null otherwise.
const GUARD = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'peer=$!',
  '( read -r _ <&3; kill -TERM $$ 2>/dev/null ) &',
  'watch=$!',
  'exec 3<&-',
  'finish() { kill "$watch" 2>/dev/null; exit "$1"; }',
  'on_signal() { kill -TERM "$peer" 2>/dev/null; ( sleep 5; kill -KILL "$peer" 2>/dev/null ) & k=$!; wait "$peer"; kill "$k" 2>/dev/null; finish 143; }',
  'trap on_signal TERM INT HUP',
  'wait "$peer"; rc=$?',
  'finish "$rc"',
].join('\n');

export async function startProcess(opts: StartProcessOptions): Promise<PeerProcess> {
  installExitHooks();
  const chunks: Buffer[] = [];
  let size = 0;
  const keep = (b: Buffer): void => {
    chunks.push(b);
    size += b.length;
    while (size > TAIL_BYTES && chunks.length > 1) size -= chunks.shift()!.length;
    if (process.env.PODIAM_PEER_LOG === '1') process.stderr.write(`[${opts.name}] ${b.toString()}`);
  };
  const outputTail = (): string => Buffer.concat(chunks).toString('utf8').slice(-TAIL_BYTES);

  const child = spawn('bash', ['-c', GUARD, `podiam-peer-${opts.name}`, opts.command, ...opts.args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Our end of the guard's stdin must not keep the event loop alive, and must never be written to.
  child.stdin!.on('error', () => {});
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => live.delete(child), () => {});
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      signalGuard(child, 'SIGTERM');
      // The guard escalates to SIGKILL after 5 s itself; this is the backstop if the guard is stuck.
      const timer = setTimeout(() => killGroup(child), 8000);
      await exited;
      clearTimeout(timer);
      // The peer may have left grandchildren in its group.
      killGroup(child);
    })();
    return stopping;
  };

  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  let lastError: unknown;
  let early: string | undefined;
  void spawnError.then((e) => (early = `could not be spawned (${e.message})`));
  void exited.then(() => (early ??= `exited early with ${child.exitCode ?? child.signalCode}`));
  for (let attempt = 0; ; attempt++) {
    if (early) {
      await stop();
      throw new PeerStartError(opts.name, `'${opts.command}' ${early}`, outputTail());
    }
    try {
      if (await opts.ready()) break;
    } catch (err: unknown) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      await stop();
      const why = lastError instanceof Error ? ` (last probe: ${lastError.message})` : '';
      throw new PeerStartError(opts.name, `did not answer within ${opts.readyTimeoutMs ?? 30_000} ms${why}`, outputTail(), {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 250)));
  }
  return { name: opts.name, pid: child.pid!, outputTail, stop };
}

/**
 * Starts a peer on a free loopback port. freePort() releases the port before the peer binds it, so another
 * process (a parallel test file) can take it in between; a peer that then dies with "address in use" is
 * started again on a new port, at most `attempts` times.
 */
export async function startOnFreePort(
  build: (port: number) => StartProcessOptions,
  attempts = 3,
): Promise<{ port: number; proc: PeerProcess }> {
  for (let i = 1; ; i++) {
    const port = await freePort();
    try {
      return { port, proc: await startProcess(build(port)) };
    } catch (err: unknown) {
      const inUse = err instanceof PeerStartError && /address already in use|EADDRINUSE|bind: /i.test(err.message);
      if (!inUse || i >= attempts) throw err;
    }
  }
}

/** A readiness probe: true once an HTTP GET of the URL answers with a status below 500. */
export function httpAnswers(url: string, init: RequestInit = {}): () => Promise<boolean> {
  return async () => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status < 500;
  };
}
