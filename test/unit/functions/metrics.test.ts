import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emfLine } from '../../../functions/lib/metrics.ts';

describe('CloudWatch metrics as embedded metric format lines', () => {
  it('writes one JSON object that CloudWatch reads as a Count metric in namespace podiam with its dimensions', () => {
    const line = emfLine('BundleRefused', 1, { Function: 'reconcile' }, { findingCodes: ['PODIAM_CHECK_GUARDRAIL_ACTION'] }, 1700000000000);
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), {
      findingCodes: ['PODIAM_CHECK_GUARDRAIL_ACTION'],
      Function: 'reconcile',
      BundleRefused: 1,
      _aws: { Timestamp: 1700000000000, CloudWatchMetrics: [{ Namespace: 'podiam', Dimensions: [['Function']], Metrics: [{ Name: 'BundleRefused', Unit: 'Count' }] }] },
    });
  });
});
