/**
 * Our IAM evaluator for one request against identity policies (and an optional permissions
 * boundary): explicit deny wins, then an allow is needed in every layer, else implicit deny.
 * Written for podiam (the reference simulator is AGPL and may only be used in test/).
 *
 * Anything it cannot decide — a condition key or policy variable the request context does not
 * give, an unknown operator, an unparsable value — is 'undecided', never guessed.
 */
import type { PolicyDocument, PolicyStatement } from '../bundle/bundle.ts';
import { RequestContext, substituteVariables, type ContextValue } from './context.ts';
import { actionMatches, globToRegExp } from './glob.ts';
import { matchValue, parseOperator } from './operators.ts';
import { tri, triAnd, triNot, triOr, type Tri } from './tristate.ts';

export type Decision = 'allowed' | 'explicitDeny' | 'implicitDeny' | 'undecided';

export interface EvaluationRequest {
  action: string;
  resource: string;
  context?: Record<string, ContextValue>;
}

export interface EvaluationResult {
  decision: Decision;
  /** Human-readable: which statements decided, or what was undecidable. */
  reasons: string[];
  /** Condition keys or variables that the context lacked, when undecided. */
  undecidedBy: string[];
}

export interface PolicyLayer {
  /** 'identity' policies are OR-ed together; a 'boundary' must allow too. */
  kind: 'identity' | 'boundary';
  name: string;
  document: PolicyDocument;
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function statementsOf(doc: PolicyDocument): PolicyStatement[] {
  return Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
}

interface Why {
  missing: Set<string>;
}

function resourceMatch(pattern: string, resource: string, ctx: RequestContext, why: Why): Tri {
  const sub = substituteVariables(pattern, ctx);
  if (sub.state === 'undecided') {
    why.missing.add(sub.missing!);
    return 'undecided';
  }
  if (sub.text === '*') return 'true';
  // ARN fields are matched one by one: a '*' in the account field does not run into the resource.
  const p = sub.text.split(':');
  const r = resource.split(':');
  if (p.length >= 6 && r.length >= 6) {
    for (let i = 0; i < 5; i++) if (!globToRegExp(p[i]!).test(r[i]!)) return 'false';
    return tri(globToRegExp(p.slice(5).join(':')).test(r.slice(5).join(':')));
  }
  return tri(globToRegExp(sub.text).test(resource));
}

function conditionMatch(stmt: PolicyStatement, ctx: RequestContext, why: Why): Tri {
  const results: Tri[] = [];
  for (const [opText, block] of Object.entries(stmt.Condition ?? {})) {
    const op = parseOperator(opText);
    if (!op) {
      why.missing.add(`operator ${opText}`);
      results.push('undecided');
      continue;
    }
    for (const [key, raw] of Object.entries(block)) {
      const policyValues: string[] = [];
      let state: Tri = 'true';
      for (const v of Array.isArray(raw) ? raw : [raw]) {
        const sub = substituteVariables(String(v), ctx);
        if (sub.state === 'undecided') {
          why.missing.add(sub.missing!);
          state = 'undecided';
        }
        policyValues.push(sub.text);
      }
      if (state === 'undecided') {
        results.push('undecided');
        continue;
      }
      const requestValues = ctx.get(key);
      if (requestValues === undefined) {
        // The real request may or may not carry this key; only the author can say which.
        why.missing.add(key);
        results.push('undecided');
        continue;
      }
      if (op.base === 'Null') {
        // The key is present (it is in the context): Null:true is false, Null:false is true.
        results.push(triOr(policyValues.map((p) => tri(p.toLowerCase() === 'false'))));
        continue;
      }
      if (op.set === 'ForAnyValue') results.push(triOr(requestValues.map((r) => matchValue(op.base, r, policyValues))));
      else if (op.set === 'ForAllValues') results.push(triAnd(requestValues.map((r) => matchValue(op.base, r, policyValues))));
      else if (requestValues.length !== 1) {
        why.missing.add(`${key} (several values for a single-valued operator ${opText})`);
        results.push('undecided');
      } else results.push(matchValue(op.base, requestValues[0]!, policyValues));
    }
  }
  return triAnd(results);
}

/** Does this statement apply to the request? (Effect aside.) */
export function statementApplies(stmt: PolicyStatement, request: EvaluationRequest, ctx: RequestContext, why: Why = { missing: new Set() }): Tri {
  const action = stmt.Action !== undefined
    ? tri(list(stmt.Action).some((a) => actionMatches(a, request.action)))
    : triNot(tri(list(stmt.NotAction).some((a) => actionMatches(a, request.action))));
  if (action === 'false') return 'false';
  const resource = stmt.Resource !== undefined
    ? triOr(list(stmt.Resource).map((p) => resourceMatch(p, request.resource, ctx, why)))
    : triNot(triOr(list(stmt.NotResource).map((p) => resourceMatch(p, request.resource, ctx, why))));
  if (resource === 'false') return 'false';
  return triAnd([action, resource, conditionMatch(stmt, ctx, why)]);
}

interface LayerOutcome {
  deny: Tri;
  allow: Tri;
  denyBy: string[];
  allowBy: string[];
}

function evaluateLayer(docs: PolicyLayer[], request: EvaluationRequest, ctx: RequestContext, why: Why): LayerOutcome {
  const denies: Tri[] = [];
  const allows: Tri[] = [];
  const denyBy: string[] = [];
  const allowBy: string[] = [];
  for (const layer of docs) {
    statementsOf(layer.document).forEach((stmt, i) => {
      const applies = statementApplies(stmt, request, ctx, why);
      if (applies === 'false') return;
      const label = `${layer.name} statement ${stmt.Sid ?? i}${applies === 'undecided' ? ' (undecided)' : ''}`;
      if (stmt.Effect === 'Deny') {
        denies.push(applies);
        denyBy.push(label);
      } else {
        allows.push(applies);
        allowBy.push(label);
      }
    });
  }
  return { deny: triOr(denies), allow: triOr(allows), denyBy, allowBy };
}

export function evaluate(layers: PolicyLayer[], request: EvaluationRequest): EvaluationResult {
  const ctx = new RequestContext(request.context);
  const why: Why = { missing: new Set() };
  const identity = evaluateLayer(layers.filter((l) => l.kind === 'identity'), request, ctx, why);
  const boundaryDocs = layers.filter((l) => l.kind === 'boundary');
  const boundary = boundaryDocs.length ? evaluateLayer(boundaryDocs, request, ctx, why) : undefined;
  const deny = triOr([identity.deny, boundary?.deny ?? 'false']);
  const allow = triAnd([identity.allow, boundary?.allow ?? 'true']);
  const undecidedBy = [...why.missing].sort();
  const denyBy = [...identity.denyBy, ...(boundary?.denyBy ?? [])];

  if (deny === 'true') return { decision: 'explicitDeny', reasons: denyBy.map((d) => `denied by ${d}`), undecidedBy: [] };
  if (allow === 'false') {
    const reason = identity.allow === 'false' ? 'no statement allows it' : 'the permissions boundary does not allow it';
    return { decision: 'implicitDeny', reasons: [reason], undecidedBy: [] };
  }
  if (deny === 'undecided' || allow === 'undecided') {
    return { decision: 'undecided', reasons: [`depends on ${undecidedBy.join(', ') || 'an undecidable condition'}`], undecidedBy };
  }
  return { decision: 'allowed', reasons: identity.allowBy.map((a) => `allowed by ${a}`), undecidedBy: [] };
}
