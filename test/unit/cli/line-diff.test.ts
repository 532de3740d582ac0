import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffLines } from '../../../cli/src/plan/line-diff.ts';

describe('diffLines', () => {
  it('marks only the inserted and removed lines', () => {
    const out = diffLines(['{', '"a",', '"b"', '}'], ['{', '"a",', '"c",', '"b"', '}']);
    assert.deepEqual(out.filter((l) => l.op !== ' '), [{ op: '+', text: '"c",' }]);
    assert.equal(out.length, 5);
  });

  it('shows a replaced line as one removal and one insertion', () => {
    assert.deepEqual(diffLines(['x', 'y'], ['x', 'z']), [{ op: ' ', text: 'x' }, { op: '-', text: 'y' }, { op: '+', text: 'z' }]);
  });

  it('turns an empty before into all insertions', () => {
    assert.deepEqual(diffLines([], ['a', 'b']).map((l) => l.op), ['+', '+']);
  });
});
