// Absolute paths of the peer binaries that scripts/peers/install.sh puts into the cache
// (${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}); nothing here installs anything.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { PeerStartError } from './process.ts';

/** The peer cache outside the repository, shared by every checkout on this machine. */
export const cacheDir = path.resolve(process.env.PODIAM_CACHE_DIR ?? path.join(homedir(), '.cache', 'podiam'));
const bin = path.join(cacheDir, 'bin');
const venv = path.join(cacheDir, 'venv');

export const tools = {
  helm: path.join(bin, 'helm'),
  kubectl: path.join(bin, 'kubectl'),
  sam: path.join(venv, 'bin', 'sam'),
  cfnLint: path.join(venv, 'bin', 'cfn-lint'),
  python: path.join(venv, 'bin', 'python'),
  venv,
  motoServer: path.join(venv, 'bin', 'moto_server'),
  ec2MetadataMock: path.join(bin, 'ec2-metadata-mock'),
  /** The AWS SDK for Go v2's default chain calling STS GetCallerIdentity (scripts/peers/install-sdk-clients.sh). */
  goStsWhoami: path.join(bin, 'go-sts-whoami'),
  /** The AWS SDK for Java v2's default chain calling STS GetCallerIdentity, one self-contained jar (scripts/peers/install-sdk-clients.sh). */
  javaStsWhoamiJar: path.join(bin, 'java-sts-whoami.jar'),
  bin,
} as const;

export type ToolName = Exclude<keyof typeof tools, 'venv' | 'bin'>;

/** The tool's absolute path; throws PODIAM_TEST_PEER_FAILED naming the install command when it is missing. */
export function requireTool(name: ToolName): string {
  const p = tools[name];
  if (!existsSync(p)) throw new PeerStartError(name, `${p} is not installed`, '');
  return p;
}

/**
 * Environment for running a venv tool (sam, cfn-lint, python) as a child process: the venv's bin first on PATH,
 * no user site-packages, and no inherited AWS profile that could send a tool to a real account.
 */
export function toolEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete env[k];
  return {
    ...env,
    PATH: `${path.join(venv, 'bin')}:${bin}:${process.env.PATH ?? ''}`,
    VIRTUAL_ENV: venv,
    PYTHONNOUSERSITE: '1',
    SAM_CLI_TELEMETRY: '0',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}
