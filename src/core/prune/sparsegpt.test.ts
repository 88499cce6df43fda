import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { makeDataset, type Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { layerActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import { applyPlan, maskedEquivalent } from './apply';
import { nmRemovedCount } from './rank';
import { ckaGreedyStrategy, magnitudeStrategy, sparseGptStrategy, strategyById } from './registry';
import { seededRandom } from './rng';
import { blockCounts, inputHessian, inverseUpperFactor, sparseGptLayer, SPARSEGPT_DAMPING } from './sparsegpt';
import type { UnstructuredPlan } from './strategy';
import { maxAbsDiff, mnistRows, randomMLP, zeroCount } from '../../../test/kits/prune';

// ---- an independent float64 reference --------------------------------------------------------

/** n x p rows with correlated columns (Z times a random mixing), so the Hessian is far from diagonal. */
function correlatedRows(n: number, p: number, seed: number, mixing = 0.6): Float64Array {
  const next = seededRandom(seed);
  const z = Float64Array.from({ length: n * p }, () => 2 * next() - 1);
  const mix = Float64Array.from({ length: p * p }, (_, t) => (t % (p + 1) === 0 ? 1 : mixing * (next() - 0.5)));
  const x = new Float64Array(n * p);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += z[r * p + k] * mix[k * p + j];
      x[r * p + j] = s;
    }
  return x;
}

/** X^T X straight from the definition. */
function gram(x: ArrayLike<number>, n: number, p: number): Float64Array {
  const h = new Float64Array(p * p);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += x[r * p + i] * x[r * p + j];
      h[i * p + j] = s;
    }
  return h;
}

/** X^T X + 1% of its mean diagonal on the diagonal. */
function dampedHessian(x: ArrayLike<number>, n: number, p: number): Float64Array {
  const h = gram(x, n, p);
  let trace = 0;
  for (let i = 0; i < p; i++) trace += h[i * p + i];
  for (let i = 0; i < p; i++) h[i * p + i] += (SPARSEGPT_DAMPING * trace) / p;
  return h;
}

/** Inverse by Gauss-Jordan elimination with partial pivoting (no Cholesky anywhere). */
function invert(a: Float64Array, p: number): Float64Array {
  const m = a.slice();
  const inv = new Float64Array(p * p);
  for (let i = 0; i < p; i++) inv[i * p + i] = 1;
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(m[r * p + c]) > Math.abs(m[piv * p + c])) piv = r;
    for (let k = 0; k < p; k++) {
      [m[c * p + k], m[piv * p + k]] = [m[piv * p + k], m[c * p + k]];
      [inv[c * p + k], inv[piv * p + k]] = [inv[piv * p + k], inv[c * p + k]];
    }
    const d = m[c * p + c];
    for (let k = 0; k < p; k++) {
      m[c * p + k] /= d;
      inv[c * p + k] /= d;
    }
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = m[r * p + c];
      for (let k = 0; k < p; k++) {
        m[r * p + k] -= f * m[c * p + k];
        inv[r * p + k] -= f * inv[c * p + k];
      }
    }
  }
  return inv;
}

/** The submatrix of rows and columns `idx`. */
function sub(a: Float64Array, p: number, idx: number[]): Float64Array {
  return Float64Array.from({ length: idx.length * idx.length }, (_, t) => a[idx[Math.floor(t / idx.length)] * p + idx[t % idx.length]]);
}

/** The reference's upper factor: cholesky(Hinv) = L L^T by the textbook column formula, U = L^T. */
function upperCholesky(a: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let j = 0; j < p; j++) {
    let s = a[j * p + j];
    for (let k = 0; k < j; k++) s -= l[j * p + k] ** 2;
    l[j * p + j] = Math.sqrt(s);
    for (let i = j + 1; i < p; i++) {
      let t = a[i * p + j];
      for (let k = 0; k < j; k++) t -= l[i * p + k] * l[j * p + k];
      l[i * p + j] = t / l[j * p + j];
    }
  }
  return Float64Array.from({ length: p * p }, (_, t) => l[(t % p) * p + Math.floor(t / p)]);
}

/**
 * fasterprune of IST-DASLab/sparsegpt, line for line in the paper's layout (W is [units, inputs]):
 * Hinv = upper cholesky of inverse(H), blocks, mask from W1^2 / diag(Hinv1)^2 at the block's
 * start (the k smallest, k given per block, since the reference's threshold is a share), the
 * column walk and the lazy update of the columns right of the block.
 */
function fasterprune(
  wPaper: Float64Array,
  rows: number,
  cols: number,
  h: Float64Array,
  blocksize: number,
  perBlock: number[],
): Float64Array {
  const w = wPaper.slice();
  const hinv = upperCholesky(invert(h, cols), cols);
  for (let i1 = 0, b = 0; i1 < cols; i1 += blocksize, b++) {
    const i2 = Math.min(i1 + blocksize, cols);
    const count = i2 - i1;
    const tmp: [number, number][] = [];
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < count; i++) tmp.push([w[r * cols + i1 + i] ** 2 / hinv[(i1 + i) * cols + i1 + i] ** 2, r * count + i]);
    tmp.sort((a, c) => a[0] - c[0]);
    const mask1 = new Uint8Array(rows * count);
    for (let t = 0; t < perBlock[b]; t++) mask1[tmp[t][1]] = 1;
    const err1 = new Float64Array(rows * count);
    for (let i = 0; i < count; i++) {
      const d = hinv[(i1 + i) * cols + i1 + i];
      for (let r = 0; r < rows; r++) {
        const wv = w[r * cols + i1 + i];
        const q = mask1[r * count + i] ? 0 : wv;
        const e = (wv - q) / d;
        for (let k = i; k < count; k++) w[r * cols + i1 + k] -= e * hinv[(i1 + i) * cols + i1 + k];
        err1[r * count + i] = e;
      }
    }
    for (let r = 0; r < rows; r++)
      for (let k = i2; k < cols; k++) {
        let s = 0;
        for (let i = 0; i < count; i++) s += err1[r * count + i] * hinv[(i1 + i) * cols + k];
        w[r * cols + k] -= s;
      }
  }
  return w;
}

/** [in, out] kernel <-> the paper's [out, in]. */
function transposed(a: ArrayLike<number>, r: number, c: number): Float64Array {
  return Float64Array.from({ length: r * c }, (_, t) => a[(t % r) * c + Math.floor(t / r)]);
}

/** ||X W1 - X W2||_F for X (n x p) and kernels [p, u]. */
function outputError(x: ArrayLike<number>, n: number, p: number, u: number, w1: ArrayLike<number>, w2: ArrayLike<number>): number {
  let s = 0;
  for (let r = 0; r < n; r++)
    for (let j = 0; j < u; j++) {
      let d = 0;
      for (let i = 0; i < p; i++) d += x[r * p + i] * (w1[i * u + j] - w2[i * u + j]);
      s += d * d;
    }
  return Math.sqrt(s);
}

function dataset(x: ArrayLike<number>, n: number, p: number): Dataset {
  return makeDataset(`rows[${n}]`, Float32Array.from(x), null, [p]);
}

// ---- the tests -------------------------------------------------------------------------------

describe('sparsegpt on one layer', () => {
  it('removing one weight per unit is the closed-form OBS update over the inputs not yet walked', () => {
    const n = 40;
    const p = 6;
    const u = 3;
    const x = correlatedRows(n, p, 3);
    const next = seededRandom(4);
    const w = Float64Array.from({ length: p * u }, () => (next() < 0.5 ? -1 : 1) * (0.4 + 0.6 * next()));
    // One tiny weight per unit, at input q[j]: the one the mask must take.
    const q = [0, 3, 5];
    q.forEach((i, j) => (w[i * u + j] = 1e-3 * (j + 1)));
    const h = dampedHessian(x, n, p);
    // sparseGptLayer dampens itself: it takes the plain X^T X.
    const layer = { weights: w.slice(), inputs: p, units: u, hessian: gram(x, n, p) };
    const result = sparseGptLayer(layer, { count: u, blockSize: 128 });
    assert.deepEqual(
      [...result.removed].sort((a, b) => a - b),
      q.map((i, j) => i * u + j).sort((a, b) => a - b),
    );
    for (let j = 0; j < u; j++) {
      // Inputs left of q[j] were walked with no error: unchanged. From q[j] on: OBS with H restricted to them.
      const f = Array.from({ length: p - q[j] }, (_, t) => q[j] + t);
      const hinvF = invert(sub(h, p, f), f.length);
      const wq = w[q[j] * u + j];
      for (let i = 0; i < p; i++) {
        const expected = i < q[j] ? w[i * u + j] : w[i * u + j] - (wq / hinvF[0]) * hinvF[(i - q[j]) * f.length];
        assert.ok(
          Math.abs(layer.weights[i * u + j] - expected) < 1e-12,
          `unit ${j} input ${i}: ${layer.weights[i * u + j]} vs ${expected}`,
        );
      }
      assert.equal(layer.weights[q[j] * u + j], 0);
    }
    // Unit 0 loses input 0, so its update is the full OBS formula w - w_q / [H^-1]_qq H^-1[:, q].
    const hinv = invert(h, p);
    for (let i = 0; i < p; i++) {
      const full = w[i * u] - (w[0] / hinv[0]) * hinv[i * p];
      assert.ok(Math.abs(layer.weights[i * u] - full) < 1e-12);
    }
  });

  it('matches a line-for-line port of the reference fasterprune over several blocks', () => {
    const n = 60;
    const p = 11;
    const u = 4;
    const x = correlatedRows(n, p, 7);
    const next = seededRandom(8);
    const w = Float64Array.from({ length: p * u }, () => 2 * next() - 1);
    const h = dampedHessian(x, n, p);
    const count = 19;
    const blockSize = 4;
    const perBlock = blockCounts(count, p, u, blockSize);
    const layer = { weights: w.slice(), inputs: p, units: u, hessian: gram(x, n, p) };
    const result = sparseGptLayer(layer, { count, blockSize });
    const expected = transposed(fasterprune(transposed(w, p, u), u, p, h, blockSize, perBlock), u, p);
    assert.ok(maxAbsDiff(layer.weights, expected) < 1e-12, `max difference ${maxAbsDiff(layer.weights, expected)}`);
    assert.equal(result.removed.length, count);
    assert.equal(
      layer.weights.reduce((z, v) => z + (v === 0 ? 1 : 0), 0),
      count,
    );
  });

  it('gets H^-1 = U^T U with U upper triangular, the factor the reference computes', () => {
    const p = 9;
    const h = dampedHessian(correlatedRows(30, p, 11), 30, p);
    const got = inverseUpperFactor(h, p)!;
    const want = upperCholesky(invert(h, p), p);
    assert.ok(maxAbsDiff(got, want) < 1e-12 * Math.max(...Array.from(want, Math.abs)));
    for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) assert.equal(got[i * p + j], 0);
    assert.equal(inverseUpperFactor(Float64Array.from([1, 2, 2, 1]), 2), null, 'an indefinite matrix has no factor');
  });

  it('splits the count over blocks by largest remainder, exactly', () => {
    // Blocks of 2, 2 and 1 inputs of 2 units: 4 of 10 weights is 1.6, 1.6, 0.8; the spare two
    // go to the largest remainders (0.8, then 0.6 of the first block).
    assert.deepEqual(blockCounts(4, 5, 2, 2), [2, 1, 1]);
    assert.deepEqual(blockCounts(5, 5, 2, 2), [2, 2, 1]);
    // 900 weights in blocks of 384, 384, 132: shares 2.987, 2.987, 1.027; the two spare go to the largest remainders.
    assert.deepEqual(blockCounts(7, 300, 3, 128), [3, 3, 1]);
    assert.deepEqual(blockCounts(0, 300, 3, 128), [0, 0, 0]);
    assert.deepEqual(blockCounts(900, 300, 3, 128), [384, 384, 132]);
    // Ties of remainders go to the earlier block: 1 of three equal blocks.
    assert.deepEqual(blockCounts(1, 6, 1, 2), [1, 0, 0]);
  });

  it('with an N:M pattern keeps n of every m inputs per unit, the same whatever the block size', () => {
    const n = 50;
    const p = 10;
    const u = 5;
    const x = correlatedRows(n, p, 21);
    const next = seededRandom(22);
    const w = Float64Array.from({ length: p * u }, () => 2 * next() - 1);
    const pattern = { n: 2, m: 4 };
    const runs = [2, 6, 128].map((blockSize) => {
      const layer = { weights: w.slice(), inputs: p, units: u, hessian: gram(x, n, p) };
      const r = sparseGptLayer(layer, { count: 0, pattern, blockSize });
      return { weights: layer.weights, removed: r.removed };
    });
    // Groups of inputs 0-3 and 4-7 keep 2 each; 8-9 is a short last group that keeps both.
    for (const run of runs) {
      assert.equal(run.removed.length, nmRemovedCount(p, u, pattern));
      for (let j = 0; j < u; j++) {
        const zeros = (g0: number, g1: number) =>
          Array.from({ length: g1 - g0 }, (_, t) => run.weights[(g0 + t) * u + j]).filter((v) => v === 0).length;
        assert.deepEqual([zeros(0, 4), zeros(4, 8), zeros(8, 10)], [2, 2, 0]);
      }
    }
    assert.ok(maxAbsDiff(runs[0].weights, runs[2].weights) < 1e-12);
    assert.ok(maxAbsDiff(runs[1].weights, runs[2].weights) < 1e-12);
    assert.deepEqual(new Set(runs[0].removed), new Set(runs[2].removed));
  });
});

describe('the sparsegpt strategy', () => {
  before(async () => {
    await initBackend();
  });

  it('reconstructs the layer output better than magnitude pruning at the same sparsity', () => {
    // 200 inputs: two blocks (128 + 72), so the mask adapts to the update of the first.
    const n = 400;
    const p = 200;
    const u = 20;
    const x = correlatedRows(n, p, 31, 0.2);
    const mlp = randomMLP([p, u, 3], 'relu', 32);
    const samples = dataset(x, n, p);
    // Measured: 0.84 and 0.89 of magnitude's error.
    for (const [sparsity, bound] of [
      [0.5, 0.9],
      [0.75, 0.95],
    ]) {
      const plan = sparseGptStrategy.plan(mlp, { sparsity, samples }) as UnstructuredPlan;
      const mag = magnitudeStrategy.plan(mlp, { sparsity }) as UnstructuredPlan;
      const pruned = applyPlan(mlp, plan).mlp.layers[0].weights;
      const byMagnitude = applyPlan(mlp, mag).mlp.layers[0].weights;
      assert.equal(zeroCount(plan.masks[0]), Math.round(sparsity * p * u));
      const xf = Float32Array.from(x);
      const ours = outputError(xf, n, p, u, mlp.layers[0].weights, pruned);
      const theirs = outputError(xf, n, p, u, mlp.layers[0].weights, byMagnitude);
      assert.ok(ours < bound * theirs, `sparsity ${sparsity}: sparsegpt error ${ours}, magnitude ${theirs}`);
    }
  });

  it('on real MNIST pixels, where inputs differ in scale and many are always 0, by far', async () => {
    const samples = await mnistRows(300);
    const mlp = randomMLP([784, 32, 10], 'relu', 33);
    // Measured on 500 rows: 0.15 and 0.53 of magnitude's error.
    for (const [sparsity, bound] of [
      [0.5, 0.3],
      [0.9, 0.7],
    ]) {
      const plan = sparseGptStrategy.plan(mlp, { sparsity, samples });
      const pruned = applyPlan(mlp, plan).mlp.layers[0].weights;
      const byMagnitude = applyPlan(mlp, magnitudeStrategy.plan(mlp, { sparsity })).mlp.layers[0].weights;
      const ours = outputError(samples.x, samples.n, 784, 32, mlp.layers[0].weights, pruned);
      const theirs = outputError(samples.x, samples.n, 784, 32, mlp.layers[0].weights, byMagnitude);
      assert.ok(ours < bound * theirs, `sparsity ${sparsity}: sparsegpt error ${ours}, magnitude ${theirs}`);
    }
  });

  it('feeds each layer the inputs of the network already pruned and updated before it', () => {
    const n = 200;
    const p = 16;
    const x = Float32Array.from(correlatedRows(n, p, 41));
    const mlp = randomMLP([p, 14, 10, 3], 'relu', 42);
    const plan = sparseGptStrategy.plan(mlp, { sparsity: 0.5, samples: dataset(x, n, p), batchSize: 64 }) as UnstructuredPlan;
    assert.ok(plan.updated![0] && plan.updated![1] && plan.updated![2] === null, 'hidden layers updated, output not');
    // Layer 1 by hand: its inputs from the pruned first layer, its Hessian from the definition.
    const firstPruned: MLP = { ...mlp, layers: [{ ...mlp.layers[0], weights: plan.updated![0]! }, ...mlp.layers.slice(1)] };
    const z = layerActivations(firstPruned, x, n, { layers: [0] })[0].post!;
    const h = gram(z, n, 14);
    const layer = { weights: Float64Array.from(mlp.layers[1].weights), inputs: 14, units: 10, hessian: h.slice() };
    sparseGptLayer(layer, { count: 70 });
    assert.ok(maxAbsDiff(plan.updated![1]!, layer.weights) < 1e-5, `${maxAbsDiff(plan.updated![1]!, layer.weights)}`);
    // The Hessian the strategy streams in batches is the same X^T X.
    const streamed = inputHessian(firstPruned, x, n, 1, 64);
    assert.ok(maxAbsDiff(streamed, h) < 1e-9 * Math.max(...Array.from(h)), `Hessians differ by ${maxAbsDiff(streamed, h)}`);
    // Fed the original network's inputs instead, layer 1 would come out differently.
    const zOrig = layerActivations(mlp, x, n, { layers: [0] })[0].post!;
    assert.ok(maxAbsDiff(z, zOrig) > 1e-3, 'the first layer changed its outputs');
  });

  it('hands its updated kernels to the plan, and applying it gives the masked updated kernel', () => {
    const n = 120;
    const p = 12;
    const x = Float32Array.from(correlatedRows(n, p, 51));
    const mlp = randomMLP([p, 10, 4], 'relu', 52);
    const plan = sparseGptStrategy.plan(mlp, { sparsity: 0.4, samples: dataset(x, n, p) }) as UnstructuredPlan;
    const updated = plan.updated![0]!;
    const mask = plan.masks[0]!;
    assert.equal(zeroCount(mask), 48);
    for (let i = 0; i < mask.length; i++) if (!mask[i]) assert.equal(updated[i], 0);
    // The weights that stay moved (the OBS update), so the mask alone would not give this model.
    assert.ok(
      maxAbsDiff(
        updated,
        mlp.layers[0].weights.map((w, i) => (mask[i] ? w : 0)),
      ) > 1e-3,
    );
    const applied = applyPlan(mlp, plan);
    const masked = maskedEquivalent(mlp, plan);
    assert.deepEqual([...applied.mlp.layers[0].weights], [...updated]);
    assert.deepEqual([...masked.layers[0].weights], [...updated]);
    assert.deepEqual([...applied.mlp.layers[1].weights], [...mlp.layers[1].weights], 'the output layer is untouched');
    assert.equal(applied.layers[0].sparsity, 0.4);
    // The mask applies on top of the updated kernel: a plan whose mask takes one more weight zeroes it.
    const k = mask.indexOf(1);
    const more: UnstructuredPlan = { ...plan, masks: [Uint8Array.from(mask, (m, i) => (i === k ? 0 : m)), null] };
    assert.equal(maskedEquivalent(mlp, more).layers[0].weights[k], 0);
    assert.notEqual(updated[k], 0);
    assert.throws(
      () => applyPlan(mlp, { ...plan, updated: [new Float32Array(3), null] }),
      /updated kernel of layer dense_0 has 3 weights, the layer 120/,
    );
  });

  it('takes an N:M pattern itself, where other ordering criteria refuse one', () => {
    const n = 80;
    const p = 12;
    const x = Float32Array.from(correlatedRows(n, p, 61));
    const mlp = randomMLP([p, 6, 3], 'relu', 62);
    const pattern = { n: 2, m: 4 };
    const plan = sparseGptStrategy.plan(mlp, { sparsity: 0.5, pattern, samples: dataset(x, n, p) }) as UnstructuredPlan;
    const mask = plan.masks[0]!;
    for (let j = 0; j < 6; j++)
      for (let g = 0; g < p; g += 4) {
        const kept = [0, 1, 2, 3].filter((t) => mask[(g + t) * 6 + j] === 1).length;
        assert.equal(kept, 2, `unit ${j}, inputs ${g}..${g + 3}`);
      }
    const applied = applyPlan(mlp, plan).mlp.layers[0].weights;
    assert.equal(applied.filter((v) => v === 0).length, 36);
    assert.throws(() => ckaGreedyStrategy.plan(mlp, { sparsity: 0.5, pattern, samples: dataset(x, n, p) }), /cannot take an N:M pattern/);
  });

  it('zeroes the weights of inputs that are 0 on every calibration row first, and says so', () => {
    const n = 50;
    const p = 8;
    const x = correlatedRows(n, p, 71);
    for (let r = 0; r < n; r++) x[r * p + 2] = 0;
    const mlp = randomMLP([p, 5, 2], 'relu', 72);
    const plan = sparseGptStrategy.plan(mlp, { sparsity: 0.25, samples: dataset(x, n, p) }) as UnstructuredPlan;
    assert.ok(plan.notes.includes('sparsegpt: layer dense_0: 1 inputs are 0 on every calibration sample; their weights were zeroed'));
    assert.ok(plan.notes.includes(`sparsegpt: calibrated on the first ${n} samples of rows[${n}]`));
    const fewer = sparseGptStrategy.plan(mlp, { sparsity: 0.25, samples: dataset(x, n, p), calibration: 20 });
    assert.ok(fewer.notes.includes(`sparsegpt: calibrated on the first 20 samples of rows[${n}]`));
    for (let j = 0; j < 5; j++) assert.equal(plan.masks[0]![2 * 5 + j], 0, `dead input's weight to unit ${j} goes first`);
  });

  it('is registered, needs samples and explains bad ones', () => {
    const s = strategyById('sparsegpt');
    assert.deepEqual([s.label, s.kind, s.needsSamples, s.scope], ['SparseGPT (OBS update)', 'unstructured', true, 'layer']);
    const mlp = randomMLP([6, 4, 2], 'relu', 81);
    assert.throws(
      () => s.plan(mlp, { sparsity: 0.5 }),
      (e: Error) => e instanceof PruneScopeError && /strategy sparsegpt needs samples/.test(e.message),
    );
    assert.throws(
      () => s.plan(mlp, { sparsity: 0.5, samples: dataset(new Float64Array(20), 4, 5) }),
      /samples have 5 features but model .* takes 6/,
    );
    const rows = dataset(correlatedRows(10, 6, 82), 10, 6);
    assert.throws(() => s.plan(mlp, { sparsity: 0.5, samples: rows, batchSize: 0 }), /batch size 0 is not a positive integer/);
    const bad = correlatedRows(10, 6, 82);
    bad[7] = Number.NaN;
    assert.throws(
      () => s.plan(mlp, { sparsity: 0.5, samples: dataset(bad, 10, 6) }),
      (e: Error) => e instanceof PruneScopeError && /sparsegpt: layer dense_0: the Hessian .* is not positive definite/.test(e.message),
    );
  });
});
