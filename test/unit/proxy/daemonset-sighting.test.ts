// What the proxy remembers of its own DaemonSet for the shutdown decision (rule-on-shutdown.ts):
// `helm uninstall` deletes the DaemonSet and then the RBAC the proxy reads it with, so the deletion
// it saw on its watch must survive a relist that fails or comes back empty.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DaemonSetSighting, decideRuleOnShutdown } from '../../../proxy/src/rule-on-shutdown.ts';

const ds = (extra: Record<string, unknown> = {}) => ({ metadata: { name: 'podiam', ...extra } });

describe('the DaemonSet sighting behind the shutdown decision', () => {
  it('is unknown until the first list, so the rules are kept', () => {
    const s = new DaemonSetSighting('podiam');
    assert.equal(s.state, 'unknown');
    assert.equal(decideRuleOnShutdown(s.state).action, 'keep');
  });

  it('sees the DaemonSet present after a list that holds it, and keeps the rules (a rollout)', () => {
    const s = new DaemonSetSighting('podiam');
    s.beginRelist();
    s.addListed([ds()]);
    s.endRelist();
    s.apply('MODIFIED', ds({ generation: 2 }));
    assert.equal(s.state, 'present');
    assert.equal(decideRuleOnShutdown(s.state).action, 'keep');
  });

  it('remembers a DELETED event through a broken watch, and the rules are removed', () => {
    const s = new DaemonSetSighting('podiam');
    s.beginRelist();
    s.addListed([ds()]);
    s.endRelist();
    s.apply('DELETED', ds());
    s.markUnsynced();
    s.beginRelist();
    assert.equal(s.state, 'gone');
    assert.equal(decideRuleOnShutdown(s.state).action, 'remove');
  });

  it('sees a deletion in progress (deletionTimestamp) as deleting', () => {
    const s = new DaemonSetSighting('podiam');
    s.apply('MODIFIED', ds({ deletionTimestamp: '2026-11-30T16:00:00Z' }));
    assert.equal(s.state, 'deleting');
  });

  it('takes a complete list without the DaemonSet as gone, and a recreated one as present again', () => {
    const s = new DaemonSetSighting('podiam');
    s.beginRelist();
    s.addListed([]);
    s.endRelist();
    assert.equal(s.state, 'gone');
    s.apply('ADDED', ds());
    assert.equal(s.state, 'present');
  });

  it('ignores other DaemonSets', () => {
    const s = new DaemonSetSighting('podiam');
    s.beginRelist();
    s.addListed([ds()]);
    s.endRelist();
    s.apply('DELETED', { metadata: { name: 'other' } });
    assert.equal(s.state, 'present');
  });
});
