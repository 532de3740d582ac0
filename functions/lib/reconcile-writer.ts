/**
 * Trust policies have one writer at a time: the reconcile function, whose reserved concurrency
 * is 1 (template.yaml). Rotate used to run a reconcile inline, in its own Lambda, next to the
 * reconcile function; an older run that had read the rotation state before rotate wrote it could
 * then apply its stale trust after rotate's, and undo the rotation (or put a retired role back).
 *
 * So rotate writes the rotation state and then asks the reconcile function for a run
 * (synchronous Invoke). With one slot, every run that read the old state finishes before the
 * asked-for run starts, and that run reads the new state. Lambda answers a synchronous Invoke of
 * a busy function with TooManyRequestsException at once (it does not queue), so the call is
 * retried with backoff within a budget. If the budget runs out the state is already written: the
 * next run of reconcile (a drift event, the hourly schedule) applies it, and the error says so.
 *
 * Chosen over a lock (S3 conditional writes, DynamoDB): no lease to expire, no new resource or
 * permission for reconcile, and the serialisation is Lambda's own, which also covers
 * reconcile-against-reconcile.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { PodiamError } from '../../core/src/errors.ts';
import { awsErrorName } from '../../iam-model/src/errors.ts';
import type { ReconcileRequest, ReconcileSummary } from './reconcile.ts';

export type ReconcileWriter = (request: ReconcileRequest) => Promise<ReconcileSummary>;

export interface LambdaWriterOptions {
  /** How long to keep asking a busy reconcile function; default 12 minutes (rotate's timeout is 15). */
  budgetMs?: number;
  baseMs?: number;
  capMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function lambdaReconcileWriter(lambda: LambdaClient, functionName: string, options: LambdaWriterOptions = {}): ReconcileWriter {
  const { budgetMs = 12 * 60_000, baseMs = 500, capMs = 10_000, now = Date.now, sleep = sleepFor } = options;
  return async (request) => {
    const payload = JSON.stringify({ action: 'reconcile', trigger: request.trigger, ...(request.scope ? { roles: request.scope } : {}) });
    const deadline = now() + budgetMs;
    // Bounded: each turn waits at least baseMs, and the loop ends at the deadline.
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(payload) }));
      } catch (err: unknown) {
        if (awsErrorName(err) !== 'TooManyRequestsException') throw err;
        const wait = Math.max(baseMs, Math.random() * Math.min(capMs, baseMs * 2 ** attempt));
        if (now() + wait > deadline) {
          throw new PodiamError('PODIAM_RECONCILE_BUSY', `the reconcile function stayed busy for ${Math.round(budgetMs / 1000)} s; the rotation state is written, so its next run applies it; send the request again to see the result.`, { cause: err });
        }
        await sleep(wait);
        continue;
      }
      const text = res.Payload ? new TextDecoder().decode(res.Payload) : '';
      if (res.FunctionError) {
        const remote = safeJson(text) as { errorType?: string; errorMessage?: string } | undefined;
        throw new PodiamError('PODIAM_RECONCILE_FAILED', `the reconcile run rotate asked for failed (${remote?.errorType ?? res.FunctionError}: ${remote?.errorMessage ?? text}); the rotation state is written, so its next run applies it.`);
      }
      const answer = safeJson(text) as ReconcileSummary | { ignored: string } | undefined;
      if (!answer || 'ignored' in answer) throw new PodiamError('PODIAM_RECONCILE_FAILED', `the reconcile function did not run (${text.slice(0, 200)}).`);
      return answer;
    }
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
