import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { makeDataset, type Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { calibrationGradients, type BatchGradients } from './gradients';
import { seededRandom } from './rng';
import { randomMLP } from '../../../test/kits/prune';

/**
 * The reference: per-sample loss gradients of a small MLP in plain float64 JavaScript, with no
 * tfjs, checked itself against central finite differences of the float64 loss.
 */

interface SampleGrad {
  loss: number;
  /** Per layer, [in, out] row-major. */
  kernels: Float64Array[];
  biases: Float64Array[];
}

const act = (a: string, z: number) => (a === 'tanh' ? Math.tanh(z) : a === 'relu' ? Math.max(0, z) : z);
const actDerivative = (a: string, z: number) => (a === 'tanh' ? 1 - Math.tanh(z) ** 2 : a === 'relu' ? (z > 0 ? 1 : 0) : 1);

/** Cross-entropy of softmax(logits) for one sample, and its gradient by backpropagation, all float64. */
function sampleGrad(
  mlp: MLP,
  x: ArrayLike<number>,
  label: number,
  w: Float64Array[] = mlp.layers.map((l) => Float64Array.from(l.weights)),
): SampleGrad {
  const inputs: Float64Array[] = [];
  const zs: Float64Array[] = [];
  let h = Float64Array.from(x);
  mlp.layers.forEach((layer, l) => {
    inputs.push(h);
    const z = new Float64Array(layer.units);
    for (let j = 0; j < layer.units; j++) {
      let s = layer.bias ? layer.bias[j] : 0;
      for (let i = 0; i < layer.inputSize; i++) s += h[i] * w[l][i * layer.units + j];
      z[j] = s;
    }
    zs.push(z);
    h = l === mlp.layers.length - 1 ? z : z.map((v) => act(layer.activation, v));
  });
  const max = Math.max(...h);
  const e = h.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  const loss = -Math.log(e[label] / sum);
  let delta = e.map((v, k) => v / sum - (k === label ? 1 : 0));
  const kernels: Float64Array[] = [];
  const biases: Float64Array[] = [];
  for (let l = mlp.layers.length - 1; l >= 0; l--) {
    const { inputSize, units } = mlp.layers[l];
    const gk = new Float64Array(inputSize * units);
    for (let i = 0; i < inputSize; i++) for (let j = 0; j < units; j++) gk[i * units + j] = inputs[l][i] * delta[j];
    kernels[l] = gk;
    biases[l] = Float64Array.from(delta);
    if (l === 0) break;
    const below = mlp.layers[l - 1];
    const next = new Float64Array(inputSize);
    for (let i = 0; i < inputSize; i++) {
      let s = 0;
      for (let j = 0; j < units; j++) s += w[l][i * units + j] * delta[j];
      next[i] = s * actDerivative(below.activation, zs[l - 1][i]);
    }
    delta = next;
  }
  return { loss, kernels, biases };
}

/** Mean over rows [from, to) of f(sample gradient). */
function meanOver(grads: SampleGrad[], from: number, to: number, pick: (g: SampleGrad) => Float64Array, square = false): Float64Array {
  const out = new Float64Array(pick(grads[from]).length);
  for (let s = from; s < to; s++) pick(grads[s]).forEach((v, i) => (out[i] += square ? v * v : v));
  return out.map((v) => v / (to - from));
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= rel * scale + 1e-9, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`);
  }
}

/** 3-4-3-2: tanh with bias, relu without bias, softmax output with bias; weights large enough for relu to cut. */
function tinyModel(): MLP {
  const mlp = randomMLP([3, 4, 3, 2], ['tanh', 'relu', 'softmax'], 11, 0.5);
  mlp.layers[1].bias = null;
  for (const l of mlp.layers) for (let i = 0; i < l.weights.length; i++) l.weights[i] *= 1.5;
  return mlp;
}

function tinySamples(rows: number, seed = 5): Dataset {
  const next = seededRandom(seed);
  const x = Float32Array.from({ length: rows * 3 }, () => 4 * next() - 2);
  const y = Int32Array.from({ length: rows }, (_, i) => (i * 7 + 3) % 2);
  return makeDataset('tiny', x, y, [3]);
}

describe('calibration gradients', () => {
  before(async () => {
    await initBackend();
  });

  it('the float64 reference agrees with central finite differences of the loss', () => {
    const mlp = tinyModel();
    const ds = tinySamples(3);
    for (let s = 0; s < ds.n; s++) {
      const x = ds.x.subarray(s * 3, s * 3 + 3);
      const g = sampleGrad(mlp, x, ds.y![s]);
      mlp.layers.forEach((layer, l) => {
        for (let k = 0; k < layer.weights.length; k++) {
          const w = mlp.layers.map((q) => Float64Array.from(q.weights));
          const h = 1e-6;
          w[l][k] += h;
          const up = sampleGrad(mlp, x, ds.y![s], w).loss;
          w[l][k] -= 2 * h;
          const down = sampleGrad(mlp, x, ds.y![s], w).loss;
          const fd = (up - down) / (2 * h);
          assert.ok(
            Math.abs(fd - g.kernels[l][k]) < 1e-7 + 1e-6 * Math.abs(fd),
            `sample ${s} layer ${l} weight ${k}: ${fd} vs ${g.kernels[l][k]}`,
          );
        }
      });
    }
  });

  it('mean gradients, per-batch gradients and the empirical Fisher diagonal equal the float64 reference', () => {
    const mlp = tinyModel();
    const samples = tinySamples(6);
    const seen: BatchGradients[] = [];
    // 5 of the 6 rows, in batches of 2, 2 and 1: the sixth row must not count.
    const g = calibrationGradients(
      'test',
      mlp,
      { sparsity: 0.5, samples, sampleCount: 5, batchSize: 2 },
      {
        layers: [0, 1, 2],
        defaultBatchSize: 64,
        fisher: true,
        onBatch: (b) =>
          seen.push({
            ...b,
            kernels: b.kernels.map((k) => k && new Float32Array(k)),
            biases: b.biases.map((v) => v && new Float32Array(v)),
          }),
      },
    );
    const ref = Array.from({ length: 5 }, (_, s) => sampleGrad(mlp, samples.x.subarray(s * 3, s * 3 + 3), samples.y![s]));
    assert.deepEqual([g.n, g.batches, g.batchSize], [5, 3, 2]);
    assert.ok(Math.abs(g.loss - ref.reduce((a, r) => a + r.loss, 0) / 5) < 1e-6);
    // the reference's gradients are not all tiny: relu cuts some rows and the loss is far from 0
    assert.ok(ref.some((r) => r.kernels[0].some((v) => Math.abs(v) > 0.05)));
    mlp.layers.forEach((layer, l) => {
      assertClose(
        g.kernels[l]!,
        meanOver(ref, 0, 5, (r) => r.kernels[l]),
        1e-5,
        `mean dW${l}`,
      );
      assertClose(
        g.fisher[l]!,
        meanOver(ref, 0, 5, (r) => r.kernels[l], true),
        1e-5,
        `Fisher W${l}`,
      );
      if (layer.bias)
        assertClose(
          g.biases[l]!,
          meanOver(ref, 0, 5, (r) => r.biases[l]),
          1e-5,
          `mean db${l}`,
        );
      else assert.equal(g.biases[l], null);
    });
    assert.deepEqual(
      seen.map((b) => [b.start, b.rows]),
      [
        [0, 2],
        [2, 2],
        [4, 1],
      ],
    );
    for (const b of seen) {
      mlp.layers.forEach((_, l) =>
        assertClose(
          b.kernels[l]!,
          meanOver(ref, b.start, b.start + b.rows, (r) => r.kernels[l]),
          1e-5,
          `batch ${b.start} dW${l}`,
        ),
      );
      assertClose(
        b.biases[2]!,
        meanOver(ref, b.start, b.start + b.rows, (r) => r.biases[2]),
        1e-5,
        `batch ${b.start} db2`,
      );
    }
  });

  it('computes only the layers asked for, and no Fisher unless asked', () => {
    const mlp = tinyModel();
    const samples = tinySamples(4);
    const g = calibrationGradients('test', mlp, { sparsity: 0.5, samples }, { layers: [1], defaultBatchSize: 3 });
    assert.deepEqual([g.n, g.batches, g.batchSize], [4, 2, 3]);
    // `calibration` rows take precedence over `sampleCount`
    const three = calibrationGradients(
      'test',
      mlp,
      { sparsity: 0.5, samples, sampleCount: 4, calibration: 3 },
      { layers: [1], defaultBatchSize: 2 },
    );
    assert.deepEqual([three.n, three.batches], [3, 2]);
    assert.equal(g.kernels[0], null);
    assert.equal(g.kernels[2], null);
    assert.equal(g.kernels[1]!.length, 12);
    assert.deepEqual(g.fisher, [null, null, null]);
  });

  it('refuses what has no classifier loss gradient, with the layer, the activation and an alternative', () => {
    const samples = tinySamples(4);
    const request = { layers: [0], defaultBatchSize: 4 };
    const isError = (pattern: RegExp) => (e: unknown) => e instanceof PruneScopeError && pattern.test(e.message);

    assert.throws(() => calibrationGradients('taylor', tinyModel(), { sparsity: 0.5 }, request), isError(/strategy taylor needs samples/));

    const sigmoidOut = tinyModel();
    sigmoidOut.layers[2].activation = 'sigmoid';
    assert.throws(
      () => calibrationGradients('obd', sigmoidOut, { sparsity: 0.5, samples }, request),
      isError(
        /obd needs the gradient of a classifier's cross-entropy, but the output layer dense_2 \(position 2\) uses sigmoid.*use magnitude/,
      ),
    );

    const softmaxHidden = tinyModel();
    softmaxHidden.layers[0].activation = 'softmax';
    assert.throws(
      () => calibrationGradients('obd', softmaxHidden, { sparsity: 0.5, samples }, request),
      isError(/layer dense_0 \(position 0\) uses softmax, which has no backward pass.*use magnitude/),
    );

    const unlabelled = makeDataset('unlabelled', samples.x, null, [3]);
    assert.throws(
      () => calibrationGradients('taylor', tinyModel(), { sparsity: 0.5, samples: unlabelled }, request),
      isError(/unlabelled: .*needs labelled samples/),
    );

    const threeClasses = makeDataset('three', samples.x, Int32Array.from([0, 1, 2, 0]), [3]);
    assert.throws(
      () => calibrationGradients('taylor', tinyModel(), { sparsity: 0.5, samples: threeClasses }, request),
      isError(/three: row 2 has label 2 but model .* has 2 output classes/),
    );
    assert.throws(
      () => calibrationGradients('taylor', tinyModel(), { sparsity: 0.5, samples, batchSize: 0 }, request),
      isError(/batch size 0/),
    );
  });
});
