import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import type { Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { layerActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import {
  apozStrategy,
  isPruneStrategyId,
  magnitudeGlobalStrategy,
  magnitudeStrategy,
  PRUNE_STRATEGIES,
  PRUNE_STRATEGY_IDS,
  randomStrategy,
  randomWeightsStrategy,
  strategyById,
  unitL1Strategy,
  unitL2Strategy,
} from './registry';
import type { StructuredPlan, UnstructuredPlan } from './strategy';
import { handLayer, handMLP, mnistRows, randomMLP, zeroCount } from '../../../test/kits/prune';

/** A 3-layer model with hand-written weights ([in, out] row-major). */
function handModel(): MLP {
  return handMLP('hand', [
    // Columns (units): u0 = [0.5, -0.5], u1 = [0.1, 0.2], u2 = [-0.5, 0.5], u3 = [1, 0]
    handLayer('h1', 2, 4, [0.5, 0.1, -0.5, 1, -0.5, 0.2, 0.5, 0]),
    handLayer('h2', 4, 2, [0.3, -0.3, 0.05, 0.3, -0.3, 0.7, 0.01, -0.01]),
    handLayer('out', 2, 1, [9, 9], 'linear'),
  ]);
}

describe('magnitude pruning', () => {
  it('zeroes the smallest |w| of each layer, lowest index first among equal magnitudes', () => {
    const mlp = handModel();
    const plan = magnitudeStrategy.plan(mlp, { sparsity: 0.5 }) as UnstructuredPlan;
    assert.equal(plan.kind, 'unstructured');
    // h1 |w| = .5 .1 .5 1 .5 .2 .5 0: prune 0 (idx 7), .1 (1), .2 (5), then the first .5 (idx 0).
    assert.deepEqual([...plan.masks[0]!], [0, 0, 1, 1, 1, 0, 1, 0]);
    // h2 |w| = .3 .3 .05 .3 .3 .7 .01 .01: prune .01 (6), .01 (7), .05 (2), first .3 (0).
    assert.deepEqual([...plan.masks[1]!], [0, 1, 0, 1, 1, 1, 0, 0]);
    assert.equal(plan.masks[2], null, 'the output layer is not pruned by default');
    assert.deepEqual(plan.requested, [0.5, 0.5, 0]);
  });

  it('prunes the output layer only with includeOutput, and takes one share per prunable layer', () => {
    const mlp = handModel();
    const plan = magnitudeStrategy.plan(mlp, { sparsity: [0.25, 0, 0.5], includeOutput: true }) as UnstructuredPlan;
    assert.deepEqual([zeroCount(plan.masks[0]), zeroCount(plan.masks[1]), zeroCount(plan.masks[2])], [2, 0, 1]);
    assert.deepEqual([...plan.masks[2]!], [0, 1]);
    assert.throws(
      () => magnitudeStrategy.plan(mlp, { sparsity: [0.5, 0.5, 0.5] }),
      /3 sparsity values given but model hand has 2 prunable layers \(h1, h2\)/,
    );
    assert.throws(
      () => magnitudeStrategy.plan(mlp, { sparsity: 1.5 }),
      (e: Error) => e instanceof PruneScopeError && /between 0 and 1/.test(e.message),
    );
  });

  it('global: one threshold across layers, ties to the earlier layer', () => {
    const mlp = randomMLP([30, 20, 10, 5], 'relu', 4);
    // Make the two hidden layers share magnitudes so ties across layers happen.
    mlp.layers[1].weights.fill(0.05);
    mlp.layers[0].weights.set(new Float32Array(300).fill(0.05), 0);
    const plan = magnitudeGlobalStrategy.plan(mlp, { sparsity: 0.6 }) as UnstructuredPlan;
    const total = 600 + 200;
    assert.equal(zeroCount(plan.masks[0]) + zeroCount(plan.masks[1]), Math.round(0.6 * total));
    assert.equal(plan.masks[2], null);
    let maxPruned = 0;
    let minKept = Infinity;
    [0, 1].forEach((l) =>
      mlp.layers[l].weights.forEach((w, i) => {
        if (plan.masks[l]![i] === 0) maxPruned = Math.max(maxPruned, Math.abs(w));
        else minKept = Math.min(minKept, Math.abs(w));
      }),
    );
    assert.ok(maxPruned <= minKept);
    // The threshold falls inside the 0.05 ties: every copy in layer 0 goes before any in layer 1,
    // and layer 1 loses its lowest indices first.
    assert.ok(mlp.layers[0].weights.every((w, i) => w !== Math.fround(0.05) || plan.masks[0]![i] === 0));
    const lost1 = zeroCount(plan.masks[1]);
    assert.ok(lost1 > 0 && lost1 < 200);
    assert.deepEqual(
      [...plan.masks[1]!],
      Array.from({ length: 200 }, (_, i) => (i < lost1 ? 0 : 1)),
    );
    assert.throws(() => magnitudeGlobalStrategy.plan(mlp, { sparsity: [0.5, 0.5] }), /one sparsity/);
  });
});

describe('unit norm pruning', () => {
  it('removes the units with the smallest incoming L1 / L2 norm, ties by lowest index', () => {
    const mlp = handModel();
    // h1 units: L1 = 1, .3, 1, 1; L2 = .707, .224, .707, 1.
    const l1 = unitL1Strategy.plan(mlp, { sparsity: 0.5 }) as StructuredPlan;
    assert.deepEqual(l1.order[0], [1, 0]);
    assert.deepEqual(l1.remove[0], [0, 1]);
    const l2 = unitL2Strategy.plan(mlp, { sparsity: 0.75 }) as StructuredPlan;
    assert.deepEqual(l2.order[0], [1, 0, 2]);
    assert.deepEqual(l2.remove[0], [0, 1, 2]);
    // h2 units: L1 = .3+.05+.3+.01 = .66, .3+.3+.7+.01 = 1.31: the first goes.
    assert.deepEqual(l1.remove[1], [0]);
    assert.deepEqual(l1.remove[2], []);
    assert.ok(Math.abs(l2.scores![0]![3] - 1) < 1e-12);
  });

  it('keeps at least one unit and says so', () => {
    const plan = unitL1Strategy.plan(handModel(), { sparsity: 1 }) as StructuredPlan;
    assert.equal(plan.remove[0].length, 3);
    assert.equal(plan.remove[1].length, 1);
    assert.ok(plan.notes.some((n) => /layer h1: 100% would remove all 4 units; kept 1/.test(n)));
  });
});

describe('APoZ pruning', () => {
  let samples: Dataset;
  before(async () => {
    await initBackend();
    samples = await mnistRows(300);
  });

  it('removes the units most often exactly zero after ReLU, on real MNIST', () => {
    const mlp = randomMLP([784, 40, 20, 10], 'relu', 5);
    // Unit 7 of the first layer is dead: negative weights on non-negative pixels, negative bias.
    for (let i = 0; i < 784; i++) mlp.layers[0].weights[i * 40 + 7] = -0.1;
    mlp.layers[0].bias![7] = -1;
    const plan = apozStrategy.plan(mlp, { sparsity: 0.25, samples }) as StructuredPlan;
    const acts = layerActivations(mlp, samples.x, samples.n, { layers: [0, 1] });
    for (const a of acts) {
      const apoz = Array.from({ length: a.units }, (_, j) => {
        let z = 0;
        for (let r = 0; r < samples.n; r++) if (a.post![r * a.units + j] === 0) z++;
        return z / samples.n;
      });
      assert.deepEqual([...plan.scores![a.layer]!], apoz);
      const expected = apoz
        .map((s, j) => [s, j])
        .sort((p, q) => q[0] - p[0] || p[1] - q[1])
        .slice(0, Math.round(0.25 * a.units))
        .map((e) => e[1]);
      assert.deepEqual(plan.order[a.layer], expected);
    }
    assert.equal(plan.scores![0]![7], 1);
    assert.equal(plan.order[0][0], 7);
    assert.deepEqual(plan.remove[2], []);
  });

  it('refuses layers that are not ReLU-like, naming the layer', () => {
    const mlp = randomMLP([784, 8, 10], ['sigmoid', 'linear'], 5);
    assert.throws(
      () => apozStrategy.plan(mlp, { sparsity: 0.5, samples }),
      (e: Error) =>
        e instanceof PruneScopeError && /apoz needs ReLU-like layers .* layer dense_0 \(position 0\) uses sigmoid/.test(e.message),
    );
    assert.throws(() => apozStrategy.plan(randomMLP([784, 8, 10], 'relu', 5), { sparsity: 0.5 }), /apoz needs samples/);
  });
});

describe('random pruning', () => {
  it('is seeded: same seed same units, another seed others', () => {
    const mlp = randomMLP([20, 50, 30, 5], 'relu', 1);
    const a = randomStrategy.plan(mlp, { sparsity: 0.5, seed: 7 }) as StructuredPlan;
    const b = randomStrategy.plan(mlp, { sparsity: 0.5, seed: 7 }) as StructuredPlan;
    const c = randomStrategy.plan(mlp, { sparsity: 0.5, seed: 8 }) as StructuredPlan;
    assert.deepEqual(a.remove, b.remove);
    assert.notDeepEqual(a.remove, c.remove);
    assert.deepEqual(
      a.remove.map((r) => r.length),
      [25, 15, 0],
    );
    assert.ok(a.remove[0].every((u, i) => i === 0 || u > a.remove[0][i - 1]));
    const w = randomWeightsStrategy.plan(mlp, { sparsity: 0.3, seed: 7 }) as UnstructuredPlan;
    assert.deepEqual([zeroCount(w.masks[0]), zeroCount(w.masks[1])], [300, 450]);
  });
});

describe('strategy registry', () => {
  it('lists every strategy once and explains unknown names', () => {
    const ids = PRUNE_STRATEGIES.map((s) => s.id);
    // prettier-ignore
    assert.deepEqual(ids, [
      'magnitude', 'magnitude-global', 'unit-l1', 'unit-l2', 'apoz', 'cka', 'cka-greedy', 'random', 'random-weights',
      'taylor', 'taylor-units', 'obd', 'wanda', 'lamp', 'sparsegpt',
    ]);
    assert.deepEqual(PRUNE_STRATEGY_IDS, ids);
    assert.equal(strategyById('cka-greedy').kind, 'structured');
    assert.ok(isPruneStrategyId('unit-l2') && !isPruneStrategyId('unit-l3') && !isPruneStrategyId('toString'));
    assert.ok(!isPruneStrategyId('hessian-free'));
    assert.throws(
      () => strategyById('hessian-free'),
      (e: Error) =>
        e instanceof PruneScopeError &&
        e.message === `unknown pruning strategy "hessian-free" (expected one of ${ids.join(', ')})` &&
        e.message.includes('wanda, lamp, sparsegpt)'),
    );
  });

  it('keeps the user-visible labels, kinds and descriptions', () => {
    assert.deepEqual(
      PRUNE_STRATEGIES.map((s) => [s.id, s.label, s.kind, s.needsSamples, s.scope, s.description]),
      [
        ['magnitude', 'Magnitude (layer-wise)', 'unstructured', false, 'layer', 'zeroes the smallest |w| of each layer'],
        [
          'magnitude-global',
          'Magnitude (global)',
          'unstructured',
          false,
          'global',
          'zeroes the smallest |w| across all prunable layers together',
        ],
        ['unit-l1', 'Unit L1 norm', 'structured', false, 'layer', 'removes the neurons whose incoming weights have the smallest L1 norm'],
        ['unit-l2', 'Unit L2 norm', 'structured', false, 'layer', 'removes the neurons whose incoming weights have the smallest L2 norm'],
        [
          'apoz',
          'APoZ (network trimming)',
          'structured',
          true,
          'layer',
          'removes the ReLU neurons whose output is zero on the largest share of samples',
        ],
        [
          'cka',
          'CKA (one-shot ranking)',
          'structured',
          true,
          'layer',
          'removes the neurons whose ablation alone changes the layer output least (highest linear CKA to the original)',
        ],
        [
          'cka-greedy',
          'CKA (greedy)',
          'structured',
          true,
          'layer',
          'removes neurons one at a time, each time the one whose ablation (with those already removed) keeps the highest linear CKA',
        ],
        ['random', 'Random neurons', 'structured', false, 'layer', 'removes randomly chosen neurons (seeded baseline)'],
        [
          'random-weights',
          'Random weights',
          'unstructured',
          false,
          'layer',
          'zeroes randomly chosen weights of each layer (seeded baseline)',
        ],
        [
          'taylor',
          'Taylor (first order, weights)',
          'unstructured',
          true,
          'layer',
          'zeroes the weights of each layer with the smallest (w × loss gradient)², averaged over calibration mini-batches',
        ],
        [
          'taylor-units',
          'Taylor (first order, units)',
          'structured',
          true,
          'layer',
          'removes the neurons with the smallest (Σ w × loss gradient over incoming weights and bias)², averaged over mini-batches',
        ],
        [
          'obd',
          'OBD (w² × Fisher diagonal)',
          'unstructured',
          true,
          'layer',
          'zeroes the weights of each layer with the smallest Optimal Brain Damage saliency, ½ w² × empirical Fisher diagonal',
        ],
        [
          'wanda',
          'Wanda (|w| x input norm)',
          'unstructured',
          true,
          'output',
          'zeroes, in each neuron, the incoming weights with the smallest |w| times the norm of their input on calibration samples',
        ],
        [
          'lamp',
          'LAMP (layer-adaptive magnitude)',
          'unstructured',
          false,
          'global',
          "zeroes the weights with the smallest LAMP score (w^2 over the squared mass of the layer's larger weights) across all prunable layers",
        ],
        [
          'sparsegpt',
          'SparseGPT (OBS update)',
          'unstructured',
          true,
          'layer',
          'zeroes, in blocks of 128 inputs, the weights whose removal costs least by the inverse Hessian of the layer inputs on calibration samples, and updates the weights that stay to make up for them (Optimal Brain Surgeon)',
        ],
      ],
    );
    // magnitude and magnitude-global share one criterion, as do unit-l1 and unit-l2 (parametrised by the norm).
    assert.equal(magnitudeStrategy.criterion, magnitudeGlobalStrategy.criterion);
    assert.equal(unitL1Strategy.criterion.gives, 'scores');
  });

  it('never changes the model it plans for', async () => {
    await initBackend();
    const samples = await mnistRows(64);
    const mlp = randomMLP([784, 16, 8, 10], 'relu', 2);
    const copy = mlp.layers.map((l) => [new Float32Array(l.weights), new Float32Array(l.bias!)]);
    for (const s of PRUNE_STRATEGIES) s.plan(mlp, { sparsity: 0.5, samples });
    mlp.layers.forEach((l, i) => {
      assert.deepEqual(l.weights, copy[i][0]);
      assert.deepEqual(l.bias, copy[i][1]);
    });
  });
});
