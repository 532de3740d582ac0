/** Settings shared by the commands, with their environment defaults. */
import { UsageError } from '../errors.ts';
import { DEFAULT_CLUSTER } from '../../../iam-model/src/check/check.ts';
import { isDnsLabel } from '../../../core/src/naming.ts';

export type Env = Record<string, string | undefined>;

/** --cluster, else PODIAM_CLUSTER_NAME, else "dev". */
export function clusterName(flag: string | undefined, env: Env): string {
  const name = flag ?? env.PODIAM_CLUSTER_NAME ?? DEFAULT_CLUSTER;
  if (!isDnsLabel(name)) throw new UsageError(`--cluster '${name}' is not a DNS-1123 label (lower-case letters, digits, '-').`);
  return name;
}

export type OutputFormat = 'human' | 'json' | 'github';

export function outputFormat(format: string | undefined, json: boolean | undefined): OutputFormat {
  if (json) return 'json';
  const f = format ?? 'human';
  if (f !== 'human' && f !== 'json' && f !== 'github') throw new UsageError(`--format '${f}' is not one of human, json, github.`);
  return f;
}
