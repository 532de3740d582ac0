/**
 * Reads and validates a published bundle: what the Lambda functions call on the object they
 * download. Light on purpose (node:crypto and core only; no catalog, no ajv), so function bundles
 * stay small. It checks structure and the content hash; the policy rules were checked at publish.
 *
 *   import { parseBundle } from '../../../cli/cli/src/bundle/load-bundle.ts';
 *   const bundle = parseBundle(await body.transformToString());   // throws BundleInvalidError
 */
import type { Bundle, ExpectCase, Guardrails, PolicyDocument, ServicePolicy } from './bundle.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { isDnsLabel } from '../../../core/src/naming.ts';
import { bundleHash } from './canonical-json.ts';

export class BundleInvalidError extends PodiamError {
  constructor(problem: string, options: { cause?: unknown } = {}) {
    super('PODIAM_BUNDLE_INVALID', `policies bundle: ${problem}; publish it again with \`podiam publish\` (never edit a bundle by hand).`, { status: 400, ...options });
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function need(ok: boolean, problem: string): asserts ok {
  if (!ok) throw new BundleInvalidError(problem);
}

function stringOrStrings(v: unknown): boolean {
  return typeof v === 'string' || (isStrings(v) && v.length > 0);
}

function checkPolicy(doc: unknown, where: string): asserts doc is PolicyDocument {
  need(isObj(doc), `${where}: policy must be an object`);
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  need(statements.length > 0, `${where}: policy has no statements`);
  statements.forEach((s: unknown, i) => {
    const at = `${where}: Statement ${i}`;
    need(isObj(s), `${at} must be an object`);
    need(s.Effect === 'Allow' || s.Effect === 'Deny', `${at}: Effect must be Allow or Deny`);
    need((s.Action === undefined) !== (s.NotAction === undefined), `${at}: needs exactly one of Action or NotAction`);
    need((s.Resource === undefined) !== (s.NotResource === undefined), `${at}: needs exactly one of Resource or NotResource`);
    for (const k of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) need(s[k] === undefined || stringOrStrings(s[k]), `${at}: ${k} must be a string or strings`);
    need(s.Principal === undefined && s.NotPrincipal === undefined, `${at}: identity policies have no Principal`);
    need(s.Condition === undefined || isObj(s.Condition), `${at}: Condition must be an object`);
  });
}

function checkExpect(v: unknown, where: string): asserts v is { allow?: ExpectCase[]; deny?: ExpectCase[] } {
  need(isObj(v), `${where}: expect must be an object`);
  for (const k of ['allow', 'deny'] as const) {
    const list = v[k];
    need(list === undefined || (Array.isArray(list) && list.every((c) => isObj(c) && typeof c.action === 'string' && typeof c.resource === 'string')), `${where}: expect.${k} must be a list of { action, resource }`);
  }
}

function checkGuardrails(g: unknown): asserts g is Guardrails {
  need(isObj(g), 'guardrails must be an object');
  need(Array.isArray(g.deniedActions) && g.deniedActions.every((d) => isObj(d) && typeof d.action === 'string'), 'guardrails.deniedActions must be a list of { action }');
  need(isStrings(g.allowedAccounts), 'guardrails.allowedAccounts must be a list of account ids');
  need(g.permissionsBoundaryArn === undefined || typeof g.permissionsBoundaryArn === 'string', 'guardrails.permissionsBoundaryArn must be a string');
  const l = g.limits;
  need(isObj(l) && ['maxInlinePolicyChars', 'maxTrustPolicyChars', 'maxManagedPolicies'].every((k) => Number.isInteger(l[k])), 'guardrails.limits must hold integer limits');
}

function checkService(s: unknown, i: number): asserts s is ServicePolicy {
  need(isObj(s), `services[${i}] must be an object`);
  need(typeof s.namespace === 'string' && isDnsLabel(s.namespace), `services[${i}].namespace must be a DNS-1123 label`);
  need(typeof s.service === 'string' && isDnsLabel(s.service), `services[${i}].service must be a DNS-1123 label`);
  const where = `${s.namespace}/${s.service}`;
  need(typeof s.file === 'string', `${where}: file must be a string`);
  checkPolicy(s.policy, where);
  need(isStrings(s.managedPolicyArns), `${where}: managedPolicyArns must be a list of ARNs`);
  need(s.maxSessionDuration === undefined || Number.isInteger(s.maxSessionDuration), `${where}: maxSessionDuration must be an integer`);
  need(s.description === undefined || typeof s.description === 'string', `${where}: description must be a string`);
  need(s.owners === undefined || isStrings(s.owners), `${where}: owners must be strings`);
  if (s.expect !== undefined) checkExpect(s.expect, where);
}

/** Validates an already-parsed bundle object. */
export function validateBundle(raw: unknown): Bundle {
  need(isObj(raw), 'not a JSON object');
  need(raw.schemaVersion === 1, `schemaVersion ${JSON.stringify(raw.schemaVersion)} is not supported (this podiam reads 1)`);
  need(typeof raw.hash === 'string' && /^[0-9a-f]{64}$/.test(raw.hash), 'hash must be 64 lower-case hex characters');
  checkGuardrails(raw.guardrails);
  need(Array.isArray(raw.services), 'services must be a list');
  const seen = new Set<string>();
  raw.services.forEach((s: unknown, i) => {
    checkService(s, i);
    const key = `${s.namespace}/${s.service}`;
    need(!seen.has(key), `${key} appears twice`);
    seen.add(key);
  });
  need(raw.acknowledgeDeletions === undefined || (Number.isInteger(raw.acknowledgeDeletions) && (raw.acknowledgeDeletions as number) >= 0), 'acknowledgeDeletions must be a whole number ≥ 0');
  // The hash covers the content: a bundle changed after publishing (or truncated) is refused.
  const actual = bundleHash({ guardrails: raw.guardrails, services: raw.services, acknowledgeDeletions: raw.acknowledgeDeletions });
  need(actual === raw.hash, `content hash ${actual} does not match the recorded ${raw.hash as string}`);
  return raw as unknown as Bundle;
}

/** Parses the bundle's JSON text (the S3 object body) and validates it. */
export function parseBundle(text: string): Bundle {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleInvalidError('not valid JSON', { cause: err });
  }
  return validateBundle(raw);
}
