/**
 * Admission function: the cluster's ValidatingWebhookConfiguration calls its Function URL
 * (AuthType NONE: the API server cannot SigV4-sign) at /admit/<secret>, and its
 * MutatingWebhookConfiguration (token identity, ./mutation.ts) at /mutate/<secret>, same secret. Answers an
 * AdmissionReview v1 within the budget (5 s by default); creates a missing managed role on
 * demand, and only roles that the reviewed bundle defines, so a leaked URL grants nothing.
 *   path over 512 characters → 414; wrong or missing secret → 403; malformed review → 400;
 *   no decision in time (IAM throttled or slow, S3 unreadable) → 503, anything unexpected → 500
 *   (the webhook's failurePolicy decides what the API server does then).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { S3Client } from '@aws-sdk/client-s3';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { describeError, PodiamError } from '../../core/src/errors.ts';
import { accountIdResolver, createAwsClients, IAM_MAX_ATTEMPTS } from '../lib/aws-clients.ts';
import { refuseBundleBreakingGuardrails } from '../lib/bundle-guard.ts';
import { cachedBundleSource } from '../lib/bundle-source.ts';
import { verifierFor } from '../lib/bundle-signature.ts';
import { createRoleEnsurer } from '../lib/ensure-role.ts';
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_EXPIRATION_SECONDS, loadAdmissionConfig, type AdmissionConfig } from '../lib/config.ts';
import { buildDesiredState, type DesiredState } from '../../iam-model/src/desired-state.ts';
import { readIntermediates, existingIntermediateArns } from '../../iam-model/src/iam-reader.ts';
import { jsonLogger, type Logger } from '../lib/log.ts';
import { emfMetrics, type MetricSink } from '../lib/metrics.ts';
import { readRotationState, scopeOf, trustedIntermediateArns } from '../lib/rotation-state.ts';
import { allowResponse, denyResponse, mutateResponse, parseReview, AdmissionReviewError } from './review.ts';
import { podMutation } from './mutation.ts';
import { admissionVerdict, isNamespaceReview, namespaceVerdict } from './verdict.ts';

export interface AdmissionDeps {
  iam: IAMClient;
  s3: S3Client;
  config: AdmissionConfig;
  /** Verifies the bundle's signature when config.bundleSigningKeyArn is set (required then). */
  kms?: KMSClient;
  accountId: () => Promise<string>;
  log: Logger;
  /** CloudWatch metrics; default EMF lines on stdout. */
  metric?: MetricSink;
  now?: () => number;
}

export const ADMIT_PATH_PREFIX = '/admit/';
/** The mutating webhook's path: the same secret after another prefix, so one URL secret serves both. */
export const MUTATE_PATH_PREFIX = '/mutate/';

/** Which webhook a path is for; undefined for any other path (refused as a wrong secret). */
function routeOf(rawPath: string): { route: 'admit' | 'mutate'; given: string } | undefined {
  if (rawPath.startsWith(ADMIT_PATH_PREFIX)) return { route: 'admit', given: rawPath.slice(ADMIT_PATH_PREFIX.length) };
  if (rawPath.startsWith(MUTATE_PATH_PREFIX)) return { route: 'mutate', given: rawPath.slice(MUTATE_PATH_PREFIX.length) };
  return undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Longest raw path the handler looks at: /admit/ and a secret of up to a few hundred characters.
 * Checked first, before any other work on the path, by anyone who can reach the public URL.
 */
export const MAX_ADMIT_PATH_LENGTH = 512;

/**
 * One backwards scan. A regex such as /\/+$/ backtracks from every slash of a run that is not at
 * the end (quadratic: 50,000 slashes took seconds), and the URL is public, unauthenticated.
 */
function withoutTrailingSlashes(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x2f) end -= 1;
  return text.slice(0, end);
}

/**
 * Constant-time check of the path's secret against the configured SHA-256 of the secret (the
 * function never holds the secret itself). The guess is hashed first, so the comparison takes the
 * same time whatever the length or content of the guess (timingSafeEqual needs equal lengths, and
 * an early length check would leak the length).
 */
export function secretMatches(rawPath: string, secretSha256Hex: string): boolean {
  const route = routeOf(rawPath);
  const given = route ? withoutTrailingSlashes(route.given) : '';
  const expected = Buffer.from(secretSha256Hex, 'hex');
  return expected.length === 32 && timingSafeEqual(digest(given), expected);
}

function json(statusCode: number, body: unknown): LambdaFunctionURLResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function errorAnswer(err: PodiamError): LambdaFunctionURLResult {
  return json(err.status, { code: err.code, message: err.message });
}

/**
 * No decision: HTTP 503 with a Kubernetes Status, the one error body the API server reads (a
 * plain JSON body is replaced by "the server is currently unable to handle the request"), so
 * with failurePolicy Fail kubectl shows the code. The code leads the message and is the cause's reason.
 */
function unavailable(code: string, message: string): LambdaFunctionURLResult {
  return json(503, {
    apiVersion: 'v1',
    kind: 'Status',
    status: 'Failure',
    code: 503,
    reason: 'ServiceUnavailable',
    message: `${code}: ${message}`,
    details: { causes: [{ reason: code, message }] },
  });
}

/** Codes that mean "no bundle this stack may use": the pod is refused with the bundle's code. */
const BUNDLE_REFUSALS = new Set(['PODIAM_BUNDLE_NOT_FOUND', 'PODIAM_BUNDLE_INVALID', 'PODIAM_BOUNDARY_MISMATCH', 'PODIAM_MANAGED_POLICY_NOT_ALLOWED', 'PODIAM_BUNDLE_GUARDRAILS_FAILED', 'PODIAM_BUNDLE_SIGNATURE_INVALID']);

class Deadline extends Error {}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Deadline(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

interface Snapshot {
  desired: DesiredState;
  at: number;
}

export function createAdmissionHandler(deps: AdmissionDeps) {
  const { config, iam, log } = deps;
  const now = deps.now ?? Date.now;
  const bundleSource = cachedBundleSource(deps.s3, { bucket: config.bundleBucket, key: config.bundleKey }, config.bundleCacheMs, now, verifierFor(config, deps.kms));
  // The IAM half (look up, create on demand, never adopt) lives with the other IAM writes.
  const ensureRole = createRoleEnsurer(iam, { cluster: config.cluster, log, now });
  let snapshot: Snapshot | undefined;
  let snapshotPending: Promise<Snapshot> | undefined;

  /** The desired state (bundle + trusted intermediates), refreshed with the bundle cache. */
  const desiredState = (): Promise<Snapshot> => {
    if (snapshot && now() - snapshot.at < config.bundleCacheMs) return Promise.resolve(snapshot);
    snapshotPending ??= (async () => {
      try {
        const [accountId, loaded, rotation] = await Promise.all([
          deps.accountId(),
          bundleSource(),
          deps.accountId().then((account) => readRotationState(deps.s3, config.bundleBucket, config.stateKey, scopeOf(config, account))),
        ]);
        const wanted = trustedIntermediateArns(config.intermediateRoleArns, rotation);
        // IAM refuses a trust policy naming a role that does not exist; if none can be checked, try them all.
        const existing = existingIntermediateArns(await readIntermediates(iam, wanted, accountId, new Set(), scopeOf(config, accountId).allowed));
        const trusted = existing.length ? existing : wanted;
        refuseBundleBreakingGuardrails(loaded.bundle, 'admission', log, deps.metric ?? emfMetrics);
        const desired = buildDesiredState(loaded.bundle, {
          cluster: config.cluster,
          accountId,
          intermediateRoleArns: trusted,
          permissionsBoundaryArn: config.permissionsBoundaryArn,
          attachableManagedPolicyArns: config.attachableManagedPolicyArns,
          trustExternalId: config.trustExternalId,
        });
        snapshot = { desired, at: now() };
        return snapshot;
      } finally {
        snapshotPending = undefined;
      }
    })();
    return snapshotPending;
  };

  return async (event: LambdaFunctionURLEvent, _context?: Context): Promise<LambdaFunctionURLResult> => {
    const started = now();
    const rawPath = event.rawPath ?? '/';
    if (rawPath.length > MAX_ADMIT_PATH_LENGTH) {
      return errorAnswer(new PodiamError('PODIAM_REQUEST_TOO_LARGE', `the path is longer than ${MAX_ADMIT_PATH_LENGTH} characters; use the stack's WebhookUrlPrefix followed by the webhook secret.`, { status: 414 }));
    }
    // Checked before the method and the body, and logged without the path: it holds the secret.
    if (!secretMatches(rawPath, config.webhookSecretSha256)) {
      log('warn', 'webhook call with a wrong secret', { code: 'PODIAM_WEBHOOK_SECRET_INVALID', sourceIp: event.requestContext?.http?.sourceIp });
      return errorAnswer(new PodiamError('PODIAM_WEBHOOK_SECRET_INVALID', "the URL's secret is wrong; use the stack's WebhookUrlPrefix followed by the secret whose SHA-256 is the stack's WebhookSecretSha256.", { status: 403 }));
    }
    if ((event.requestContext?.http?.method ?? 'POST') !== 'POST') return json(405, { code: 'PODIAM_ADMISSION_REVIEW_INVALID', message: 'use POST with an AdmissionReview body.' });

    let review;
    try {
      const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
      review = parseReview(body);
    } catch (err: unknown) {
      if (err instanceof AdmissionReviewError) return errorAnswer(err);
      throw err;
    }
    const uid = review.uid;

    // Token identity needs neither the bundle nor IAM: answered at once, like a namespace review.
    if (routeOf(rawPath)?.route === 'mutate') {
      const mutation = podMutation(review, { audience: config.tokenAudience ?? DEFAULT_TOKEN_AUDIENCE, expirationSeconds: config.tokenExpirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS });
      const answer = mutation.kind === 'mutate' ? mutateResponse(uid, mutation.patch, mutation.warnings) : allowResponse(uid, mutation.warnings);
      log('info', 'mutation', { uid, mutated: mutation.kind === 'mutate', reason: mutation.reason, ms: now() - started });
      return json(200, answer);
    }
    const budgetLeft = () => config.budgetMs - (now() - started);

    // A Namespace is judged by its own annotations alone: answered before the bundle is loaded, so
    // a missing bundle or a slow S3 never turns a namespace review into a refusal or a timeout.
    if (isNamespaceReview(review)) {
      const verdict = namespaceVerdict(review);
      const answer = verdict.kind === 'deny' ? denyResponse(uid, verdict.code, verdict.message) : allowResponse(uid, verdict.kind === 'allow' ? verdict.warnings : []);
      log('info', 'admission', { uid, allowed: answer.response.allowed, ms: now() - started, message: answer.response.status?.message });
      return json(200, answer);
    }

    try {
      const answer = await withDeadline(
        (async () => {
          const { desired } = await desiredState();
          const verdict = admissionVerdict(review, desired, {
            cluster: config.cluster,
            accountId: desired.account.accountId,
            partition: desired.account.partition,
            ...(config.allowedAccounts ? { allowedAccounts: config.allowedAccounts } : {}),
          });
          if (verdict.kind === 'allow') return allowResponse(uid, verdict.warnings);
          if (verdict.kind === 'deny') return denyResponse(uid, verdict.code, verdict.message);
          const ensured = await ensureRole(verdict.role, { deadline: started + config.budgetMs, dryRun: review.dryRun === true });
          if (ensured.state === 'collision') return denyResponse(uid, ensured.code, ensured.message);
          if (ensured.state === 'pending') throw new Deadline(ensured.message);
          const warnings = ensured.state === 'would-create' ? [`dry run: role ${verdict.role.name} does not exist yet and would be created`] : verdict.warnings;
          return allowResponse(uid, warnings);
        })(),
        Math.max(1, budgetLeft()),
      );
      log('info', 'admission', { uid, allowed: answer.response.allowed, ms: now() - started, message: answer.response.status?.message });
      return json(200, answer);
    } catch (err: unknown) {
      // No (valid) bundle yet, or one the stack refuses: say so and how to publish one, rather than blame role creation.
      if (err instanceof PodiamError && BUNDLE_REFUSALS.has(String(err.code))) {
        log('error', 'admission has no bundle to decide by', { uid, code: err.code });
        return json(200, denyResponse(uid, String(err.code), err.message, 503));
      }
      // Out of budget, IAM throttled or failing, S3 unreadable: no decision. Not a 200 with
      // allowed:false — the API server takes that as a real denial, and the chart's failurePolicy
      // would never apply. A non-2xx status is a failed call: with Ignore the pod is admitted (the
      // proxy still enforces every role rule), with Fail it is refused and its controller retries.
      const code = err instanceof Deadline ? 'PODIAM_ROLE_CREATE_PENDING' : err instanceof PodiamError && err.code === 'PODIAM_IAM_THROTTLED' ? 'PODIAM_IAM_THROTTLED' : 'PODIAM_ADMISSION_UNAVAILABLE';
      const detail = err instanceof Deadline ? `the role could not be created within ${config.budgetMs} ms` : describeError(err).message;
      log('error', 'admission could not decide', { uid, code, detail: describeError(err) });
      return unavailable(code, `${detail}; the webhook's failurePolicy decides this pod, and the reconcile function creates missing roles meanwhile.`);
    }
  };
}

export type AdmissionHandler = ReturnType<typeof createAdmissionHandler>;

/** Builds the handler from environment variables (the Lambda's, or the local server's). */
export function createAdmissionHandlerFromEnv(env: Record<string, string | undefined> = process.env, log: Logger = jsonLogger): AdmissionHandler {
  const config = loadAdmissionConfig(env);
  const { iam, s3, sts, kms } = createAwsClients(config, env, IAM_MAX_ATTEMPTS.admission);
  const accountId = accountIdResolver(sts, config.accountId);
  const handle = createAdmissionHandler({ iam, s3, kms, config, accountId, log });
  return (event, context) => {
    accountId.learn(context?.invokedFunctionArn);
    return handle(event, context);
  };
}

// Built once per cold start; a configuration error is thrown on every invocation with its message.
let built: AdmissionHandler | undefined;
let initError: unknown;
try {
  built = createAdmissionHandlerFromEnv();
} catch (err: unknown) {
  initError = err;
}

export const handler = async (event: LambdaFunctionURLEvent, context?: Context): Promise<LambdaFunctionURLResult> => {
  if (!built) throw initError;
  return built(event, context);
};
