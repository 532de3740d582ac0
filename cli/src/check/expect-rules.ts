/**
 * `expect` cases, evaluated against the file's policy with the guardrails' unconditional
 * denied actions acting as a boundary-style deny (what the organisation will never grant).
 */
import type { Guardrails, PolicyDocument, ServicePolicy } from '../../../core/src/bundle.ts';
import { evaluate, type PolicyLayer } from '../evaluate/evaluate.ts';
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

export function expectRules(ctx: FileContext): void {
  const expect = ctx.service.expect;
  if (!expect) return;
  const layers = expectLayers(ctx.service, ctx.guardrails);
  for (const want of ['allow', 'deny'] as const) {
    (expect[want] ?? []).forEach((c, i) => {
      const path = ['expect', want, i];
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
