import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { weightMagnitudes, weightMagnitude } from './magnitude';
import { randomUnits } from './random';
import { randomWeights } from './random-weights';
import { rankForRemoval } from './rank';
import { seededRandom } from './rng';
import { selectPlan, type SelectionParts } from './select';
import type { LayerOrder, LayerScores, OrderingCriterion, ScoringCriterion, StructuredPlan, UnstructuredPlan } from './strategy';
import { unitNorm } from './unit-norm';
import { handLayer, handMLP, randomMLP, zeroCount } from '../../../test/kits/prune';

/** h1: 6 inputs x 2 units (the N:M layer of rank.test.ts); h2: 2 x 4 (unit L1 norms 1, .3, 1, 1); out. */
function model(): MLP {
  return handMLP('sel', [
    handLayer('h1', 6, 2, [0.9, -0.1, -0.2, 0.4, 0.5, 0.4, 0.1, -0.8, 0.3, 0, -0.7, 0.2]),
    handLayer('h2', 2, 4, [0.5, 0.1, -0.5, 1, -0.5, 0.2, 0.5, 0]),
    handLayer('out', 4, 1, [1, 1, 1, 1], 'linear'),
  ]);
}

const magnitude: SelectionParts = { id: 'magnitude', criterion: weightMagnitude, scope: 'layer' };

/** A criterion is one small piece of scoring: here, units by |bias| (all zero: ties everywhere). */
const byBias: ScoringCriterion = {
  gives: 'scores',
  target: 'units',
  removeFirst: 'lowest',
  needsSamples: false,
  score: ({ mlp, layers, notes }) => {
    notes.push('bias: every bias is 0');
    return new Map(layers.map((l): [number, LayerScores] => [l, { scores: weightMagnitudes(mlp.layers[l].bias!) }]));
  },
};

function ordering(order: (units: number) => number[]): OrderingCriterion {
  return {
    gives: 'order',
    target: 'units',
    needsSamples: false,
    order: ({ mlp, layers }) => new Map(layers.map((l): [number, LayerOrder] => [l, { order: order(mlp.layers[l].units) }])),
  };
}

describe('the selector', () => {
  it('applies an N:M pattern to weight scores, per layer, and says when it differs from the share', () => {
    const plan = selectPlan(magnitude, model(), { sparsity: [0.5, 0], pattern: { n: 2, m: 4 } }) as UnstructuredPlan;
    assert.deepEqual([...plan.masks[0]!], [1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1]);
    assert.equal(plan.masks[1], null, 'a layer with share 0 is untouched');
    assert.deepEqual(plan.notes, ['layer h1: the 2:4 pattern zeroes 33% of its weights (50% asked)']);
    assert.deepEqual(plan.requested, [0.5, 0, 0]);
    const exact = selectPlan(magnitude, model(), { sparsity: 0.5, pattern: { n: 1, m: 2 } }) as UnstructuredPlan;
    assert.deepEqual(exact.notes, []);
    assert.equal(zeroCount(exact.masks[1]), 4);
  });

  it('refuses N:M patterns where they mean nothing, before scoring', () => {
    const refuse = (parts: SelectionParts, pattern: { n: number; m: number }, re: RegExp) =>
      assert.throws(
        () => selectPlan(parts, model(), { sparsity: 0.5, pattern }),
        (e: Error) => e instanceof PruneScopeError && re.test(e.message),
      );
    refuse({ id: 'unit-l1', criterion: unitNorm(1), scope: 'layer' }, { n: 2, m: 4 }, /unit-l1 cannot take an N:M pattern/);
    refuse({ ...magnitude, id: 'magnitude-global', scope: 'global' }, { n: 2, m: 4 }, /magnitude-global cannot take an N:M pattern/);
    refuse({ id: 'random', criterion: randomUnits, scope: 'layer' }, { n: 2, m: 4 }, /cannot take an N:M pattern/);
    refuse(magnitude, { n: 4, m: 4 }, /N:M pattern 4:4 needs whole numbers with 1 <= N < M/);
    refuse(magnitude, { n: 1.5, m: 4 }, /needs whole numbers/);
  });

  it('ranks units globally (lower layer first among ties) and never empties a layer', () => {
    const global: SelectionParts = { id: 'unit-l1-global', criterion: unitNorm(1), scope: 'global' };
    const mlp = model();
    // L1 norms: h1 = 2.7, 1.9; h2 = 1, .3, 1, 1. Half of 6 units: .3, then the 1s of h2 by index.
    const half = selectPlan(global, mlp, { sparsity: 0.5 }) as StructuredPlan;
    assert.deepEqual(half.order, [[], [1, 0, 2], []]);
    assert.deepEqual(half.remove, [[], [0, 1, 2], []]);
    assert.ok(Math.abs(half.scores![0]![0] - 2.7) < 1e-6);
    // All of them: h2 stops at its last unit (of the tied 1s, unit 3), h1 loses unit 1 (1.9) and keeps 0.
    const all = selectPlan(global, mlp, { sparsity: 1 }) as StructuredPlan;
    assert.deepEqual(all.order, [[1], [1, 0, 2], []]);
    assert.deepEqual(all.notes, [
      'layer h2: the global ranking would remove all 4 units; kept 1',
      'layer h1: the global ranking would remove all 2 units; kept 1',
    ]);
    assert.throws(
      () => selectPlan(global, mlp, { sparsity: [0.5, 0.5] }),
      /unit-l1-global takes one sparsity: the share of all prunable units/,
    );
  });

  it("lists the criterion's notes before its own, and breaks all-equal scores by index", () => {
    const plan = selectPlan({ id: 'bias', criterion: byBias, scope: 'layer' }, model(), { sparsity: 1 }) as StructuredPlan;
    assert.deepEqual(plan.order, [[0], [0, 1, 2], []]);
    assert.deepEqual(plan.notes, [
      'bias: every bias is 0',
      'layer h1: 100% would remove all 2 units; kept 1',
      'layer h2: 100% would remove all 4 units; kept 1',
    ]);
  });

  it("takes an ordering criterion's order up to the rounded count, and checks it", () => {
    const reversed = ordering((units) => Array.from({ length: units }, (_, i) => units - 1 - i));
    const plan = selectPlan({ id: 'rev', criterion: reversed, scope: 'layer' }, model(), { sparsity: [0.5, 0.6] }) as StructuredPlan;
    assert.deepEqual(plan.order, [[1], [3, 2], []]);
    assert.deepEqual(plan.scores, [null, null, null]);
    const bad = (order: (units: number) => number[], re: RegExp) =>
      assert.throws(() => selectPlan({ id: 'bad', criterion: ordering(order), scope: 'layer' }, model(), { sparsity: 0.6 }), re);
    bad(() => [0], /bad: layer 1: order has 1 entries, 2 are removed/);
    bad((units) => (units === 4 ? [1, 1] : [0]), /order names 1 twice or out of range/);
    bad(() => [7, 8], /order names 7 twice or out of range/);
    assert.throws(
      () => selectPlan({ id: 'rev', criterion: reversed, scope: 'global' }, model(), { sparsity: 0.5 }),
      /rev orders each layer itself, so it cannot be ranked globally/,
    );
  });

  it('checks what a scoring criterion returns', () => {
    const short: ScoringCriterion = {
      ...byBias,
      score: ({ layers }) => new Map(layers.map((l): [number, LayerScores] => [l, { scores: new Float64Array(1) }])),
    };
    assert.throws(
      () => selectPlan({ id: 'short', criterion: short, scope: 'layer' }, model(), { sparsity: 0.5 }),
      /short: layer 0 got 1 scores for 2 units/,
    );
    const noisy: ScoringCriterion = { ...weightMagnitude, tieTolerance: 1e-9 };
    assert.throws(
      () => selectPlan({ id: 'noisy', criterion: noisy, scope: 'layer' }, model(), { sparsity: 0.5 }),
      /tie tolerance .* unit scores, not weights/,
    );
  });
});

describe("the selector's 'output' scope", () => {
  const perUnit: SelectionParts = { id: 'per-unit', criterion: weightMagnitude, scope: 'output' };

  it("removes round(share * inputs) of each unit's incoming weights, lowest input index first among ties", () => {
    const plan = selectPlan(perUnit, model(), { sparsity: 0.5 }) as UnstructuredPlan;
    // h1 unit 0 |w| by input .9 .2 .5 .1 .3 .7 loses i3, i1, i4; unit 1 .1 .4 .4 .8 0 .2 loses i4, i0, i5.
    assert.deepEqual([...plan.masks[0]!], [1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0]);
    // h2 units (.5, .5), (.1, .2), (.5, .5), (1, 0): the tied .5s lose input 0.
    assert.deepEqual([...plan.masks[1]!], [0, 0, 0, 1, 1, 1, 1, 0]);
    assert.equal(plan.masks[2], null);
    assert.deepEqual(plan.notes, []);
    // Ranked over the whole layer, h2 loses 0, .1, .2 and the first .5 instead: unit 1 loses both weights, unit 2 none.
    const layerWise = selectPlan(magnitude, model(), { sparsity: 0.5 }) as UnstructuredPlan;
    assert.deepEqual([...layerWise.masks[1]!], [0, 0, 1, 1, 1, 0, 1, 0]);
    // Four of six inputs: unit 1 of h1 then meets the tied .4s of i1 and i2 and loses i1 (flat 3).
    const four = selectPlan(perUnit, model(), { sparsity: [4 / 6, 0] }) as UnstructuredPlan;
    assert.deepEqual([...four.masks[0]!], [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0]);
  });

  it('tells the criterion units times the per-unit count, and notes shares further off than rounding', () => {
    let counts: number[] = [];
    const recording: ScoringCriterion = {
      ...weightMagnitude,
      score: (request) => {
        counts = [...request.counts];
        return weightMagnitude.score(request);
      },
    };
    const parts: SelectionParts = { id: 'per-unit', criterion: recording, scope: 'output' };
    // h1: round(1.2) = 1 of 6 per unit, 2 of 12 weights (2.4 asked: within rounding); h2: round(.5) = 1 of 2, 4 of 8 (2 asked).
    const plan = selectPlan(parts, model(), { sparsity: [0.2, 0.25] }) as UnstructuredPlan;
    assert.deepEqual(counts, [2, 4, 0]);
    assert.deepEqual([zeroCount(plan.masks[0]), zeroCount(plan.masks[1])], [2, 4]);
    assert.deepEqual(plan.notes, ['layer h2: 1 of 2 inputs per unit zeroes 50% of its weights (25% asked)']);
    const low = selectPlan(parts, model(), { sparsity: 0.1 }) as UnstructuredPlan;
    assert.deepEqual(counts, [2, 0, 0]);
    assert.deepEqual([zeroCount(low.masks[0]), zeroCount(low.masks[1])], [2, 0]);
    assert.deepEqual(low.notes, [
      'layer h1: 1 of 6 inputs per unit zeroes 17% of its weights (10% asked)',
      'layer h2: 0 of 2 inputs per unit zeroes 0% of its weights (10% asked)',
    ]);
    // 706 of 784 inputs per unit is 204.8 weights more than 90% of the layer, but still 90%: no note.
    const wide = selectPlan(parts, randomMLP([784, 512, 2], 'relu', 1), { sparsity: 0.9 }) as UnstructuredPlan;
    assert.deepEqual(counts, [706 * 512, 0]);
    assert.deepEqual(wide.notes, []);
  });

  it("follows rank.ts's rule in each column: either direction, ties, -0 and +0, NaN last", () => {
    const next = seededRandom(3);
    const pool = [0.5, -0, 0, 0.25, Number.NaN, 1, 0.25, -2];
    // Small columns, and long ones with few distinct values and random ones, for the selection.
    for (const [inputs, distinct] of [
      [9, true],
      [257, true],
      [257, false],
    ] as const) {
      const mlp = randomMLP([inputs, 7, 2], 'relu', 5);
      const given = Float64Array.from({ length: inputs * 7 }, () => (distinct ? pool[Math.floor(next() * pool.length)] : next() - 0.5));
      for (const removeFirst of ['lowest', 'highest'] as const) {
        const fixed: ScoringCriterion = {
          gives: 'scores',
          target: 'weights',
          removeFirst,
          needsSamples: false,
          score: ({ layers }) => new Map(layers.map((l): [number, LayerScores] => [l, { scores: given }])),
        };
        for (const share of [1 / 9, 4 / 9, 0.5, 8 / 9, 1]) {
          const plan = selectPlan({ id: 'fixed', criterion: fixed, scope: 'output' }, mlp, { sparsity: [share] }) as UnstructuredPlan;
          const expected = new Array<number>(inputs * 7).fill(1);
          for (let j = 0; j < 7; j++) {
            const column = Array.from({ length: inputs }, (_, i) => given[i * 7 + j]);
            for (const i of rankForRemoval(column, Math.round(share * inputs), { removeFirst })) expected[i * 7 + j] = 0;
          }
          assert.deepEqual([...plan.masks[0]!], expected, `${inputs} inputs, ${removeFirst} first, share ${share}`);
        }
      }
    }
  });

  it('takes N:M patterns (per unit already) and refuses what it cannot rank', () => {
    const plan = selectPlan(perUnit, model(), { sparsity: [0.5, 0], pattern: { n: 2, m: 4 } }) as UnstructuredPlan;
    assert.deepEqual([...plan.masks[0]!], [1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1]);
    assert.deepEqual(plan.notes, ['layer h1: the 2:4 pattern zeroes 33% of its weights (50% asked)']);
    assert.throws(
      () => selectPlan({ id: 'unit-l1', criterion: unitNorm(1), scope: 'output' }, model(), { sparsity: 0.5 }),
      (e: Error) => e instanceof PruneScopeError && /unit-l1: ranking within each output unit needs scores of weights/.test(e.message),
    );
    assert.throws(
      () => selectPlan({ id: 'random-weights', criterion: randomWeights, scope: 'output' }, model(), { sparsity: 0.5 }),
      /random-weights: ranking within each output unit needs scores of weights/,
    );
  });
});
