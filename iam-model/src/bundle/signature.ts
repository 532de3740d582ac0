/**
 * Optional bundle signing with an asymmetric KMS key (issue 10 item 2): `podiam publish
 * --kms-key-id` signs, and the functions of a stack with BundleSigningKeyArn refuse any bundle
 * whose signature KMS does not confirm for that key. The content hash alone is no signature:
 * whoever can write the bucket can recompute it, so it only detects accidents.
 *
 * What is signed: the bundle's `hash`, the SHA-256 of the canonical JSON of everything the
 * functions act on (guardrails, services, acknowledgeDeletions; schemaVersion must be 1 and
 * fields the parser does not know are never read). KMS signs those 32 bytes as a DIGEST, so the
 * signature holds for exactly one content, whatever the object's size (KMS's RAW limit is 4 KiB).
 *
 * Where the signature lives: inside the bundle object, as the field `signature`, outside the
 * hashed part (it signs the hash). Not in a sidecar object: S3 replaces one object atomically, so
 * a reader can never see a new bundle with an old signature (or the reverse), needs no second
 * GET, and admission's conditional GET (ETag) revalidates bundle and signature together. A sidecar
 * would need a write order and a read that copes with the two objects being out of step.
 */
import type { Bundle } from './bundle.ts';
import { errorCodes, PodiamError } from '../../../core/src/errors.ts';

/** The SHA-256 algorithms podiam signs with: one for each kind of asymmetric KMS key. */
export const SIGNING_ALGORITHMS = ['ECDSA_SHA_256', 'RSASSA_PSS_SHA_256'] as const;
export type BundleSigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface BundleSignature {
  /** The key ARN that KMS reported for the Sign call (informational; verification uses the stack's key). */
  keyId: string;
  algorithm: BundleSigningAlgorithm;
  /** The signature KMS returned, base64. */
  signature: string;
  /** The bundle hash that was signed, hex; equal to the bundle's `hash` unless the signature was moved. */
  contentHash: string;
}

/** A bundle as published, possibly carrying its signature. */
export type SignedBundle = Bundle & { signature?: BundleSignature };

/** The bytes KMS signs and verifies (MessageType DIGEST): the 32 bytes of the content hash. */
export function signedDigest(contentHash: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(contentHash)) throw new TypeError('signedDigest: the content hash must be 64 lower-case hex characters');
  return Uint8Array.from(Buffer.from(contentHash, 'hex'));
}

/** Picks the algorithm for a key from the ones KMS says it supports (DescribeKey's SigningAlgorithms). */
export function signingAlgorithmFor(supported: readonly string[]): BundleSigningAlgorithm | undefined {
  return SIGNING_ALGORITHMS.find((a) => supported.includes(a));
}

export class BundleSignatureError extends PodiamError {
  constructor(problem: string, options: { cause?: unknown } = {}) {
    super('PODIAM_BUNDLE_SIGNATURE_INVALID', `policies bundle: ${problem}; the bundle is refused and no role changes. ${errorCodes.PODIAM_BUNDLE_SIGNATURE_INVALID.fix}`, options);
  }
}

/** The bundle's `signature` field, checked for shape; undefined when the bundle carries none. */
export function signatureOf(bundle: Bundle): BundleSignature | undefined {
  const raw = (bundle as { signature?: unknown }).signature;
  if (raw === undefined) return undefined;
  const s = raw as Record<string, unknown>;
  const ok =
    typeof raw === 'object' &&
    raw !== null &&
    typeof s.keyId === 'string' &&
    typeof s.algorithm === 'string' &&
    (SIGNING_ALGORITHMS as readonly string[]).includes(s.algorithm) &&
    typeof s.signature === 'string' &&
    /^[A-Za-z0-9+/]+={0,2}$/.test(s.signature) &&
    typeof s.contentHash === 'string';
  if (!ok) throw new BundleSignatureError(`its signature field is malformed (needs keyId, algorithm ${SIGNING_ALGORITHMS.join(' or ')}, base64 signature, contentHash)`);
  return raw as BundleSignature;
}
