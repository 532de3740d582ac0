// Runs inside an application pod (`kubectl exec … node --input-type=module -e "$(cat imds-loop.mjs)"`
// with its arguments in LOOP_*): asks 169.254.169.254 for the pod's credentials over IMDSv2, as the
// SDKs do, every LOOP_INTERVAL_MS for LOOP_DURATION_MS (at most LOOP_MAX requests), and prints one JSON
// line: every answer's time, outcome, role name and access key id. Bounded in count and time.
const duration = Number(process.env.LOOP_DURATION_MS ?? 30000);
const interval = Number(process.env.LOOP_INTERVAL_MS ?? 100);
const max = Number(process.env.LOOP_MAX ?? 1000);
const base = 'http://169.254.169.254';
const path = '/latest/meta-data/iam/security-credentials/';

async function once() {
  const signal = AbortSignal.timeout(1000);
  const put = await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, signal });
  if (put.status !== 200) return { outcome: `token-${put.status}` };
  const headers = { 'x-aws-ec2-metadata-token': await put.text() };
  const list = await fetch(base + path, { headers, signal });
  if (list.status !== 200) return { outcome: `list-${list.status}` };
  const role = (await list.text()).trim().split('\n')[0];
  const creds = await fetch(base + path + role, { headers, signal });
  if (creds.status !== 200) return { outcome: `creds-${creds.status}`, role };
  const body = await creds.json();
  return { outcome: 'ok', role, keyId: body.AccessKeyId };
}

const answers = [];
const end = Date.now() + duration;
while (Date.now() < end && answers.length < max) {
  const t = Date.now();
  try {
    answers.push({ t, ...(await once()) });
  } catch (err) {
    answers.push({ t, outcome: `error-${err?.cause?.code ?? err?.name ?? 'unknown'}` });
  }
  await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - t))));
}
console.log(JSON.stringify(answers));
