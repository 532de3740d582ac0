/** Settings shared by the commands, with their environment defaults. */
import { UsageError } from '../errors.ts';
import { DEFAULT_CLUSTER } from '../../../iam-model/src/check/check.ts';
import { CLUSTER_NAME_RULE, clusterNameProblem, isClusterName } from '../../../core/src/naming.ts';

export type Env = Record<string, string | undefined>;

/** --cluster, else PODIAM_CLUSTER_NAME, else "dev". */
export function clusterName(flag: string | undefined, env: Env): string {
  const name = flag ?? env.PODIAM_CLUSTER_NAME ?? DEFAULT_CLUSTER;
  if (!isClusterName(name)) throw new UsageError(`--cluster '${name}' ${clusterNameProblem(name)}. ${CLUSTER_NAME_RULE}`);
  return name;
}

export type OutputFormat = 'human' | 'json' | 'github';

export function outputFormat(format: string | undefined, json: boolean | undefined): OutputFormat {
  if (json) return 'json';
  const f = format ?? 'human';
  if (f !== 'human' && f !== 'json' && f !== 'github') throw new UsageError(`--format '${f}' is not one of human, json, github.`);
  return f;
}
