/**
 * `expect` cases, evaluated against the file's policy with the guardrails' unconditional
 * denied actions acting as a boundary-style deny (what the organisation will never grant).
 */
import type { ExpectCase, Guardrails, PolicyDocument, ServicePolicy } from '../bundle/bundle.ts';
import { evaluate, type PolicyLayer } from '../evaluate/evaluate.ts';
import { resourceFits } from './catalog-rules.ts';
import type { FileContext } from './context.ts';

/** Guardrail denies that hold for every resource, as a policy document. */
export function guardrailDenyDocument(guardrails: Guardrails): PolicyDocument | undefined {
  const unconditional = guardrails.deniedActions.filter((d) => d.resource === undefined);
  if (!unconditional.length) return undefined;
  return { Version: '2012-10-17', Statement: [{ Sid: 'GuardrailDeny', Effect: 'Deny', Action: unconditional.map((d) => d.action), Resource: '*' }] };
}

export function expectLayers(service: ServicePolicy, guardrails: Guardrails): PolicyLayer[] {
  const layers: PolicyLayer[] = [{ kind: 'identity', name: 'policy', document: service.policy }];
  const deny = guardrailDenyDocument(guardrails);
  if (deny) layers.push({ kind: 'identity', name: 'guardrails', document: deny });
  return layers;
}

/** Why a case cannot be a real request: an unknown action, or a resource the action never takes. */
function caseProblem(ctx: FileContext, action: string, resource: string): string | undefined {
  const colon = action.indexOf(':');
  const svc = action.slice(0, colon);
  const found = ctx.catalog.action(svc, action.slice(colon + 1));
  if (!found) return `'${action}' is not an AWS action, so this case proves nothing; fix the action name.`;
  const types = found.resourceTypes.map((k) => ctx.catalog.resourceType(found.id.slice(0, found.id.indexOf(':')), k)).filter((t) => t !== undefined);
  if (types.length === 0) return resource === '*' ? undefined : `'${found.id}' takes no resource; write "resource": "*" in this case.`;
  if (resource === '*' || resource.includes('*') || resource.includes('?')) return `give one concrete resource ARN for '${found.id}' (no wildcards): a request names one resource.`;
  return resourceFits(resource, types) ? undefined : `'${resource}' is not a resource '${found.id}' acts on, so this case proves nothing; use an ARN like ${types[0]!.arnFormat.replace('${Partition}', 'aws')}.`;
}

/** A case of the right shape; in a file that fails the schema, the others are the schema's findings. */
function isExpectCase(c: unknown): c is ExpectCase {
  if (typeof c !== 'object' || c === null) return false;
  const { action, resource, context } = c as Record<string, unknown>;
  if (typeof action !== 'string' || !action.includes(':') || typeof resource !== 'string') return false;
  if (context === undefined) return true;
  return typeof context === 'object' && context !== null && !Array.isArray(context)
    && Object.values(context).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')));
}

export function expectRules(ctx: FileContext): void {
  const expect = ctx.service.expect;
  if (!expect) return;
  const layers = expectLayers(ctx.service, ctx.guardrails);
  for (const want of ['allow', 'deny'] as const) {
    (expect[want] ?? []).forEach((c: unknown, i) => {
      if (!isExpectCase(c)) return;
      const path = ['expect', want, i];
      const invalid = caseProblem(ctx, c.action, c.resource);
      if (invalid) {
        // A case that names no real request would pass as "denied" without proving anything.
        ctx.report('PODIAM_CHECK_EXPECT_INVALID', path, invalid);
        return;
      }
      // A policy the schema rejects in its statements cannot be evaluated as written.
      if (!ctx.policyIntact) return;
      const result = evaluate(layers, c);
      const what = `${c.action} on ${c.resource}`;
      if (result.decision === 'undecided') {
        ctx.report('PODIAM_CHECK_EXPECT_UNDECIDED', path, `cannot decide whether ${what} is ${want === 'allow' ? 'allowed' : 'denied'}: it ${result.reasons.join('; ')}; give ${result.undecidedBy.join(', ')} in this case's "context".`);
        return;
      }
      const allowed = result.decision === 'allowed';
      if (want === 'allow' && !allowed) {
        ctx.report('PODIAM_CHECK_EXPECT_FAILED', path, `expected ${what} to be allowed, but it is ${result.decision === 'explicitDeny' ? 'explicitly denied' : 'not allowed'} (${result.reasons.join('; ')}); add a statement that allows it or fix the case.`);
      }
      if (want === 'deny' && allowed) {
        ctx.report('PODIAM_CHECK_EXPECT_FAILED', path, `expected ${what} to be denied, but it is ${result.reasons.join('; ')}; narrow that statement or fix the case.`);
      }
    });
  }
}
