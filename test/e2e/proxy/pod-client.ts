// Runs inside a pod's network namespace (not a test file). Modes:
//   sdk <stsEndpoint>  — the AWS SDK v3's own IMDS provider at its default address 169.254.169.254,
//                        then STS GetCallerIdentity with those credentials; prints {arn}
//   get <path>         — one IMDSv2 GET (token PUT first) to 169.254.169.254; prints {status, body}
//   url <url>          — one plain GET to any URL within 1.5 s; prints {status, body} or {error}
import { request } from 'node:http';
import { fromInstanceMetadata } from '@smithy/credential-provider-imds';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

const [mode, arg] = process.argv.slice(2);
if (mode === 'sdk') {
  const credentials = await fromInstanceMetadata({ timeout: 1000, maxRetries: 1 })();
  const sts = new STSClient({ region: 'us-east-1', endpoint: arg!, credentials });
  const me = await sts.send(new GetCallerIdentityCommand({}));
  console.log(JSON.stringify({ arn: me.Arn }));
  sts.destroy();
} else if (mode === 'get') {
  // IMDSv2 as the SDKs speak it (the proxy requires it by default): a token, then the GET.
  const token = await send('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' });
  const out = token.status === 200 ? await send('GET', arg!, { 'x-aws-ec2-metadata-token': token.body }) : token;
  console.log(JSON.stringify(out));
} else if (mode === 'url') {
  // One plain GET to any URL, bounded by 1.5 s; prints {status, body} or {error} (connection refused, timeout).
  const out = await fetch(arg!, { signal: AbortSignal.timeout(1500) }).then(
    async (res) => ({ status: res.status, body: (await res.text()).slice(0, 500) }),
    (err: unknown) => ({ error: String((err as { cause?: unknown }).cause ?? err) }),
  );
  console.log(JSON.stringify(out));
} else {
  throw new Error(`unknown mode ${mode}`);
}

function send(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '169.254.169.254', port: 80, path, method, headers, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
