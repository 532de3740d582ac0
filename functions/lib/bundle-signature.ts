/**
 * The functions' half of bundle signing (the envelope and what is signed:
 * iam-model/src/bundle/signature.ts). With the stack's BundleSigningKeyArn set, a bundle is used
 * only when KMS confirms its signature for THAT key over THIS bundle's content hash.
 *
 * Why kms:Verify and not GetPublicKey + node:crypto: the function holds no key material to keep
 * fresh, KMS refuses a disabled or deleted key (so disabling the key stops every bundle), and the
 * call happens once per bundle read (reconcile: once a run; admission: once per new object, its
 * conditional GET keeps the verified bundle), not per pod. The grant is kms:Verify on that key only.
 */
import { VerifyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { Bundle } from '../../iam-model/src/bundle/bundle.ts';
import { BundleSignatureError, signatureOf, signedDigest } from '../../iam-model/src/bundle/signature.ts';
import { awsErrorName } from '../../iam-model/src/errors.ts';
import { ConfigError } from '../../core/src/errors.ts';

export type BundleVerifier = (bundle: Bundle, signal?: AbortSignal) => Promise<void>;

/** Refuses (BundleSignatureError) a bundle that is not signed by `keyArn`; other KMS failures are thrown as they are. */
export function bundleVerifier(kms: KMSClient, keyArn: string): BundleVerifier {
  return async (bundle, signal) => {
    const sig = signatureOf(bundle);
    if (!sig) throw new BundleSignatureError(`it is not signed, but the stack requires a signature by ${keyArn}`);
    if (sig.keyId !== keyArn) throw new BundleSignatureError(`it is signed by ${sig.keyId}, not by the stack's key ${keyArn}`);
    if (sig.contentHash !== bundle.hash) throw new BundleSignatureError(`its signature is over content hash ${sig.contentHash}, not over its own ${bundle.hash}`);
    // The key, the message and the algorithm family come from the stack and the bundle's own
    // content, never from the signature object alone: only the signature bytes are the bundle's.
    let valid: boolean;
    try {
      const out = await kms.send(
        new VerifyCommand({ KeyId: keyArn, Message: signedDigest(bundle.hash), MessageType: 'DIGEST', Signature: Buffer.from(sig.signature, 'base64'), SigningAlgorithm: sig.algorithm }),
        signal ? { abortSignal: signal } : {},
      );
      valid = out.SignatureValid === true;
    } catch (err: unknown) {
      // KMS answers an invalid signature with this exception (not SignatureValid: false).
      if (awsErrorName(err) === 'KMSInvalidSignatureException') valid = false;
      else throw err;
    }
    if (!valid) throw new BundleSignatureError(`KMS key ${keyArn} does not confirm its signature over content hash ${bundle.hash} (the content was changed after signing, or another key signed it)`);
  };
}

/** The verifier a stack's settings call for: none without BundleSigningKeyArn; fails closed without a KMS client. */
export function verifierFor(config: { bundleSigningKeyArn?: string | undefined }, kms: KMSClient | undefined): BundleVerifier | undefined {
  if (!config.bundleSigningKeyArn) return undefined;
  if (!kms) throw new ConfigError('PODIAM_BUNDLE_SIGNING_KEY_ARN', 'is set but the function was built without a KMS client', 'Build the function with createAwsClients (it makes one), or leave BundleSigningKeyArn empty.');
  return bundleVerifier(kms, config.bundleSigningKeyArn);
}
