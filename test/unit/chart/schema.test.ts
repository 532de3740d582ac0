// values.schema.json: a strict draft-07 schema that matches values.yaml key for key, and bad values
// that the real helm rejects at install time with a message naming the value.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { allOptionalValues, chartDir, tryRender } from './chart.ts';

type Json = Record<string, unknown>;
const schema = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')) as Json;
const defaults = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Json;

const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  return out;
}

/** Follows a local $ref (#/definitions/x). */
function deref(node: Json): Json {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const name = ref.replace('#/definitions/', '');
  return (schema.definitions as Record<string, Json>)[name]!;
}

describe('values.schema.json', () => {
  it('is draft-07 and compiles in strict mode', () => {
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    const ajv = new Ajv({ strict: true, allErrors: true });
    ajv.compile(schema);
  });

  it('accepts the defaults and the every-block-on values', () => {
    const validate = new Ajv({ allErrors: true }).compile(schema);
    for (const values of [deepMerge(defaults, { clusterName: 'prod-eu' }), deepMerge(defaults, allOptionalValues as unknown as Json)]) {
      assert.ok(validate(values), JSON.stringify(validate.errors));
    }
  });

  it('closes each of our objects with additionalProperties: false and describes every key of values.yaml', () => {
    const problems: string[] = [];
    const walk = (node: Json, value: unknown, at: string): void => {
      const s = deref(node);
      if (s.type !== 'object' || !isPlainObject(s.properties)) return;
      if (s.additionalProperties !== false) problems.push(`${at || '(root)'}: additionalProperties is not false`);
      const props = s.properties as Record<string, Json>;
      if (isPlainObject(value)) {
        for (const key of Object.keys(value)) if (!props[key]) problems.push(`${at}${key}: in values.yaml but not in the schema`);
      }
      for (const [key, sub] of Object.entries(props)) {
        if (at === '' && key === 'global') continue;
        if (!isPlainObject(value) || !(key in value)) problems.push(`${at}${key}: in the schema but not in values.yaml`);
        walk(sub, isPlainObject(value) ? value[key] : undefined, `${at}${key}.`);
      }
    };
    walk(schema, defaults, '');
    assert.deepEqual(problems, []);
  });
});

describe('bad values are refused by helm with a message naming them', () => {
  const cases: Array<{ what: string; values: Json; message: RegExp }> = [
    { what: 'a misspelt top-level key', values: { clustername: 'x' }, message: /additional properties 'clustername' not allowed/ },
    { what: 'a misspelt nested key', values: { webhook: { failurepolicy: 'Fail' } }, message: /at '\/webhook': additional properties 'failurepolicy' not allowed/ },
    { what: 'a clusterName that is not a DNS label', values: { clusterName: 'Prod_EU' }, message: /at '\/clusterName'/ },
    { what: 'an unknown failurePolicy', values: { webhook: { failurePolicy: 'Sometimes' } }, message: /at '\/webhook\/failurePolicy': value must be one of 'Ignore', 'Fail'/ },
    { what: 'a webhook URL that is not https', values: { webhook: { url: 'http://hook.example/admit/0123456789abcdef0123456789abcdef' } }, message: /at '\/webhook\/url'/ },
    // Issue 17 item 6: the stack's WebhookUrlPrefix alone (no secret) would make the function answer every call 403.
    { what: 'a webhook URL without its secret path (WebhookUrlPrefix alone)', values: { webhook: { url: 'https://abc.lambda-url.eu-west-1.on.aws/admit/' } }, message: /at '\/webhook\/url'/ },
    { what: 'a webhook URL with a secret shorter than 32 characters', values: { webhook: { url: 'https://abc.lambda-url.eu-west-1.on.aws/admit/s3cr3t' } }, message: /at '\/webhook\/url'/ },
    { what: 'a webhook URL whose secret is not under /admit/', values: { webhook: { url: 'https://abc.lambda-url.eu-west-1.on.aws/0123456789abcdef0123456789abcdef' } }, message: /at '\/webhook\/url'/ },
    { what: 'a webhook timeout over the API server maximum of 30 s', values: { webhook: { timeoutSeconds: 60 } }, message: /at '\/webhook\/timeoutSeconds'/ },
    { what: 'a port out of range', values: { port: 70000 }, message: /at '\/port'/ },
    { what: 'a port given as text', values: { metricsPort: '9181' }, message: /at '\/metricsPort'/ },
    { what: 'an account ID that is not 12 digits', values: { allowedAccounts: ['12345'] }, message: /at '\/allowedAccounts\/0'/ },
    { what: 'an unknown log level', values: { logLevel: 'verbose' }, message: /at '\/logLevel'/ },
    { what: 'a session longer than role chaining allows', values: { sessionDurationSeconds: 7200 }, message: /at '\/sessionDurationSeconds'/ },
    { what: 'an interface name with shell characters', values: { hostInterface: 'eth0; reboot' }, message: /at '\/hostInterface'/ },
    { what: 'maxUnavailable 0 (a rollout could never start)', values: { maxUnavailable: 0 }, message: /at '\/maxUnavailable'/ },
    { what: 'a passthrough path to the node role', values: { passthroughPaths: ['/latest/meta-data/iam/security-credentials/'] }, message: /at '\/passthroughPaths\/0'/ },
    { what: 'a passthrough path to user-data', values: { passthroughPaths: ['/latest/user-data'] }, message: /at '\/passthroughPaths\/0'/ },
    { what: 'an IMDS upstream with a path', values: { imdsUpstream: 'http://169.254.169.254/latest' }, message: /at '\/imdsUpstream'/ },
    { what: 'a boolean given as text', values: { iptables: 'yes' }, message: /at '\/iptables'/ },
    // The proxy refuses it at start too; helm refusing it keeps a broken DaemonSet from rolling out.
    { what: 'sessionTags false (no managed role could be assumed)', values: { sessionTags: false }, message: /at '\/sessionTags': value must be true/ },
    { what: 'a label value that is not a string', values: { commonLabels: { team: 1 } }, message: /at '\/commonLabels\/team'/ },
    { what: 'an image digest that is not sha256', values: { image: { digest: 'latest' } }, message: /at '\/image\/digest'/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.what}`, async () => {
      const r = await tryRender({ clusterName: 'prod-eu', ...c.values });
      assert.equal(r.ok, false, `helm accepted ${JSON.stringify(c.values)}`);
      assert.match(r.stderr, /values don't meet the specifications of the schema/);
      assert.match(r.stderr, c.message);
    });
  }
});
