// Runs inside a pod's network namespace and attacks 169.254.169.254:80 as a pod would, through the
// node's real DNAT rule (not a test file). Modes (each prints one JSON line):
//   token                  — an IMDSv2 token of this pod: {token}
//   creds <role> [token]   — this pod's credentials with its own token, or with the given one: {status, key?}
//   fuzz <seed> <count> <target-json>
//                          — <count> requests of the seeded corpus (test/integration/proxy/fuzz-corpus.ts),
//                            with this pod's own token added to the target; {sent, keys: {AccessKeyId: n}, statuses}
import { request } from 'node:http';
import { fuzzRequest, prng, rawExchange, type FuzzTarget } from '../../integration/proxy/fuzz-corpus.ts';

const IMDS = '169.254.169.254';
const [mode, ...args] = process.argv.slice(2);

function send(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: IMDS, port: 80, path, method, headers, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const ownToken = async (): Promise<string> => (await send('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' })).body;


if (mode === 'token') {
  console.log(JSON.stringify({ token: await ownToken() }));
} else if (mode === 'creds') {
  const [role, token] = args;
  const a = await send('GET', `/latest/meta-data/iam/security-credentials/${role}`, { 'x-aws-ec2-metadata-token': token ?? (await ownToken()) });
  console.log(JSON.stringify(a.status === 200 ? { status: 200, key: (JSON.parse(a.body) as { AccessKeyId: string }).AccessKeyId } : { status: a.status }));
} else if (mode === 'fuzz') {
  const [seed, count, targetJson] = args;
  const target: FuzzTarget = { ...(JSON.parse(targetJson!) as Omit<FuzzTarget, 'ownToken'>), ownToken: await ownToken() };
  const rand = prng(Number(seed));
  const corpus = Array.from({ length: Number(count) }, () => fuzzRequest(target, rand));
  const keys: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < corpus.length) {
      const answer = await rawExchange({ host: IMDS, port: 80 }, corpus[next++]!);
      const status = /HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 'no answer';
      statuses[status] = (statuses[status] ?? 0) + 1;
      for (const m of answer.matchAll(/"AccessKeyId"\s*:\s*"([^"]*)"/g)) keys[m[1]!] = (keys[m[1]!] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  console.log(JSON.stringify({ sent: corpus.length, keys, statuses }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
