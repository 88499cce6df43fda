import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { Adam } from './adam';
import { activate, lossAndGradients, type LayerSpec } from './backprop';
import { glorotUniform, Rng } from './rng';

before(async () => {
  await initBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert.ok(d <= tol * Math.max(scale, 1e-3), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`);
  }
}

describe('lossAndGradients', () => {
  // every hidden activation the trainer supports, with and without bias and dropout
  const sizes = [7, 6, 5, 5, 4, 4, 3];
  const specs: LayerSpec[] = [
    { activation: 'relu', dropout: 0.5 },
    { activation: 'tanh', dropout: 0 },
    { activation: 'sigmoid', dropout: 0.3 },
    { activation: 'leaky_relu', alpha: 0.2, dropout: 0 },
    { activation: 'relu6', dropout: 0 },
    { activation: 'softmax', dropout: 0 },
  ];
  const hasBias = [true, true, false, true, true, true];
  const batch = 9;

  for (const explicit of [true, false]) {
    test(`gradients equal tfjs autodiff of the same loss (${explicit ? 'explicit transposes' : 'transpose flags'})`, () => {
      const rng = new Rng(7);
      const kernels = specs.map((_, l) => {
        const w = glorotUniform(rng, sizes[l], sizes[l + 1]);
        // larger weights push relu6 units past 6 and leaky units below 0, so every branch is hit
        for (let i = 0; i < w.length; i++) w[i] *= 3;
        return tf.tensor2d(w, [sizes[l], sizes[l + 1]]);
      });
      const biases = specs.map((_, l) => (hasBias[l] ? tf.tensor1d(Array.from({ length: sizes[l + 1] }, () => rng.next() - 0.5)) : null));
      const x = tf.tensor2d(
        Array.from({ length: batch * sizes[0] }, () => rng.next() * 4 - 2),
        [batch, sizes[0]],
      );
      const labelsArr = Int32Array.from({ length: batch }, () => rng.int(3));
      const labels = tf.tensor1d(labelsArr, 'int32');
      const y = tf.cast(tf.oneHot(labels, 3), 'float32') as tf.Tensor2D;
      const masks = specs.map((s, l) =>
        s.dropout > 0 ? tf.tensor2d(rng.dropoutMask(new Float32Array(batch * sizes[l + 1]), s.dropout), [batch, sizes[l + 1]]) : null,
      );

      const ours = lossAndGradients(specs, { kernels, biases }, x, y, labels, masks, explicit);

      // the reference: tfjs's own autodiff through the plain ops
      const params: tf.Tensor[] = [...kernels, ...biases.filter((b): b is tf.Tensor1D => b !== null)];
      const lossFn = (...ps: tf.Tensor[]) => {
        let bi = kernels.length;
        let h: tf.Tensor2D = x;
        specs.forEach((s, l) => {
          let z: tf.Tensor2D = tf.matMul(h, ps[l]);
          if (hasBias[l]) z = tf.add<tf.Tensor2D>(z, ps[bi++]);
          if (l === specs.length - 1) {
            h = z;
            return;
          }
          h = activate(z, s);
          if (masks[l]) h = tf.mul(h, masks[l]);
        });
        return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
      };
      const { value, grads } = tf.valueAndGrads(lossFn)(params);

      close(ours.lossSum.dataSync(), [value.dataSync()[0] * batch], 1e-5, 'loss sum');
      kernels.forEach((_, l) => close(ours.grads.kernels[l].dataSync(), grads[l].dataSync(), 1e-4, `dW${l}`));
      let bi = kernels.length;
      biases.forEach((b, l) => {
        if (!b) {
          assert.equal(ours.grads.biases[l], null);
          return;
        }
        close((ours.grads.biases[l] as tf.Tensor).dataSync(), grads[bi++].dataSync(), 1e-4, `db${l}`);
      });
      // the data reaches both kinks of relu6 and the negative side of leaky_relu
      const zs: number[][] = [];
      let h: tf.Tensor2D = x;
      specs.slice(0, -1).forEach((s, l) => {
        let z: tf.Tensor2D = tf.matMul(h, kernels[l]);
        if (biases[l]) z = tf.add<tf.Tensor2D>(z, biases[l]);
        zs.push(Array.from(z.dataSync()));
        h = activate(z, s);
        if (masks[l]) h = tf.mul(h, masks[l]);
      });
      assert.ok(
        zs[3].some((v) => v < 0),
        'leaky_relu negative side',
      );
      assert.ok(zs[4].some((v) => v > 6) && zs[4].some((v) => v < 0), 'relu6 both kinks');
    });
  }

  test('counts correct predictions', () => {
    const kernels = [tf.tensor2d([1, 0, 0, 1], [2, 2])];
    const x = tf.tensor2d([2, 1, 0, 3, 5, 4], [3, 2]);
    const labels = tf.tensor1d([0, 1, 1], 'int32');
    const y = tf.cast(tf.oneHot(labels, 2), 'float32') as tf.Tensor2D;
    const r = lossAndGradients([{ activation: 'linear', dropout: 0 }], { kernels, biases: [null] }, x, y, labels, [null]);
    assert.equal(r.correct.dataSync()[0], 2);
    // CE by hand: -log softmax
    const ce = (a: number, b: number, k: number) => -Math.log(Math.exp(k === 0 ? a : b) / (Math.exp(a) + Math.exp(b)));
    close(r.lossSum.dataSync(), [ce(2, 1, 0) + ce(0, 3, 1) + ce(5, 4, 1)], 1e-6, 'loss');
  });
});

describe('Adam', () => {
  test('one and two steps match the Keras update computed by hand', () => {
    const cfg = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
    const w0 = [0.5, -1, 2, 0];
    const g1 = [0.1, -0.2, 0.3, 0];
    const g2 = [-0.05, 0.4, 0.3, 1];
    const adam = new Adam(cfg, [[4]]);
    let w = adam.update([tf.tensor1d(w0)], [tf.tensor1d(g1)])[0];
    w = adam.update([w], [tf.tensor1d(g2)])[0];
    // Keras: m += (g-m)(1-b1); v += (g^2-v)(1-b2); w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)
    const expected = w0.map((wi, i) => {
      let m = 0;
      let v = 0;
      let ww = wi;
      [g1[i], g2[i]].forEach((g, k) => {
        const t = k + 1;
        m += (g - m) * (1 - cfg.beta1);
        v += (g * g - v) * (1 - cfg.beta2);
        const alpha = (cfg.learningRate * Math.sqrt(1 - cfg.beta2 ** t)) / (1 - cfg.beta1 ** t);
        ww -= (alpha * m) / (Math.sqrt(v) + cfg.epsilon);
      });
      return ww;
    });
    close(w.dataSync(), expected, 1e-6, 'w');
    assert.equal(adam.step, 2);
    adam.dispose();
  });

  test('a mask keeps masked entries at exactly zero', () => {
    const adam = new Adam({ learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, [[2, 2]]);
    const mask = tf.tensor2d([1, 0, 0, 1], [2, 2]);
    const [w] = adam.update([tf.tensor2d([1, 1, 1, 1], [2, 2])], [tf.tensor2d([1, 1, 1, 1], [2, 2])], [mask]);
    const v = w.dataSync();
    assert.equal(v[1], 0);
    assert.equal(v[2], 0);
    assert.ok(Math.abs(v[0] - 0.9) < 1e-5);
    adam.dispose();
  });
});

describe('Rng', () => {
  test('same seed and stream give the same sequence; other streams differ', () => {
    const a = new Rng(42, 1);
    const b = new Rng(42, 1);
    const c = new Rng(42, 2);
    const sa = Array.from({ length: 50 }, () => a.uint32());
    assert.deepEqual(
      sa,
      Array.from({ length: 50 }, () => b.uint32()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 50 }, () => c.uint32()),
    );
  });

  test('dropout masks drop about the rate and scale the kept entries', () => {
    const m = new Rng(3).dropoutMask(new Float32Array(100000), 0.3);
    let dropped = 0;
    for (const v of m) {
      if (v === 0) dropped++;
      else assert.ok(Math.abs(v - 1 / 0.7) < 1e-6);
    }
    assert.ok(Math.abs(dropped / m.length - 0.3) < 0.01, `dropped ${dropped / m.length}`);
  });

  test('glorot uniform stays within the Keras limit and fills it', () => {
    const w = glorotUniform(new Rng(1), 784, 1000);
    const limit = Math.sqrt(6 / 1784);
    let max = 0;
    for (const v of w) max = Math.max(max, Math.abs(v));
    assert.ok(max <= limit && max > 0.99 * limit);
  });
});
