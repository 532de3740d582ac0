/**
 * What each command takes and what its exit codes mean: one table, from which main.ts checks the
 * options given and `podiam help`, `podiam <command> --help` are written, so the two cannot drift.
 */
import { DEFAULT_BUNDLE_KEY } from './bundle/publish.ts';
import { DEFAULT_BUNDLE_OUT } from './commands/publish-command.ts';

export type CommandName = 'check' | 'publish' | 'plan' | 'uninstall';

interface OptionSpec {
  /** The long name, without the dashes. */
  name: string;
  /** Its value's placeholder; none for a switch. */
  value?: string;
  text: string;
  /** Shown in the usage line without brackets. */
  required?: boolean;
}

interface CommandSpec {
  summary: string;
  options: OptionSpec[];
  exitCodes: Array<[number, string]>;
  /** False for a command that reads no policies folder (no [DIR] argument). */
  takesDir?: false;
}

const cluster: OptionSpec = { name: 'cluster', value: 'NAME', text: 'the cluster the role names are computed for (<cluster>.<namespace>.<service>, at most 64 characters); default $PODIAM_CLUSTER_NAME, else "dev"' };
const guardrails: OptionSpec = { name: 'guardrails', value: 'FILE', text: 'the guardrails file; default DIR/guardrails.json' };
const region: OptionSpec = { name: 'region', value: 'REGION', text: 'AWS region; default $AWS_REGION, else us-east-1' };
const endpoint: OptionSpec = { name: 'endpoint-url', value: 'URL', text: 'another AWS endpoint (e.g. a local moto); default $AWS_ENDPOINT_URL' };
const COLOUR_NOTE = 'Colours only when stdout is a terminal, never with NO_COLOR set.';
const usage = 'the command line is wrong (an unknown option or argument), or DIR is not a folder';

export const COMMANDS: Record<CommandName, CommandSpec> = {
  check: {
    summary: `Checks every policy file under DIR (default ./policies): JSON syntax, the schema, IAM grammar, the AWS action catalog, the guardrails, sizes, role names and expect cases. Reports every finding of every file in one run. ${COLOUR_NOTE}`,
    options: [
      { name: 'format', value: 'human|json|github', text: 'human (default): file:line:column, severity, code and the fix; json: one document; github: workflow annotations' },
      { name: 'json', text: 'the same as --format json' },
      cluster,
      guardrails,
    ],
    exitCodes: [
      [0, 'no errors (warnings and suggestions allowed)'],
      [1, 'errors found, or the guardrails file is invalid'],
      [2, usage],
    ],
  },
  publish: {
    summary: `Checks DIR as \`podiam check\` does; with no errors, writes the bundle the Lambda functions read and, with --bucket, uploads it to s3://BUCKET/KEY. AWS credentials come from the environment.`,
    options: [
      { name: 'out', value: 'FILE', text: `where to write the bundle; default ${DEFAULT_BUNDLE_OUT}` },
      { name: 'bucket', value: 'BUCKET', text: 'upload the bundle to this S3 bucket (the stack\'s BundleBucketName)' },
      { name: 'key', value: 'KEY', text: `the object key; default ${DEFAULT_BUNDLE_KEY}` },
      { name: 'acknowledge-deletions', value: 'N', text: 'write into the bundle that N role deletions are intended: reconcile refuses a run that deletes more roles than the stack allows (MaxRoleDeletions, MaxRoleDeletionPercent) unless N equals its number of deletions' },
      { name: 'kms-key-id', value: 'ARN', text: "sign the bundle's content hash with this asymmetric KMS key (ECC_NIST_P256 or RSA, SIGN_VERIFY; needs kms:DescribeKey and kms:Sign on it): a stack with BundleSigningKeyArn refuses bundles not signed by its key" },
      cluster,
      guardrails,
      region,
      endpoint,
    ],
    exitCodes: [
      [0, 'the bundle was written (and uploaded)'],
      [1, 'errors found (nothing was published), the guardrails file is invalid, or writing or uploading failed'],
      [2, usage],
    ],
  },
  plan: {
    summary: 'Shows what publishing DIR would change in IAM for this cluster: the roles, policies and trust links reconcile would create, update or delete. Reads IAM, changes nothing; needs iam:Get*, iam:List* and sts:GetCallerIdentity.',
    options: [
      { name: 'intermediate-role-arn', value: 'ARN', required: true, text: 'the node proxy role that assumes the service roles (repeat for several); default $PODIAM_INTERMEDIATE_ROLE_ARNS, comma-separated' },
      { name: 'cluster', value: 'NAME', text: cluster.text },
      { name: 'account-id', value: 'ID', text: 'the 12-digit AWS account; default the caller\'s (sts:GetCallerIdentity)' },
      { name: 'external-id', value: 'ID', text: 'the external ID the trust policies require (the stack\'s TrustExternalId)' },
      { name: 'permissions-boundary-arn', value: 'ARN', text: 'the permissions boundary every role gets (the stack\'s PermissionsBoundaryArn; default: guardrails.json\'s permissionsBoundaryArn)' },
      { name: 'json', text: 'the plan as one JSON document' },
      { name: 'acknowledge-deletions', value: 'N', text: 'plan the bundle `podiam publish --acknowledge-deletions N` would write' },
      { name: 'max-role-deletions', value: 'N', text: "the stack's MaxRoleDeletions; default $PODIAM_MAX_ROLE_DELETIONS, else 10" },
      { name: 'max-role-deletion-percent', value: 'P', text: "the stack's MaxRoleDeletionPercent; default $PODIAM_MAX_ROLE_DELETION_PERCENT, else 25" },
      guardrails,
      region,
      endpoint,
    ],
    exitCodes: [
      [0, 'the plan was shown, whether or not it has changes'],
      [1, 'errors found in DIR, the guardrails file is invalid, an AWS call failed, or reconcile would refuse the plan for deleting too many roles (PODIAM_MASS_DELETION_REFUSED)'],
      [2, usage],
    ],
  },
  uninstall: {
    summary: "Removes what podiam made for one cluster, and nothing else: every role under /podiam/CLUSTER/ whose podiam:cluster, podiam:namespace and podiam:service tags name this cluster and whose name is that service's role name (inline policies deleted, managed policies detached, taken out of instance profiles), the podiam-assume-managed-roles policy of each node role (never the role), and with --bucket every object version and delete marker of the bundle bucket, so `sam delete` can delete it. Everything else under the path is listed as left alone, with the reason. Without --yes it only reads and prints this plan and changes nothing. Run it after `helm uninstall` and before `sam delete` (docs/operations.md, Uninstalling).",
    takesDir: false,
    options: [
      { name: 'cluster', value: 'NAME', text: 'the cluster whose roles go; default $PODIAM_CLUSTER_NAME; one of the two is required (no "dev" default here)' },
      { name: 'intermediate-role-arn', value: 'ARN', text: "a node proxy role whose podiam-assume-managed-roles policy goes (repeat for several; the role stays); default $PODIAM_INTERMEDIATE_ROLE_ARNS, comma-separated" },
      { name: 'bucket', value: 'BUCKET', text: "the stack's BundleBucketName: delete every object version and delete marker in it" },
      { name: 'yes', text: 'apply the plan; without it nothing is changed' },
      { name: 'format', value: 'human|json', text: 'human (default), or json: the plan (and with --yes the failures) as one document' },
      { name: 'account-id', value: 'ID', text: "the 12-digit AWS account; default the caller's (sts:GetCallerIdentity)" },
      region,
      endpoint,
    ],
    exitCodes: [
      [0, 'the plan was shown (without --yes), or everything in it was removed (with --yes)'],
      [1, 'reading IAM or the bucket failed (nothing was changed), or some removals failed (PODIAM_UNINSTALL_FAILED names each)'],
      [2, 'the command line is wrong (an unknown option or argument)'],
    ],
  },
};

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/** `podiam check [DIR] [--format human|json|github] …`, wrapped; continuation lines start with '['. */
function usageLines(name: CommandName, pad = 0): string[] {
  const spec = COMMANDS[name];
  const flag = (o: OptionSpec) => `--${o.name}${o.value ? ` ${o.value}` : ''}`;
  const head = [`podiam ${name.padEnd(pad)}${spec.takesDir === false ? '' : ' [DIR]'}`, ...spec.options.filter((o) => o.required).map((o) => `${flag(o)} [...]`)].join(' ');
  const lines = [`  ${head}`];
  const indent = ' '.repeat(`  podiam ${name.padEnd(pad)} `.length + (spec.takesDir === false ? 0 : 6));
  for (const o of spec.options.filter((x) => !x.required)) {
    const item = `[${flag(o)}]`;
    if (lines.at(-1)!.length + 1 + item.length > 100) lines.push(`${indent}${item}`);
    else lines[lines.length - 1] += ` ${item}`;
  }
  return lines;
}

/** The words of `text` in lines of at most `width` characters, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines = [''];
  for (const word of text.split(' ')) {
    const line = lines.at(-1)!;
    if (line && line.length + 1 + word.length > width) lines.push(word);
    else lines[lines.length - 1] = line ? `${line} ${word}` : word;
  }
  return lines.join(`\n${' '.repeat(indent)}`);
}

export const HELP = `podiam — policies as code for podiam's per-service IAM roles

Usage:
${(Object.keys(COMMANDS) as CommandName[]).flatMap((name) => usageLines(name, 7)).join('\n')}
  podiam help    [COMMAND]    a command's options and exit codes (also: podiam COMMAND --help)
  podiam --version

DIR defaults to ./policies. AWS credentials and region come from the environment.
${COLOUR_NOTE}

Exit codes:
  0  clean: no errors (warnings allowed), the bundle published, the plan shown
  1  errors found in the policy files, or a file or AWS call failed
  2  usage: the command line is wrong
`;

/** `podiam <command> --help`. */
export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name];
  const rows = [...spec.options.map((o) => [`--${o.name}${o.value ? ` ${o.value}` : ''}`, o.text] as const), ['-h, --help', 'show this help'] as const];
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return `Usage:
${usageLines(name).join('\n')}

${wrap(spec.summary, 100, 0)}

Options:
${rows.map(([f, text]) => `  ${f.padEnd(width)}${wrap(text, 100 - 2 - width, 2 + width)}`).join('\n')}

Exit codes:
${spec.exitCodes.map(([code, text]) => `  ${code}  ${wrap(text, 95, 5)}`).join('\n')}
`;
}
