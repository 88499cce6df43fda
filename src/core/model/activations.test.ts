import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { PruneScopeError } from '../errors';
import { maxAbsDiff, mnistRows, randomMLP } from '../../../test/kits/prune';
import { layerActivations, streamActivations } from './activations';
import { predict } from './forward';
import type { MLP } from './mlp';

/** Pre and post activations of one layer computed in float64 with plain loops. */
function manualLayer(mlp: MLP, x: Float32Array, n: number, upTo: number): { pre: Float64Array; post: Float64Array } {
  let h: Float64Array = Float64Array.from(x.subarray(0, n * mlp.inputSize));
  let pre = new Float64Array(0);
  for (let l = 0; l <= upTo; l++) {
    const layer = mlp.layers[l];
    pre = new Float64Array(n * layer.units);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < layer.units; j++) {
        let s = layer.bias ? layer.bias[j] : 0;
        for (let i = 0; i < layer.inputSize; i++) s += h[r * layer.inputSize + i] * layer.weights[i * layer.units + j];
        pre[r * layer.units + j] = s;
      }
    }
    h = pre.map((v) => (layer.activation === 'relu' ? Math.max(0, v) : layer.activation === 'tanh' ? Math.tanh(v) : v));
  }
  return { pre, post: h };
}

describe('layer activations', () => {
  let mlp: MLP;
  let x: Float32Array;
  const n = 50;

  before(async () => {
    await initBackend();
    mlp = randomMLP([784, 32, 16, 10], ['relu', 'tanh', 'linear'], 3);
    x = (await mnistRows(n)).x;
  });

  it('match a plain float64 computation, before and after the activation, for every layer', () => {
    const acts = layerActivations(mlp, x, n, { pre: true, post: true, batchSize: 16 });
    assert.deepEqual(
      acts.map((a) => [a.layer, a.units, a.pre!.length, a.post!.length]),
      [
        [0, 32, n * 32, n * 32],
        [1, 16, n * 16, n * 16],
        [2, 10, n * 10, n * 10],
      ],
    );
    for (const a of acts) {
      const m = manualLayer(mlp, x, n, a.layer);
      assert.ok(maxAbsDiff(a.pre!, m.pre) < 1e-4, `layer ${a.layer} pre`);
      assert.ok(maxAbsDiff(a.post!, m.post) < 1e-4, `layer ${a.layer} post`);
    }
    // ReLU really applied: the first layer has negative pre-activations and no negative outputs.
    assert.ok(acts[0].pre!.some((v) => v < 0));
    assert.ok(acts[0].post!.every((v) => v >= 0));
  });

  it('do not depend on the batch size, and the last layer equals predict()', () => {
    const one = layerActivations(mlp, x, n, { batchSize: 1 });
    const big = layerActivations(mlp, x, n, { batchSize: 1000 });
    const odd = layerActivations(mlp, x, n, { batchSize: 7 });
    for (let l = 0; l < 3; l++) {
      assert.ok(maxAbsDiff(one[l].post!, big[l].post!) < 1e-5);
      assert.ok(maxAbsDiff(odd[l].post!, big[l].post!) < 1e-5);
    }
    assert.ok(maxAbsDiff(big[2].post!, predict(mlp, x, n)) < 1e-5);
  });

  it('report only the layers asked for, in layer order, and only pre when asked', () => {
    const acts = layerActivations(mlp, x, n, { layers: [2, 0], pre: true, post: false });
    assert.deepEqual(
      acts.map((a) => a.layer),
      [0, 2],
    );
    assert.ok(acts.every((a) => a.pre !== undefined && a.post === undefined));
  });

  it('ignore dropout (inference only)', () => {
    const withDropout: MLP = { ...mlp, layers: mlp.layers.map((l) => ({ ...l, dropout: 0.5 })) };
    assert.deepEqual(layerActivations(withDropout, x, n)[1].post, layerActivations(mlp, x, n)[1].post);
  });

  it('stream batches that cover every row once, in order, with arrays the caller keeps', () => {
    const seen: { start: number; rows: number; first: Float32Array }[] = [];
    streamActivations(mlp, x, n, { layers: [1], batchSize: 12 }, (b) => {
      assert.equal(b.layers.length, 1);
      assert.equal(b.layers[0].post!.length, b.rows * 16);
      seen.push({ start: b.start, rows: b.rows, first: b.layers[0].post! });
    });
    assert.deepEqual(
      seen.map((s) => [s.start, s.rows]),
      [
        [0, 12],
        [12, 12],
        [24, 12],
        [36, 12],
        [48, 2],
      ],
    );
    const whole = layerActivations(mlp, x, n, { layers: [1] })[0].post!;
    for (const s of seen) assert.deepEqual(s.first, whole.subarray(s.start * 16, (s.start + s.rows) * 16));
  });

  it('leave no tensors behind, also when the callback throws', () => {
    const before = tf.memory().numTensors;
    layerActivations(mlp, x, n, { pre: true, post: true, batchSize: 9 });
    assert.throws(
      () =>
        streamActivations(mlp, x, n, { batchSize: 9 }, () => {
          throw new Error('stop');
        }),
      /stop/,
    );
    assert.equal(tf.memory().numTensors, before);
  });

  it('refuse unknown layers and too little data with clear messages', () => {
    assert.throws(
      () => layerActivations(mlp, x, n, { layers: [3] }),
      (e: Error) => e instanceof PruneScopeError && /no layer 3/.test(e.message),
    );
    assert.throws(() => layerActivations(mlp, x, n + 1), /51 samples of 784 features need 39984 values, got 39200/);
    assert.throws(() => layerActivations(mlp, x, n, { pre: false, post: false }), /pre, post or both/);
    assert.deepEqual(layerActivations(mlp, x, 0)[0].post, new Float32Array(0));
  });
});
