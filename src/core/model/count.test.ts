import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countNonzero } from './count';

describe('countNonzero', () => {
  it('counts by hand, with -0, NaN and Infinity', () => {
    assert.equal(countNonzero(new Float32Array([0, 1, -0, 2.5, 0, -3])), 3);
    // NaN and Infinity are not zero; -0 is.
    assert.equal(countNonzero(new Float32Array([NaN, Infinity, -0, -Infinity])), 3);
    assert.equal(countNonzero(new Uint8Array([1, 0, 1, 1, 0])), 3);
    assert.equal(countNonzero([]), 0);
  });
});
