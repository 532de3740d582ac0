/**
 * The `podiam` CLI: wiring only. Exit codes: 0 clean, 1 errors found (or a failed AWS call),
 * 2 usage. Every failure prints `podiam: CODE message` on stderr; stdout carries only what was
 * asked for (findings, help, the version), so it can be piped.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { PodiamError, describeError, exitCodeOf } from '../../core/src/errors.ts';
import { runCheck } from './commands/check-command.ts';
import { clusterName, outputFormat, type Env } from './commands/options.ts';
import { DEFAULT_BUNDLE_OUT, runPublish } from './commands/publish-command.ts';
import { kmsClient, s3Client } from './commands/aws-clients.ts';
import { CliError, UsageError } from './errors.ts';
import { COMMANDS, HELP, commandHelp, isCommand } from './usage.ts';
import pkg from '../../package.json' with { type: 'json' };

/** Inlined by esbuild into dist/cli/podiam.mjs, so the bundle knows its version without package.json. */
export const VERSION: string = pkg.version;

export { HELP } from './usage.ts';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Env;
  /** Whether stdout is a terminal: colours only then (and never with NO_COLOR). */
  stdoutIsTTY?: boolean;
}

/** https://no-color.org: NO_COLOR set to anything but the empty string turns colours off; so does TERM=dumb. */
export function useColour(io: Io): boolean {
  return io.stdoutIsTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
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
  'acknowledge-deletions': { type: 'string' },
  'kms-key-id': { type: 'string' },
  'max-role-deletions': { type: 'string' },
  'max-role-deletion-percent': { type: 'string' },
  yes: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type Parsed = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>>;

function parse(argv: string[]): Parsed {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err instanceof Error ? err.message : String(err)).split(/\.(\s|$)/)[0]!}.`);
  }
}

const commandNames = Object.keys(COMMANDS).join(', ');

/** A whole-number option (a count of roles, a percentage); undefined when not given. */
function count(value: string | undefined, name: string, max = 100000): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max) throw new UsageError(`--${name} '${value}' is not a whole number from 0 to ${max}.`);
  return n;
}

export async function run(argv: string[], io: Io): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    const [command, dirArg, ...extra] = positionals;
    if (values.version) {
      io.stdout(`podiam ${VERSION}\n`);
      return 0;
    }
    if (command === 'help') {
      // `podiam help [COMMAND]`
      if (dirArg === undefined) io.stdout(HELP);
      else if (isCommand(dirArg) && extra.length === 0) io.stdout(commandHelp(dirArg));
      else throw new UsageError(isCommand(dirArg) ? `unexpected argument '${extra[0]}'.` : `no command '${dirArg}'; the commands are ${commandNames}.`);
      return 0;
    }
    if (command === undefined) {
      if (values.help) {
        io.stdout(HELP);
        return 0;
      }
      // Nothing asked for: the usage goes to stderr, as any usage error's message does.
      io.stderr(HELP);
      return 2;
    }
    if (!isCommand(command)) throw new UsageError(`unknown command '${command}'; the commands are ${commandNames}.`);
    if (values.help) {
      io.stdout(commandHelp(command));
      return 0;
    }
    const allowed = COMMANDS[command].options.map((o) => o.name);
    for (const name of Object.keys(values)) {
      if (!allowed.includes(name)) throw new UsageError(`--${name} does not apply to '${command}'.`);
    }
    if (extra.length || (COMMANDS[command].takesDir === false && dirArg !== undefined)) throw new UsageError(`unexpected argument '${extra[0] ?? dirArg}'.`);
    const dir = dirArg ?? 'policies';
    const cluster = clusterName(values.cluster, io.env);
    const aws = { region: values.region, endpointUrl: values['endpoint-url'] };
    switch (command) {
      case 'check':
        return runCheck({ dir, cluster, guardrailsFile: values.guardrails, format: outputFormat(values.format, values.json), colour: useColour(io) }, io.stdout);
      case 'publish':
        return await runPublish(
          { dir, cluster, guardrailsFile: values.guardrails, out: values.out ?? DEFAULT_BUNDLE_OUT, bucket: values.bucket, key: values.key, acknowledgeDeletions: count(values['acknowledge-deletions'], 'acknowledge-deletions'), kmsKeyId: values['kms-key-id'] },
          () => s3Client(aws, io.env),
          io.stdout,
          () => kmsClient(aws, io.env),
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
            acknowledgeDeletions: count(values['acknowledge-deletions'], 'acknowledge-deletions'),
            deletionLimits: {
              maxRoleDeletions: count(values['max-role-deletions'], 'max-role-deletions'),
              maxRoleDeletionPercent: count(values['max-role-deletion-percent'], 'max-role-deletion-percent', 100),
            },
            aws,
          },
          io,
        );
      }
      case 'uninstall': {
        // Deleting roles: the cluster is never the "dev" default, it is named.
        if (values.cluster === undefined && !io.env.PODIAM_CLUSTER_NAME) throw new UsageError('name the cluster whose roles go with --cluster (or PODIAM_CLUSTER_NAME).');
        const { runUninstall, uninstallFormat } = await import('./commands/uninstall-command.ts');
        return await runUninstall(
          {
            cluster,
            intermediateRoleArns: values['intermediate-role-arn'] ?? (io.env.PODIAM_INTERMEDIATE_ROLE_ARNS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
            bucket: values.bucket,
            accountId: values['account-id'],
            yes: values.yes ?? false,
            format: uninstallFormat(values.format),
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
    stdoutIsTTY: process.stdout.isTTY === true,
  });
  process.exitCode = code;
}
