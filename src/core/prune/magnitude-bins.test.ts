import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keptAndPrunedCounts, magnitudeBins } from './magnitude-bins';

describe('magnitude bins', () => {
  it('bins |w| on equal widths from 0 to the largest, the largest in the last bin', () => {
    const w = Float32Array.of(0, -0.25, 0.5, -1, 0.74, 0.76);
    const { edges, bin } = magnitudeBins(w, 4);
    assert.deepEqual(edges, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual([...bin], [0, 1, 2, 3, 2, 3]);
  });

  it('counts kept and pruned weights apart, every weight once', () => {
    const w = Float32Array.of(0.1, -0.9, 0.3, 0.6, -0.2, 1);
    const keep = Uint8Array.of(1, 1, 0, 1, 0, 1);
    const c = keptAndPrunedCounts(w, keep, 2);
    assert.deepEqual(c.kept, [1, 3]);
    assert.deepEqual(c.pruned, [2, 0]);
    assert.deepEqual(keptAndPrunedCounts(w, null, 2).kept, [3, 3]);
    assert.deepEqual([...magnitudeBins(w, 2).counts], [3, 3]);
  });

  it('takes kept counts per bin a caller has, and derives the pruned ones from them', () => {
    const w = Float32Array.of(0.1, -0.9, 0.3, 0.6, -0.2, 1);
    const c = keptAndPrunedCounts(w, Uint8Array.of(0, 0, 0, 0, 0, 0), 2, Int32Array.of(1, 3));
    assert.deepEqual(c.kept, [1, 3]);
    assert.deepEqual(c.pruned, [2, 0]);
  });

  it('reuses the bins of the same array and bin count, and spans 0-1 for all-zero weights', () => {
    const w = new Float32Array(5);
    assert.equal(magnitudeBins(w, 3), magnitudeBins(w, 3));
    assert.notEqual(magnitudeBins(w, 3), magnitudeBins(w, 4));
    assert.deepEqual(magnitudeBins(w, 2).edges, [0, 0.5, 1]);
  });
});
