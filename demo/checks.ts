/**
 * What the demo's pods try, and what each attempt should come to under the example policies.
 * Pure data and pure judgement: demo/pod-client.ts runs the checks inside a pod, the report and
 * the e2e tests compare outcomes with `expect`.
 */
export type CheckAction = 's3:GetObject' | 's3:PutObject' | 'dynamodb:PutItem' | 'dynamodb:GetItem' | 'dynamodb:DeleteTable';

export interface Check {
  action: CheckAction;
  /** Bucket/key for S3, table name for DynamoDB. */
  bucket?: string;
  key?: string;
  table?: string;
  expect: 'allowed' | 'refused';
}

export type Outcome = 'allowed' | 'refused' | 'failed';

export interface CheckResult {
  action: CheckAction;
  resource: string;
  expect: 'allowed' | 'refused';
  outcome: Outcome;
  /** The error's name and HTTP status when the call did not succeed. */
  error?: string;
}

/** What a pod process prints: one JSON line. */
export interface PodRun {
  /** Credentials reached the SDK through the metadata endpoint. */
  ok: boolean;
  arn?: string;
  /** Last four characters of the access key ID: enough to tell sessions apart, nothing more. */
  accessKeyIdTail?: string;
  expiration?: string;
  checks: CheckResult[];
  error?: string;
  /** Only when asked for (the revocation test); never printed. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
}

export interface PodPlan {
  region: string;
  /** moto as the pod reaches it. */
  endpoint: string;
  checks: Check[];
  exportCredentials?: boolean;
}

export const DEMO_NAMES = {
  cluster: 'demo',
  ordersBucket: 'podiam-demo-orders',
  orderKey: '2026/11/order-1.json',
  otherBucket: 'podiam-demo-other',
  otherKey: 'secret.txt',
  ledgerTable: 'podiam-demo-ledger',
  bundleBucket: 'podiam-demo-bundles',
  bundleKey: 'podiam/bundle.json',
  zoneName: 'example.internal',
} as const;

export interface DemoPodSpec {
  namespace: string;
  name: string;
  role: string;
  checks: Check[];
}

const n = DEMO_NAMES;

/** The two pods of `npm run demo`: the orders reader (S3) and the ledger writer (DynamoDB). */
export const DEMO_PODS: DemoPodSpec[] = [
  {
    namespace: 'orders',
    name: 'reader-7d9c5',
    role: 'reader',
    checks: [
      { action: 's3:GetObject', bucket: n.ordersBucket, key: n.orderKey, expect: 'allowed' },
      { action: 's3:GetObject', bucket: n.otherBucket, key: n.otherKey, expect: 'refused' },
      { action: 's3:PutObject', bucket: n.ordersBucket, key: '2026/11/forged.json', expect: 'refused' },
      { action: 'dynamodb:GetItem', table: n.ledgerTable, expect: 'refused' },
    ],
  },
  {
    namespace: 'orders',
    name: 'ledger-5f2b8',
    role: 'ledger',
    checks: [
      { action: 'dynamodb:PutItem', table: n.ledgerTable, expect: 'allowed' },
      { action: 'dynamodb:GetItem', table: n.ledgerTable, expect: 'allowed' },
      { action: 'dynamodb:DeleteTable', table: n.ledgerTable, expect: 'refused' },
      { action: 's3:GetObject', bucket: n.ordersBucket, key: n.orderKey, expect: 'refused' },
    ],
  },
];

export function resourceOf(c: Check): string {
  return c.table !== undefined ? `table/${c.table}` : `s3://${c.bucket}/${c.key}`;
}

/** AccessDenied (S3, STS), AccessDeniedException (JSON services), or a bare 403 (moto answers
 * DynamoDB refusals with an XML body that the JSON client cannot parse). */
export function isRefusal(name: string | undefined, status: number | undefined): boolean {
  return name === 'AccessDenied' || name === 'AccessDeniedException' || status === 403;
}

/** True when every check of the run came out as expected and credentials arrived. */
export function runMatches(run: PodRun, expectedArn?: RegExp): boolean {
  if (!run.ok) return false;
  if (expectedArn && !(run.arn && expectedArn.test(run.arn))) return false;
  return run.checks.length > 0 && run.checks.every((c) => c.outcome === c.expect);
}
