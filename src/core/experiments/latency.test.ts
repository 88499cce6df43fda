import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { predict } from '../model/forward';
import type { MLP } from '../model/mlp';
import { seededRandom } from '../prune/rng';
import { onnxRuntime } from '../engine/onnxruntime';
import { csrForward, denseLatencyMs, onnxRuntimeLatencyMs, sparseLatencyMs, toCsr } from './latency';

function sparseMlp(): MLP {
  const next = seededRandom(3);
  const layer = (name: string, inputSize: number, units: number, activation: MLP['layers'][number]['activation']) => ({
    name,
    inputSize,
    units,
    weights: new Float32Array(inputSize * units).map(() => (next() < 0.7 ? 0 : next() - 0.5)),
    bias: new Float32Array(units).map(() => next() - 0.5),
    activation,
  });
  return {
    name: 'sparse',
    inputShape: [12],
    inputSize: 12,
    layers: [layer('a', 12, 9, 'relu'), layer('b', 9, 7, 'tanh'), layer('c', 7, 4, 'softmax')],
  };
}

describe('latency', () => {
  before(async () => {
    await initBackend();
  });

  it('the CSR product computes what the dense network computes', () => {
    const mlp = sparseMlp();
    const next = seededRandom(9);
    const x = new Float32Array(5 * 12).map(() => next());
    const dense = predict(mlp, x, 5);
    const sparse = csrForward(toCsr(mlp), x, 5);
    for (let i = 0; i < dense.length; i++) assert.ok(Math.abs(dense[i] - sparse[i]) < 1e-5, `${i}: ${dense[i]} vs ${sparse[i]}`);
  });

  it("CSR keeps only the nonzero weights, each unit's inputs in ascending order", () => {
    const mlp = sparseMlp();
    const csr = toCsr(mlp);
    csr.forEach((c, l) => {
      const nnz = mlp.layers[l].weights.reduce((a, w) => a + (w !== 0 ? 1 : 0), 0);
      assert.equal(c.values.length, nnz);
      for (let j = 0; j < c.units; j++) {
        for (let k = c.rowPtr[j] + 1; k < c.rowPtr[j + 1]; k++) assert.ok(c.cols[k] > c.cols[k - 1]);
      }
    });
  });

  it('reports positive times per batch of 100', () => {
    const mlp = sparseMlp();
    const x = new Float32Array(3 * 12).fill(0.5);
    assert.ok(denseLatencyMs(mlp, x, 3, 2) > 0);
    assert.ok(sparseLatencyMs(mlp, x, 3) > 0);
  });

  it('times the written .onnx on onnxruntime when it loads, and says null when it does not', () => {
    const mlp = sparseMlp();
    const x = new Float32Array(3 * 12).fill(0.5);
    const ms = onnxRuntimeLatencyMs(mlp, x, 3, 2);
    if (onnxRuntime()) assert.ok(ms !== null && ms > 0 && Number.isFinite(ms), `got ${ms}`);
    else assert.equal(ms, null);
  });
});
