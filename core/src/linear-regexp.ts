/**
 * A regular-expression matcher whose cost is linear in the input: the pattern is parsed into a
 * Thompson NFA and every input character advances the whole set of live states at once, so no
 * input is ever tried twice and there is no backtracking. Namespace annotations
 * (iam.amazonaws.com/permitted, as kiam) are written by whoever may annotate a namespace; with
 * JavaScript's backtracking RegExp, `(a|aa)+` against 38 'a's and a 'b' held the proxy's event
 * loop for over a second, and every further 'a' multiplied that by 1.6.
 *
 * The subset is what kiam users write; anything else is refused with a message naming it, never
 * read differently from JavaScript:
 *   literals; `.` (any character but a line terminator); classes `[a-z0-9_]`, `[^/]`;
 *   `\d \D \w \W \s \S`; escaped punctuation (`\. \- \/ \* \\` …); groups `( )` and `(?: )`;
 *   alternation `|`; quantifiers `* + ?` and `{n}` `{n,}` `{n,m}` (m ≤ 100), each optionally lazy
 *   (`*?`: for a yes/no answer it matches the same strings); anchors `^` and `$`.
 * Refused: backreferences, lookaround, named groups, word boundaries, \p{…}, \u…, \x…, \c…, flags.
 *
 * Cost per test: at most (input length + 1) × (NFA states), with both capped below.
 */

/** Longest pattern accepted. */
export const MAX_PATTERN_LENGTH = 1000;
/**
 * Longest input tested; longer inputs never match. IAM allows 512 characters of path and 64 of
 * name, so no role ARN is longer than 612 (`arn:aws-iso-b:iam::<12 digits>:role` + path + name).
 */
export const MAX_INPUT_LENGTH = 640;
/** NFA size cap, after counted repetitions are expanded. */
export const MAX_STATES = 2000;
/**
 * Work cap for one test: the sum over input characters of the live states (each costs a few
 * array reads). States × input length could reach 2000 × 640; real patterns keep a handful of
 * states live, and a test that would go past this many is refused with PatternTooCostlyError
 * instead of answered, so one test costs at most about MAX_STEPS × a few ns (docs/benchmarks.md).
 */
export const MAX_STEPS = 20_000;
const MAX_REPEAT = 100;

/** The pattern would need more than MAX_STEPS steps on this input; the caller must refuse, not allow. */
export class PatternTooCostlyError extends Error {
  constructor(readonly steps: number) {
    super(`matching needs more than ${steps} steps for this input; simplify the pattern (fewer nested or repeated .* / groups)`);
    this.name = 'PatternTooCostlyError';
  }
}

export class UnsupportedPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPatternError';
  }
}

/** Sorted, non-overlapping inclusive code-unit ranges; `negated` flips the set. */
interface CharSet {
  ranges: number[];
  negated: boolean;
}

type Node =
  | { t: 'set'; set: CharSet }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; item: Node; min: number; max: number }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'empty' };

const code = (c: string): number => c.charCodeAt(0);
const DIGIT = [code('0'), code('9')];
const WORD = [code('0'), code('9'), code('A'), code('Z'), code('_'), code('_'), code('a'), code('z')];
// ECMAScript WhiteSpace and LineTerminator: what \s matches.
const SPACE = [9, 13, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff];
// '.' without the s flag: everything but \n, \r, U+2028, U+2029.
const LINE_TERMINATORS = [10, 10, 13, 13, 0x2028, 0x2029];
/** Characters whose escape means the character itself (outside and inside classes). */
const IDENTITY_ESCAPES = new Set('^$\\.*+?()[]{}|/-'.split(''));

function normalise(ranges: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (out.length > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

function complement(ranges: number[]): number[] {
  const sorted = normalise(ranges);
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < sorted.length; i += 2) {
    if (sorted[i]! > next) out.push(next, sorted[i]! - 1);
    next = sorted[i + 1]! + 1;
  }
  if (next <= 0xffff) out.push(next, 0xffff);
  return out;
}

function inSet(set: CharSet, c: number): boolean {
  const r = set.ranges;
  let hit = false;
  for (let i = 0; i < r.length; i += 2) {
    if (c < r[i]!) break;
    if (c <= r[i + 1]!) {
      hit = true;
      break;
    }
  }
  return hit !== set.negated;
}

class Parser {
  private i = 0;
  constructor(private readonly p: string) {}

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.p.length) throw this.error(`unbalanced ')' at position ${this.i}`);
    return node;
  }

  private error(what: string): UnsupportedPatternError {
    return new UnsupportedPatternError(what);
  }

  private alternation(): Node {
    const items = [this.sequence()];
    while (this.p[this.i] === '|') {
      this.i++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    if (items.length === 0) return { t: 'empty' };
    return items.length === 1 ? items[0]! : { t: 'cat', items };
  }

  private quantified(atom: Node): Node {
    let node = atom;
    const c = this.p[this.i];
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
      if (!m) throw this.error(`'{' at position ${this.i} is not a repetition {n}, {n,} or {n,m}; write \\{ for the character`);
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) throw this.error(`repetition ${m[0]} has its numbers out of order`);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) throw this.error(`repetition ${m[0]} is over ${MAX_REPEAT}`);
      this.i += m[0].length - 1;
    } else return node;
    if (atom.t === 'bol' || atom.t === 'eol') throw this.error(`nothing to repeat before position ${this.i}: an anchor cannot be repeated`);
    this.i++;
    if (this.p[this.i] === '?') this.i++; // lazy: the same strings match
    node = { t: 'rep', item: atom, min, max };
    const next = this.p[this.i];
    if (next === '*' || next === '+' || next === '?' || (next === '{' && /^\{\d+(,\d*)?\}/.test(this.p.slice(this.i)))) {
      throw this.error(`nothing to repeat at position ${this.i}: a quantifier follows a quantifier`);
    }
    return node;
  }

  private atom(): Node {
    const c = this.p[this.i]!;
    switch (c) {
      case '(': {
        this.i++;
        if (this.p[this.i] === '?') {
          if (this.p[this.i + 1] !== ':') {
            const kind = this.p.startsWith('?=', this.i) || this.p.startsWith('?!', this.i) ? 'lookahead' : this.p.startsWith('?<=', this.i) || this.p.startsWith('?<!', this.i) ? 'lookbehind' : 'named group or group flag';
            throw this.error(`${kind} '(${this.p.slice(this.i, this.i + 3)}' at position ${this.i - 1} is not supported`);
          }
          this.i += 2;
        }
        const inner = this.alternation();
        if (this.p[this.i] !== ')') throw this.error(`unterminated group`);
        this.i++;
        return inner;
      }
      case '[':
        return { t: 'set', set: this.charClass() };
      case '.':
        this.i++;
        return { t: 'set', set: { ranges: LINE_TERMINATORS, negated: true } };
      case '^':
        this.i++;
        return { t: 'bol' };
      case '$':
        this.i++;
        return { t: 'eol' };
      case '\\': {
        const set = this.escape(false);
        return { t: 'set', set };
      }
      case '*':
      case '+':
      case '?':
        throw this.error(`nothing to repeat at position ${this.i}`);
      case '{':
        throw this.error(`'{' at position ${this.i} has nothing to repeat; write \\{ for the character`);
      case ']':
      case '}':
        throw this.error(`unescaped '${c}' at position ${this.i}; write \\${c} for the character`);
      default:
        this.i++;
        return { t: 'set', set: { ranges: [code(c), code(c)], negated: false } };
    }
  }

  /** After a backslash; in a class, only single characters and \d \w \s (not their negations inside ranges). */
  private escape(inClass: boolean): CharSet {
    const at = this.i;
    const c = this.p[this.i + 1];
    if (c === undefined) throw this.error('the pattern ends with a lone backslash');
    this.i += 2;
    switch (c) {
      case 'd':
        return { ranges: DIGIT, negated: false };
      case 'D':
        return { ranges: DIGIT, negated: true };
      case 'w':
        return { ranges: WORD, negated: false };
      case 'W':
        return { ranges: WORD, negated: true };
      case 's':
        return { ranges: SPACE, negated: false };
      case 'S':
        return { ranges: SPACE, negated: true };
      default:
        if (IDENTITY_ESCAPES.has(c)) return { ranges: [code(c), code(c)], negated: false };
        if (/[1-9]/.test(c)) throw this.error(`backreference '\\${c}' at position ${at} is not supported`);
        if (c === 'b' || c === 'B') {
          throw this.error(inClass ? `'\\b' in a class at position ${at} is not supported` : `word boundary '\\${c}' at position ${at} is not supported`);
        }
        throw this.error(`escape '\\${c}' at position ${at} is not supported (supported: \\d \\D \\w \\W \\s \\S and escaped punctuation)`);
    }
  }

  private charClass(): CharSet {
    const start = this.i;
    this.i++;
    const negated = this.p[this.i] === '^';
    if (negated) this.i++;
    const ranges: number[] = [];
    let first = true;
    for (;;) {
      const c = this.p[this.i];
      if (c === undefined) throw this.error(`unterminated class '[' at position ${start}`);
      if (c === ']') {
        if (first) throw this.error(`empty class '[]' or '[^]' at position ${start} is not supported`);
        this.i++;
        break;
      }
      if (c === '[') throw this.error(`'[' inside a class at position ${this.i}; write \\[ for the character`);
      first = false;
      const lo = this.classAtom();
      if (this.p[this.i] === '-' && this.p[this.i + 1] !== ']' && this.p[this.i + 1] !== undefined) {
        this.i++;
        const hi = this.classAtom();
        if (lo.kind === 'set' || hi.kind === 'set') throw this.error(`a range with \\d, \\w or \\s as an end in the class at position ${start} is not supported`);
        if (hi.c < lo.c) throw this.error(`range out of order in the class at position ${start}`);
        ranges.push(lo.c, hi.c);
      } else if (lo.kind === 'set') {
        ranges.push(...(lo.set.negated ? complement(lo.set.ranges) : lo.set.ranges));
      } else {
        ranges.push(lo.c, lo.c);
      }
    }
    return { ranges: normalise(ranges), negated };
  }

  private classAtom(): { kind: 'char'; c: number } | { kind: 'set'; set: CharSet } {
    const c = this.p[this.i]!;
    if (c !== '\\') {
      this.i++;
      return { kind: 'char', c: code(c) };
    }
    const letter = this.p[this.i + 1] ?? '';
    const set = this.escape(true);
    return 'dDwWsS'.includes(letter) ? { kind: 'set', set } : { kind: 'char', c: set.ranges[0]! };
  }
}

// NFA: states in flat arrays. op: 0 char set → next; 1 split → next, alt; 2 jump → next;
// 3 assert start → next; 4 assert end → next; 5 match.
const OP_SET = 0;
const OP_SPLIT = 1;
const OP_JUMP = 2;
const OP_BOL = 3;
const OP_EOL = 4;
const OP_MATCH = 5;

class Builder {
  op: number[] = [];
  next: number[] = [];
  alt: number[] = [];
  sets: (CharSet | undefined)[] = [];

  add(op: number, set?: CharSet): number {
    if (this.op.length >= MAX_STATES) throw new UnsupportedPatternError(`the pattern is too large once its repetitions are expanded (over ${MAX_STATES} states)`);
    this.op.push(op);
    this.next.push(-1);
    this.alt.push(-1);
    this.sets.push(set);
    return this.op.length - 1;
  }

  /** Compiles `node` so that it continues at `out`; returns its entry state. Built back to front. */
  compile(node: Node, out: number): number {
    switch (node.t) {
      case 'empty':
        return out;
      case 'set': {
        const s = this.add(OP_SET, node.set);
        this.next[s] = out;
        return s;
      }
      case 'bol':
      case 'eol': {
        const s = this.add(node.t === 'bol' ? OP_BOL : OP_EOL);
        this.next[s] = out;
        return s;
      }
      case 'cat': {
        let entry = out;
        for (let k = node.items.length - 1; k >= 0; k--) entry = this.compile(node.items[k]!, entry);
        return entry;
      }
      case 'alt': {
        const entries = node.items.map((item) => this.compile(item, out));
        let entry = entries[entries.length - 1]!;
        for (let k = entries.length - 2; k >= 0; k--) {
          const s = this.add(OP_SPLIT);
          this.next[s] = entries[k]!;
          this.alt[s] = entry;
          entry = s;
        }
        return entry;
      }
      case 'rep': {
        let entry = out;
        if (node.max === Infinity) {
          // x* : split → (x → back to split) | out
          const loop = this.add(OP_SPLIT);
          const body = this.compile(node.item, loop);
          this.next[loop] = body;
          this.alt[loop] = out;
          entry = loop;
        } else {
          // (x(x(x)?)?)? for the optional copies, innermost first
          for (let k = node.max - node.min; k > 0; k--) {
            const s = this.add(OP_SPLIT);
            this.next[s] = this.compile(node.item, entry);
            this.alt[s] = out;
            entry = s;
            // every optional copy exits to `out` (JS semantics: any count from min to max)
          }
        }
        for (let k = 0; k < node.min; k++) entry = this.compile(node.item, entry);
        return entry;
      }
    }
  }
}

export interface LinearRegExp {
  readonly source: string;
  /** NFA states after expansion: the most that can be live per input character. */
  readonly states: number;
  /** True when the whole input matches (the pattern is anchored at both ends). Throws PatternTooCostlyError past MAX_STEPS. */
  test(input: string): boolean;
}

class Compiled implements LinearRegExp {
  private readonly op: Int8Array;
  private readonly next: Int32Array;
  private readonly alt: Int32Array;
  private readonly sets: (CharSet | undefined)[];
  private readonly start: number;

  get states(): number {
    return this.op.length;
  }

  constructor(readonly source: string, b: Builder, start: number) {
    this.op = Int8Array.from(b.op);
    this.next = Int32Array.from(b.next);
    this.alt = Int32Array.from(b.alt);
    this.sets = b.sets;
    this.start = start;
  }

  test(input: string): boolean {
    if (input.length > MAX_INPUT_LENGTH) return false;
    const n = this.op.length;
    // seen[s] === generation: s is already in the list for this position.
    const seen = new Int32Array(n).fill(-1);
    let current = new Int32Array(n);
    let nextList = new Int32Array(n);
    const stack = new Int32Array(n + 1);
    let count = this.closure(this.start, 0, input.length, current, 0, seen, 0, stack);
    let steps = 0;
    for (let pos = 0; pos < input.length; pos++) {
      if (count === 0) return false;
      steps += count;
      if (steps > MAX_STEPS) throw new PatternTooCostlyError(MAX_STEPS);
      const c = input.charCodeAt(pos);
      let nextCount = 0;
      for (let k = 0; k < count; k++) {
        const s = current[k]!;
        if (this.op[s] === OP_SET && inSet(this.sets[s]!, c)) {
          nextCount = this.closure(this.next[s]!, pos + 1, input.length, nextList, nextCount, seen, pos + 1, stack);
        }
      }
      [current, nextList] = [nextList, current];
      count = nextCount;
    }
    for (let k = 0; k < count; k++) if (this.op[current[k]!] === OP_MATCH) return true;
    return false;
  }

  /** Adds `from` and every state reachable from it without reading a character. */
  private closure(from: number, pos: number, end: number, list: Int32Array, count: number, seen: Int32Array, gen: number, stack: Int32Array): number {
    let top = 0;
    stack[top++] = from;
    while (top > 0) {
      const s = stack[--top]!;
      if (seen[s] === gen) continue;
      seen[s] = gen;
      switch (this.op[s]) {
        case OP_SPLIT:
          // alt first onto the stack so next is explored first; order does not change the answer.
          if (seen[this.alt[s]!] !== gen) stack[top++] = this.alt[s]!;
          if (seen[this.next[s]!] !== gen) stack[top++] = this.next[s]!;
          break;
        case OP_JUMP:
          stack[top++] = this.next[s]!;
          break;
        case OP_BOL:
          if (pos === 0) stack[top++] = this.next[s]!;
          break;
        case OP_EOL:
          if (pos === end) stack[top++] = this.next[s]!;
          break;
        default:
          list[count++] = s;
      }
    }
    return count;
  }
}

/** Parses and compiles; throws UnsupportedPatternError naming what is not supported. */
export function compileLinear(pattern: string): LinearRegExp {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new UnsupportedPatternError(`the pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are supported`);
  const ast = new Parser(pattern).parse();
  const b = new Builder();
  const match = b.add(OP_MATCH);
  const start = b.compile(ast, match);
  return new Compiled(pattern, b, start);
}

const CACHE_SIZE = 256;
const cache = new Map<string, LinearRegExp | UnsupportedPatternError>();

/**
 * compileLinear with a bounded cache (the least recently used pattern is dropped first): a
 * namespace's pattern is compiled once, not on every decision. Refusals are cached too.
 */
export function cachedLinear(pattern: string): LinearRegExp | UnsupportedPatternError {
  const hit = cache.get(pattern);
  if (hit !== undefined) {
    cache.delete(pattern);
    cache.set(pattern, hit);
    return hit;
  }
  let value: LinearRegExp | UnsupportedPatternError;
  try {
    value = compileLinear(pattern);
  } catch (err: unknown) {
    if (!(err instanceof UnsupportedPatternError)) throw err;
    value = err;
  }
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(pattern, value);
  return value;
}
