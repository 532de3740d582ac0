/**
 * The `podiam` CLI: wiring only. Exit codes: 0 clean, 1 errors found (or a failed AWS call),
 * 2 usage. Every failure prints `podiam: CODE message` on stderr.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { PodiamError, describeError, exitCodeOf } from '../../core/src/errors.ts';
import { runCheck } from './commands/check-command.ts';
import { clusterName, outputFormat, type Env } from './commands/options.ts';
import { DEFAULT_BUNDLE_OUT, runPublish } from './commands/publish-command.ts';
import { s3Client } from './commands/aws-clients.ts';
import { CliError, UsageError } from './errors.ts';

export const HELP = `podiam — policies as code for podiam's per-service IAM roles

Usage:
  podiam check   [DIR] [--format human|json|github] [--json] [--cluster NAME] [--guardrails FILE]
  podiam publish [DIR] [--out FILE] [--bucket BUCKET] [--key KEY] [--cluster NAME] [--guardrails FILE]
                       [--region REGION] [--endpoint-url URL]
  podiam plan    [DIR] --intermediate-role-arn ARN [...] [--cluster NAME] [--account-id ID]
                       [--external-id ID] [--permissions-boundary-arn ARN] [--json]
                       [--region REGION] [--endpoint-url URL]
  podiam help

DIR defaults to ./policies. --cluster defaults to $PODIAM_CLUSTER_NAME, else "dev" (role names are
<cluster>-<namespace>-<service>, at most 64 characters). --guardrails defaults to DIR/guardrails.json.
publish writes ${DEFAULT_BUNDLE_OUT} unless --out is given, and uploads to s3://BUCKET/KEY (default key
bundle.json) when --bucket is given. AWS credentials and region come from the environment.

Exit codes: 0 clean, 1 errors found or an AWS call failed, 2 usage.
`;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Env;
}

const options = {
  format: { type: 'string' },
  json: { type: 'boolean' },
  cluster: { type: 'string' },
  guardrails: { type: 'string' },
  out: { type: 'string' },
  bucket: { type: 'string' },
  key: { type: 'string' },
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  'intermediate-role-arn': { type: 'string', multiple: true },
  'account-id': { type: 'string' },
  'external-id': { type: 'string' },
  'permissions-boundary-arn': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Parsed = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>>;

function parse(argv: string[]): Parsed {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err instanceof Error ? err.message : String(err)).split(/\.(\s|$)/)[0]!}.`);
  }
}

const allowed: Record<string, readonly string[]> = {
  check: ['format', 'json', 'cluster', 'guardrails'],
  publish: ['cluster', 'guardrails', 'out', 'bucket', 'key', 'region', 'endpoint-url'],
  plan: ['cluster', 'guardrails', 'json', 'region', 'endpoint-url', 'intermediate-role-arn', 'account-id', 'external-id', 'permissions-boundary-arn'],
};

export async function run(argv: string[], io: Io): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    const [command, dirArg, ...extra] = positionals;
    if (values.help || command === undefined || command === 'help') {
      io.stdout(HELP);
      return command === undefined && !values.help ? 2 : 0;
    }
    if (!allowed[command]) throw new UsageError(`unknown command '${command}'.`);
    for (const name of Object.keys(values)) {
      if (name !== 'help' && !allowed[command].includes(name)) throw new UsageError(`--${name} does not apply to '${command}'.`);
    }
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'.`);
    const dir = dirArg ?? 'policies';
    const cluster = clusterName(values.cluster, io.env);
    const aws = { region: values.region, endpointUrl: values['endpoint-url'] };
    switch (command) {
      case 'check':
        return runCheck({ dir, cluster, guardrailsFile: values.guardrails, format: outputFormat(values.format, values.json) }, io.stdout);
      case 'publish':
        return await runPublish(
          { dir, cluster, guardrailsFile: values.guardrails, out: values.out ?? DEFAULT_BUNDLE_OUT, bucket: values.bucket, key: values.key },
          () => s3Client(aws, io.env),
          io.stdout,
        );
      case 'plan': {
        const { runPlan } = await import('./commands/plan-command.ts');
        return await runPlan(
          {
            dir,
            cluster,
            guardrailsFile: values.guardrails,
            json: values.json ?? false,
            accountId: values['account-id'],
            intermediateRoleArns: values['intermediate-role-arn'] ?? (io.env.PODIAM_INTERMEDIATE_ROLE_ARNS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
            externalId: values['external-id'],
            permissionsBoundaryArn: values['permissions-boundary-arn'],
            aws,
          },
          io,
        );
      }
    }
    throw new UsageError(`unknown command '${command}'.`);
  } catch (err: unknown) {
    // One place turns failures into output: podiam's own errors keep their code; anything else
    // (a file that cannot be read, a bug) gets PODIAM_CLI_UNEXPECTED with its cause named.
    const known = err instanceof PodiamError ? err : new CliError('PODIAM_CLI_UNEXPECTED', `${describeError(err).code}: ${describeError(err).message}.`, { cause: err });
    const { code, message } = describeError(known);
    io.stderr(`podiam: ${code} ${message}\n`);
    return known instanceof CliError ? known.exitCode : exitCodeOf(known.code);
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const launched = (globalThis as { __podiamLaunch?: boolean }).__podiamLaunch === true;
if (invokedDirectly || launched) {
  const code = await run(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
  });
  process.exitCode = code;
}
