// How the tests let rotate ask for a reconcile run.
//
// FAKE, and why: in production rotate invokes the reconcile Lambda function (synchronous Invoke)
// and Lambda's reserved concurrency of 1 makes it the only writer of trust policies. No Lambda
// service can run on this machine (no container runtime for a Lambda emulator), so
// startLambdaInvokeEmulator stands in for the Lambda Invoke API on loopback, with exactly the
// behaviour the design relies on: one execution at a time, and a synchronous Invoke of the busy
// function answered at once with 429 TooManyRequestsException (Lambda does not queue those). The
// real LambdaClient, the real retry loop (functions/lib/reconcile-writer.ts) and the real
// reconcile handler run against it; reconcile itself talks to moto.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReconcileWriter } from '../../../functions/lib/reconcile-writer.ts';
import { reconcile, type ReconcileDeps } from '../../../functions/lib/reconcile.ts';

/** For tests that are not about serialisation: the real reconcile, run in-process. */
export function directReconcileWriter(deps: ReconcileDeps): ReconcileWriter {
  return (request) => reconcile(deps, request);
}

export interface LambdaInvokeEmulator {
  endpoint: string;
  /** Resolves the first time an Invoke is refused because a run is in progress. */
  throttled: Promise<void>;
  /** Invocations refused with 429 so far. */
  refusals(): number;
  stop(): Promise<void>;
}

/** The Lambda Invoke API for one function with reserved concurrency 1, on 127.0.0.1. */
export async function startLambdaInvokeEmulator(handler: (event: unknown) => Promise<unknown>): Promise<LambdaInvokeEmulator> {
  let busy = false;
  let refused = 0;
  let onThrottle!: () => void;
  const throttled = new Promise<void>((resolve) => (onThrottle = resolve));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !/^\/2015-03-31\/functions\/[^/]+\/invocations$/.test(req.url ?? '')) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' }).end('{"message":"not found"}');
        return;
      }
      if (busy) {
        refused++;
        onThrottle();
        res
          .writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException' })
          .end(JSON.stringify({ Type: 'User', message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }));
        return;
      }
      busy = true;
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
      handler(event).then(
        (result) => {
          busy = false;
          res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' }).end(JSON.stringify(result));
        },
        (err: unknown) => {
          busy = false;
          const e = err as { name?: string; message?: string };
          res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' }).end(JSON.stringify({ errorType: e.name ?? 'Error', errorMessage: e.message ?? String(err) }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    throttled,
    refusals: () => refused,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
