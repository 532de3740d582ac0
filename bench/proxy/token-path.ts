// The token path of bench/proxy/run.ts (issue 15): GET /v1/credentials on the proxy's token door
// with a projected service-account token, from the pod's own address.
//  - tokens are real: the API server's TokenRequest API, bound to the pod, audience podiam, minted
//    before anything is timed;
//  - first request per token: every request carries a token the proxy has not seen (signature
//    against the issuer's cached keys, claims, pod binding; the pod's credentials are cached), one
//    at a time on one keep-alive connection, beside the same number of requests repeating one token
//    it has verified before (a SHA-256 and two map reads), in alternating rounds;
//  - cached under load: wrk with one verified token, beside the metadata path of the same process
//    (run.ts alternates them with saturate()).
// Server CPU per answer in the one-at-a-time rounds comes from schedstat (nanoseconds): the
// rounds last a fraction of a second, too short for /proc/<pid>/stat's 10 ms ticks.
import { Agent, request } from 'node:http';
import { inParallel, type KubeApi } from './kube-api.ts';
import { cpuNanos } from './procs.ts';

import { TOKEN_DOOR_PATH } from '../../core/src/annotations.ts';

export { TOKEN_DOOR_PATH };

export interface TokenPod {
  namespace: string;
  name: string;
  uid: string;
  serviceAccount: string;
}

/** `count` distinct tokens bound to the pod (TokenRequest, `parallel` at a time); refuses duplicates. */
export async function mintTokens(kube: KubeApi, pod: TokenPod, count: number, audience: string, expirationSeconds = 3600, parallel = 8): Promise<string[]> {
  const tokens: string[] = new Array<string>(count);
  await inParallel(Array.from({ length: count }, (_, i) => i), parallel, async (i) => {
    tokens[i] = await kube.requestToken(pod.namespace, pod.serviceAccount, pod, audience, expirationSeconds);
  });
  // Two equal tokens would make a "first request" a cached one (the API server puts a fresh jti in each).
  if (new Set(tokens).size !== count) throw new Error(`the API server minted ${new Set(tokens).size} distinct tokens of ${count}`);
  return tokens;
}

/** The JOSE header of a token: which algorithm and key the API server signed it with. */
export function tokenHeader(raw: string): { alg?: string; kid?: string } {
  return JSON.parse(Buffer.from(raw.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: string; kid?: string };
}

export interface OneAtATimeRound {
  /** Send to the end of the answer, ms, one per request. */
  latenciesMs: number[];
  non200: number;
  /** The server's on-CPU time over the round's answers, µs. */
  cpuMicrosPerAnswer: number;
  wallSeconds: number;
}

/**
 * One request per token in `tokens`, in order, each sent when the previous answer has ended, on
 * one keep-alive connection from `from` (the pod's address). The server's CPU over the round.
 */
export async function oneAtATime(pid: number, port: number, from: string, tokens: readonly string[]): Promise<OneAtATimeRound> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: from });
  const latenciesMs: number[] = [];
  let non200 = 0;
  const cpu0 = cpuNanos(pid);
  const t0 = performance.now();
  try {
    for (const token of tokens) {
      const sentAt = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: TOKEN_DOOR_PATH, headers: { authorization: token }, agent, timeout: 5000 }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy(new Error(`${TOKEN_DOOR_PATH}: no answer in 5 s`)));
        req.on('error', reject);
        req.end();
      });
      latenciesMs.push(performance.now() - sentAt);
      if (status !== 200) non200++;
    }
  } finally {
    agent.destroy();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuMicros = (cpuNanos(pid) - cpu0) / 1000;
  return { latenciesMs, non200, cpuMicrosPerAnswer: cpuMicros / tokens.length, wallSeconds };
}

export interface FirstAndCachedRound {
  first: OneAtATimeRound;
  cached: OneAtATimeRound;
}

/**
 * Alternating rounds: `batches[r]` (tokens the server has not seen) against as many requests
 * repeating `cachedToken` (verified before: the caller has had it answered 200 once), the order
 * swapped every round so neither always follows the other.
 */
export async function firstAndCached(pid: number, port: number, from: string, batches: readonly string[][], cachedToken: string): Promise<FirstAndCachedRound[]> {
  const rounds: FirstAndCachedRound[] = [];
  for (const [r, batch] of batches.entries()) {
    const round: Partial<FirstAndCachedRound> = {};
    for (const kind of r % 2 === 0 ? (['first', 'cached'] as const) : (['cached', 'first'] as const)) {
      round[kind] = await oneAtATime(pid, port, from, kind === 'first' ? batch : batch.map(() => cachedToken));
    }
    rounds.push({ first: round.first!, cached: round.cached! });
  }
  return rounds;
}
