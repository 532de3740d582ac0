/** Three-valued logic: a condition the evaluator cannot decide stays 'undecided' all the way up. */
export type Tri = 'true' | 'false' | 'undecided';

export function triAnd(values: Iterable<Tri>): Tri {
  let out: Tri = 'true';
  for (const v of values) {
    if (v === 'false') return 'false';
    if (v === 'undecided') out = 'undecided';
  }
  return out;
}

export function triOr(values: Iterable<Tri>): Tri {
  let out: Tri = 'false';
  for (const v of values) {
    if (v === 'true') return 'true';
    if (v === 'undecided') out = 'undecided';
  }
  return out;
}

export function triNot(v: Tri): Tri {
  return v === 'true' ? 'false' : v === 'false' ? 'true' : 'undecided';
}

export function tri(b: boolean): Tri {
  return b ? 'true' : 'false';
}
