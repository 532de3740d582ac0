import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_INPUT_LENGTH, MAX_PATTERN_LENGTH, MAX_STEPS, PatternTooCostlyError, UnsupportedPatternError, cachedLinear, compileLinear } from '../../../core/src/linear-regexp.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const rng = seededRandom;

const ALPHABET = ['a', 'b', '.', '/', '-', ':', '1', 'Z', '_', ' '];
const ATOMS = ['a', 'b', '.', '\\.', '\\/', '\\-', '\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '[ab]', '[^a]', '[a-c]', '[\\d.]', '[-a]', '[a-]', '[^\\w]', '[\\D]', '[\\W.]', ':', '/', '1', '_'];
const QUANTIFIERS = ['', '', '', '*', '+', '?', '{2}', '{0,2}', '{1,}', '*?', '+?', '{1,3}?'];

function genPattern(r: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const parts: string[] = [];
  const length = 1 + Math.floor(r() * 4);
  for (let k = 0; k < length; k++) {
    let atom: string;
    const roll = r();
    if (depth > 0 && roll < 0.25) {
      const alts = [genPattern(r, depth - 1)];
      while (r() < 0.4) alts.push(genPattern(r, depth - 1));
      atom = `(${r() < 0.5 ? '?:' : ''}${alts.join('|')})`;
    } else if (roll < 0.3 && k === 0) {
      parts.push('^');
      atom = pick(ATOMS);
    } else {
      atom = pick(ATOMS);
    }
    parts.push(atom + pick(QUANTIFIERS));
    if (r() < 0.05) parts.push('$');
  }
  return parts.join('');
}

function genInput(r: () => number): string {
  const n = Math.floor(r() * 8);
  let s = '';
  for (let k = 0; k < n; k++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

describe('linear-time matcher: same answers as JavaScript RegExp on the supported subset', () => {
  it('agrees with RegExp, anchored at both ends, on 4,000 generated pattern and input pairs', () => {
    const r = rng(20261130);
    let compared = 0;
    let matched = 0;
    for (let k = 0; k < 400; k++) {
      const pattern = genPattern(r, 2);
      const native = new RegExp(`^(?:${pattern})$`);
      const linear = compileLinear(pattern);
      for (let j = 0; j < 10; j++) {
        const input = genInput(r);
        const expected = native.test(input);
        assert.equal(linear.test(input), expected, `pattern ${JSON.stringify(pattern)} input ${JSON.stringify(input)}`);
        compared++;
        if (expected) matched++;
      }
    }
    assert.equal(compared, 4000);
    // Both answers occur often enough for the comparison to mean something.
    assert.ok(matched > 200 && matched < 3800, `matched ${matched} of ${compared}`);
  });

  it('agrees with RegExp on role ARN patterns as kiam users write them', () => {
    const cases: [string, string, boolean][] = [
      ['arn:aws:iam::123456789012:role/team/.*', 'arn:aws:iam::123456789012:role/team/reader', true],
      ['^arn:aws:iam::\\d{12}:role/team/[a-z-]+$', 'arn:aws:iam::123456789012:role/team/reader-x', true],
      ['^arn:aws:iam::\\d{12}:role/team/[a-z-]+$', 'arn:aws:iam::12345678901:role/team/reader', false],
      ['team/(reader|writer)', 'team/writer', true],
      ['team/(reader|writer)', 'team/readerwriter', false],
      ['reader', 'not-a-reader-admin', false],
      ['.*reader.*', 'not-a-reader-admin', true],
      ['a.b', 'a\nb', false],
    ];
    for (const [pattern, input, expected] of cases) {
      assert.equal(new RegExp(`^(?:${pattern})$`).test(input), expected, `RegExp ${pattern} ${input}`);
      assert.equal(compileLinear(pattern).test(input), expected, `linear ${pattern} ${input}`);
    }
  });
});

describe('linear-time matcher: classic catastrophic-backtracking patterns answer correctly', () => {
  const attack = `${'a'.repeat(38)}b`;
  // [pattern, answer for 'a'×n + 'b']: '[a-z]' takes the 'b' as well, the others cannot end in 'b'.
  const table: [string, boolean][] = [['(a|aa)+', false], ['(a+)+$', false], ['(a|a?)+', false], ['([a-z]+)*$', true], ['(a*)*', false], ['(.*a){20}', false], ['(a|a)*', false]];
  for (const [pattern, expected] of table) {
    it(`answers ${expected ? 'yes' : 'no'} for ${pattern} against 38 'a's and a 'b' (and 300 'a's and a 'b')`, () => {
      const re = compileLinear(pattern);
      const allA = 'a'.repeat(38);
      // Without the trailing 'b' RegExp does not backtrack, so its quick answer is the reference.
      assert.equal(re.test(allA), new RegExp(`^(?:${pattern})$`).test(allA));
      assert.equal(re.test(attack), expected);
      assert.equal(re.test(`${'a'.repeat(300)}b`), expected);
    });
  }
});

describe('linear-time matcher: refuses what it does not support, naming it', () => {
  const refused: [string, RegExp][] = [
    ['(a)\\1', /backreference/],
    ['(?=a)a', /lookahead/],
    ['(?<!a)b', /lookbehind/],
    ['(?<n>a)', /named group/],
    ['\\bword', /word boundary/],
    ['\\p{L}', /escape '\\p'/],
    ['\\u0041', /escape '\\u'/],
    ['a{1000}', /over 100/],
    ['a{3,2}', /out of order/],
    ['a{', /repetition/],
    ['*a', /nothing to repeat/],
    ['a**', /quantifier follows a quantifier/],
    ['(a', /unterminated group/],
    ['a)', /unbalanced/],
    ['[a', /unterminated class/],
    ['[]', /empty class/],
    ['[\\d-z]', /range/],
    ['[z-a]', /out of order/],
    ['a\\', /lone backslash/],
    ['x'.repeat(MAX_PATTERN_LENGTH + 1), /at most 1000/],
    ['(a{100}){100}', /too large/],
  ];
  for (const [pattern, message] of refused) {
    it(`refuses ${pattern.length > 30 ? `${pattern.slice(0, 20)}… (${pattern.length} characters)` : pattern}`, () => {
      assert.throws(() => compileLinear(pattern), (err: unknown) => err instanceof UnsupportedPatternError && message.test(err.message));
    });
  }

  it('refuses to answer, rather than answer slowly, when the live states summed over the input pass the work cap', () => {
    // (.*a){100}: about 200 states stay live on a run of a's, so 600 a's need ~100,000 steps.
    const re = compileLinear('(.*a){100}');
    assert.throws(() => re.test(`${'a'.repeat(600)}b`), (err: unknown) => err instanceof PatternTooCostlyError && err.steps === MAX_STEPS);
    // The same pattern on a short input is answered.
    assert.equal(re.test('a'.repeat(100)), true);
    assert.equal(re.test('a'.repeat(99)), false);
  });

  it('never matches an input longer than the input cap', () => {
    assert.equal(compileLinear('a*').test('a'.repeat(MAX_INPUT_LENGTH)), true);
    assert.equal(compileLinear('a*').test('a'.repeat(MAX_INPUT_LENGTH + 1)), false);
  });

  it('returns the cached compiled pattern, and the cached refusal, for a pattern seen before', () => {
    const a = cachedLinear('team/.*');
    assert.ok(!(a instanceof UnsupportedPatternError));
    assert.equal(cachedLinear('team/.*'), a);
    const bad = cachedLinear('(?=x)');
    assert.ok(bad instanceof UnsupportedPatternError);
    assert.equal(cachedLinear('(?=x)'), bad);
  });
});
