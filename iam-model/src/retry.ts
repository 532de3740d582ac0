/**
 * Retries IAM calls that were throttled, with exponential backoff and full jitter (AWS's
 * "Exponential Backoff and Jitter": sleep = random(0, min(cap, base·2^attempt))), so many
 * concurrent workers do not retry in lock-step. Anything else is not retried here.
 */
import { IamThrottledError, awsErrorName } from './errors.ts';

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'Rate exceeded']);

export function isThrottling(err: unknown): boolean {
  const name = awsErrorName(err);
  if (name && THROTTLING.has(name)) return true;
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === 429;
}

export interface RetryOptions {
  maxAttempts?: number;
  baseMs?: number;
  capMs?: number;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Stop retrying when this time (Date.now()) has passed: the admission budget. */
  deadline?: number;
}

export const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export async function withThrottleRetry<T>(operation: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 8;
  const baseMs = options.baseMs ?? 200;
  const capMs = options.capMs ?? 10000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err: unknown) {
      if (!isThrottling(err)) throw err;
      const delay = backoffDelay(attempt, baseMs, capMs, random);
      const outOfTime = options.deadline !== undefined && Date.now() + delay >= options.deadline;
      if (attempt + 1 >= maxAttempts || outOfTime) throw new IamThrottledError(operation, attempt + 1, { cause: err });
      await sleep(delay);
    }
  }
}

/** Runs `work` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
