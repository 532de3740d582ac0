/**
 * A deterministic corpus of malformed and odd HTTP requests for the metadata listener (not a test
 * file). The same seed gives the same bytes, so a failure can be replayed: the test prints the
 * seed and the index of the request that failed.
 *
 * What an attacking pod would try against an IMDS proxy: path tricks that might reach another
 * role or the node's own role (`..`, `%2e`, `//`, `;`, NUL, case, absolute-form URIs), headers that
 * might change who the caller looks like (X-Forwarded-For, Forwarded, duplicated or replayed
 * tokens), framing tricks (chunked bodies, conflicting or huge Content-Length, request smuggling
 * with a second request hidden in a body), protocol tricks (HTTP/0.9, /1.0, /2 preface), and bytes
 * a parser might mishandle (bad header bytes, overlong lines, bare LF, obs-fold).
 */
import { connect, type NetConnectOpts } from 'node:net';
import { seededRandom } from '../../support/seeded-random.ts';

/** mulberry32 (test/support/seeded-random.ts): a failing case replays from its seed. */
export const prng = seededRandom;

export interface FuzzTarget {
  /** The attacker's own role name (it may get its own credentials: that is not a leak). */
  ownRole: string | undefined;
  /** Role names of other pods on the node, and the node's own instance role. */
  otherRoles: readonly string[];
  nodeRole: string;
  /** A valid token for the attacker's IP, and one issued to another pod's IP (a replay). */
  ownToken: string;
  otherToken: string;
  /** Another pod's IP, for X-Forwarded-For and friends. */
  otherIp: string;
}

const CREDS = '/latest/meta-data/iam/security-credentials/';

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function paths(t: FuzzTarget, rand: () => number): string[] {
  const other = pick(rand, [...t.otherRoles, t.nodeRole]);
  const own = t.ownRole ?? 'none';
  const long = 'a'.repeat(1 + Math.floor(rand() * 12_000));
  return [
    `${CREDS}${other}`,
    `${CREDS}${other}/`,
    `${CREDS}${own}`,
    `${CREDS}${own}/../${other}`,
    `${CREDS}../security-credentials/${other}`,
    `${CREDS}%2e%2e/security-credentials/${other}`,
    `${CREDS}%2E%2E%2F${other}`,
    `${CREDS}${own}%2f..%2f${other}`,
    `${CREDS}/${other}`,
    `/latest/meta-data/iam/security-credentials//${other}`,
    `//latest/meta-data/iam/security-credentials/${other}`,
    `${CREDS}${other};${own}`,
    `${CREDS}${own};/../${other}`,
    `${CREDS}${other}%00`,
    `${CREDS}${own}%00${other}`,
    `${CREDS}${other}?role=${own}`,
    `${CREDS}${own}#${other}`,
    `${CREDS.toUpperCase()}${other}`,
    `/latest/meta-data/IAM/security-credentials/${other}`,
    `${CREDS}${encodeURIComponent(other).replace(/\./g, '%2e')}`,
    `${CREDS}${other.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
    `/latest/meta-data/placement/../iam/security-credentials/${other}`,
    `/latest/meta-data/instance-id/../../meta-data/iam/security-credentials/${other}`,
    `/latest/meta-data/placement/%2e%2e/iam/security-credentials/${t.nodeRole}`,
    `/latest/meta-data/iam/info/../security-credentials/${other}`,
    `/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance`,
    `/latest/user-data`,
    `/latest/dynamic/instance-identity/document`,
    `/latest/meta-data/iam/info`,
    `/latest/meta-data/iam/`,
    `/latest/api/token`,
    `http://169.254.169.254${CREDS}${other}`,
    `http://169.254.169.254:80/latest/meta-data/iam/security-credentials/${other}`,
    `http://evil.example${CREDS}${other}`,
    `*`,
    '',
    `${CREDS}${long}`,
    `/${long}`,
    `${CREDS}${other}\\..\\${own}`,
    `${CREDS}\u00e9${other}`,
    `/latest/meta-data/iam/security-credentials\t/${other}`,
  ];
}

const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'get', 'G\u0000T', 'GET\t', 'X'.repeat(300), 'PRI', 'PROPFIND'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/9.9', 'HTTP/1.1 extra', '', 'http/1.1'];

function headers(t: FuzzTarget, rand: () => number): string[] {
  const out: string[] = [];
  const host = pick(rand, ['Host: 169.254.169.254', 'Host: 169.254.169.254', 'Host: evil.example', '', 'Host: 169.254.169.254\r\nHost: other', `Host: ${'h'.repeat(9000)}`]);
  if (host) out.push(host);
  const token = pick(rand, [
    `X-aws-ec2-metadata-token: ${t.ownToken}`,
    `X-aws-ec2-metadata-token: ${t.ownToken}`,
    `X-aws-ec2-metadata-token: ${t.otherToken}`,
    `X-aws-ec2-metadata-token: ${t.ownToken}\r\nX-aws-ec2-metadata-token: ${t.otherToken}`,
    `X-aws-ec2-metadata-token: ${t.otherToken}\r\nX-aws-ec2-metadata-token: ${t.ownToken}`,
    `X-aws-ec2-metadata-token: ${t.ownToken}, ${t.otherToken}`,
    'X-aws-ec2-metadata-token: ',
    `X-aws-ec2-metadata-token: ${'A'.repeat(5000)}`,
    `X-aws-ec2-metadata-token : ${t.ownToken}`,
    `X-aws-ec2-metadata-token:\r\n ${t.ownToken}`,
    'X-aws-ec2-metadata-token-ttl-seconds: 21600',
    'X-aws-ec2-metadata-token-ttl-seconds: 99999999999999999999',
    '',
  ]);
  if (token) out.push(token);
  for (let i = 0, n = Math.floor(rand() * 3); i < n; i++) {
    out.push(
      pick(rand, [
        `X-Forwarded-For: ${t.otherIp}`,
        `X-Forwarded-For: ${t.otherIp}, 127.0.0.1`,
        `X-Real-IP: ${t.otherIp}`,
        `Forwarded: for=${t.otherIp}`,
        `X-Client-IP: ${t.otherIp}`,
        'Connection: keep-alive',
        'Connection: close',
        'Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
        'Expect: 100-continue',
        `X-Bad: a\u0001b`,
        `X-Bad\u007f: x`,
        'X-Bad: \u00ff\u00fe',
        `X-Long: ${'x'.repeat(9000)}`,
        'no-colon-header',
        ': empty-name',
        'X-Fold: a\r\n  folded',
        'Content-Type: application/json',
        'Accept-Encoding: gzip, br',
        'Range: bytes=0-10',
        `X-aws-ec2-metadata-token: ${t.otherToken}`,
      ]),
    );
  }
  return out;
}

/** Framing: a body and the headers that describe it (or lie about it). */
function framing(t: FuzzTarget, rand: () => number): { headers: string[]; body: string } {
  const smuggled = `GET ${CREDS}${pick(rand, [...t.otherRoles, t.nodeRole])} HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: ${t.otherToken}\r\n\r\n`;
  return pick(rand, [
    { headers: [], body: '' },
    { headers: [], body: '' },
    { headers: [], body: '' },
    { headers: ['Content-Length: 5'], body: 'hello' },
    { headers: ['Content-Length: 99999999999999'], body: 'x' },
    { headers: ['Content-Length: -1'], body: '' },
    { headers: ['Content-Length: 5', 'Content-Length: 6'], body: 'hello!' },
    { headers: ['Transfer-Encoding: chunked'], body: '5\r\nhello\r\n0\r\n\r\n' },
    { headers: ['Transfer-Encoding: chunked'], body: `ffffffffffffffff\r\nx\r\n` },
    { headers: ['Transfer-Encoding: chunked', 'Content-Length: 4'], body: `0\r\n\r\n${smuggled}` },
    { headers: [`Content-Length: ${smuggled.length}`, 'Transfer-Encoding: chunked'], body: `0\r\n\r\n${smuggled}` },
    { headers: ['Transfer-Encoding: chunked, identity'], body: '0\r\n\r\n' },
    { headers: ['Transfer-Encoding: xchunked'], body: smuggled },
    { headers: [`Content-Length: ${smuggled.length}`], body: smuggled },
  ]);
}

/** One request's bytes; sometimes two pipelined, sometimes an HTTP/2 preface or a bare line. */
export function fuzzRequest(t: FuzzTarget, rand: () => number): Buffer {
  const shape = rand();
  if (shape < 0.02) return Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u0000\u0000\u0012\u0004\u0000\u0000\u0000\u0000\u0000', 'latin1');
  if (shape < 0.04) return Buffer.from(`GET ${pick(rand, paths(t, rand))}\r\n`, 'latin1');
  if (shape < 0.06) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 400) }, () => Math.floor(rand() * 256)));
  if (shape < 0.4) {
    // Nearly valid: a well-formed IMDSv2 GET with one trick (path, token or forwarding header), so
    // that much of the corpus gets past the parser and the token check to the handlers.
    const trick = rand();
    const path = trick < 0.6 ? pick(rand, paths(t, rand)) : `${CREDS}${pick(rand, [t.ownRole ?? 'none', ...t.otherRoles, t.nodeRole])}`;
    // A forwarding header comes with the other pod's token, as from an attacker who replays it.
    const token = trick >= 0.6 && rand() < 0.5 ? t.otherToken : t.ownToken;
    const extra = trick >= 0.75 ? [pick(rand, [`X-Forwarded-For: ${t.otherIp}`, `Forwarded: for=${t.otherIp}`, `X-Real-IP: ${t.otherIp}`, `X-aws-ec2-metadata-token: ${t.otherToken}`])] : [];
    return Buffer.from([`GET ${path} HTTP/1.1`, 'Host: 169.254.169.254', `X-aws-ec2-metadata-token: ${token}`, ...extra, '', ''].join('\r\n'), 'latin1');
  }
  const eol = rand() < 0.1 ? '\n' : '\r\n';
  const one = (): string => {
    const f = framing(t, rand);
    const head = [`${pick(rand, METHODS)} ${pick(rand, paths(t, rand))} ${pick(rand, VERSIONS)}`.trimEnd(), ...headers(t, rand), ...f.headers];
    return `${head.join(eol)}${eol}${eol}${f.body}`;
  };
  let text = one();
  if (rand() < 0.15) text += one();
  // Sometimes cut short: the request ends mid-line.
  if (rand() < 0.05) text = text.slice(0, Math.floor(rand() * text.length));
  return Buffer.from(text, 'latin1');
}

/** Writes one corpus entry, half-closes, and collects the answer until the proxy closes (at most 3 s). */
export function rawExchange(to: NetConnectOpts, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(to);
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 3000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('close', done);
    sock.on('error', done);
    sock.end(bytes);
  });
}
