/**
 * Checks against the AWS catalog: services, actions, resource types, condition keys.
 * A resource that fits none of an action's resource types grants nothing for that action —
 * the classic `s3:GetObject` on `arn:aws:s3:::bucket` (a bucket, not its objects).
 */
import type { CatalogAction, CatalogResourceType, IamCatalog } from '../catalog/iam-catalog.ts';
import { valuesAt, type FileContext, type ValueAt } from './context.ts';

const ACTION = /^([A-Za-z0-9-]+):([A-Za-z0-9*?]+)$/;

function hasWildcard(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

/** Policy variables become a plain placeholder; a '*' may stand for text with or without '/'. */
function resourceVariants(resource: string): string[] {
  const base = resource.replace(/\$\{[^}]*\}/g, 'x');
  if (!hasWildcard(base)) return [base];
  return [base.replace(/[*?]/g, 'x'), base.replace(/\*/g, 'x/x').replace(/\?/g, 'x')];
}

export function resourceFits(resource: string, types: readonly CatalogResourceType[]): boolean {
  if (resource === '*') return true;
  const variants = resourceVariants(resource);
  return types.some((t) => variants.some((v) => t.arnPattern.test(v)));
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
      if (known.every((k) => !k.wildcard)) {
        for (const r of resources) {
          if (r.value !== '*' && !used.has(r.value)) {
            ctx.report('PODIAM_CHECK_RESOURCE_UNUSED', r.path, `'${r.value}' fits none of this statement's actions; remove it or fix the ARN (e.g. objects are 'arn:aws:s3:::bucket/*', the bucket itself 'arn:aws:s3:::bucket').`);
          }
        }
      }
    }

    for (const [op, block] of Object.entries(view.stmt.Condition ?? {})) {
      for (const key of Object.keys(block)) {
        if (!catalog.conditionKeyExists(key)) {
          ctx.report('PODIAM_CHECK_CONDITION_KEY', [...view.path, 'Condition', op, key], `'${key}' is not a known condition key; use a global key (aws:…) or one of the service's keys, spelled as in the Service Authorization Reference.`);
        }
      }
    }
  }
}
