/**
 * IAM call retries are the SDK's, configured once where each IAM client is built (the functions'
 * aws-clients.ts, the CLI's): `retryMode: 'standard'` with a `maxAttempts` budget. No second
 * layer wraps the calls; a layer on top would multiply the attempts (n × m) and the wait.
 *
 * What is left here: turning a throttling error that outlasted the SDK's attempts into
 * PODIAM_IAM_THROTTLED (one place, a middleware on the client), and bounded parallelism.
 */
import { IamThrottledError, awsErrorName } from './errors.ts';

/** The retry mode of every IAM client podiam builds: exponential backoff with full jitter and a retry quota. */
export const IAM_RETRY_MODE = 'standard';

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'Rate exceeded']);

export function isThrottling(err: unknown): boolean {
  const name = awsErrorName(err);
  if (name && THROTTLING.has(name)) return true;
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === 429;
}

interface MiddlewareClient {
  middlewareStack: {
    add(middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }): void;
  };
}

/**
 * Makes `client` throw IamThrottledError (PODIAM_IAM_THROTTLED, the SDK's error as `cause`) for a
 * call that was still throttled after the SDK's last attempt. The initialize step wraps the
 * SDK's retry (finalizeRequest step), so it sees only what the retries could not fix.
 */
export function reportExhaustedThrottling<C extends MiddlewareClient>(client: C): C {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (err: unknown) {
        if (!isThrottling(err)) throw err;
        const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
        throw new IamThrottledError((context.commandName ?? 'call').replace(/Command$/, ''), attempts, { cause: err });
      }
    },
    { step: 'initialize', name: 'podiamExhaustedThrottling', override: true },
  );
  return client;
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
