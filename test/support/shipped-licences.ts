// Finds what must not ship in a deployable artifact: AGPL/GPL code and the AWS SDK for JavaScript v2
// (end of support; the functions and the proxy use v3). Reusable for any tree of shipped files: the
// `sam build` output of each function, and the proxy image's /app (copied out of the image).
//
// What it reads, since a minified bundle names no modules itself:
//   - every JavaScript file: a require/import of `aws-sdk` (v2's package name), and licence texts or
//     banners naming the GPL or AGPL that esbuild kept (/*! … */, @license, @preserve);
//   - licence files beside the code (esbuild's *.LEGAL.txt, LICENSE*, NOTICE*);
//   - source maps: their `sources` name every bundled node_modules package; each package's licence is
//     read from its package.json (resolved from `packageRoots`, by default the checkout's node_modules);
//   - esbuild metafiles (*.meta.json: `inputs`) and unminified bundles (`// node_modules/<pkg>/…`
//     comments) the same way;
//   - package.json files of a shipped node_modules: name aws-sdk, or a GPL/AGPL `license`.
// LGPL is not flagged (linking it is allowed); anything naming GPL-2.0/GPL-3.0/AGPL is.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LicenceFinding {
  /** Path relative to the scanned root. */
  file: string;
  problem: string;
}

export interface LicenceCheckOptions {
  /** Where package.json files of bundled packages are looked up; default: the checkout's node_modules. */
  packageRoots?: string[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// SPDX ids and licence titles of the GPL family, without the LGPL ("Lesser"/"Library").
const GPL_TEXT = /(?<![\w-])A?GPL(?:-?v?[23](?:\.\d)?)?(?!\w)|GNU (?:Affero )?General Public License/;
const AWS_SDK_V2 = /\brequire\(\s*["']aws-sdk(?:\/[^"']*)?["']\s*\)|\bfrom\s*["']aws-sdk(?:\/[^"']*)?["']|\bimport\(\s*["']aws-sdk(?:\/[^"']*)?["']\s*\)/;
const MODULE_PATH = /(?:^|[/\\])node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)/;
// Comments esbuild keeps in a minified bundle: /*! … */, and comments with @license or @preserve.
const KEPT_COMMENT = /\/\*![\s\S]*?\*\/|\/\*[\s\S]*?@(?:license|preserve)[\s\S]*?\*\/|\/\/[^\n]*@(?:license|preserve)[^\n]*/g;

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

function packageOf(modulePath: string): string | undefined {
  return MODULE_PATH.exec(modulePath)?.[1]?.replace(/\\/g, '/');
}

function licenceOf(pkg: string, roots: string[]): string | undefined {
  for (const root of roots) {
    const file = path.join(root, pkg, 'package.json');
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8')) as { license?: unknown; licenses?: unknown };
    const l = json.license ?? json.licenses;
    return typeof l === 'string' ? l : JSON.stringify(l ?? 'UNKNOWN');
  }
  return undefined;
}

/** Every finding in the tree under `root`; empty when nothing forbidden ships. */
export function shippedLicenceFindings(root: string, opts: LicenceCheckOptions = {}): LicenceFinding[] {
  const roots = opts.packageRoots ?? [path.join(repoRoot, 'node_modules')];
  const findings: LicenceFinding[] = [];
  const packages = new Map<string, string>();
  const add = (file: string, problem: string) => findings.push({ file: path.relative(root, file), problem });
  const notePackage = (pkg: string | undefined, file: string) => {
    if (pkg && !packages.has(pkg)) packages.set(pkg, file);
  };

  for (const file of walk(root)) {
    const base = path.basename(file);
    if (/\.(m|c)?js$/.test(base)) {
      const text = readFileSync(file, 'utf8');
      if (AWS_SDK_V2.test(text)) add(file, 'loads aws-sdk (the AWS SDK for JavaScript v2)');
      for (const c of text.match(KEPT_COMMENT) ?? []) if (GPL_TEXT.test(c)) add(file, `keeps a GPL/AGPL licence comment: ${c.slice(0, 160)}`);
      for (const m of text.matchAll(/^\/\/ (\S*node_modules\/\S+)$/gm)) notePackage(packageOf(m[1]!), file);
    } else if (base.endsWith('.map')) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources?: string[] };
      for (const s of map.sources ?? []) notePackage(packageOf(s), file);
    } else if (base.endsWith('.meta.json')) {
      const meta = JSON.parse(readFileSync(file, 'utf8')) as { inputs?: Record<string, unknown> };
      for (const input of Object.keys(meta.inputs ?? {})) notePackage(packageOf(input), file);
    } else if (base === 'package.json') {
      const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; license?: unknown };
      if (json.name === 'aws-sdk') add(file, 'is the aws-sdk package (the AWS SDK for JavaScript v2)');
      if (typeof json.license === 'string' && GPL_TEXT.test(json.license)) add(file, `package ${json.name ?? '?'} is licensed ${json.license}`);
    } else if (/\.LEGAL\.txt$|^(LICEN[CS]E|COPYING|NOTICE)/i.test(base)) {
      const text = readFileSync(file, 'utf8');
      const m = GPL_TEXT.exec(text);
      if (m) add(file, `names ${m[0]}`);
    }
  }
  for (const [pkg, file] of packages) {
    if (pkg === 'aws-sdk') {
      add(file, 'bundles aws-sdk (the AWS SDK for JavaScript v2)');
      continue;
    }
    const licence = licenceOf(pkg, roots);
    if (licence === undefined) add(file, `bundles ${pkg}, whose package.json is not under ${roots.join(', ')}: its licence is unknown`);
    else if (GPL_TEXT.test(licence)) add(file, `bundles ${pkg}, licensed ${licence}`);
  }
  return findings;
}

/** The bundled packages the source maps, metafiles or module comments under `root` name (for reports). */
export function bundledPackages(root: string): string[] {
  const names = new Set<string>();
  for (const file of walk(root)) {
    if (file.endsWith('.map')) {
      for (const s of (JSON.parse(readFileSync(file, 'utf8')) as { sources?: string[] }).sources ?? []) {
        const p = packageOf(s);
        if (p) names.add(p);
      }
    }
  }
  return [...names].sort();
}
