// The namespace index keeps, per namespace, only the annotations a decision or a revocation reads:
// 10,000 namespaces with kubectl's last-applied-configuration must not cost the proxy megabytes,
// and a change to such an annotation is no change to any pod's decision.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NamespaceIndex, type NamespaceChange } from '../../../proxy/src/k8s/namespace-index.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

describe('namespace index', () => {
  it('keeps only the iam.amazonaws.com/ and podiam.io/ annotations of a namespace', () => {
    const index = new NamespaceIndex();
    index.replaceAll([
      {
        metadata: {
          name: 'orders',
          annotations: { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]', 'podiam.io/sessions-revoked-at': '2026-11-27T12:00:00Z', [LAST_APPLIED]: 'x'.repeat(4096), 'team.example/owner': 'a' },
        },
      },
      { metadata: { name: 'plain', annotations: { [LAST_APPLIED]: 'y'.repeat(4096) } } },
    ]);
    assert.deepEqual(index.facts('orders').annotations, { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]', 'podiam.io/sessions-revoked-at': '2026-11-27T12:00:00Z' });
    assert.deepEqual(index.facts('plain').annotations, {});
    assert.notEqual(index.get('plain'), undefined, 'a namespace without such annotations is still known');
  });

  it('reports no change when only other annotations change, and a change when a podiam one does', () => {
    const index = new NamespaceIndex();
    index.replaceAll([{ metadata: { name: 'orders', annotations: { [LAST_APPLIED]: 'v1' } } }]);
    const changes: NamespaceChange[] = [];
    index.onChange((c) => changes.push(c));
    index.apply('MODIFIED', { metadata: { name: 'orders', annotations: { [LAST_APPLIED]: 'v2' } } });
    assert.equal(changes.length, 0);
    index.apply('MODIFIED', { metadata: { name: 'orders', annotations: { [LAST_APPLIED]: 'v3', 'iam.amazonaws.com/permitted': '^arn:aws:iam::123456789012:role/x$' } } });
    assert.equal(changes.length, 1);
  });
});
