/** The request context of an evaluation: condition keys are case-insensitive, values strings. */
import type { Tri } from './tristate.ts';
import { LITERAL_QMARK, LITERAL_STAR } from './glob.ts';

export type ContextValue = string | string[];

export class RequestContext {
  private readonly values = new Map<string, string[]>();

  constructor(context: Record<string, ContextValue> = {}) {
    for (const [k, v] of Object.entries(context)) this.values.set(k.toLowerCase(), Array.isArray(v) ? v.map(String) : [String(v)]);
  }

  /** undefined: the key was not given, so any answer that depends on it is undecided. */
  get(key: string): string[] | undefined {
    return this.values.get(key.toLowerCase());
  }
}

export interface Substituted {
  text: string;
  state: Tri;
  missing?: string;
}

/**
 * Replaces policy variables (`${aws:username}`, the escapes `${*}`, `${?}`, `${$}`, and
 * `${key, 'default'}`). A variable whose key is not in the context leaves the result undecided.
 * `${*}` and `${?}` become LITERAL_STAR / LITERAL_QMARK, which glob matching treats as plain characters.
 */
export function substituteVariables(text: string, ctx: RequestContext): Substituted {
  if (!text.includes('${')) return { text, state: 'true' };
  let missing: string | undefined;
  const out = text.replace(/\$\{([^}]*)\}/g, (_m, inner: string) => {
    if (inner === '*') return LITERAL_STAR;
    if (inner === '?') return LITERAL_QMARK;
    if (inner === '$') return '$';
    const m = /^\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?$/.exec(inner);
    if (!m) {
      missing ??= inner;
      return '';
    }
    const value = ctx.get(m[1]!);
    if (value && value.length === 1) return value[0]!;
    if (!value && m[2] !== undefined) return m[2];
    missing ??= m[1]!;
    return '';
  });
  return missing === undefined ? { text: out, state: 'true' } : { text: out, state: 'undecided', missing };
}
