// Shared by the docs tests: what the shipped sources say (codes, settings, scripts, values, flags),
// read from the files themselves so the docs tests follow the code as it changes.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');

export function read(relative: string): string {
  return readFileSync(path.join(repoRoot, relative), 'utf8');
}

/** The shipped code: what runs in a cluster, in Lambda, or as the CLI (no tests, demo or benches). */
export const SHIPPED_SOURCE_DIRS = ['core', 'iam-model', 'proxy/src', 'functions', 'cli/src'] as const;

function walk(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir).sort()) {
    if (entry === 'node_modules') continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (/\.(ts|mts|js|mjs)$/.test(entry) && !/\.test\.(ts|mts|js|mjs)$/.test(entry)) out.push(full);
  }
  return out;
}

export function shippedSourceFiles(): string[] {
  return SHIPPED_SOURCE_DIRS.flatMap((d) => walk(path.join(repoRoot, d), []));
}

/** `'PODIAM_X'`, `"PODIAM_X"` or `` `PODIAM_X `` (a literal that starts with the name), with the file it is in. */
const LITERAL = /['"`](PODIAM_[A-Z0-9_]*[A-Z0-9])(?![A-Za-z0-9_])/g;

export function podiamLiterals(files: readonly string[] = shippedSourceFiles()): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(LITERAL)) {
      const where = found.get(m[1]!) ?? [];
      const rel = path.relative(repoRoot, file);
      if (!where.includes(rel)) where.push(rel);
      found.set(m[1]!, where);
    }
  }
  return found;
}

/**
 * Environment variables podiam reads (settings, not codes): every name in the proxy's
 * CONFIG_VARIABLES, every literal in the functions' config module, every variable the SAM
 * template or the chart's templates set, and the CLI's environment defaults.
 */
export async function settingNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const { CONFIG_VARIABLES } = await import('../../../proxy/src/config.ts');
  for (const n of CONFIG_VARIABLES) names.add(n);
  for (const m of read('functions/lib/config.ts').matchAll(/['"`.](PODIAM_[A-Z0-9_]*[A-Z0-9])\b/g)) names.add(m[1]!);
  for (const m of read('template.yaml').matchAll(/^\s+(PODIAM_[A-Z0-9_]+):/gm)) names.add(m[1]!);
  for (const file of readdirSync(path.join(repoRoot, 'chart/templates'))) {
    if (!file.endsWith('.yaml')) continue;
    for (const m of read(`chart/templates/${file}`).matchAll(/name:\s*(PODIAM_[A-Z0-9_]+)/g)) names.add(m[1]!);
  }
  for (const m of read('cli/src/commands/options.ts').matchAll(/env\.(PODIAM_[A-Z0-9_]+)/g)) names.add(m[1]!);
  for (const m of read('cli/src/main.ts').matchAll(/env\.(PODIAM_[A-Z0-9_]+)/g)) names.add(m[1]!);
  // The config modules' own failure code is not a setting.
  names.delete('PODIAM_CONFIG_INVALID');
  return names;
}

/** Codes only tests use; they never reach a user. */
export function isTestOnlyCode(code: string): boolean {
  return code.startsWith('PODIAM_TEST_');
}

/**
 * The policy checker's finding codes as policies/README.md's table lists them: a row may
 * abbreviate siblings (`PODIAM_CHECK_SID_INVALID / _SID_DUPLICATE`), which expand here.
 */
export function findingCodesIn(markdown: string): Set<string> {
  const codes = new Set<string>();
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) continue;
    const first = line.split('|')[1] ?? '';
    for (const token of first.matchAll(/(PODIAM_CHECK_[A-Z0-9_]*[A-Z0-9])|(?<![A-Z0-9])(_[A-Z0-9_]*[A-Z0-9])/g)) {
      if (token[1]) codes.add(token[1]);
      else if (token[2]) codes.add(`PODIAM_CHECK${token[2]}`);
    }
  }
  return codes;
}

export function packageScripts(): Set<string> {
  const pkg = JSON.parse(read('package.json')) as { scripts?: Record<string, string> };
  return new Set(Object.keys(pkg.scripts ?? {}));
}

/** Every key path of chart/values.yaml (`webhook.url`, `serviceMonitor.enabled`, …), maps included. */
export function chartValueKeys(): Set<string> {
  const values = parseYaml(read('chart/values.yaml')) as Record<string, unknown>;
  const keys = new Set<string>();
  const visit = (node: unknown, prefix: string): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      keys.add(key);
      visit(v, key);
    }
  };
  visit(values, '');
  return keys;
}

/** A top-level section of template.yaml (Parameters, Outputs): the names of its entries. */
export function templateSection(section: 'Parameters' | 'Outputs' | 'Resources'): Set<string> {
  const lines = read('template.yaml').split('\n');
  const names = new Set<string>();
  let inside = false;
  for (const line of lines) {
    if (/^\S/.test(line)) inside = line.startsWith(`${section}:`);
    else if (inside) {
      const m = /^ {2}([A-Za-z0-9]+):\s*$/.exec(line);
      if (m) names.add(m[1]!);
    }
  }
  return names;
}

/** The CLI's options per command, from its usage text (`podiam help`). */
export async function cliOptions(): Promise<Map<string, Set<string>>> {
  const { HELP } = await import('../../../cli/src/main.ts');
  const byCommand = new Map<string, Set<string>>();
  let current: string | undefined;
  for (const line of HELP.split('\n')) {
    const head = /^\s+podiam (\w+)/.exec(line);
    // A usage entry is its `podiam <command>` line and the indented `[--flag …]` lines under it.
    if (head) current = head[1];
    else if (!/^\s+\[/.test(line)) current = undefined;
    if (!current) continue;
    const set = byCommand.get(current) ?? new Set<string>(['--help']);
    for (const m of line.matchAll(/--[a-z][a-z-]*/g)) set.add(m[0]);
    byCommand.set(current, set);
  }
  return byCommand;
}
