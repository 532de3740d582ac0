/**
 * Runs inside one demo "pod" (its own network namespace, or its own loopback address): the
 * unmodified AWS SDK v3 with its default credential chain, which finds nothing in the
 * environment or in ~/.aws (the demo gives it an empty HOME) and so asks the instance metadata
 * service — the node proxy. Then STS GetCallerIdentity and each check of the plan against moto.
 * Prints one JSON line (PodRun); the secret parts of the credentials only when the plan asks.
 *
 *   node --import tsx demo/pod-client.ts <base64 JSON PodPlan>
 */
import { DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { isRefusal, resourceOf, type Check, type CheckResult, type PodPlan, type PodRun } from './checks.ts';

const plan = JSON.parse(Buffer.from(process.argv[2] ?? '', 'base64').toString('utf8')) as PodPlan;
// Bounded: one attempt per call, short socket timeouts; the demo also kills this process at a deadline.
const common = { region: plan.region, endpoint: plan.endpoint, maxAttempts: 1, requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 } };

function errorText(err: unknown): { name: string; status: number | undefined } {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e.name ?? 'Error', status: e.$metadata?.httpStatusCode };
}

async function runCheck(c: Check, s3: S3Client, ddb: DynamoDBClient): Promise<CheckResult> {
  const base = { action: c.action, resource: resourceOf(c), expect: c.expect };
  try {
    switch (c.action) {
      case 's3:GetObject': {
        const got = await s3.send(new GetObjectCommand({ Bucket: c.bucket, Key: c.key }));
        await got.Body?.transformToString();
        break;
      }
      case 's3:PutObject':
        await s3.send(new PutObjectCommand({ Bucket: c.bucket, Key: c.key, Body: '{"forged":true}' }));
        break;
      case 'dynamodb:PutItem':
        await ddb.send(new PutItemCommand({ TableName: c.table, Item: { pk: { S: 'order-1' }, amount: { N: '42' } } }));
        break;
      case 'dynamodb:GetItem':
        await ddb.send(new GetItemCommand({ TableName: c.table, Key: { pk: { S: 'order-1' } } }));
        break;
      case 'dynamodb:DeleteTable':
        await ddb.send(new DeleteTableCommand({ TableName: c.table }));
        break;
    }
    return { ...base, outcome: 'allowed' };
  } catch (err: unknown) {
    const { name, status } = errorText(err);
    // moto answers DynamoDB refusals with an XML body the JSON client cannot parse (a SyntaxError): the status says it all.
    const label = name === 'SyntaxError' && status ? `HTTP ${status}` : `${name}${status ? ` (HTTP ${status})` : ''}`;
    return { ...base, outcome: isRefusal(name, status) ? 'refused' : 'failed', error: label };
  }
}

async function main(): Promise<PodRun> {
  // No credentials given: the SDK's default chain decides where they come from.
  const sts = new STSClient(common);
  let creds;
  try {
    creds = await sts.config.credentials();
  } catch (err: unknown) {
    const { name } = errorText(err);
    return { ok: false, checks: [], error: `${name}: ${(err as Error).message}` };
  }
  const me = await sts.send(new GetCallerIdentityCommand({}));
  const credentials = sts.config.credentials;
  const s3 = new S3Client({ ...common, credentials, forcePathStyle: true });
  const ddb = new DynamoDBClient({ ...common, credentials });
  const checks: CheckResult[] = [];
  for (const c of plan.checks) checks.push(await runCheck(c, s3, ddb));
  for (const client of [sts, s3, ddb]) client.destroy();
  return {
    ok: true,
    ...(me.Arn ? { arn: me.Arn } : {}),
    accessKeyIdTail: creds.accessKeyId.slice(-4),
    ...(creds.expiration ? { expiration: creds.expiration.toISOString() } : {}),
    checks,
    ...(plan.exportCredentials && creds.sessionToken
      ? { credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken } }
      : {}),
  };
}

main().then(
  (run) => {
    process.stdout.write(`${JSON.stringify(run)}\n`);
  },
  (err: unknown) => {
    const { name } = errorText(err);
    process.stdout.write(`${JSON.stringify({ ok: false, checks: [], error: `${name}: ${(err as Error).message}` } satisfies PodRun)}\n`);
  },
);
