// moto server (IAM, STS, S3, …) on a free loopback port, as a real AWS API peer for integration tests.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { httpAnswers, startOnFreePort } from './process.ts';
import { requireTool, toolEnv } from './tools.ts';

export interface MotoOptions {
  /**
   * Turn on moto's IAM authentication and authorization (its INITIAL_NO_AUTH_ACTION_COUNT, switched at run time
   * through POST /moto-api/reset-auth). The helper first creates an administrator IAM user and hands back ITS keys
   * as `credentials`; any other, unknown access key is then refused (InvalidClientTokenId), and every
   * principal's calls are checked against its IAM policies.
   */
  enforceIam?: boolean;
  /** Extra environment for moto_server (e.g. MOTO_* settings). */
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

export interface MotoCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface MotoPeer {
  /**
   * http://127.0.0.1:PORT — pass as `endpoint` to every AWS SDK client (one port serves IAM, STS, S3, …).
   * S3 clients need `forcePathStyle: true`: virtual-host buckets would resolve as <bucket>.127.0.0.1.
   */
  endpoint: string;
  region: 'us-east-1';
  accountId: '123456789012';
  credentials: MotoCredentials;
  /** Switch moto's IAM enforcement on or off at run time (for setting up fixtures as an unchecked caller). */
  setIamEnforcement(on: boolean): Promise<void>;
  /**
   * Create these roles (path and name taken from each ARN) with a trust policy that lets any principal of the account
   * assume them with session tags. The patched moto refuses AssumeRole of a role that does not exist, as AWS does, so
   * a test whose subject assumes roles creates them first. A role that already exists is left as it is.
   */
  createRoles(roleArns: readonly string[]): Promise<void>;
  /** Forget every resource moto holds (POST /moto-api/reset). With enforceIam the admin user is gone too. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export const MOTO_REGION = 'us-east-1' as const;
export const MOTO_ACCOUNT_ID = '123456789012' as const;
/** AWS's documented example key pair: moto accepts any key while IAM enforcement is off. Not a secret. */
export const MOTO_DEFAULT_CREDENTIALS: MotoCredentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
export const MOTO_ADMIN_USER = 'podiam-test-admin';
/**
 * The folder of moto-patch/sitecustomize.py, which every moto started here loads: it makes moto's STS and IAM
 * enforcement refuse what AWS refuses where podiam's controls depend on it (missing roles, trust principals and
 * conditions, ExternalId, session tags, DynamoDB resources). The file lists what it enforces and what it does not.
 */
export const MOTO_PATCH_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'moto-patch');

export async function startMoto(opts: MotoOptions = {}): Promise<MotoPeer> {
  const motoServer = requireTool('motoServer');
  const { port, proc } = await startOnFreePort((p) => ({
    name: 'moto',
    command: motoServer,
    args: ['-H', '127.0.0.1', '-p', String(p)],
    env: toolEnv({
      // Enforcement is switched on only after the admin user exists (see below).
      INITIAL_NO_AUTH_ACTION_COUNT: 'inf',
      MOTO_ACCOUNT_ID,
      // Python imports sitecustomize from PYTHONPATH at start-up: that is how the patch gets into moto_server.
      // PODIAM_TEST_MOTO_PATCH_DIR points at a modified copy, only to check that a test fails without a piece of it.
      PYTHONPATH: process.env.PODIAM_TEST_MOTO_PATCH_DIR || MOTO_PATCH_DIR,
      PYTHONDONTWRITEBYTECODE: '1',
      ...opts.env,
    }),
    ready: httpAnswers(`http://127.0.0.1:${p}/moto-api/data.json`),
    readyTimeoutMs: opts.readyTimeoutMs,
  }));
  const endpoint = `http://127.0.0.1:${port}`;

  const setIamEnforcement = async (on: boolean): Promise<void> => {
    const res = await fetch(`${endpoint}/moto-api/reset-auth`, {
      method: 'POST',
      body: on ? '0' : 'inf',
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`moto /moto-api/reset-auth answered ${res.status}`);
  };
  const reset = async (): Promise<void> => {
    const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`moto /moto-api/reset answered ${res.status}`);
  };

  let credentials = MOTO_DEFAULT_CREDENTIALS;
  try {
    if (opts.enforceIam) {
      credentials = await createAdmin(endpoint);
      await setIamEnforcement(true);
    }
  } catch (err: unknown) {
    await proc.stop();
    throw err;
  }
  const createRoles = async (roleArns: readonly string[]): Promise<void> => {
    const iam = new IAMClient({ endpoint, region: MOTO_REGION, credentials, maxAttempts: 1 });
    try {
      for (const arn of new Set(roleArns)) {
        const m = /^arn:[\w-]+:iam::(\d{12}):role(\/(?:.*\/)?)([^/]+)$/.exec(arn);
        if (!m) throw new Error(`createRoles: '${arn}' is not a role ARN (arn:aws:iam::<account>:role/<path>/<name>)`);
        const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${m[1]}:root` }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] };
        try {
          await iam.send(new CreateRoleCommand({ Path: m[2], RoleName: m[3], AssumeRolePolicyDocument: JSON.stringify(trust) }));
        } catch (err: unknown) {
          if ((err as { name?: string }).name !== 'EntityAlreadyExists') throw err;
        }
      }
    } finally {
      iam.destroy();
    }
  };
  return {
    endpoint,
    region: MOTO_REGION,
    accountId: MOTO_ACCOUNT_ID,
    credentials,
    setIamEnforcement,
    createRoles,
    reset,
    stop: proc.stop,
  };
}

async function createAdmin(endpoint: string): Promise<MotoCredentials> {
  const iam = new IAMClient({ endpoint, region: MOTO_REGION, credentials: MOTO_DEFAULT_CREDENTIALS, maxAttempts: 1 });
  try {
    await iam.send(new CreateUserCommand({ UserName: MOTO_ADMIN_USER }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: MOTO_ADMIN_USER,
        PolicyName: 'admin',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: MOTO_ADMIN_USER }));
    const { AccessKeyId, SecretAccessKey } = key.AccessKey ?? {};
    if (!AccessKeyId || !SecretAccessKey) throw new Error('moto CreateAccessKey returned no key');
    return { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey };
  } finally {
    iam.destroy();
  }
}
