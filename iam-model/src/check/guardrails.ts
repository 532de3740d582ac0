/** Reads and validates policies/guardrails.json; errors name the member and the fix. */
import { readFileSync } from 'node:fs';
import type { Guardrails } from '../bundle/bundle.ts';
import { CheckInputError } from '../errors.ts';

export const DEFAULT_LIMITS: Guardrails['limits'] = { maxInlinePolicyChars: 10240, maxTrustPolicyChars: 2048, maxManagedPolicies: 10 };

function fail(file: string, problem: string, cause?: unknown): never {
  throw new CheckInputError('PODIAM_GUARDRAILS_INVALID', `${file}: ${problem}.`, cause === undefined ? {} : { cause });
}

export function parseGuardrails(raw: unknown, file = 'guardrails.json'): Guardrails {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, 'must be a JSON object');
  const g = raw as Record<string, unknown>;
  const known = new Set(['$schema', '$comment', 'deniedActions', 'permissionsBoundaryArn', 'allowedAccounts', 'limits']);
  const unknown = Object.keys(g).filter((k) => !known.has(k));
  if (unknown.length) fail(file, `unknown member(s) ${unknown.map((k) => `'${k}'`).join(', ')}; the members are deniedActions, permissionsBoundaryArn, allowedAccounts and limits`);
  const denied = g.deniedActions ?? [];
  if (!Array.isArray(denied)) fail(file, 'deniedActions must be an array of { action, resource?, reason? }');
  const deniedActions = denied.map((d: unknown, i) => {
    const e = d as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.action !== 'string' || !/^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/.test(e.action)) {
      fail(file, `deniedActions[${i}].action must be an action or action pattern such as 'iam:*'`);
    }
    if (e.resource !== undefined && typeof e.resource !== 'string') fail(file, `deniedActions[${i}].resource must be a string such as '*'`);
    if (e.reason !== undefined && typeof e.reason !== 'string') fail(file, `deniedActions[${i}].reason must be a string`);
    return { action: e.action as string, ...(e.resource !== undefined ? { resource: e.resource as string } : {}), ...(e.reason !== undefined ? { reason: e.reason as string } : {}) };
  });
  const accounts = g.allowedAccounts ?? [];
  if (!Array.isArray(accounts) || !accounts.every((a) => typeof a === 'string' && /^\d{12}$/.test(a))) fail(file, 'allowedAccounts must be an array of 12-digit account ids');
  const boundary = g.permissionsBoundaryArn;
  if (boundary !== undefined && (typeof boundary !== 'string' || !/^arn:[a-z-]+:iam::(\d{12}|aws):policy\/.+/.test(boundary))) {
    fail(file, 'permissionsBoundaryArn must be a managed policy ARN such as arn:aws:iam::123456789012:policy/boundary');
  }
  const limitsRaw = (g.limits ?? {}) as Record<string, unknown>;
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Guardrails['limits'])[]) {
    const v = limitsRaw[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(file, `limits.${key} must be a positive integer`);
    limits[key] = v;
  }
  return { deniedActions, allowedAccounts: accounts as string[], limits, ...(boundary !== undefined ? { permissionsBoundaryArn: boundary as string } : {}) };
}

export function readGuardrails(file: string): Guardrails {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    fail(file, 'cannot be read', err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(file, `is not valid JSON (${(err as Error).message})`, err);
  }
  return parseGuardrails(raw, file);
}
