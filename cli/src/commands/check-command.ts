/** `podiam check [DIR]`: exit 0 when no errors (warnings allowed), 1 when errors. */
import { checkPolicies } from '../../../iam-model/src/check/check.ts';
import { renderGithub } from '../output/github.ts';
import { renderHuman } from '../output/human.ts';
import { renderJson } from '../output/json.ts';
import type { OutputFormat } from './options.ts';

export interface CheckCommandOptions {
  dir: string;
  cluster: string;
  guardrailsFile?: string | undefined;
  format: OutputFormat;
  /** ANSI colours in the human format (a terminal, no NO_COLOR). */
  colour?: boolean;
}

export function runCheck(opts: CheckCommandOptions, write: (text: string) => void): number {
  const started = Date.now();
  const result = checkPolicies({ root: opts.dir, cluster: opts.cluster, ...(opts.guardrailsFile ? { guardrailsFile: opts.guardrailsFile } : {}) });
  const elapsed = Date.now() - started;
  write(opts.format === 'json' ? renderJson(result) : opts.format === 'github' ? renderGithub(result) : renderHuman(result, { elapsedMs: elapsed, colour: opts.colour ?? false }));
  return result.errors > 0 ? 1 : 0;
}
