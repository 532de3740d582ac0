/**
 * Where the Kubernetes API server is and how the proxy proves who it is: in a pod, the service
 * account's mounted files (inClusterTarget); outside one, a kubeconfig file's current context
 * (kubeconfigFileTarget). Pure but for reading the kubeconfig file; api-client.ts does the requests.
 */
// node:fs, not node:fs/promises: the latter loads readline and fs watchers, about 0.8 MB resident.
import { readFile as readFileCallback } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { ProxyError } from '../errors.ts';

const readFile = promisify(readFileCallback);

/** Bytes given inline (kubeconfig *-data, base64-decoded) or a file read when the client is made. */
export type KubeSecretSource = { data: Buffer } | { file: string };

/** Where the API server is and how the proxy proves who it is. */
export interface KubeTarget {
  /** https://host:port, perhaps with a path prefix (kept: paths are appended to it). */
  server: string;
  ca?: KubeSecretSource;
  cert?: KubeSecretSource;
  key?: KubeSecretSource;
  /** SNI and the name the server's certificate must carry, when not the server URL's host. */
  tlsServerName?: string;
  insecureSkipTlsVerify?: boolean;
  token?: string;
  /** A bearer token file read again every tokenRefreshMs: bound service-account tokens rotate. */
  tokenFile?: string;
  username?: string;
  password?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The in-cluster target: the API server's service from the environment, the mounted token and CA. */
export function inClusterTarget(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ProxyError('PODIAM_CONFIG_INVALID', 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so this is not a pod: set PODIAM_KUBECONFIG to a kubeconfig file');
  }
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { server: `https://${h}:${port}`, ca: { file: path.join(dir, 'ca.crt') }, tokenFile: path.join(dir, 'token') };
}

type Doc = Record<string, unknown>;

function isDoc(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function named(doc: Doc, list: string, item: string, name: string, where: string): Doc {
  const entries = Array.isArray(doc[list]) ? (doc[list] as unknown[]) : [];
  const found = entries.find((e) => isDoc(e) && e.name === name);
  const inner = isDoc(found) ? found[item] : undefined;
  if (!isDoc(inner)) throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: the kubeconfig has no ${item} named '${name}'`);
  return inner;
}

function optionalString(doc: Doc, key: string, where: string): string | undefined {
  const v = doc[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: '${key}' must be a string`);
  return v;
}

/** *-data (base64) wins over the file, as kubectl does; a relative file is relative to the kubeconfig. */
function secret(doc: Doc, dataKey: string, fileKey: string, baseDir: string, where: string): KubeSecretSource | undefined {
  const data = optionalString(doc, dataKey, where);
  if (data !== undefined) return { data: Buffer.from(data, 'base64') };
  const file = optionalString(doc, fileKey, where);
  return file === undefined ? undefined : { file: path.resolve(baseDir, file) };
}

/**
 * The target of a parsed kubeconfig: its current context (or `context`), that context's cluster
 * and user. Authentication by exec plugin, auth-provider or a proxy-url is refused by name rather
 * than ignored: the proxy would otherwise call the API server as nobody (or not through the proxy).
 */
export function kubeconfigTarget(parsed: unknown, baseDir: string, where: string, context?: string): KubeTarget {
  if (!isDoc(parsed)) throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: not a kubeconfig (a YAML mapping)`);
  const contextName = context ?? optionalString(parsed, 'current-context', where);
  if (!contextName) throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: the kubeconfig has no current-context`);
  const ctx = named(parsed, 'contexts', 'context', contextName, where);
  const clusterName = optionalString(ctx, 'cluster', where);
  if (!clusterName) throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: context '${contextName}' names no cluster`);
  const cluster = named(parsed, 'clusters', 'cluster', clusterName, where);
  const userName = optionalString(ctx, 'user', where);
  const user = userName ? named(parsed, 'users', 'user', userName, where) : {};

  const server = optionalString(cluster, 'server', where);
  if (!server) throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: cluster '${clusterName}' has no server`);
  for (const unsupported of ['proxy-url']) {
    if (cluster[unsupported] !== undefined) throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: cluster '${clusterName}' uses ${unsupported}, which the proxy does not support`);
  }
  for (const unsupported of ['exec', 'auth-provider']) {
    if (user[unsupported] !== undefined) {
      throw new ProxyError('PODIAM_CONFIG_INVALID', `${where}: user '${userName}' authenticates with ${unsupported}, which the proxy does not support; use a token, tokenFile or client certificate`);
    }
  }
  const target: KubeTarget = { server };
  const ca = secret(cluster, 'certificate-authority-data', 'certificate-authority', baseDir, where);
  if (ca) target.ca = ca;
  const tlsServerName = optionalString(cluster, 'tls-server-name', where);
  if (tlsServerName) target.tlsServerName = tlsServerName;
  if (cluster['insecure-skip-tls-verify'] === true) target.insecureSkipTlsVerify = true;
  const cert = secret(user, 'client-certificate-data', 'client-certificate', baseDir, where);
  if (cert) target.cert = cert;
  const key = secret(user, 'client-key-data', 'client-key', baseDir, where);
  if (key) target.key = key;
  const token = optionalString(user, 'token', where);
  const tokenFile = optionalString(user, 'tokenFile', where);
  if (token) target.token = token;
  else if (tokenFile) target.tokenFile = path.resolve(baseDir, tokenFile);
  const username = optionalString(user, 'username', where);
  const password = optionalString(user, 'password', where);
  if (username !== undefined && password !== undefined) Object.assign(target, { username, password });
  return target;
}

/** Reads and parses a kubeconfig file (YAML, of which JSON is a subset). */
export async function kubeconfigFileTarget(file: string, context?: string): Promise<KubeTarget> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProxyError('PODIAM_CONFIG_INVALID', `PODIAM_KUBECONFIG: cannot read ${file}`, { cause: err });
  }
  let parsed: unknown;
  try {
    // A JSON kubeconfig (kubectl reads those too) needs no YAML parser; bench:proxy gives one, so
    // the process it measures holds what a pod's does. The YAML parser is loaded only here: in a
    // pod (inClusterTarget) it is never in memory.
    parsed = text.trimStart().startsWith('{') ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (err) {
    throw new ProxyError('PODIAM_CONFIG_INVALID', `PODIAM_KUBECONFIG: ${file} is not valid YAML or JSON`, { cause: err });
  }
  return kubeconfigTarget(parsed, path.dirname(file), `PODIAM_KUBECONFIG ${file}`, context);
}
