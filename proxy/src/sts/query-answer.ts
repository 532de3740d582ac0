/**
 * STS's Query API answers, read without an XML library: AssumeRoleResponse and ErrorResponse are
 * flat documents whose few leaf elements we need appear once each, and their text is escaped XML
 * (no CDATA, no nested markup). Pure; test/unit/proxy/sts-query-answer.test.ts reads the answers
 * moto and the AWS documentation give.
 */

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(parseInt(e.slice(1), 10)) : ENTITIES[e]!,
  );
}

/** The text of the first <name>…</name> (optionally inside the first <parent>…</parent>), unescaped. */
export function leafText(xml: string, name: string, parent?: string): string | undefined {
  let scope = xml;
  if (parent) {
    const p = new RegExp(`<${parent}(?:\\s[^>]*)?>([\\s\\S]*?)</${parent}>`).exec(xml);
    if (!p) return undefined;
    scope = p[1]!;
  }
  const m = new RegExp(`<${name}(?:\\s[^>]*)?>([^<]*)</${name}>`).exec(scope);
  return m ? unescapeXml(m[1]!.trim()) : undefined;
}

export interface AssumedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/**
 * A copy of text that holds only its own characters. V8 makes a substring of 13 or more characters
 * (a regexp capture, slice, trim) a view into its parent, so each cached credential would keep the
 * whole AssumeRole answer alive (1–3 KB per pod, for the session's lifetime) without this.
 */
function ownCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** The Credentials of an AssumeRoleResponse, or undefined when one of the four is missing or the date is bad. */
export function readAssumeRoleAnswer(xml: string): AssumedCredentials | undefined {
  const accessKeyId = leafText(xml, 'AccessKeyId', 'Credentials');
  const secretAccessKey = leafText(xml, 'SecretAccessKey', 'Credentials');
  const sessionToken = leafText(xml, 'SessionToken', 'Credentials');
  const expires = leafText(xml, 'Expiration', 'Credentials');
  if (!accessKeyId || !secretAccessKey || !sessionToken || !expires) return undefined;
  const expiration = new Date(expires);
  if (Number.isNaN(expiration.getTime())) return undefined;
  return { accessKeyId: ownCopy(accessKeyId), secretAccessKey: ownCopy(secretAccessKey), sessionToken: ownCopy(sessionToken), expiration };
}

/** Code and Message of an ErrorResponse (or the bare <Error> some endpoints send). */
export function readErrorAnswer(xml: string): { code: string | undefined; message: string | undefined } {
  return { code: leafText(xml, 'Code', 'Error'), message: leafText(xml, 'Message', 'Error') };
}
