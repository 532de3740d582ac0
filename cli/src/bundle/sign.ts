/**
 * `podiam publish --kms-key-id`: signs the bundle's content hash with an asymmetric KMS key and
 * puts the signature into the bundle (why there: iam-model/src/bundle/signature.ts). The
 * publisher needs kms:DescribeKey (to pick the algorithm the key supports) and kms:Sign on it.
 */
import { DescribeKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { Bundle } from '../../../iam-model/src/bundle/bundle.ts';
import { signedDigest, signingAlgorithmFor, SIGNING_ALGORITHMS, type SignedBundle } from '../../../iam-model/src/bundle/signature.ts';
import { CliError } from '../errors.ts';

function failed(keyId: string, step: string, err: unknown): CliError {
  const name = err instanceof Error ? err.name : 'Error';
  return new CliError('PODIAM_PUBLISH_FAILED', `signing the bundle with KMS key ${keyId} failed at ${step} (${name}: ${err instanceof Error ? err.message : String(err)}).`, { cause: err });
}

export async function signBundle(kms: KMSClient, bundle: Bundle, keyId: string): Promise<SignedBundle> {
  let supported: string[];
  try {
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    if (meta?.KeyUsage !== 'SIGN_VERIFY') throw new Error(`the key's usage is ${meta?.KeyUsage ?? 'unknown'}, not SIGN_VERIFY`);
    supported = meta.SigningAlgorithms ?? [];
  } catch (err: unknown) {
    throw failed(keyId, 'kms:DescribeKey', err);
  }
  const algorithm = signingAlgorithmFor(supported);
  if (!algorithm) {
    throw new CliError('PODIAM_PUBLISH_FAILED', `KMS key ${keyId} signs with ${supported.join(', ') || 'nothing'}, none of ${SIGNING_ALGORITHMS.join(', ')}; create the key with KeySpec ECC_NIST_P256 (or RSA_2048 and up) and KeyUsage SIGN_VERIFY.`);
  }
  try {
    const out = await kms.send(new SignCommand({ KeyId: keyId, Message: signedDigest(bundle.hash), MessageType: 'DIGEST', SigningAlgorithm: algorithm }));
    if (!out.Signature || !out.KeyId) throw new Error('KMS answered without a signature');
    const { signature: _unsigned, ...content } = bundle as SignedBundle;
    return { ...content, signature: { keyId: out.KeyId, algorithm, signature: Buffer.from(out.Signature).toString('base64'), contentHash: bundle.hash } };
  } catch (err: unknown) {
    throw failed(keyId, 'kms:Sign', err);
  }
}
