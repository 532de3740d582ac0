// amazon-ec2-metadata-mock as the real IMDS upstream, on a free loopback port, IMDSv2-only by default.
// The node role (name and credentials under /latest/meta-data/iam/security-credentials/) is set through the
// mock's own JSON config file, so tests of the proxy's passthrough can see exactly what the node would get.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { httpAnswers, startOnFreePort, type PeerProcess } from './process.ts';
import { requireTool, toolEnv } from './tools.ts';

/** The node role's credentials as IMDS serves them (the mock's field names). */
export interface ImdsRoleCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  /** RFC 3339. */
  Expiration: string;
  Code?: string;
  Type?: string;
  LastUpdated?: string;
}

export interface ImdsMockOptions {
  /** Require IMDSv2 session tokens (`--imdsv2`): a GET without X-aws-ec2-metadata-token gets 401. Default true. */
  imdsv2?: boolean;
  /** The node's instance role: name and the credentials served for it. */
  role?: { name: string; credentials?: Partial<ImdsRoleCredentials> };
  /** Extra metadata values by the mock's key, e.g. { 'instance-id': 'i-0123…', 'local-ipv4': '192.0.2.10' }. */
  values?: Record<string, unknown>;
  /** Raw extra config merged over what the options above produce (the mock's aemm-config.json format). */
  config?: Record<string, unknown>;
  readyTimeoutMs?: number;
}

export interface ImdsMock {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** The instance id the mock serves at /latest/meta-data/instance-id. */
  instanceId: string;
  /** The node role name served at /latest/meta-data/iam/security-credentials/. */
  roleName: string;
  /** The config file the mock was started with. */
  configPath: string;
  stop(): Promise<void>;
}

/** The mock's built-in defaults (pkg/config/defaults/aemm-metadata-default-values.json at v1.13.0). */
export const IMDS_DEFAULT_INSTANCE_ID = 'i-1234567890abcdef0';
export const IMDS_DEFAULT_ROLE = 'baskinc-role';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k], v) : v;
  return out;
}

export async function startImdsMock(opts: ImdsMockOptions = {}): Promise<ImdsMock> {
  const bin = requireTool('ec2MetadataMock');
  const imdsv2 = opts.imdsv2 ?? true;

  const values: Record<string, unknown> = { ...opts.values };
  const paths: Record<string, string> = {};
  if (opts.role) {
    values['iam-security-credentials-role'] = opts.role.name;
    paths['iam-security-credentials'] = `/latest/meta-data/iam/security-credentials/${opts.role.name}`;
    values['iam-security-credentials'] = {
      Code: 'Success',
      Type: 'AWS-HMAC',
      LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      AccessKeyId: 'ASIAIOSFODNN7EXAMPLE',
      SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      Token: 'podiam-test-node-session-token',
      Expiration: new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      ...opts.role.credentials,
    };
  }
  // The port is given as a flag (flags win over the file), so the same config serves every start attempt.
  const config = merge({ server: { hostname: '127.0.0.1' }, metadata: { paths, values } }, opts.config ?? {});
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-imds-'));
  const configPath = path.join(dir, 'aemm-config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const env = toolEnv();
  // The mock reads AEMM_* variables too; none from the caller's shell may leak into a test.
  for (const k of Object.keys(env)) if (k.startsWith('AEMM_')) delete env[k];
  let proc: PeerProcess;
  let port: number;
  try {
    ({ port, proc } = await startOnFreePort((p) => ({
      name: 'ec2-metadata-mock',
      command: bin,
      args: ['-c', configPath, '-n', '127.0.0.1', '-p', String(p), ...(imdsv2 ? ['--imdsv2'] : [])],
      env: { ...env, HOME: dir },
      cwd: dir,
      // 401 without a token still proves the server answers.
      ready: httpAnswers(`http://127.0.0.1:${p}/latest/meta-data/`),
      readyTimeoutMs: opts.readyTimeoutMs,
    })));
  } catch (err: unknown) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const merged = (config.metadata as { values: Record<string, unknown> }).values;
  return {
    endpoint,
    instanceId: typeof merged['instance-id'] === 'string' ? merged['instance-id'] : IMDS_DEFAULT_INSTANCE_ID,
    roleName: opts.role?.name ?? IMDS_DEFAULT_ROLE,
    configPath,
    stop,
  };
}
