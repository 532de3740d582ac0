// What the user-facing docs tell people to type exists: npm scripts in package.json, podiam CLI
// options in its usage text, chart values in chart/values.yaml, stack parameters and outputs in
// template.yaml. The docs name chart values as "chart value `x`" / "chart values `x` and `y`",
// "the chart's `x`" or `--set x=…`, and stack names as "the stack's `X`", "`X` output", "parameter
// `X`"; those phrases are what this test reads.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { chartValueKeys, cliOptions, packageScripts, read, repoRoot, templateSection } from './sources.ts';

function existsDir(relative: string): boolean {
  try {
    return statSync(path.join(repoRoot, relative)).isDirectory();
  } catch {
    return false;
  }
}

const DOCS = ['README.md', 'docs/operations.md', 'docs/troubleshooting.md', 'docs/architecture.md', 'docs/security.md'] as const;

function docs(): Array<{ file: string; text: string }> {
  return DOCS.map((file) => ({ file, text: read(file) }));
}

function backticked(list: string): string[] {
  return [...list.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Shell commands in fenced blocks and inline code, with `\`-continued lines joined. */
function commandLines(text: string): string[] {
  const lines: string[] = [];
  for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    lines.push(...block[1]!.replace(/\\\n\s*/g, ' ').split('\n'));
  }
  for (const inline of text.matchAll(/`([^`\n]+)`/g)) lines.push(inline[1]!);
  return lines;
}

describe('documented commands exist', () => {
  it('every `npm run X` and `npm test` is a package.json script', () => {
    const scripts = packageScripts();
    const missing: string[] = [];
    let seen = 0;
    for (const { file, text } of docs()) {
      for (const m of text.matchAll(/npm run ([a-z0-9:_-]+)(\*?)/g)) {
        seen++;
        // `npm run bench:*` names a family: at least one script must start with it.
        const found = m[2] ? [...scripts].some((s) => s.startsWith(m[1]!)) : scripts.has(m[1]!);
        if (!found) missing.push(`${file}: npm run ${m[1]}${m[2]}`);
      }
      if (/npm test\b/.test(text) && !scripts.has('test')) missing.push(`${file}: npm test`);
    }
    assert.ok(seen >= 5, 'the README should name the npm scripts');
    assert.deepEqual(missing, []);
  });

  it('every podiam CLI option used in the docs is one its usage text lists for that command', async () => {
    const options = await cliOptions();
    assert.ok(options.get('publish')?.has('--bucket'), 'could not read the CLI usage text');
    const wrong: string[] = [];
    for (const { file, text } of docs()) {
      for (const line of commandLines(text)) {
        const m = /(?:podiam(?:\.js)?|npx podiam) (check|publish|plan)\b(.*)$/.exec(line);
        if (!m) continue;
        const allowed = options.get(m[1]!) ?? new Set<string>();
        for (const flag of m[2]!.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)) {
          if (!allowed.has(flag[0])) wrong.push(`${file}: podiam ${m[1]} ${flag[0]}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('every chart value the docs name is a key of chart/values.yaml', () => {
    const keys = chartValueKeys();
    const missing: string[] = [];
    let seen = 0;
    for (const { file, text } of docs()) {
      const named = [
        ...[...text.matchAll(/chart values? ((?:`[^`]+`(?:,\s*|\s+(?:and|or)\s+)?)+)/g)].flatMap((m) => backticked(m[1]!)),
        ...[...text.matchAll(/chart's `([^`]+)`/g)].map((m) => m[1]!),
        ...[...text.matchAll(/--set ([A-Za-z0-9_.]+)=/g)].map((m) => m[1]!),
      ];
      for (const raw of named) {
        const key = raw.split(/[:=\s]/)[0]!;
        seen++;
        if (!keys.has(key)) missing.push(`${file}: ${key}`);
      }
    }
    assert.ok(seen >= 10, 'operations.md should name chart values');
    assert.deepEqual(missing, []);
  });

  it('every stack parameter and output the docs name is in template.yaml', () => {
    const known = new Set([...templateSection('Parameters'), ...templateSection('Outputs')]);
    assert.ok(known.has('ClusterName') && known.has('WebhookUrlPrefix'), 'could not read template.yaml');
    const missing: string[] = [];
    for (const { file, text } of docs()) {
      const named = [
        ...[...text.matchAll(/stack's `([A-Za-z0-9]+)`/g)].map((m) => m[1]!),
        ...[...text.matchAll(/`([A-Z][A-Za-z0-9]+)` (?:output|parameter)/g)].map((m) => m[1]!),
        ...[...text.matchAll(/(?:parameter|output) `([A-Z][A-Za-z0-9]+)`/g)].map((m) => m[1]!),
        ...[...text.matchAll(/\bout ([A-Z][A-Za-z0-9]+)\b/g)].map((m) => m[1]!),
        ...commandLines(text)
          .filter((line) => line.includes('--parameter-overrides'))
          .flatMap((line) => [...line.split('--parameter-overrides')[1]!.matchAll(/(?:^|\s)([A-Z][A-Za-z0-9]+)=/g)].map((m) => m[1]!)),
      ];
      for (const name of named) if (!known.has(name)) missing.push(`${file}: ${name}`);
    }
    assert.deepEqual(missing, []);
  });

  it("the stack's default BundleKey is where `podiam publish` uploads by default, as the docs say", async () => {
    const { DEFAULT_BUNDLE_KEY } = await import('../../../cli/src/bundle/publish.ts');
    const template = read('template.yaml');
    const m = /^ {2}BundleKey:\n(?: {4}.*\n)*? {4}Default: *['"]?([^'"\n]+)['"]?$/m.exec(template);
    assert.ok(m, 'template.yaml has no BundleKey default');
    assert.equal(m[1], DEFAULT_BUNDLE_KEY);
    assert.match(read('docs/operations.md'), new RegExp(`\\| \`BundleKey\` \\| \`${DEFAULT_BUNDLE_KEY.replace('.', '\\.')}\``));
  });

  it("operations.md's parameter and output tables list exactly the template's", () => {
    const text = read('docs/operations.md');
    const table = (heading: string): Set<string> => {
      const start = text.indexOf(`### ${heading}\n`);
      assert.ok(start !== -1, `operations.md has no "### ${heading}" section`);
      const body = text.slice(start).split('\n').slice(1);
      const end = body.findIndex((line) => line.startsWith('#'));
      const rows = body.slice(0, end === -1 ? undefined : end).filter((line) => line.startsWith('| `'));
      return new Set(rows.flatMap((row) => backticked(row.split('|')[1]!)));
    };
    assert.deepEqual([...table('Parameters')].sort(), [...templateSection('Parameters')].sort());
    assert.deepEqual([...table('Outputs')].sort(), [...templateSection('Outputs')].sort());
  });
});

/** GitHub's heading anchors: lower case, punctuation other than '-' and '_' dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

describe('the docs hold together', () => {
  it('the README gives the two set-up commands, and .ci/run runs exactly its test command', () => {
    const readme = read('README.md');
    const setup = readme.slice(readme.indexOf('## Set-up on a fresh machine'));
    const block = /```sh\n([\s\S]*?)```/.exec(setup)?.[1] ?? '';
    assert.deepEqual(block.split('\n').filter(Boolean).map((l) => l.split('#')[0]!.trim()), ['npm run demo', 'npm test']);
    const ci = read('.ci/run').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    assert.equal(ci.at(-1), 'npm test');
  });

  it("mermaid sequence diagrams use no ';' or '#' in their text (either one ends a message in mermaid's grammar)", () => {
    const bad: string[] = [];
    for (const { file, text } of docs()) {
      for (const block of text.matchAll(/```mermaid\n([\s\S]*?)```/g)) {
        if (!/^\s*sequenceDiagram/.test(block[1]!)) continue;
        for (const line of block[1]!.split('\n')) if (/[;#]/.test(line)) bad.push(`${file}: ${line.trim()}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('every relative link and anchor in the docs points at something that exists', () => {
    const broken: string[] = [];
    for (const { file, text } of docs()) {
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [pathPart, anchor] = target.split('#') as [string, string | undefined];
        const resolved = pathPart === '' ? file : path.normalize(path.join(path.dirname(file), pathPart));
        let content: string;
        try {
          content = read(resolved);
        } catch {
          if (anchor === undefined && existsDir(resolved)) continue;
          broken.push(`${file}: ${target}`);
          continue;
        }
        if (anchor !== undefined && !anchors(content).has(anchor)) broken.push(`${file}: ${target} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
