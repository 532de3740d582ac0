/**
 * Checks against the AWS catalog: services, actions, resource types, condition keys.
 * A resource that fits none of an action's resource types grants nothing for that action —
 * the classic `s3:GetObject` on `arn:aws:s3:::bucket` (a bucket, not its objects).
 */
import type { ArnToken, CatalogAction, CatalogResourceType, IamCatalog } from '../catalog/iam-catalog.ts';
import { parseOperator } from '../evaluate/operators.ts';
import { valuesAt, type FileContext, type ValueAt } from './context.ts';

const ACTION = /^([A-Za-z0-9-]+):([A-Za-z0-9*?]+)$/;

function hasWildcard(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

/**
 * Can some ARN match both the resource (a glob: '*' any run, '?' one character; policy variables
 * count as '*') and the resource type's format? Exact for that reading: a DP over both token lists.
 * Where both sides have a wildcard, the part both cover can be dropped from a common string
 * without breaking either match, so a wildcard only ever needs to match nothing or one token of
 * the other side.
 */
export function globIntersectsFormat(resource: string, format: readonly ArnToken[]): boolean {
  type G = { ch: string } | { any: true } | { one: true };
  const glob: G[] = [];
  for (const part of resource.split(/(\$\{[^}]*\})/)) {
    if (/^\$\{[^}]*\}$/.test(part)) glob.push({ any: true });
    else for (const ch of part) glob.push(ch === '*' ? { any: true } : ch === '?' ? { one: true } : { ch });
  }
  const n = glob.length;
  const m = format.length;
  const memo = new Uint8Array((n + 1) * (m + 1)); // 0 unknown, 1 false, 2 true
  const go = (i: number, j: number): boolean => {
    const k = i * (m + 1) + j;
    if (memo[k]) return memo[k] === 2;
    memo[k] = 1; // cycles cannot occur (every step advances i or j); this only guards re-entry
    let ok = false;
    const g = glob[i];
    const f = format[j];
    if (!g && !f) ok = true;
    else {
      if (g && 'any' in g) ok = go(i + 1, j) || (f !== undefined && ('ch' in f ? go(i, j + 1) : false));
      if (!ok && f && 'excludes' in f) ok = go(i, j + 1) || (g !== undefined && ('ch' in g ? !f.excludes.includes(g.ch) && go(i + 1, j) : 'one' in g ? go(i + 1, j) : false));
      if (!ok && g && f && 'ch' in f) ok = ('ch' in g && g.ch === f.ch && go(i + 1, j + 1)) || ('one' in g && go(i + 1, j + 1));
    }
    memo[k] = ok ? 2 : 1;
    return ok;
  };
  return go(0, 0);
}

const fitCache = new Map<string, boolean>();

export function resourceFits(resource: string, types: readonly CatalogResourceType[]): boolean {
  if (resource === '*') return true;
  return types.some((t) => {
    const key = `${t.arnFormat}\u0000${resource}`;
    let hit = fitCache.get(key);
    if (hit === undefined) {
      // A plain ARN is a plain regex test; only wildcards need the intersection.
      hit = /[*?]|\$\{/.test(resource) ? globIntersectsFormat(resource, t.arnTokens) : t.arnPattern.test(resource);
      if (fitCache.size > 100_000) fitCache.clear();
      fitCache.set(key, hit);
    }
    return hit;
  });
}

function typesOf(catalog: IamCatalog, action: CatalogAction): CatalogResourceType[] {
  const svc = action.id.slice(0, action.id.indexOf(':'));
  return action.resourceTypes.map((k) => catalog.resourceType(svc, k)).filter((t): t is CatalogResourceType => t !== undefined);
}

/** The shortest ARN formats of the action's resource types, e.g. arn:aws:s3:::${BucketName}/${ObjectName}. */
function example(types: CatalogResourceType[]): string {
  return types
    .map((t) => t.arnFormat.replace('${Partition}', 'aws'))
    .sort((a, b) => a.length - b.length)
    .slice(0, 2)
    .join(' or ');
}

const FAMILY_TYPES: Array<[RegExp, string[], string]> = [
  [/^String/, ['String', 'ARN'], 'a String operator'],
  [/^Arn/, ['ARN'], 'an Arn operator'],
  [/^Numeric/, ['Numeric'], 'a Numeric operator'],
  [/^Date/, ['Date'], 'a Date operator'],
  [/^Bool$/, ['Bool'], 'Bool'],
  [/^(Not)?IpAddress$/, ['IPAddress'], 'IpAddress or NotIpAddress'],
  [/^Binary/, ['Binary'], 'BinaryEquals'],
];

const OPERATOR_FOR_TYPE: Record<string, string> = {
  String: 'StringEquals or StringLike',
  ARN: 'ArnLike or ArnEquals',
  Numeric: 'NumericEquals, NumericLessThan, …',
  Date: 'DateGreaterThan, DateLessThan, …',
  Bool: 'Bool',
  IPAddress: 'IpAddress or NotIpAddress',
  Binary: 'BinaryEquals',
};

/** Access Analyzer's checks on operator and key: matching types, set operators only on multi-valued keys. */
export function operatorTypeProblem(operator: string, keyType: string): string | undefined {
  const parsed = parseOperator(operator);
  if (!parsed || parsed.base === 'Null') return undefined;
  const multi = keyType.startsWith('ArrayOf');
  const base = multi ? keyType.slice('ArrayOf'.length) : keyType;
  const family = FAMILY_TYPES.find(([re]) => re.test(parsed.base));
  if (family && !family[1].includes(base)) {
    return `${family[2]} never matches it as intended; use ${OPERATOR_FOR_TYPE[base] ?? 'an operator of that type'}.`;
  }
  if (parsed.set && !multi) {
    return `${parsed.set}: is for multi-valued keys (with a single-valued key, ForAllValues is also true when the key is absent); use ${parsed.base}${parsed.ifExists ? 'IfExists' : ''} without the prefix.`;
  }
  if (!parsed.set && multi) {
    return `it can carry several values; use ForAnyValue:${operator} (any value matches) or ForAllValues:${operator} (every value matches).`;
  }
  return undefined;
}

export function catalogRules(ctx: FileContext): void {
  const { catalog } = ctx;
  for (const view of ctx.statements) {
    const actionValues = [...valuesAt(view, 'Action'), ...valuesAt(view, 'NotAction')];
    const known: Array<{ at: ValueAt; actions: CatalogAction[]; wildcard: boolean }> = [];
    for (const at of actionValues) {
      if (at.value === '*') continue;
      const m = ACTION.exec(at.value);
      if (!m) continue; // reported by the grammar rules
      const [, svc, name] = m as unknown as [string, string, string];
      if (!catalog.serviceExists(svc)) {
        ctx.report('PODIAM_CHECK_SERVICE_UNKNOWN', at.path, `'${svc}' is not an AWS service prefix; check the spelling (e.g. 's3', 'dynamodb', 'route53').`);
        continue;
      }
      const actions = hasWildcard(name) ? catalog.expandAction(at.value) : [catalog.action(svc, name)].filter((a): a is CatalogAction => a !== undefined);
      if (actions.length === 0) {
        ctx.report('PODIAM_CHECK_ACTION_UNKNOWN', at.path, hasWildcard(name)
          ? `'${at.value}' matches no ${svc} action; fix the pattern.`
          : `'${at.value}' is not a ${svc} action; check the spelling against the service's actions (Service Authorization Reference).`);
        continue;
      }
      if (view.stmt.Action !== undefined) known.push({ at, actions, wildcard: hasWildcard(name) });
    }

    const resources = valuesAt(view, 'Resource');
    if (view.stmt.Action !== undefined && resources.length && known.length) {
      const used = new Set<string>();
      for (const { at, actions, wildcard } of known) {
        let anyFits = false;
        for (const action of actions) {
          const types = typesOf(catalog, action);
          for (const r of resources) {
            const fits = types.length === 0 ? r.value === '*' : resourceFits(r.value, types);
            if (fits) {
              anyFits = true;
              used.add(r.value);
            }
          }
        }
        if (!anyFits) {
          const action = actions[0]!;
          const types = typesOf(catalog, action);
          const what = wildcard ? `no action matched by '${at.value}'` : `'${action.id}'`;
          ctx.report('PODIAM_CHECK_RESOURCE_MISMATCH', at.path, types.length === 0 && !wildcard
            ? `${what} supports only Resource "*" (it acts on no specific resource); move it to a statement with "Resource": "*".`
            : `${what} applies to none of this statement's resources, so it grants nothing; use resources like ${example(types) || '"*"'}.`);
        }
      }
      if (known.every((k) => !k.wildcard) && !view.broken.has('Action')) {
        for (const r of resources) {
          if (r.value !== '*' && !used.has(r.value)) {
            const formats = example(known.flatMap((k) => k.actions.flatMap((a) => typesOf(catalog, a))));
            ctx.report('PODIAM_CHECK_RESOURCE_UNUSED', r.path, `'${r.value}' fits none of this statement's actions; remove it or fix the ARN${formats ? ` (they take resources like ${formats})` : ''}.`);
          }
        }
      }
    }

    // Service keys (not aws:…) must be documented for at least one of the statement's actions,
    // or the key is never in the request and the condition never holds (or, with IfExists, always).
    // (Not with a broken Action: the actions it was meant to list are unknown.)
    const checkApplies = view.stmt.Action !== undefined && !view.broken.has('Action') && !valuesAt(view, 'Action').some((a) => a.value === '*') && known.length === valuesAt(view, 'Action').length;
    const statementActions = known.flatMap((k) => k.actions);
    for (const [op, block] of Object.entries(view.stmt.Condition ?? {})) {
      for (const key of Object.keys(block)) {
        const path = [...view.path, 'Condition', op, key];
        const type = catalog.conditionKeyType(key);
        if (type === undefined) {
          ctx.report('PODIAM_CHECK_CONDITION_KEY', path, `'${key}' is not a known condition key; use a global key (aws:…) or one of the service's keys, spelled as in the Service Authorization Reference.`);
          continue;
        }
        if (checkApplies && !key.toLowerCase().startsWith('aws:') && !statementActions.some((a) => catalog.actionSupportsConditionKey(a, key))) {
          ctx.report('PODIAM_CHECK_CONDITION_KEY_NOT_APPLICABLE', path, `no action of this statement supports the condition key '${key}', so the request never carries it; move the condition to a statement with an action that does (e.g. s3:prefix goes with s3:ListBucket) or remove it.`);
        }
        const problem = operatorTypeProblem(op, type);
        if (problem) ctx.report('PODIAM_CHECK_CONDITION_TYPE', path, `'${key}' is of type ${type}; ${problem}`);
      }
    }
  }
}
