/**
 * The organisation's guardrails (policies/guardrails.json): actions a team policy may not allow,
 * the accounts its resources and managed policies may belong to, the managed-policy count.
 *
 * A denied action with a `resource` applies when a statement grants it on a resource pattern at
 * least that broad: the rule {kms:*, resource "*"} forbids kms actions on "*", not on a named key.
 */
import type { IamCatalog } from '../catalog/iam-catalog.ts';
import { actionMatches, resourceMatches } from '../evaluate/glob.ts';
import { valuesAt, type FileContext } from './context.ts';

/** Do the two action globs share an action? Decided over the catalog, with a literal fallback. */
const overlapCache = new WeakMap<IamCatalog, Map<string, boolean>>();

export function actionsOverlap(catalog: IamCatalog, a: string, b: string): boolean {
  let cache = overlapCache.get(catalog);
  if (!cache) overlapCache.set(catalog, (cache = new Map()));
  const key = `${a.toLowerCase()} ${b.toLowerCase()}`;
  let hit = cache.get(key);
  if (hit === undefined) {
    hit = actionMatches(a, b) || actionMatches(b, a);
    if (!hit) {
      const fromA = catalog.expandAction(a);
      const fromB = new Set(catalog.expandAction(b).map((x) => x.id.toLowerCase()));
      // Neither side in the catalog (an unknown action, which the catalog rules report, or the
      // functions' re-check, which runs without the catalog): can one action name match both?
      hit = fromA.length === 0 && fromB.size === 0 ? globsIntersect(a, b) : fromA.some((x) => fromB.has(x.id.toLowerCase()));
    }
    cache.set(key, hit);
  }
  return hit;
}

/** Can one string match both globs ('*' any run, '?' one character; case-insensitive)? */
export function globsIntersect(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (y.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === x.length && j === y.length) r = true;
    else if (x[i] === '*') r = go(i + 1, j) || (j < y.length && go(i, j + 1));
    else if (y[j] === '*') r = go(i, j + 1) || (i < x.length && go(i + 1, j));
    else r = i < x.length && j < y.length && (x[i] === '?' || y[j] === '?' || x[i] === y[j]) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/**
 * Says which side contains which: the guardrails' pattern may contain the granted action
 * ('organizations:*' denies 'organizations:ListAccounts'), the granted wildcard may contain the
 * denied action ('sts:Assume*' grants 'sts:AssumeRole'), or two wildcards may only overlap.
 */
function deniedMessage(granted: string, denied: string, scope: string): string {
  if (actionMatches(denied, granted)) {
    const rule = granted.toLowerCase() === denied.toLowerCase() ? `the guardrails${scope}` : `the guardrails' rule '${denied}'${scope}`;
    return `'${granted}' is denied by ${rule}; remove it from this statement.`;
  }
  if (actionMatches(granted, denied)) return `'${granted}' includes '${denied}'${scope}, which the guardrails deny; narrow the wildcard so it leaves that out, or remove it.`;
  return `'${granted}' includes actions of '${denied}'${scope}, which the guardrails deny; narrow the wildcard so it leaves them out, or remove it.`;
}

const ACCOUNT_ARN = /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/;

export function guardrailRules(ctx: FileContext): void {
  const { guardrails, catalog } = ctx;
  for (const view of ctx.statements) {
    if (view.stmt.Effect !== 'Allow') continue;
    const resources = valuesAt(view, 'Resource').map((r) => r.value);
    const notResource = view.stmt.NotResource !== undefined;
    for (const rule of guardrails.deniedActions) {
      const onResource = rule.resource === undefined || notResource || resources.some((r) => resourceMatches(r, rule.resource!));
      if (!onResource) continue;
      const because = rule.reason ? ` ${rule.reason}` : '';
      const scope = rule.resource ? ` on "${rule.resource}"` : '';
      if (view.stmt.NotAction !== undefined) {
        if (view.broken.has('NotAction')) continue; // the schema reports it; what it excludes is unknown
        const excluded = valuesAt(view, 'NotAction').some((n) => actionMatches(n.value, rule.action));
        if (!excluded) {
          ctx.report('PODIAM_CHECK_GUARDRAIL_ACTION', [...view.path, 'NotAction'], `statement ${view.label} allows every action its NotAction list leaves out, '${rule.action}'${scope} among them, which the guardrails deny; list the allowed actions with Action instead.${because}`);
        }
        continue;
      }
      for (const a of valuesAt(view, 'Action')) {
        if (actionsOverlap(catalog, a.value, rule.action)) ctx.report('PODIAM_CHECK_GUARDRAIL_ACTION', a.path, `${deniedMessage(a.value, rule.action, scope)}${because}`);
      }
    }
  }

  if (guardrails.allowedAccounts.length) {
    const allowed = new Set(guardrails.allowedAccounts);
    for (const view of ctx.statements) {
      for (const r of [...valuesAt(view, 'Resource'), ...valuesAt(view, 'NotResource')]) {
        const account = ACCOUNT_ARN.exec(r.value)?.[1];
        if (account && !allowed.has(account)) {
          ctx.report('PODIAM_CHECK_ACCOUNT_NOT_ALLOWED', r.path, `account ${account} is not on the guardrails' allowed accounts (${guardrails.allowedAccounts.join(', ')}); use a resource of an allowed account or ask the platform team to add it.`);
        }
      }
    }
    ctx.service.managedPolicyArns.forEach((arn, i) => {
      const account = /^arn:[^:]*:iam::(\d{12}):policy\//.exec(arn)?.[1];
      if (account && !allowed.has(account)) {
        ctx.report('PODIAM_CHECK_ACCOUNT_NOT_ALLOWED', ['managedPolicyArns', i], `managed policy ${arn} belongs to account ${account}, which is not on the guardrails' allowed accounts; use a policy of an allowed account or an AWS managed policy.`);
      }
    });
  }

  if (ctx.service.managedPolicyArns.length > guardrails.limits.maxManagedPolicies) {
    ctx.report('PODIAM_CHECK_MANAGED_POLICY_LIMIT', ['managedPolicyArns'], `${ctx.service.managedPolicyArns.length} managed policies exceed the limit of ${guardrails.limits.maxManagedPolicies} per role; merge some into the inline policy.`);
  }
}
