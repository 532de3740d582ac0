/**
 * The Lambda entry of a function that works on the cluster's IAM (reconcile, rotate): deps are
 * built once per cold start from the environment, and the account ID is learnt from the
 * invoked function's ARN. A configuration error is kept and thrown on every invocation, so
 * Lambda reports it with its message instead of an opaque init failure.
 */
import type { Context } from 'aws-lambda';
import { accountIdResolver, createAwsClients, type AccountResolver } from './aws-clients.ts';
import { loadFunctionsConfig } from './config.ts';
import { jsonLogger } from './log.ts';
import type { ReconcileDeps } from './reconcile.ts';

type Handler<R> = (event: unknown, context?: Context) => Promise<R>;

export function lambdaEntry<R>(create: (deps: ReconcileDeps) => Handler<R>): Handler<R> {
  let resolver: AccountResolver | undefined;
  let built: Handler<R> | undefined;
  let initError: unknown;
  try {
    const config = loadFunctionsConfig();
    const { iam, s3, sts, kms } = createAwsClients(config);
    resolver = accountIdResolver(sts, config.accountId);
    built = create({ iam, s3, kms, config, accountId: resolver, log: jsonLogger });
  } catch (err: unknown) {
    initError = err;
  }
  return async (event, context) => {
    if (!built) throw initError;
    resolver?.learn(context?.invokedFunctionArn);
    return built(event, context);
  };
}
