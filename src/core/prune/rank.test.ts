import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { weightMagnitudes } from './magnitude';
import { nmMask, nmRemovedCount, pickNext, rankForRemoval, removalMasks } from './rank';
import { seededRandom } from './rng';
import type { RemoveFirst } from './strategy';

/** The tie rule by its definition: sort by score (NaN last, -0 = +0), ties by index, take the first k. */
function bySorting(scores: ArrayLike<number>, k: number, removeFirst: RemoveFirst): Uint8Array {
  const key = (i: number) => (Number.isNaN(scores[i]) ? Infinity : removeFirst === 'lowest' ? scores[i] : -scores[i]);
  const nan = (i: number) => (Number.isNaN(scores[i]) ? 1 : 0);
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => nan(a) - nan(b) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a - b));
  const mask = new Uint8Array(scores.length).fill(1);
  for (const i of idx.slice(0, k)) mask[i] = 0;
  return mask;
}

describe('the tie rule', () => {
  it('ranks by score, equal scores (and -0, +0) lowest index first, NaN last, in both directions', () => {
    const scores = [Number.NaN, 0, -0, -1, 2, 2];
    assert.deepEqual(rankForRemoval(scores, 6, { removeFirst: 'lowest' }), [3, 1, 2, 4, 5, 0]);
    assert.deepEqual(rankForRemoval(scores, 6, { removeFirst: 'highest' }), [4, 5, 1, 2, 3, 0]);
    assert.deepEqual(rankForRemoval(scores, 2, { removeFirst: 'highest' }), [4, 5]);
    // A refused candidate is skipped and the next one taken.
    assert.deepEqual(
      rankForRemoval(scores, 3, { removeFirst: 'lowest' }, (i) => i !== 1),
      [3, 2, 4],
    );
  });

  it('with a tolerance, a later candidate must be better than the best so far by more than it', () => {
    const scores = [1, 1 + 5e-12, 0.5, 1 + 2e-11];
    const rule = { removeFirst: 'highest', tieTolerance: 1e-11 } as const;
    assert.equal(pickNext(scores, new Uint8Array(4).fill(1), rule), 3);
    assert.deepEqual(rankForRemoval(scores, 4, rule), [3, 0, 1, 2]);
    assert.deepEqual(rankForRemoval(scores, 4, { removeFirst: 'highest' }), [3, 1, 0, 2]);
    assert.equal(pickNext(scores, new Uint8Array(4), rule), -1);
  });
});

describe('weight selection (the k-th key by quickselect)', () => {
  it('prunes exactly the weights a full sort of |w| would, with ties, signed zeros and subnormals', () => {
    const next = seededRandom(7);
    for (const n of [1, 2, 17, 1000, 70_001]) {
      const w = new Float32Array(n).map(() => next() - 0.5);
      for (let i = 0; i < n; i += 7) w[i] = i % 2 ? 0.25 : -0.25;
      for (let i = 0; i < n; i += 11) w[i] = i % 2 ? 0 : -0;
      for (let i = 3; i < n; i += 13) w[i] = (i % 2 ? 1 : -1) * 1e-42;
      const abs = weightMagnitudes(w);
      for (const k of [0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 1, n]) {
        assert.deepEqual(removalMasks([abs], k, 'lowest')[0], bySorting(abs, k, 'lowest'), `n=${n} k=${k}`);
      }
    }
  });

  it('orders signed scores, infinities and NaN like the rule, in both directions and across layers', () => {
    const next = seededRandom(8);
    const special = [Number.NaN, Infinity, -Infinity, 0, -0, 1e-310, -1e-310, 5e-324, 3, -3];
    const layers = [5000, 1, 3000].map((n) =>
      Float64Array.from({ length: n }, () =>
        next() < 0.2 ? special[Math.floor(next() * special.length)] : Math.round((next() - 0.5) * 40) / 8,
      ),
    );
    // NaNs whose payload is in the low 32 bits alone (a selection that read only the high bits
    // would take them for infinities), written through the bits: a JS array would store them as
    // the one canonical NaN.
    const bits = new BigUint64Array(layers[0].buffer);
    for (let i = 10; i < 5000; i += 500) bits[i] = i % 1000 ? 0x7ff0000000000001n : 0xfff0000000000001n;
    const all = new Float64Array(layers.reduce((s, a) => s + a.length, 0));
    layers.reduce((p, a) => (all.set(a, p), p + a.length), 0);
    for (const removeFirst of ['lowest', 'highest'] as const) {
      for (const k of [0, 1, 777, 4000, 7999, 8001]) {
        const expected = bySorting(all, k, removeFirst);
        assert.deepEqual(Buffer.concat(removalMasks(layers, k, removeFirst)), Buffer.from(expected), `${removeFirst} k=${k}`);
      }
    }
  });

  it('reads a weights view that does not start at the buffer start', () => {
    const view = new Float32Array([9, -3, 1, -2, 0.5]).subarray(1);
    assert.deepEqual([...removalMasks([weightMagnitudes(view)], 2, 'lowest')[0]], [1, 0, 1, 0]);
  });
});

describe('N:M patterns', () => {
  it('keeps the N best of every M consecutive inputs of each unit, on a hand-worked layer', () => {
    // 6 inputs x 2 units, [in, out] row-major. With 2:4 by |w|, per unit: inputs 0-3 lose their
    // two smallest, inputs 4-5 (a group of 2 <= N) keep both.
    //   u0: |.9 .2 .5 .1| -> inputs 1 and 3 go.
    //   u1: |.1 .4 .4 .8| -> input 0 goes, then of the tied .4s the lower input (1).
    const w = Float32Array.from([0.9, -0.1, -0.2, 0.4, 0.5, 0.4, 0.1, -0.8, 0.3, 0, -0.7, 0.2]);
    const mask = nmMask(weightMagnitudes(w), 6, 2, { n: 2, m: 4 }, 'lowest');
    assert.deepEqual([...mask], [1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1]);
    assert.equal(nmRemovedCount(6, 2, { n: 2, m: 4 }), 4);
    // 1:2 keeps the larger of each pair of inputs: u0 keeps inputs 0, 2, 5; u1 keeps 1, 3, 5.
    assert.deepEqual([...nmMask(weightMagnitudes(w), 6, 2, { n: 1, m: 2 }, 'lowest')], [1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1]);
    // Highest first: the N lowest stay.
    assert.deepEqual([...nmMask(weightMagnitudes(w), 6, 2, { n: 3, m: 4 }, 'highest')], [0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1]);
  });
});
