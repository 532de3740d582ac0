/**
 * AdmissionReview v1 in and out (admission.k8s.io/v1). Pure: validates the shape the API
 * server sends and builds the answer. A malformed review is a PODIAM_ADMISSION_REVIEW_INVALID
 * error (HTTP 400), never an allow.
 */
import { PodiamError } from '../../core/src/errors.ts';

export interface ReviewRequest {
  uid: string;
  kind: { group?: string; version?: string; kind: string };
  resource?: { group?: string; version?: string; resource: string };
  subResource?: string;
  /** The object's name (for a Namespace, also in namespace). */
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  dryRun?: boolean;
  object?: PodObject | null;
  oldObject?: PodObject | null;
}

export interface PodObject {
  metadata?: { name?: string; generateName?: string; namespace?: string; annotations?: Record<string, string> | null; labels?: Record<string, string> | null };
  /** A pod's spec as the API server sends it (the fields the mutating webhook reads; more may be present). */
  spec?: PodSpec;
}

export interface PodSpec {
  hostNetwork?: boolean;
  serviceAccountName?: string;
  volumes?: Array<{ name?: string; [field: string]: unknown }> | null;
  containers?: ContainerSpec[] | null;
  initContainers?: ContainerSpec[] | null;
  [field: string]: unknown;
}

export interface ContainerSpec {
  name?: string;
  env?: Array<{ name?: string; value?: string; [field: string]: unknown }> | null;
  volumeMounts?: Array<{ name?: string; mountPath?: string; [field: string]: unknown }> | null;
  [field: string]: unknown;
}

export interface ReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
    /** Mutating webhooks only: base64 of a JSON Patch (RFC 6902) array. */
    patchType?: 'JSONPatch';
    patch?: string;
  };
}

export class AdmissionReviewError extends PodiamError {
  constructor(problem: string) {
    super('PODIAM_ADMISSION_REVIEW_INVALID', `${problem}; send an AdmissionReview of apiVersion admission.k8s.io/v1 (admissionReviewVersions: ["v1"]).`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function parseReview(body: string): ReviewRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new AdmissionReviewError('the body is not JSON');
  }
  if (!isObject(raw)) throw new AdmissionReviewError('the body is not a JSON object');
  if (raw.apiVersion !== 'admission.k8s.io/v1') throw new AdmissionReviewError(`apiVersion is ${JSON.stringify(raw.apiVersion)}`);
  if (raw.kind !== 'AdmissionReview') throw new AdmissionReviewError(`kind is ${JSON.stringify(raw.kind)}`);
  const req = raw.request;
  if (!isObject(req)) throw new AdmissionReviewError('request is missing');
  if (typeof req.uid !== 'string' || req.uid === '') throw new AdmissionReviewError('request.uid is missing');
  if (!isObject(req.kind) || typeof req.kind.kind !== 'string') throw new AdmissionReviewError('request.kind is missing');
  if (typeof req.operation !== 'string' || !['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(req.operation)) {
    throw new AdmissionReviewError('request.operation is not CREATE, UPDATE, DELETE or CONNECT');
  }
  for (const field of ['object', 'oldObject'] as const) {
    const o = req[field];
    if (o !== undefined && o !== null && !isObject(o)) throw new AdmissionReviewError(`request.${field} is not an object`);
    const meta = isObject(o) ? o.metadata : undefined;
    if (meta !== undefined && !isObject(meta)) throw new AdmissionReviewError(`request.${field}.metadata is not an object`);
    const ann = isObject(meta) ? meta.annotations : undefined;
    if (ann !== undefined && ann !== null && (!isObject(ann) || !Object.values(ann).every((v) => typeof v === 'string'))) {
      throw new AdmissionReviewError(`request.${field}.metadata.annotations is not a map of strings`);
    }
  }
  if ((req.operation === 'CREATE' || req.operation === 'UPDATE') && !isObject(req.object)) {
    throw new AdmissionReviewError(`request.object is missing for ${req.operation}`);
  }
  return req as unknown as ReviewRequest;
}

export function allowResponse(uid: string, warnings: string[] = []): ReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, ...(warnings.length ? { warnings } : {}) } };
}

export function denyResponse(uid: string, code: string, message: string, httpCode = 403): ReviewResponse {
  // The message is what `kubectl apply` prints: it leads with the stable code.
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { code: httpCode, reason: httpCode === 403 ? 'Forbidden' : 'ServiceUnavailable', message: `${code}: ${message}` } },
  };
}

/** Allows the object with a JSON Patch (RFC 6902), which the API server applies before validation. */
export function mutateResponse(uid: string, patch: readonly unknown[], warnings: string[] = []): ReviewResponse {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch), 'utf8').toString('base64'), ...(warnings.length ? { warnings } : {}) },
  };
}
