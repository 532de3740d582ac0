/** IAM grammar of an identity policy, beyond what the JSON schema can say. */
import { parseOperator } from '../evaluate/operators.ts';
import { valuesAt, type FileContext } from './context.ts';

const SID = /^[A-Za-z0-9]+$/;
const ACTION = /^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/;
const ARN = /^arn:(\*|[a-z-]*):[a-z0-9-*?]*:[^:]*:[^:]*:.+$/;

export function grammarRules(ctx: FileContext): void {
  const sids = new Map<string, string>();
  for (const view of ctx.statements) {
    const { stmt, path, label } = view;
    for (const key of ['Principal', 'NotPrincipal'] as const) {
      if (stmt[key] !== undefined) {
        ctx.report('PODIAM_CHECK_PRINCIPAL_FORBIDDEN', [...path, key], `statement ${label}: remove ${key}; identity policies have no principal (podiam generates the role's trust policy).`);
      }
    }
    if ((stmt.Action === undefined) === (stmt.NotAction === undefined)) {
      ctx.report('PODIAM_CHECK_ACTION_ELEMENTS', path, `statement ${label}: give exactly one of Action or NotAction${stmt.Action !== undefined ? ', not both' : ''}.`);
    }
    if ((stmt.Resource === undefined) === (stmt.NotResource === undefined)) {
      ctx.report('PODIAM_CHECK_RESOURCE_ELEMENTS', path, `statement ${label}: give exactly one of Resource or NotResource${stmt.Resource !== undefined ? ', not both' : ''}.`);
    }
    if (stmt.Sid !== undefined) {
      if (!SID.test(stmt.Sid)) {
        ctx.report('PODIAM_CHECK_SID_INVALID', [...path, 'Sid'], `Sid '${stmt.Sid}' may contain only letters and digits (A-Z, a-z, 0-9); rename it, e.g. '${stmt.Sid.replace(/[^A-Za-z0-9]/g, '') || 'Statement1'}'.`);
      }
      const first = sids.get(stmt.Sid);
      if (first) ctx.report('PODIAM_CHECK_SID_DUPLICATE', [...path, 'Sid'], `Sid '${stmt.Sid}' is already used by statement ${first}; Sids must be unique within a policy.`);
      else sids.set(stmt.Sid, `#${typeof path.at(-1) === 'number' ? path.at(-1) : 0}`);
    }
    for (const a of [...valuesAt(view, 'Action'), ...valuesAt(view, 'NotAction')]) {
      if (!ACTION.test(a.value)) {
        ctx.report('PODIAM_CHECK_ACTION_SYNTAX', a.path, `'${a.value}' is not an action; write 'service:ActionName' (e.g. 's3:GetObject'), wildcards '*' and '?' allowed in the name.`);
      }
    }
    for (const r of [...valuesAt(view, 'Resource'), ...valuesAt(view, 'NotResource')]) {
      if (r.value !== '*' && !ARN.test(r.value)) {
        ctx.report('PODIAM_CHECK_RESOURCE_SYNTAX', r.path, `'${r.value}' is not an ARN; write 'arn:aws:<service>:<region>:<account>:<resource>' (e.g. 'arn:aws:s3:::my-bucket/*') or '*'.`);
      }
    }
    for (const op of Object.keys(stmt.Condition ?? {})) {
      if (!parseOperator(op)) {
        ctx.report('PODIAM_CHECK_CONDITION_OPERATOR', [...path, 'Condition', op], `'${op}' is not an IAM condition operator; use one such as StringEquals, StringLike, ArnLike, Bool, IpAddress, NumericLessThan, DateGreaterThan or Null (optionally with IfExists, ForAllValues: or ForAnyValue:).`);
      }
    }
  }
}
