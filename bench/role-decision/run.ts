// `npm run bench:decision`: the cost of one role decision (core/src/role-decision.ts decideRole)
// when the namespace's iam.amazonaws.com/permitted pattern and the pod's role annotation are
// chosen by an attacker (target: about 1 ms per decision). Pure CPU, no peers.
//
// For each hostile (pattern, role) pair it prints: the median and max of ROUNDS decisions with
// the pattern already compiled (the proxy's steady state), one decision with a cold compile cache,
// and — for the original pair only — what JavaScript's backtracking RegExp took on the
// same test, to show what the linear matcher replaced. Every answer is checked (a decision that
// is allowed where it must be refused, or the reverse, aborts the run).
import { performance } from 'node:perf_hooks';
import { decideRole, type ClusterSettings } from '../../core/src/role-decision.ts';
import { MAX_INPUT_LENGTH, compileLinear } from '../../core/src/linear-regexp.ts';

const ROUNDS = Number(process.env.PODIAM_BENCH_ROUNDS ?? 200);
const settings: ClusterSettings = { cluster: 'prod', accountId: '123456789012' };
const arnPrefix = 'arn:aws:iam::123456789012:role/';

/** A role ARN of exactly `length` characters (≤ MAX_INPUT_LENGTH) whose path is `fill` and name `name`. */
function longArn(fill: string, name: string, length = MAX_INPUT_LENGTH): string {
  const room = length - arnPrefix.length - name.length - 2;
  const segment = fill.repeat(Math.ceil(room / fill.length)).slice(0, room);
  return `${arnPrefix}${segment}/${name}`.slice(0, length);
}

interface Case {
  label: string;
  permitted: string;
  role: string;
  expected: 'allow' | 'deny';
}

const cases: Case[] = [
  { label: "issue 11 item 10: (a|aa)+, role named 38 a's and a b", permitted: '(a|aa)+', role: `${arnPrefix}${'a'.repeat(38)}b`, expected: 'deny' },
  { label: '(a|aa)+, 640-character ARN of a\'s ending in b', permitted: '(a|aa)+', role: longArn('a', 'ab'), expected: 'deny' },
  { label: '(.*a){100}, 640-character ARN of a\'s ending in b', permitted: '(.*a){100}', role: longArn('a', 'ab'), expected: 'deny' },
  { label: '(a?){100}a{100}, 640-character ARN of a\'s', permitted: '(a?){100}a{100}', role: longArn('a', 'aa'), expected: 'deny' },
  { label: '([a-z/:]*[a-z]){100}x, 640-character ARN ending in y', permitted: '([a-z/:]*[a-z]){100}x', role: longArn('ab/', 'y'), expected: 'deny' },
  {
    label: '20 alternatives of (.*aN){40}, 640-character ARN',
    permitted: Array.from({ length: 4 }, (_, k) => `(.*a${k}){40}`).join('|') + '|' + Array.from({ length: 16 }, (_, k) => `x${k}.*`).join('|'),
    role: longArn('a0a1a2a3', 'b'),
    expected: 'deny',
  },
  { label: 'realistic: arn:aws:iam::\\d{12}:role/team/[a-z-]+, ordinary ARN', permitted: 'arn:aws:iam::\\d{12}:role/team/[a-z-]+', role: `${arnPrefix}team/reader`, expected: 'allow' },
];

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

console.log(`node ${process.version}, ${ROUNDS} decisions per case (compiled pattern cached), times in ms\n`);
console.log('| case | pattern states | answer | median | max | first decision (cold compile) |');
console.log('| --- | --- | --- | --- | --- | --- |');
let worst = 0;
for (const c of cases) {
  const compiled = compileLinear(c.permitted);
  const pod = { namespace: 'orders', name: 'web-1', annotations: { 'iam.amazonaws.com/role': c.role } };
  // A fresh string each time keeps the first decision cold: the compile cache is keyed by pattern.
  const ns = { name: 'orders', annotations: { 'iam.amazonaws.com/permitted': `${c.permitted}` } };
  const coldNs = { name: 'orders', annotations: { 'iam.amazonaws.com/permitted': `(?:${c.permitted})` } };
  const cold = time(() => decideRole(pod, coldNs, settings));
  const samples: number[] = [];
  let answer = '';
  for (let k = 0; k < ROUNDS; k++) {
    let d: ReturnType<typeof decideRole> | undefined;
    samples.push(time(() => {
      d = decideRole(pod, ns, settings);
    }));
    if (d!.kind !== c.expected) throw new Error(`${c.label}: decided ${d!.kind}, expected ${c.expected}`);
    answer = d!.kind === 'deny' ? d!.code : d!.kind;
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  const max = samples[samples.length - 1]!;
  worst = Math.max(worst, median);
  console.log(`| ${c.label} | ${compiled.states} | ${answer} | ${median.toFixed(3)} | ${max.toFixed(3)} | ${cold.toFixed(3)} |`);
}

// What the linear matcher replaced: the same test with JavaScript's RegExp, 32 to 38 a's.
console.log('\nJavaScript RegExp (backtracking) on ^(?:(a|aa)+)$ against n a\'s and a b, for comparison:');
for (const n of [30, 32, 34, 36, 38]) {
  const re = new RegExp('^(?:(a|aa)+)$');
  const input = `${'a'.repeat(n)}b`;
  console.log(`  n=${n}: ${time(() => re.test(input)).toFixed(1)} ms`);
}
console.log(`\nworst median decision with a hostile pattern: ${worst.toFixed(3)} ms (target: about 1 ms)`);
