import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allFinite, countNonzero } from './count';

describe('countNonzero', () => {
  it('counts by hand, with -0, NaN and Infinity', () => {
    assert.equal(countNonzero(new Float32Array([0, 1, -0, 2.5, 0, -3])), 3);
    // NaN and Infinity are not zero; -0 is.
    assert.equal(countNonzero(new Float32Array([NaN, Infinity, -0, -Infinity])), 3);
    assert.equal(countNonzero(new Uint8Array([1, 0, 1, 1, 0])), 3);
    assert.equal(countNonzero([]), 0);
  });

  it('counts a range from..to-1 only', () => {
    const a = new Uint8Array([1, 0, 1, 1, 0, 1]);
    assert.equal(countNonzero(a, 1, 4), 2);
    assert.equal(countNonzero(a, 5), 1);
    assert.equal(countNonzero(a, 2, 2), 0);
  });
});

describe('allFinite', () => {
  it('finds one NaN or infinity in any lane and in the tail, and passes finite extremes', () => {
    // 11 values: two rounds of four lanes and a tail of three.
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (let at = 0; at < 11; at++) {
        const d = new Float64Array(11).fill(1);
        d[at] = bad;
        assert.equal(allFinite(d), false, `${bad} at ${at}`);
      }
    }
    assert.equal(allFinite(new Float64Array([Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -0, 0])), true);
    assert.equal(allFinite(new Float32Array([3.4e38, -3.4e38, 1e-45])), true);
    assert.equal(allFinite([]), true);
  });
});
