import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { makeDataset, type Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { layerActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import { magnitudeStrategy, strategyById, wandaStrategy } from './registry';
import type { UnstructuredPlan } from './strategy';
import { inputSquareSums, wandaLayerScores } from './wanda';
import { handLayer, handMLP, mnistRows, randomMLP, zeroCount } from '../../../test/kits/prune';

/**
 * h1: 3 inputs x 2 units, h2: 2 x 2, out. Calibration rows [1,0,2], [1,0,-2], [1,1,2], [1,0,2]:
 * input norms of h1 are sqrt(4) = 2, sqrt(1) = 1, sqrt(16) = 4. With zero biases and ReLU, h1
 * outputs (.9, .2), (.1, 0), (.5, 1.2), (.9, .2): h2's inputs have squared norms 1.88 and 1.52.
 */
function model(): MLP {
  return handMLP('wanda-hand', [
    // rows (inputs) i0 = (.5, -.3), i1 = (-.4, 1), i2 = (.2, .25)
    handLayer('h1', 3, 2, [0.5, -0.3, -0.4, 1, 0.2, 0.25]),
    // rows i0 = (1, .5), i1 = (1.1, 2)
    handLayer('h2', 2, 2, [1, 0.5, 1.1, 2]),
    handLayer('out', 2, 1, [1, 1], 'linear'),
  ]);
}

const calibration = (): Dataset => makeDataset('calib', Float32Array.from([1, 0, 2, 1, 0, -2, 1, 1, 2, 1, 0, 2]), null, [3]);

const close = (actual: ArrayLike<number>, expected: number[], tol: number, what: string) => {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= tol, `${what}[${i}]: ${actual[i]} vs ${e}`));
};

describe('wanda', () => {
  before(async () => {
    await initBackend();
  });

  it("sums squared inputs over the calibration rows: the samples, then the original network's post-activations", () => {
    const sums = inputSquareSums(model(), [0, 1], calibration().x, 4);
    close(sums.get(0)!, [4, 1, 16], 1e-12, 'h1 inputs');
    close(sums.get(1)!, [1.88, 1.52], 1e-6, 'h2 inputs');
    // Batches of one row give the same sums: nothing depends on holding every row at once.
    close(inputSquareSums(model(), [1], calibration().x, 4, 1).get(1)!, [1.88, 1.52], 1e-6, 'h2 inputs, batch 1');
    // |w| times the norm: h1 scores by hand.
    close(wandaLayerScores(model().layers[0].weights, 3, 2, sums.get(0)!), [1, 0.6, 0.4, 1, 0.8, 1], 1e-6, 'h1 scores');
  });

  it("removes each unit's incoming weights with the lowest |w| * input norm, where magnitude picks others", () => {
    const plan = wandaStrategy.plan(model(), { sparsity: [1 / 3, 0.5], samples: calibration() }) as UnstructuredPlan;
    // h1, one input per unit: unit 0 scores (1, .4, .8) loses i1; unit 1 scores (.6, 1, 1) loses i0.
    assert.deepEqual([...plan.masks[0]!], [1, 0, 0, 1, 1, 1]);
    // h2: unit 0 scores (1 * 1.371, 1.1 * 1.233) loses i1 (the larger weight); unit 1 (.686, 2.466) loses i0.
    assert.deepEqual([...plan.masks[1]!], [1, 0, 0, 1]);
    assert.equal(plan.masks[2], null);
    assert.deepEqual(plan.notes, ["wanda: input norms from the first 4 samples of calib (the original network's activations)"]);
    const magnitude = magnitudeStrategy.plan(model(), { sparsity: [1 / 3, 0.5] }) as UnstructuredPlan;
    assert.deepEqual([...magnitude.masks[0]!], [1, 1, 1, 1, 0, 0]);
    assert.deepEqual([...magnitude.masks[1]!], [0, 0, 1, 1]);
  });

  it('breaks equal scores within a unit by the lowest input index', () => {
    // h1 at 2/3: two inputs per unit. Unit 1 scores .6, then 1 * 1 and .25 * 4 tie exactly: i1 goes, i2 stays.
    const plan = wandaStrategy.plan(model(), { sparsity: [2 / 3, 0], samples: calibration() }) as UnstructuredPlan;
    assert.deepEqual([...plan.masks[0]!], [1, 0, 0, 0, 0, 1]);
    assert.equal(plan.masks[1], null);
  });

  it('takes an N:M pattern, chosen by wanda scores within each unit', () => {
    // 4 inputs with norms 1, 4, 2, 1 (rows [1,2,2,0], [0,2,0,1], [0,2,0,0], [0,2,0,0]).
    const samples = makeDataset('nm', Float32Array.from([1, 2, 2, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 2, 0, 0]), null, [4]);
    // unit 0 weights (1, .5, .25, .75) score (1, 2, .5, .75); unit 1 weights all .5 score (.5, 2, 1, .5).
    const mlp = handMLP('nm', [handLayer('h1', 4, 2, [1, 0.5, 0.5, 0.5, 0.25, 0.5, 0.75, 0.5]), handLayer('out', 2, 1, [1, 1], 'linear')]);
    const plan = wandaStrategy.plan(mlp, { sparsity: 0.5, samples, pattern: { n: 2, m: 4 } }) as UnstructuredPlan;
    // unit 0 keeps i0, i1 (loses flat 4, 6); unit 1 keeps i1, i2 (loses flat 1, 7).
    assert.deepEqual([...plan.masks[0]!], [1, 0, 1, 1, 0, 1, 0, 0]);
    assert.deepEqual(plan.notes, ["wanda: input norms from the first 4 samples of nm (the original network's activations)"]);
    const magnitude = magnitudeStrategy.plan(mlp, { sparsity: 0.5, pattern: { n: 2, m: 4 } }) as UnstructuredPlan;
    assert.deepEqual([...magnitude.masks[0]!], [1, 0, 0, 0, 0, 1, 1, 1]);
  });

  it('on MNIST: each unit loses round(share * inputs) weights, never one scoring above one it keeps', async () => {
    const samples = await mnistRows(300);
    const mlp = randomMLP([784, 40, 20, 10], 'relu', 3);
    const plan = wandaStrategy.plan(mlp, { sparsity: 0.7, samples, calibration: 250, batchSize: 64 }) as UnstructuredPlan;
    // Independent input norms: whole activation matrices of the first 250 rows, summed in float64.
    const acts = layerActivations(mlp, samples.x, 250, { layers: [0] });
    const sq = (m: Float32Array, rows: number, cols: number) =>
      Array.from({ length: cols }, (_, i) => {
        let s = 0;
        for (let r = 0; r < rows; r++) s += m[r * cols + i] ** 2;
        return s;
      });
    const norms = [sq(samples.x, 250, 784), sq(acts[0].post!, 250, 40)];
    [0, 1].forEach((l) => {
      const { inputSize, units, weights } = mlp.layers[l];
      const perUnit = Math.round(0.7 * inputSize);
      assert.equal(zeroCount(plan.masks[l]), perUnit * units);
      for (let j = 0; j < units; j++) {
        let lost = 0;
        let maxLost = -Infinity;
        let minKept = Infinity;
        for (let i = 0; i < inputSize; i++) {
          const s = Math.abs(weights[i * units + j]) * Math.sqrt(norms[l][i]);
          if (plan.masks[l]![i * units + j] === 0) {
            lost++;
            maxLost = Math.max(maxLost, s);
          } else minKept = Math.min(minKept, s);
        }
        assert.equal(lost, perUnit, `layer ${l} unit ${j}`);
        assert.ok(maxLost <= minKept * (1 + 1e-6), `layer ${l} unit ${j}: removed ${maxLost} above kept ${minKept}`);
      }
    });
    assert.equal(plan.masks[2], null);
    assert.match(plan.notes[0], /first 250 samples/);
  });

  it('needs samples of the right width, and is registered', () => {
    assert.throws(
      () => wandaStrategy.plan(model(), { sparsity: 0.5 }),
      (e: Error) => e instanceof PruneScopeError && /strategy wanda needs samples/.test(e.message),
    );
    const narrow = makeDataset('narrow', Float32Array.from([1, 2, 3, 4]), null, [2]);
    assert.throws(
      () => wandaStrategy.plan(model(), { sparsity: 0.5, samples: narrow }),
      (e: Error) => e instanceof PruneScopeError && /narrow: samples have 2 features but model wanda-hand takes 3/.test(e.message),
    );
    const s = strategyById('wanda');
    assert.deepEqual([s.label, s.kind, s.scope, s.needsSamples], ['Wanda (|w| x input norm)', 'unstructured', 'output', true]);
  });
});
