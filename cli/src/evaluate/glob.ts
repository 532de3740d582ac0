/** IAM wildcards: '*' matches any run of characters (including none and '/'), '?' exactly one. */

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string, caseInsensitive = false): RegExp {
  const key = `${caseInsensitive ? 'i' : 's'}${glob}`;
  let re = cache.get(key);
  if (!re) {
    let src = '';
    // \u0000STAR\u0000 and \u0000QMARK\u0000 are the policy-variable escapes ${*} and ${?}: literal characters.
    const literal = glob.replace(/\u0000STAR\u0000/g, '\u0001').replace(/\u0000QMARK\u0000/g, '\u0002');
    for (const ch of literal) {
      if (ch === '*') src += '.*';
      else if (ch === '?') src += '.';
      else if (ch === '\u0001') src += '\\*';
      else if (ch === '\u0002') src += '\\?';
      else src += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`, caseInsensitive ? 'is' : 's');
    if (cache.size > 50_000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** Actions compare case-insensitively. */
export function actionMatches(pattern: string, action: string): boolean {
  return globToRegExp(pattern, true).test(action);
}

/** Resource ARNs compare case-sensitively. */
export function resourceMatches(pattern: string, resource: string): boolean {
  return globToRegExp(pattern, false).test(resource);
}
