import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { makeDataset, type Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { applyPlan } from './apply';
import { magnitudeStrategy, taylorStrategy, taylorUnitsStrategy, unitL2Strategy } from './registry';
import { seededRandom } from './rng';
import type { StructuredPlan, UnstructuredPlan } from './strategy';
import { taylorScores } from './taylor';
import { handLayer, handMLP, randomMLP } from '../../../test/kits/prune';

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= rel * scale + 1e-12, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Rows of [x0, x1, label]. */
function rows(data: number[][]): Dataset {
  const f = data[0].length - 1;
  return makeDataset('hand', Float32Array.from(data.flatMap((r) => r.slice(0, f))), Int32Array.from(data.map((r) => r[f])), [f]);
}

/**
 * Per sample of a two-layer MLP (relu or tanh hidden, linear logits), in float64: the hidden
 * pre-activation z, the input x and the hidden delta d(loss_s)/dz.
 */
function hiddenDeltas(mlp: MLP, ds: Dataset): { x: number[]; z: number[]; delta: number[] }[] {
  const [h, o] = mlp.layers;
  return Array.from({ length: ds.n }, (_, s) => {
    const x = Array.from(ds.x.subarray(s * h.inputSize, (s + 1) * h.inputSize));
    const z = Array.from({ length: h.units }, (_, j) => x.reduce((a, xi, i) => a + xi * h.weights[i * h.units + j], h.bias![j]));
    const act = z.map((v) => (h.activation === 'relu' ? Math.max(0, v) : Math.tanh(v)));
    const logits = Array.from({ length: o.units }, (_, k) => act.reduce((a, ai, j) => a + ai * o.weights[j * o.units + k], o.bias![k]));
    const e = logits.map((v) => Math.exp(v));
    const sum = e.reduce((a, b) => a + b, 0);
    const dOut = e.map((v, k) => v / sum - (k === ds.y![s] ? 1 : 0));
    const delta = z.map((zj, j) => {
      const back = dOut.reduce((a, dk, k) => a + o.weights[j * o.units + k] * dk, 0);
      return back * (h.activation === 'relu' ? (zj > 0 ? 1 : 0) : 1 - Math.tanh(zj) ** 2);
    });
    return { x, z, delta };
  });
}

/** sum_b (n_b / n) (mean over the batch of term(sample, k))^2, for k < size. */
function batchSquares(n: number, batchSize: number, size: number, term: (s: number, k: number) => number): Float64Array {
  const out = new Float64Array(size);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    for (let k = 0; k < size; k++) {
      let m = 0;
      for (let s = start; s < end; s++) m += term(s, k);
      m /= end - start;
      out[k] += ((end - start) / n) * m * m;
    }
  }
  return out;
}

describe('taylor (first-order Taylor, weights)', () => {
  before(async () => {
    await initBackend();
  });

  // One linear softmax layer, pruned with includeOutput. Input 1 is 0 in every row, so the big
  // weights it feeds have zero gradient: Taylor removes them, magnitude the small ones.
  // Per sample g_ij = x_i (p_j - y_j); row 1: x = [1, 0], z = [.2, -.2], p0 = σ(.4) = .598688,
  // g0 = [-.401312, .401312]; row 2: x = [2, 0], z = [.4, -.4], p0 = σ(.8) = .689974,
  // g0 = 2 [.689974, -.689974]. Batches of 1: ((.401312·.2)² + (1.379949·.2)²) / 2 = .0413062.
  // One batch of 2: (mean g · .2)² = (.489318·.2)² = .0095773.
  const model = () => handMLP('lin', [handLayer('out', 2, 2, [0.2, -0.2, 3, -3], 'linear')]);
  const samples = rows([
    [1, 0, 0],
    [2, 0, 1],
  ]);

  it('scores (g·w)² per mini-batch, averaged over mini-batches, and differs from magnitude', () => {
    const mlp = model();
    const plan = taylorStrategy.plan(mlp, { sparsity: 0.5, includeOutput: true, samples, batchSize: 1 }) as UnstructuredPlan;
    assert.deepEqual([...plan.masks[0]!], [1, 1, 0, 0]);
    const magnitude = magnitudeStrategy.plan(mlp, { sparsity: 0.5, includeOutput: true }) as UnstructuredPlan;
    assert.deepEqual([...magnitude.masks[0]!], [0, 0, 1, 1]);
    assert.ok(plan.notes.some((n) => /taylor: loss gradients on the first 2 samples of hand, 2 mini-batches of up to 1/.test(n)));

    const one = taylorScores('taylor', mlp, { sparsity: 0.5, samples, batchSize: 1 }, [0], 'weights').scores.get(0)!;
    assertClose(one, [0.0413062, 0.0413062, 0, 0], 1e-5, 'batches of 1');
    const both = taylorScores('taylor', mlp, { sparsity: 0.5, samples, batchSize: 2 }, [0], 'weights').scores.get(0)!;
    assertClose(both, [0.0095773, 0.0095773, 0, 0], 1e-5, 'one batch of 2');
  });

  it('equals sum_b (n_b/n)(g_b·w)² on a hidden layer, with a short last batch', () => {
    const mlp = randomMLP([5, 4, 3], ['tanh', 'linear'], 3, 0.3);
    const next = seededRandom(9);
    const ds = makeDataset(
      'random',
      Float32Array.from({ length: 7 * 5 }, () => 2 * next() - 1),
      Int32Array.from([0, 1, 2, 2, 1, 0, 1]),
      [5],
    );
    const per = hiddenDeltas(mlp, ds);
    const { units } = mlp.layers[0];
    const w = mlp.layers[0].weights;
    const expected = batchSquares(7, 3, w.length, (s, k) => per[s].x[Math.floor(k / units)] * per[s].delta[k % units] * w[k]);
    const t = taylorScores('taylor', mlp, { sparsity: 0.5, samples: ds, batchSize: 3 }, [0], 'weights');
    assert.deepEqual([t.n, t.batches, t.batchSize], [7, 3, 3]);
    assertClose(t.scores.get(0)!, expected, 1e-4, 'taylor scores');
  });
});

describe('taylor-units (first-order Taylor, units)', () => {
  before(async () => {
    await initBackend();
  });

  // Hidden unit 0 has the big incoming weights but its outgoing weights are 0, so the loss does
  // not depend on it: score 0, and taylor-units removes it where unit-l2 removes unit 1.
  // Unit 1: z = .1 (x0 + x1) + .3 = .5 on both rows, logits [.5, -.5], p0 = σ(1) = .731059;
  // its delta is (p0 - y0) - (p1 - y1): -.537883 on row 1 (label 0), 1.462117 on row 2 (label 1).
  // Gate terms delta·z: -.268941, .731059. Batches of 1: (.268941² + .731059²) / 2 = .303388;
  // one batch of 2: ((-.268941 + .731059) / 2)² = .053388.
  const model = (): MLP => {
    const hidden = handLayer('h', 2, 2, [1, 0.1, 1, 0.1], 'relu');
    hidden.bias = Float32Array.from([0, 0.3]);
    return handMLP('units', [hidden, handLayer('out', 2, 2, [0, 0, 1, -1], 'linear')]);
  };
  const samples = rows([
    [1, 1, 0],
    [2, 0, 1],
  ]);

  it('scores (sum of g·w over incoming weights and bias)² per mini-batch and removes whole units', () => {
    const mlp = model();
    const plan = taylorUnitsStrategy.plan(mlp, { sparsity: 0.5, samples, batchSize: 1 }) as StructuredPlan;
    assert.equal(plan.kind, 'structured');
    assert.deepEqual(plan.remove, [[0], []]);
    assertClose(plan.scores![0]!, [0, 0.303388], 1e-5, 'unit scores, batches of 1');
    assert.deepEqual((unitL2Strategy.plan(mlp, { sparsity: 0.5 }) as StructuredPlan).remove, [[1], []]);
    const both = taylorScores('taylor-units', mlp, { sparsity: 0.5, samples, batchSize: 2 }, [0], 'units').scores.get(0)!;
    assertClose(both, [0, 0.053388], 1e-5, 'unit scores, one batch of 2');

    const pruned = applyPlan(mlp, plan).mlp;
    assert.deepEqual(
      pruned.layers.map((l) => [l.inputSize, l.units]),
      [
        [2, 1],
        [1, 2],
      ],
    );
    assertClose(pruned.layers[0].weights, [0.1, 0.1], 1e-7, 'the kept unit keeps its incoming weights');
  });

  it("equals the paper's gate form, sum_b (n_b/n)(mean over the batch of delta·z)², on a random layer", () => {
    const mlp = randomMLP([6, 5, 3], ['relu', 'linear'], 8, 0.5);
    const next = seededRandom(4);
    const ds = makeDataset(
      'random',
      Float32Array.from({ length: 10 * 6 }, () => 2 * next()),
      Int32Array.from({ length: 10 }, (_, i) => i % 3),
      [6],
    );
    const per = hiddenDeltas(mlp, ds);
    const expected = batchSquares(10, 4, 5, (s, j) => per[s].delta[j] * per[s].z[j]);
    assert.ok(
      expected.some((v) => v > 1e-4),
      'the reference is not all zeros',
    );
    const plan = taylorUnitsStrategy.plan(mlp, { sparsity: 0.4, samples: ds, batchSize: 4 }) as StructuredPlan;
    assertClose(plan.scores![0]!, expected, 1e-4, 'unit scores');
    const lowest = [...expected.keys()].sort((a, b) => expected[a] - expected[b]).slice(0, 2);
    assert.deepEqual(plan.order[0], lowest);
  });

  it('needs labelled samples and a classifier output', () => {
    assert.throws(
      () => taylorUnitsStrategy.plan(model(), { sparsity: 0.5 }),
      (e: Error) => e instanceof PruneScopeError && /strategy taylor-units needs samples/.test(e.message),
    );
    const mlp = model();
    mlp.layers[1].activation = 'relu';
    assert.throws(
      () => taylorStrategy.plan(mlp, { sparsity: 0.5, samples }),
      (e: Error) =>
        e instanceof PruneScopeError && /taylor needs .*output layer out \(position 1\) uses relu.*use magnitude/.test(e.message),
    );
  });
});
