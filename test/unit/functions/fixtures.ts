// Shared fixtures for the functions' tests: a small, realistic bundle (two namespaces, three services).
import type { Bundle, Guardrails, ServicePolicy } from '../../../iam-model/src/bundle/bundle.ts';
import { bundleHash } from '../../../iam-model/src/bundle/canonical-json.ts';

export const ACCOUNT_ID = '123456789012';
export const PROXY_ROLE = `arn:aws:iam::${ACCOUNT_ID}:role/podiam-prod-node-proxy`;
/** A customer managed policy the harness creates in moto (moto does not load AWS managed policies). */
export const XRAY_POLICY_ARN = `arn:aws:iam::${ACCOUNT_ID}:policy/podiam-test-xray`;

export function service(namespace: string, name: string, extra: Partial<ServicePolicy> = {}): ServicePolicy {
  return {
    namespace,
    service: name,
    file: `policies/${namespace}/${name}.json`,
    policy: {
      Version: '2012-10-17',
      Statement: [{ Sid: 'Main', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${namespace}-${name}/*`] }],
    },
    managedPolicyArns: [],
    ...extra,
  };
}

/** A bundle as `podiam publish` writes it: services sorted, content hash over guardrails and services. */
export function bundleOf(services: ServicePolicy[], guardrails: Partial<Guardrails> = {}): Bundle {
  const g: Guardrails = { deniedActions: [], allowedAccounts: [], limits: { maxInlinePolicyChars: 10240, maxTrustPolicyChars: 2048, maxManagedPolicies: 10 }, ...guardrails };
  const sorted = [...services].sort((a, b) => `${a.namespace}/${a.service}`.localeCompare(`${b.namespace}/${b.service}`));
  return { schemaVersion: 1, hash: bundleHash({ guardrails: g, services: sorted }), guardrails: g, services: sorted };
}

export const exampleBundle = (): Bundle =>
  bundleOf([
    service('orders', 'reader'),
    service('orders', 'writer', {
      policy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT_ID}:table/orders` }],
      },
      managedPolicyArns: [XRAY_POLICY_ARN],
      maxSessionDuration: 7200,
    }),
    service('dns', 'updater', {
      policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'route53:ChangeResourceRecordSets', Resource: 'arn:aws:route53:::hostedzone/Z123' }] },
    }),
  ]);
