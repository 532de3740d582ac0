/**
 * IAM condition operators. Each base operator compares one request value with the policy's values;
 * negated operators ("Not…") are true when no policy value matches. A value that cannot be
 * interpreted (a malformed date, number or CIDR) makes the comparison undecided, not false.
 */
import { globToRegExp, literalEscapes } from './glob.ts';
import { tri, type Tri } from './tristate.ts';
import { isIP } from 'node:net';

export interface ParsedOperator {
  /** e.g. StringLike */
  base: string;
  set?: 'ForAllValues' | 'ForAnyValue';
  ifExists: boolean;
}

type Compare = (requestValue: string, policyValue: string) => Tri;

function parseNumber(v: string): number | undefined {
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.trim()) ? Number(v) : undefined;
}

function parseDate(v: string): number | undefined {
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

function numeric(test: (a: number, b: number) => boolean, parse: (v: string) => number | undefined): Compare {
  return (r, p) => {
    const a = parse(r);
    const b = parse(p);
    return a === undefined || b === undefined ? 'undecided' : tri(test(a, b));
  };
}

function ipToBigInt(ip: string): { value: bigint; bits: number } | undefined {
  const kind = isIP(ip);
  if (kind === 4) return { value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  if (kind === 6) {
    let text = ip;
    let tailV4: bigint[] = [];
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = ipToBigInt(v4[1]!)!.value;
      tailV4 = [(n >> 16n) & 0xffffn, n & 0xffffn];
      text = text.slice(0, -v4[1]!.length) + '0:0';
    }
    const [head, tail] = text.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
    const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    let value = 0n;
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g || '0', 16));
    if (tailV4.length) value = (value & ~0xffffffffn) | (tailV4[0]! << 16n) | tailV4[1]!;
    return { value, bits: 128 };
  }
  return undefined;
}

function ipInCidr(ip: string, cidr: string): Tri {
  const [net, lenText] = cidr.trim().split('/') as [string, string | undefined];
  const a = ipToBigInt(ip.trim());
  const n = ipToBigInt(net);
  if (!a || !n) return 'undecided';
  if (a.bits !== n.bits) return 'false';
  const len = lenText === undefined ? n.bits : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > n.bits) return 'undecided';
  const shift = BigInt(n.bits - len);
  return tri(a.value >> shift === n.value >> shift);
}

function arnLike(r: string, p: string): Tri {
  // ArnLike/ArnEquals compare the six colon-separated fields one by one, each with wildcards.
  const rf = r.split(':');
  const pf = p.split(':');
  if (rf.length < 6 || pf.length < 6) return tri(globToRegExp(p).test(r));
  for (let i = 0; i < 5; i++) if (!globToRegExp(pf[i]!).test(rf[i]!)) return 'false';
  return tri(globToRegExp(pf.slice(5).join(':')).test(rf.slice(5).join(':')));
}

const positive: Record<string, Compare> = {
  StringEquals: (r, p) => tri(r === p),
  StringEqualsIgnoreCase: (r, p) => tri(r.toLowerCase() === p.toLowerCase()),
  StringLike: (r, p) => tri(globToRegExp(p).test(r)),
  NumericEquals: numeric((a, b) => a === b, parseNumber),
  NumericLessThan: numeric((a, b) => a < b, parseNumber),
  NumericLessThanEquals: numeric((a, b) => a <= b, parseNumber),
  NumericGreaterThan: numeric((a, b) => a > b, parseNumber),
  NumericGreaterThanEquals: numeric((a, b) => a >= b, parseNumber),
  DateEquals: numeric((a, b) => a === b, parseDate),
  DateLessThan: numeric((a, b) => a < b, parseDate),
  DateLessThanEquals: numeric((a, b) => a <= b, parseDate),
  DateGreaterThan: numeric((a, b) => a > b, parseDate),
  DateGreaterThanEquals: numeric((a, b) => a >= b, parseDate),
  Bool: (r, p) => tri(r.toLowerCase() === p.toLowerCase()),
  BinaryEquals: (r, p) => tri(r === p),
  IpAddress: (r, p) => ipInCidr(r, p),
  ArnEquals: arnLike,
  ArnLike: arnLike,
};

/** Negated operators and the positive operator they negate. */
const negated: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

export const BASE_OPERATORS: readonly string[] = [...Object.keys(positive), ...Object.keys(negated), 'Null'];

/** undefined when the operator is not an IAM operator. */
export function parseOperator(text: string): ParsedOperator | undefined {
  let rest = text;
  let set: ParsedOperator['set'];
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon);
    if (prefix !== 'ForAllValues' && prefix !== 'ForAnyValue') return undefined;
    set = prefix;
    rest = rest.slice(colon + 1);
  }
  const ifExists = rest.endsWith('IfExists');
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  if (!BASE_OPERATORS.includes(rest)) return undefined;
  // Null has neither an IfExists form nor a set form.
  if (rest === 'Null' && (ifExists || set)) return undefined;
  return { base: rest, ifExists, ...(set ? { set } : {}) };
}

/** One request value against the policy's values: positive operators OR over them, negated ones NOR. */
export function matchValue(base: string, requestValue: string, policyValues: readonly string[]): Tri {
  const neg = negated[base];
  const positiveName = neg ?? base;
  const cmp = positive[positiveName];
  if (!cmp) return 'undecided';
  // Only the Like operators (and ArnEquals, which IAM treats as ArnLike) read wildcards.
  const globbing = positiveName === 'StringLike' || positiveName === 'ArnLike' || positiveName === 'ArnEquals';
  let any: Tri = 'false';
  for (const p of policyValues) {
    const r = cmp(requestValue, globbing ? p : literalEscapes(p));
    if (r === 'true') {
      any = 'true';
      break;
    }
    if (r === 'undecided') any = 'undecided';
  }
  if (!neg) return any;
  return any === 'true' ? 'false' : any === 'false' ? 'true' : 'undecided';
}
