// Builds Function URL events around AdmissionReviews, starting from events/admission-function-url.json.
import { readFileSync } from 'node:fs';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { webhookSecretSha256 } from '../../../functions/lib/config.ts';

const template = JSON.parse(readFileSync(new URL('../../../events/admission-function-url.json', import.meta.url), 'utf8')) as LambdaFunctionURLEvent;

export const WEBHOOK_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
/** What the function is configured with: only the hash of the secret. */
export const WEBHOOK_SECRET_SHA256 = webhookSecretSha256(WEBHOOK_SECRET);

export interface PodReviewOptions {
  namespace?: string;
  annotations?: Record<string, string>;
  operation?: 'CREATE' | 'UPDATE' | 'DELETE';
  oldAnnotations?: Record<string, string>;
  dryRun?: boolean;
  uid?: string;
}

export function podReview(opts: PodReviewOptions = {}): Record<string, unknown> {
  const body = JSON.parse(template.body!) as { request: Record<string, unknown> };
  const ns = opts.namespace ?? 'orders';
  const request = body.request;
  request.uid = opts.uid ?? 'uid-1';
  request.namespace = ns;
  request.operation = opts.operation ?? 'CREATE';
  request.dryRun = opts.dryRun ?? false;
  request.object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app-1', namespace: ns, annotations: opts.annotations ?? {} }, spec: { containers: [{ name: 'app', image: 'busybox' }] } };
  request.oldObject = opts.oldAnnotations ? { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app-1', namespace: ns, annotations: opts.oldAnnotations } } : null;
  return body;
}

export function urlEvent(body: unknown, secret = WEBHOOK_SECRET): LambdaFunctionURLEvent {
  const e = structuredClone(template);
  e.rawPath = `/admit/${secret}`;
  e.requestContext.http.path = e.rawPath;
  e.body = typeof body === 'string' ? body : JSON.stringify(body);
  return e;
}
