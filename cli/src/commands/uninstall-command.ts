/**
 * `podiam uninstall --cluster NAME`: removes from IAM (and, with --bucket, from the bundle bucket)
 * what podiam made for one cluster, and nothing else. Without --yes it only reads and prints the
 * plan (like `terraform plan`); with --yes it reads again, prints the same plan and applies it.
 * Never interactive, so it behaves the same in a terminal and in CI.
 */
import {
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  ListInstanceProfilesForRoleCommand,
  RemoveRoleFromInstanceProfileCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { DeleteObjectsCommand, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { describeError } from '../../../core/src/errors.ts';
import { awsErrorName, isNoSuchEntity } from '../../../iam-model/src/errors.ts';
import { readCurrentState } from '../../../iam-model/src/iam-reader.ts';
import { mapLimit } from '../../../iam-model/src/retry.ts';
import { planUninstall, type RoleToDelete, type UninstallPlan } from '../../../iam-model/src/uninstall.ts';
import { CliError, UsageError } from '../errors.ts';
import { callerAccount, iamClient, s3Client, type AwsOptions } from './aws-clients.ts';
import type { Env } from './options.ts';

export interface UninstallCommandOptions {
  cluster: string;
  intermediateRoleArns: string[];
  bucket?: string | undefined;
  accountId?: string | undefined;
  yes: boolean;
  format: 'human' | 'json';
  aws: AwsOptions;
}

interface ObjectVersion {
  key: string;
  versionId: string;
  deleteMarker: boolean;
}

interface BucketPlan {
  name: string;
  exists: boolean;
  versions: ObjectVersion[];
}

interface Failure {
  target: string;
  code: string;
  message: string;
}

/** Parallel IAM writes: a handful, well under IAM's write rate; the SDK's standard retry absorbs throttling. */
const CONCURRENCY = 4;

export function uninstallFormat(value: string | undefined): 'human' | 'json' {
  const f = value ?? 'human';
  if (f !== 'human' && f !== 'json') throw new UsageError(`--format '${f}' is not one of human, json.`);
  return f;
}

function failed(what: string, err: unknown): CliError {
  const { code, message } = describeError(err);
  return new CliError('PODIAM_UNINSTALL_FAILED', `${what} (${code}: ${message}).`, { cause: err });
}

async function accountOf(aws: AwsOptions, env: Env): Promise<string> {
  return callerAccount(aws, env).catch((err: unknown) => {
    throw failed('cannot tell the AWS account; pass --account-id or set AWS credentials', err);
  });
}

/** Every version and delete marker in the bucket: all must go before CloudFormation can delete it. */
async function readBucket(s3: S3Client, name: string): Promise<BucketPlan> {
  const versions: ObjectVersion[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  let pages = 0;
  do {
    let page;
    try {
      page = await s3.send(new ListObjectVersionsCommand({ Bucket: name, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
    } catch (err: unknown) {
      if (awsErrorName(err) === 'NoSuchBucket') return { name, exists: false, versions: [] };
      throw err;
    }
    for (const v of page.Versions ?? []) if (v.Key) versions.push({ key: v.Key, versionId: v.VersionId ?? 'null', deleteMarker: false });
    for (const m of page.DeleteMarkers ?? []) if (m.Key) versions.push({ key: m.Key, versionId: m.VersionId ?? 'null', deleteMarker: true });
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker !== undefined && ++pages < 100_000);
  return { name, exists: true, versions };
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err: unknown) {
    if (!isNoSuchEntity(err)) throw err;
  }
}

/** As reconcile deletes a role (functions/lib/apply.ts): empty it, take it out of instance profiles, delete it. */
async function deleteRole(iam: IAMClient, role: RoleToDelete): Promise<void> {
  const RoleName = role.name;
  for (const PolicyName of role.inlinePolicyNames) await ignoreMissing(iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName })));
  for (const PolicyArn of role.managedPolicyArns) await ignoreMissing(iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn })));
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await iam.send(new ListInstanceProfilesForRoleCommand({ RoleName, Marker: marker }));
    for (const p of page.InstanceProfiles ?? []) {
      // Only the role leaves the profile; the profile is not podiam's.
      if (p.InstanceProfileName) await ignoreMissing(iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: p.InstanceProfileName, RoleName })));
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker && ++pages < 1000);
  await ignoreMissing(iam.send(new DeleteRoleCommand({ RoleName })));
}

async function emptyBucket(s3: S3Client, bucket: BucketPlan, failures: Failure[]): Promise<void> {
  for (let i = 0; i < bucket.versions.length; i += 1000) {
    const chunk = bucket.versions.slice(i, i + 1000);
    try {
      const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket.name, Delete: { Quiet: true, Objects: chunk.map((v) => ({ Key: v.key, VersionId: v.versionId })) } }));
      for (const e of out.Errors ?? []) failures.push({ target: `s3://${bucket.name}/${e.Key ?? ''}?versionId=${e.VersionId ?? ''}`, code: e.Code ?? 'S3Error', message: e.Message ?? '' });
    } catch (err: unknown) {
      failures.push({ target: `s3://${bucket.name} (${chunk.length} versions)`, ...describeError(err) });
    }
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function renderHuman(plan: UninstallPlan, bucket: BucketPlan | undefined, intermediatesGiven: boolean, yes: boolean): string {
  const lines = [`Uninstall plan for cluster ${plan.cluster} (roles under ${plan.path}):`];
  for (const r of plan.roles) {
    lines.push(`  - role ${r.name} (${r.ref.namespace}/${r.ref.service}): ${plural(r.inlinePolicyNames.length, 'inline policy', 'inline policies')}, ${plural(r.managedPolicyArns.length, 'attached policy', 'attached policies')}`);
  }
  for (const p of plan.intermediatePolicies) lines.push(`  - policy ${p.policyName} of node role ${p.roleName} (the role itself stays)`);
  if (bucket?.exists) {
    const markers = bucket.versions.filter((v) => v.deleteMarker).length;
    lines.push(`  - bucket ${bucket.name}: ${plural(bucket.versions.length - markers, 'object version')} and ${plural(markers, 'delete marker')} of ${plural(new Set(bucket.versions.map((v) => v.key)).size, 'key')} (the bucket itself stays: sam delete removes it)`);
  }
  if (plan.leftAlone.length || bucket?.exists === false) {
    lines.push('Left alone:');
    for (const l of plan.leftAlone) lines.push(`  = ${l.name}: ${l.reason}`);
    if (bucket?.exists === false) lines.push(`  = bucket ${bucket.name}: it does not exist`);
  }
  if (!intermediatesGiven) lines.push('No --intermediate-role-arn given: no node role policy was looked at.');
  if (!bucket && plan.roles.length) lines.push('No --bucket given: the bundle stays, and while the stack runs its reconcile function recreates the roles deleted here (drift rule, schedule). Pass --bucket, or delete the stack first.');
  const versions = bucket?.versions.length ?? 0;
  lines.push(`Plan: ${plural(plan.roles.length, 'role')} to delete, ${plural(plan.intermediatePolicies.length, 'node role policy', 'node role policies')} to remove, ${plural(versions, 'object version')} to delete; ${plan.leftAlone.length} left alone.`);
  if (!yes) lines.push('Nothing was changed. Run again with --yes to delete exactly what this plan lists.');
  return `${lines.join('\n')}\n`;
}

export async function runUninstall(opts: UninstallCommandOptions, io: { stdout: (t: string) => void; env: Env }): Promise<number> {
  if (opts.accountId !== undefined && !/^\d{12}$/.test(opts.accountId)) throw new UsageError(`--account-id '${opts.accountId}' is not a 12-digit account id.`);
  const accountId = opts.accountId ?? (await accountOf(opts.aws, io.env));
  const iam = iamClient(opts.aws, io.env);
  const s3 = opts.bucket !== undefined ? s3Client(opts.aws, io.env) : undefined;
  try {
    let plan: UninstallPlan;
    let bucket: BucketPlan | undefined;
    try {
      const current = await readCurrentState(iam, { cluster: opts.cluster, accountId, intermediateRoleArns: opts.intermediateRoleArns });
      plan = planUninstall(current, opts.cluster, accountId);
    } catch (err: unknown) {
      throw failed('reading IAM failed; nothing was changed', err);
    }
    try {
      bucket = s3 && opts.bucket !== undefined ? await readBucket(s3, opts.bucket) : undefined;
    } catch (err: unknown) {
      throw failed(`reading bucket ${opts.bucket} failed; nothing was changed`, err);
    }
    if (opts.format === 'human') io.stdout(renderHuman(plan, bucket, opts.intermediateRoleArns.length > 0, opts.yes));
    if (!opts.yes) {
      if (opts.format === 'json') io.stdout(`${JSON.stringify({ ...plan, bucket: bucket ?? null, applied: false, failures: [] }, null, 2)}\n`);
      return 0;
    }

    // The bundle first: while the stack runs, its reconcile function answers every DeleteRole
    // (its drift rule) and its hourly schedule by recreating the bundle's roles; with no bundle it
    // stops at PODIAM_BUNDLE_NOT_FOUND and writes nothing. Then the roles, then the node roles'
    // policy that let the proxies assume them.
    const failures: Failure[] = [];
    if (s3 && bucket?.exists) {
      const before = failures.length;
      await emptyBucket(s3, bucket, failures);
      if (opts.format === 'human' && failures.length === before) io.stdout(`Deleted ${plural(bucket.versions.length, 'object version')} from bucket ${bucket.name}\n`);
    }
    await mapLimit(plan.roles, CONCURRENCY, async (role) => {
      try {
        await deleteRole(iam, role);
        if (opts.format === 'human') io.stdout(`Deleted role ${role.name}\n`);
      } catch (err: unknown) {
        failures.push({ target: `role ${role.name}`, ...describeError(err) });
      }
    });
    for (const p of plan.intermediatePolicies) {
      try {
        // Only podiam's policy; the node role and its other policies are the user's.
        await ignoreMissing(iam.send(new DeleteRolePolicyCommand({ RoleName: p.roleName, PolicyName: p.policyName })));
        if (opts.format === 'human') io.stdout(`Removed policy ${p.policyName} from node role ${p.roleName}\n`);
      } catch (err: unknown) {
        failures.push({ target: `policy ${p.policyName} of role ${p.roleName}`, ...describeError(err) });
      }
    }
    if (opts.format === 'json') io.stdout(`${JSON.stringify({ ...plan, bucket: bucket ?? null, applied: true, failures }, null, 2)}\n`);
    if (failures.length) {
      throw new CliError('PODIAM_UNINSTALL_FAILED', `${failures.length} removals failed: ${failures.map((f) => `${f.target} (${f.code}: ${f.message})`).join('; ')}.`);
    }
    if (opts.format === 'human') io.stdout('Uninstalled.\n');
    return 0;
  } finally {
    iam.destroy();
    s3?.destroy();
  }
}
