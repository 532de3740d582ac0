// Runs inside a pod's (or the node's) network namespace and asks the token door as an attacker
// would, with raw HTTP rather than an SDK (not a test file). One mode, one JSON line:
//   get <url> [tokenFile]  — GET <url> with the file's content as the Authorization header, sent as
//                            it is (the SDKs send the token file's content); no header without a
//                            file. Prints {status, body} or {error} within 5 s.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

const [mode, url, tokenFile] = process.argv.slice(2);
if (mode !== 'get' || !url) throw new Error(`usage: token-client.ts get <url> [tokenFile]; got ${process.argv.slice(2).join(' ')}`);

const headers: Record<string, string> = tokenFile ? { authorization: readFileSync(tokenFile, 'utf8') } : {};
const out = await new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
  const req = request(url, { method: 'GET', headers, timeout: 5000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (body += d));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout after 5 s')));
  req.on('error', (err) => resolve({ error: String(err) }));
  req.end();
});
console.log(JSON.stringify(out));
