import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { lampScores } from './lamp';
import { lampStrategy, magnitudeGlobalStrategy, strategyById } from './registry';
import type { UnstructuredPlan } from './strategy';
import { handLayer, handMLP, randomMLP, zeroCount } from '../../../test/kits/prune';

/**
 * h1 |w| = 3, 1, 4, 2 (squares 9, 1, 16, 4): ascending 1, 2, 3, 4 with suffix sums 30, 29, 25, 16,
 * so LAMP scores (flat order) 9/25, 1/30, 1, 4/29. h2 |w| = .125, .5, .125, .125 (squares 1/64 x3,
 * 16/64): the tied .125s in flat order 0, 2, 3 have suffixes 19/64, 18/64, 17/64, so scores
 * 1/19, 1, 1/18, 1/17. Dyadic values: every number here is exact in float32.
 */
function model(): MLP {
  return handMLP('lamp-hand', [
    handLayer('h1', 2, 2, [-3, 1, 4, -2]),
    handLayer('h2', 2, 2, [0.125, -0.5, -0.125, 0.125]),
    handLayer('out', 2, 1, [1, 1], 'linear'),
  ]);
}

const close = (actual: ArrayLike<number>, expected: number[], tol: number) =>
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= tol, `[${i}]: ${actual[i]} vs ${e}`));

/** LAMP by its definition, O(n^2): w_u^2 over the squares of u and every weight after u in (|w|, index) order. */
function bruteLamp(w: Float32Array): number[] {
  return Array.from(w, (wu, u) => {
    let denominator = 0;
    w.forEach((wv, v) => {
      if (Math.abs(wv) > Math.abs(wu) || (Math.abs(wv) === Math.abs(wu) && v >= u)) denominator += wv * wv;
    });
    return (wu * wu) / denominator;
  });
}

describe('lamp', () => {
  it('scores a layer by hand, ties in |w| broken by flat index', () => {
    close(lampScores(model().layers[0].weights), [9 / 25, 1 / 30, 1, 4 / 29], 1e-15);
    close(lampScores(model().layers[1].weights), [1 / 19, 1, 1 / 18, 1 / 17], 1e-15);
    close(lampScores(new Float32Array(3)), [0, 0, 0], 0);
  });

  it('splits a global sparsity between layers unlike global magnitude, as computed by hand', () => {
    // Four of eight by LAMP: 1/30 (h1), then 1/19, 1/18, 1/17 (h2), before 4/29: h1 loses 1, h2 loses 3.
    const plan = lampStrategy.plan(model(), { sparsity: 0.5 }) as UnstructuredPlan;
    assert.deepEqual([...plan.masks[0]!], [1, 0, 1, 1]);
    assert.deepEqual([...plan.masks[1]!], [0, 1, 0, 0]);
    assert.equal(plan.masks[2], null);
    assert.deepEqual(plan.notes, []);
    // Global magnitude empties h2, whose weights are all below h1's.
    const magnitude = magnitudeGlobalStrategy.plan(model(), { sparsity: 0.5 }) as UnstructuredPlan;
    assert.deepEqual([zeroCount(magnitude.masks[0]), zeroCount(magnitude.masks[1])], [0, 4]);
  });

  it("keeps each layer's largest weight (score 1) until only those are left, and says when a share removes them", () => {
    // Six of eight: h1 also loses 4/29 and 9/25; each layer keeps exactly its largest weight.
    const six = lampStrategy.plan(model(), { sparsity: 0.75 }) as UnstructuredPlan;
    assert.deepEqual([...six.masks[0]!], [0, 0, 1, 0]);
    assert.deepEqual([...six.masks[1]!], [0, 1, 0, 0]);
    assert.deepEqual(six.notes, []);
    const magnitude = magnitudeGlobalStrategy.plan(model(), { sparsity: 0.75 }) as UnstructuredPlan;
    assert.deepEqual([...magnitude.masks[1]!], [0, 0, 0, 0]);
    // Seven: the tied 1s go lower layer first, so h1 empties; the plan says so.
    const seven = lampStrategy.plan(model(), { sparsity: 0.875 }) as UnstructuredPlan;
    assert.deepEqual([zeroCount(seven.masks[0]), zeroCount(seven.masks[1])], [4, 3]);
    assert.deepEqual(seven.notes, [
      'lamp: removing 7 of 8 weights leaves fewer than one per layer, so the largest weight (score 1) of some layers goes too',
    ]);
  });

  it('matches the definition on random layers, and the global ranking of those scores', () => {
    const mlp = randomMLP([30, 20, 10, 5], 'relu', 11);
    // Ties in |w| across signs and positions.
    mlp.layers[1].weights.set([0.05, -0.05, 0.05, 0.05, -0.05], 17);
    const brute = mlp.layers.map((l) => bruteLamp(l.weights));
    mlp.layers.forEach((l, i) => {
      const scores = lampScores(l.weights);
      close(scores, brute[i], 1e-12);
      const largest = l.weights.reduce((b, w, k) => (Math.abs(w) > Math.abs(l.weights[b]) ? k : b), 0);
      assert.equal(scores[largest], 1);
      assert.ok(scores.every((s, k) => k === largest || s < 1));
    });
    const plan = lampStrategy.plan(mlp, { sparsity: 0.8, includeOutput: true }) as UnstructuredPlan;
    // Independent global ranking: sort (score, layer, index) and take round(.8 * all).
    const pooled = brute.flatMap((s, l) => s.map((v, i) => ({ v, l, i })));
    pooled.sort((a, b) => a.v - b.v || a.l - b.l || a.i - b.i);
    const k = Math.round(0.8 * pooled.length);
    const expected = mlp.layers.map((l) => new Array<number>(l.weights.length).fill(1));
    pooled.slice(0, k).forEach((p) => (expected[p.l][p.i] = 0));
    mlp.layers.forEach((_, l) => assert.deepEqual([...plan.masks[l]!], expected[l], `layer ${l}`));
    assert.ok(
      plan.masks.every((m) => zeroCount(m) < m!.length),
      'every layer keeps a weight',
    );
  });

  it('takes one sparsity and no pattern, and is registered', () => {
    assert.throws(
      () => lampStrategy.plan(model(), { sparsity: [0.5, 0.5] }),
      (e: Error) => e instanceof PruneScopeError && /lamp takes one sparsity: the share of all prunable weights/.test(e.message),
    );
    assert.throws(() => lampStrategy.plan(model(), { sparsity: 0.5, pattern: { n: 2, m: 4 } }), /lamp cannot take an N:M pattern/);
    const s = strategyById('lamp');
    assert.deepEqual([s.label, s.kind, s.scope, s.needsSamples], ['LAMP (layer-adaptive magnitude)', 'unstructured', 'global', false]);
  });
});
