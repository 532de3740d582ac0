/** IAM wildcards: '*' matches any run of characters (including none and '/'), '?' exactly one. */

const cache = new Map<string, RegExp>();

/** Private-use characters standing for the policy-variable escapes ${*} and ${?}: a literal '*' and '?'. */
export const LITERAL_STAR = '\uE000';
export const LITERAL_QMARK = '\uE001';

export function globToRegExp(glob: string, caseInsensitive = false): RegExp {
  const key = `${caseInsensitive ? 'i' : 's'}${glob}`;
  let re = cache.get(key);
  if (!re) {
    let src = '';
    for (const ch of glob) {
      if (ch === '*') src += '.*';
      else if (ch === '?') src += '.';
      else if (ch === LITERAL_STAR) src += '\\*';
      else if (ch === LITERAL_QMARK) src += '\\?';
      else src += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`, caseInsensitive ? 'is' : 's');
    if (cache.size > 50_000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** The escapes as the plain characters they stand for, for comparisons without wildcards. */
export function literalEscapes(text: string): string {
  return text.split(LITERAL_STAR).join('*').split(LITERAL_QMARK).join('?');
}

/** Actions compare case-insensitively. */
export function actionMatches(pattern: string, action: string): boolean {
  return globToRegExp(pattern, true).test(action);
}

/** Resource ARNs compare case-sensitively. */
export function resourceMatches(pattern: string, resource: string): boolean {
  return globToRegExp(pattern, false).test(resource);
}
