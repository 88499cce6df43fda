import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { smallestMagnitudeMask } from './magnitude';
import { seededRandom } from './rng';

/** The definition: sort by |w|, ties by index, prune the first k. */
function bySorting(w: Float32Array, k: number): Uint8Array {
  const idx = Array.from({ length: w.length }, (_, i) => i);
  idx.sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
  const mask = new Uint8Array(w.length).fill(1);
  for (const i of idx.slice(0, k)) mask[i] = 0;
  return mask;
}

describe('smallestMagnitudeMask (radix select)', () => {
  it('prunes exactly the weights a full sort would, with ties, signed zeros and subnormals', () => {
    const next = seededRandom(7);
    for (const n of [1, 2, 17, 1000, 70_001]) {
      const w = new Float32Array(n).map(() => next() - 0.5);
      for (let i = 0; i < n; i += 7) w[i] = i % 2 ? 0.25 : -0.25;
      for (let i = 0; i < n; i += 11) w[i] = i % 2 ? 0 : -0;
      for (let i = 3; i < n; i += 13) w[i] = (i % 2 ? 1 : -1) * 1e-42;
      for (const k of [0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 1, n]) {
        assert.deepEqual(smallestMagnitudeMask(w, k), bySorting(w, k), `n=${n} k=${k}`);
      }
    }
  });

  it('reads a weights view that does not start at the buffer start', () => {
    const buf = new Float32Array([9, -3, 1, -2, 0.5]);
    const view = buf.subarray(1);
    assert.deepEqual([...smallestMagnitudeMask(view, 2)], [1, 0, 1, 0]);
  });
});
