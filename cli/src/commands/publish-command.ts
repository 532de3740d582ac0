/** `podiam publish [DIR] [--out FILE] [--bucket B [--key K]]`: check, then write (and upload) the bundle. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Bundle } from '../../../iam-model/src/bundle/bundle.ts';
import { buildBundle, serializeBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { uploadBundle, DEFAULT_BUNDLE_KEY } from '../bundle/publish.ts';
import { signBundle } from '../bundle/sign.ts';
import type { SignedBundle } from '../../../iam-model/src/bundle/signature.ts';
import { checkPolicies } from '../../../iam-model/src/check/check.ts';
import { CliError } from '../errors.ts';
import { renderHuman } from '../output/human.ts';

export const DEFAULT_BUNDLE_OUT = 'dist/bundle.json';

export interface PublishCommandOptions {
  dir: string;
  cluster: string;
  guardrailsFile?: string | undefined;
  out: string;
  bucket?: string | undefined;
  key?: string | undefined;
  /** Written into the bundle (and its hash): the number of role deletions the publisher accepts. */
  acknowledgeDeletions?: number | undefined;
  /** Sign the bundle's content hash with this asymmetric KMS key (the stack's BundleSigningKeyArn). */
  kmsKeyId?: string | undefined;
}

/** Checks the folder and builds its bundle; throws PODIAM_CHECK_FAILED (with the findings printed) on errors. */
export function checkedBundle(opts: { dir: string; cluster: string; guardrailsFile?: string | undefined; acknowledgeDeletions?: number | undefined }, write: (text: string) => void): Bundle {
  const result = checkPolicies({ root: opts.dir, cluster: opts.cluster, ...(opts.guardrailsFile ? { guardrailsFile: opts.guardrailsFile } : {}) });
  if (result.errors > 0) {
    write(renderHuman(result));
    throw new CliError('PODIAM_CHECK_FAILED', `${opts.dir} has ${result.errors} error(s); nothing was published.`);
  }
  return buildBundle(result.guardrails, result.services, { acknowledgeDeletions: opts.acknowledgeDeletions });
}

export async function runPublish(opts: PublishCommandOptions, s3: () => S3Client, write: (text: string) => void, kms?: () => KMSClient): Promise<number> {
  const checked = checkedBundle(opts, write);
  if (opts.kmsKeyId && !kms) throw new CliError('PODIAM_PUBLISH_FAILED', 'no KMS client to sign with.');
  // Signed before anything is written, so the file and the object carry the signature together.
  const bundle: SignedBundle = opts.kmsKeyId ? await signBundle(kms!(), checked, opts.kmsKeyId) : checked;
  const text = serializeBundle(bundle);
  mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  writeFileSync(opts.out, text);
  const ack = bundle.acknowledgeDeletions === undefined ? '' : `, acknowledges ${bundle.acknowledgeDeletions} role deletion(s)`;
  const signed = bundle.signature ? `, signed by ${bundle.signature.keyId} (${bundle.signature.algorithm})` : '';
  write(`wrote ${opts.out}: ${bundle.services.length} services${ack}, sha256 ${bundle.hash}${signed}\n`);
  if (opts.bucket) {
    const up = await uploadBundle(s3(), bundle, opts.bucket, opts.key ?? DEFAULT_BUNDLE_KEY);
    write(`uploaded s3://${up.bucket}/${up.key} (sha256 ${up.hash})\n`);
  }
  return 0;
}
