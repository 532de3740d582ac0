// Shared by the chart's webhook fault and attack tests: a real kube-apiserver with the chart
// installed, its ValidatingWebhookConfiguration pointing (webhook.url) at the admission Lambda's own
// handler served over HTTPS on loopback (functions/admission/local-server.ts) with a certificate of
// the test cluster's CA, and moto behind the handler for S3 and IAM — directly, or through the IAM
// fault injector when the test needs IAM throttling.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { ROLE_ANNOTATION } from '../../../core/src/annotations.ts';
import { createAdmissionHandlerFromEnv } from '../../../functions/admission/handler.ts';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../../../functions/admission/local-server.ts';
import { silentLogger } from '../../../functions/lib/log.ts';
import { webhookSecretSha256 } from '../../../functions/lib/config.ts';
import { startKube, type Kube } from '../../peers/index.ts';
import { startIamFaultInjector, type IamFaultInjector } from '../../peers/iam-fault-injector.ts';
import { CLUSTER, startHarness, type Harness } from '../functions/harness.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { chartDir, releaseName, releaseNamespace, withValuesFile } from '../../unit/chart/chart.ts';
import { clients } from './cluster.ts';

export interface Seen {
  request: { operation: string; subResource?: string; object: { metadata: { name?: string } } };
}

export interface WebhookCluster {
  kube: Kube;
  aws: Harness;
  faults: IamFaultInjector;
  admission: LocalAdmissionServer;
  c: ReturnType<typeof clients>;
  /** What the API server sent and what the handler answered, in order; route is the path's first segment (admit, mutate). */
  calls: { review: Seen; status: number; route: string }[];
  /** helm upgrade --install with these webhook values (url and caBundle are added), and other top-level values. */
  install(webhook?: Record<string, unknown>, values?: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebhookCluster(namespaces: string[], kubeOptions: Parameters<typeof startKube>[0] = {}): Promise<WebhookCluster> {
  const [kube, aws] = await Promise.all([startKube(kubeOptions), startHarness()]);
  const c = clients(kube);
  await aws.publish(exampleBundle());
  const faults = await startIamFaultInjector(aws.moto.endpoint);
  const cert = await kube.issueServingCert({ ips: ['127.0.0.1'] });
  const secret = randomBytes(24).toString('hex');
  const real = createAdmissionHandlerFromEnv(
    { ...process.env, ...aws.env, PODIAM_AWS_ENDPOINT: faults.endpoint, PODIAM_ACCOUNT_ID: aws.moto.accountId, PODIAM_WEBHOOK_SECRET_SHA256: webhookSecretSha256(secret) },
    silentLogger,
  );
  const calls: WebhookCluster['calls'] = [];
  const admission = await startLocalAdmissionServer({
    key: cert.keyPem,
    cert: cert.certPem,
    env: { ...aws.env, PODIAM_WEBHOOK_SECRET: secret },
    log: silentLogger,
    handler: async (event: LambdaFunctionURLEvent) => {
      const answer = (await real(event)) as Exclude<LambdaFunctionURLResult, string>;
      calls.push({ review: JSON.parse(event.body ?? '{}') as Seen, status: answer.statusCode ?? 200, route: (event.rawPath ?? '/').split('/')[1] ?? '' });
      return answer;
    },
  });
  const install = async (webhook: Record<string, unknown> = {}, values: Record<string, unknown> = {}) => {
    const installed = await withValuesFile({ clusterName: CLUSTER, ...values, webhook: { url: admission.url, caBundle: cert.caPem, ...webhook } }, (file) =>
      c.helm(['upgrade', '--install', releaseName, chartDir, '-n', releaseNamespace, '--values', file]),
    );
    assert.ok(installed.ok, installed.stderr);
  };
  for (const ns of namespaces) assert.ok((await c.kubectl(['create', 'namespace', ns])).ok);
  return {
    kube,
    aws,
    faults,
    admission,
    c,
    calls,
    install,
    stop: async () => {
      await admission.stop();
      await faults.stop();
      await Promise.allSettled([kube.stop(), aws.stop()]);
    },
  };
}

export function podManifest(namespace: string, name: string, annotations: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, annotations: { 'example.com/team': namespace, ...annotations } },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0.0' }] },
  });
}

export const roleAnnotation = (role: string) => ({ [ROLE_ANNOTATION]: role });
