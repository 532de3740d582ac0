/**
 * Semantic equality of IAM policy documents. IAM does not hand back what it was given:
 * documents come URL-encoded, a one-element array may come back as a string, and a
 * missing Version means 2008-10-17. Comparing strings therefore reports differences that
 * are not there, and a reconciler that acts on them rewrites policies forever (ACK's IAM
 * controller called UpdateAssumeRolePolicy every second). Everything here is pure.
 */

/** The Version IAM applies when a document has none. */
export const IMPLICIT_POLICY_VERSION = '2008-10-17';

/** A document in one canonical shape: compare with JSON.stringify, print for diffs. */
export interface CanonicalPolicy {
  Version: string;
  Id?: string;
  Statement: CanonicalStatement[];
}

export interface CanonicalStatement {
  Sid?: string;
  Effect: string;
  Principal?: Record<string, string[]>;
  NotPrincipal?: Record<string, string[]>;
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

/**
 * Parses a policy document as IAM returns it (GetRole's AssumeRolePolicyDocument,
 * GetRolePolicy's PolicyDocument): RFC 3986 percent-encoded JSON. Plain JSON is accepted too
 * (some emulators return it), and so is an already parsed object.
 */
export function parseIamDocument(raw: unknown): unknown {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') return raw;
  const text = raw.trim();
  if (text.startsWith('{')) return JSON.parse(text);
  return JSON.parse(decodeURIComponent(text));
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function strings(value: unknown, lowerCase = false): string[] {
  return sortedUnique(asArray(value).map((v) => (lowerCase ? String(v).toLowerCase() : String(v))));
}

const ACCOUNT_ID = /^\d{12}$/;

/**
 * `"*"` and `{"AWS": "*"}` mean the same; IAM stores a bare account ID as its root ARN.
 * Principals whose role was deleted come back as unique IDs (AROA…): they stay as they are,
 * so they differ from the ARN and get rewritten.
 */
function canonicalPrincipal(value: unknown, partition: string): Record<string, string[]> | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === '*') return { AWS: ['*'] };
  if (typeof value !== 'object' || Array.isArray(value)) return { AWS: strings(value) };
  const out: Record<string, string[]> = {};
  for (const key of Object.keys(value as Record<string, unknown>).sort()) {
    const list = strings((value as Record<string, unknown>)[key]);
    out[key] = key === 'AWS' ? sortedUnique(list.map((p) => (ACCOUNT_ID.test(p) ? `arn:${partition}:iam::${p}:root` : p))) : list;
  }
  return out;
}

/** Condition operators are matched as written; condition key names are case-insensitive in IAM. */
function canonicalCondition(value: unknown): Record<string, Record<string, string[]>> | undefined {
  if (value === undefined || value === null || typeof value !== 'object') return undefined;
  const out: Record<string, Record<string, string[]>> = {};
  for (const op of Object.keys(value as Record<string, unknown>).sort()) {
    const block = (value as Record<string, unknown>)[op];
    if (block === null || typeof block !== 'object') continue;
    const keys: Record<string, string[]> = {};
    for (const [key, v] of Object.entries(block as Record<string, unknown>)) {
      const lower = key.toLowerCase();
      // Booleans and numbers are compared as IAM compares them: as their string form.
      keys[lower] = sortedUnique([...(keys[lower] ?? []), ...strings(v)]);
    }
    const sortedKeys = Object.fromEntries(Object.entries(keys).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (Object.keys(sortedKeys).length) out[op] = sortedKeys;
  }
  return Object.keys(out).length ? out : undefined;
}

function canonicalStatement(raw: unknown, partition: string): CanonicalStatement {
  const s = (raw ?? {}) as Record<string, unknown>;
  const out: CanonicalStatement = { Effect: String(s.Effect ?? '') };
  if (typeof s.Sid === 'string' && s.Sid !== '') out.Sid = s.Sid;
  const principal = canonicalPrincipal(s.Principal, partition);
  if (principal) out.Principal = principal;
  const notPrincipal = canonicalPrincipal(s.NotPrincipal, partition);
  if (notPrincipal) out.NotPrincipal = notPrincipal;
  // Action names are case-insensitive ("s3:GetObject" = "s3:getobject"); ARNs are not.
  if (s.Action !== undefined) out.Action = strings(s.Action, true);
  if (s.NotAction !== undefined) out.NotAction = strings(s.NotAction, true);
  if (s.Resource !== undefined) out.Resource = strings(s.Resource);
  if (s.NotResource !== undefined) out.NotResource = strings(s.NotResource);
  const condition = canonicalCondition(s.Condition);
  if (condition) out.Condition = condition;
  return out;
}

export interface CanonicalOptions {
  /** Partition used when expanding a bare account ID principal. Default 'aws'. */
  partition?: string;
}

/**
 * Canonical form: statements order-insensitive (evaluation does not depend on their order)
 * and de-duplicated; every list a sorted set; Version made explicit.
 */
export function canonicalPolicy(doc: unknown, options: CanonicalOptions = {}): CanonicalPolicy {
  const partition = options.partition ?? 'aws';
  const d = (parseIamDocument(doc) ?? {}) as Record<string, unknown>;
  const statements = asArray(d.Statement).map((s) => canonicalStatement(s, partition));
  const unique = new Map(statements.map((s) => [JSON.stringify(s), s]));
  const out: CanonicalPolicy = {
    Version: typeof d.Version === 'string' ? d.Version : IMPLICIT_POLICY_VERSION,
    Statement: [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s),
  };
  if (typeof d.Id === 'string') out.Id = d.Id;
  return out;
}

/** The canonical form as one string: equal strings ⇔ semantically equal documents. */
export function canonicalPolicyText(doc: unknown, options: CanonicalOptions = {}): string {
  return JSON.stringify(canonicalPolicy(doc, options));
}

/** True when the two documents grant the same; either side may be IAM's URL-encoded text. */
export function policiesEqual(a: unknown, b: unknown, options: CanonicalOptions = {}): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalPolicyText(a, options) === canonicalPolicyText(b, options);
}
