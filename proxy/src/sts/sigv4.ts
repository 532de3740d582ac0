/**
 * AWS Signature Version 4 for one POST of a form-encoded body (what an STS Query API call is):
 * pure, given the time. The steps and names follow "Create a signed AWS API request" in the IAM
 * user guide; test/unit/proxy/sigv4.test.ts checks every signature against the AWS SDK's own
 * signer (@smithy/signature-v4), and moto with IAM enforcement verifies them on the wire.
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface FormPost {
  /** Host header value: host, plus :port when not the scheme's default. */
  host: string;
  path: string;
  /** Already form-encoded (formEncode()). */
  body: string;
}

/** RFC 3986 unreserved characters stay, everything else is %XX (what SigV4 and the Query API expect). */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A form body in the order given (the order does not matter to STS; SigV4 signs the bytes). */
export function formEncode(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&');
}

const sha256Hex = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** 20260131T235959Z */
export function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * The signing key for one day, region and service: four HMACs. Remembered for the last
 * (secret, day, region, service) seen, since a proxy signs many calls with the same node key.
 */
let lastKey: { id: string; key: Buffer } | undefined;
function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const id = `${secret}\n${day}\n${region}\n${service}`;
  if (lastKey?.id === id) return lastKey.key;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  lastKey = { id, key };
  return key;
}

/**
 * The headers to send with the POST: content-type, host, x-amz-date, x-amz-security-token (with
 * session credentials) and the Authorization header that signs them and the body.
 */
export function signFormPost(request: FormPost, credentials: SigningCredentials, region: string, service: string, now: Date): Record<string, string> {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    host: request.host,
    'x-amz-date': date,
  };
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = ['POST', request.path, '', canonicalHeaders, signedHeaders, sha256Hex(request.body)].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, day, region, service)).update(stringToSign, 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
