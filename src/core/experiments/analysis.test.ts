import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fixture } from '../../../test/fixtures';
import { initBackend } from '../backend';
import { loadDataset } from '../data/load';
import { readModel } from '../formats/registry';
import { cloneMLP } from '../model/mlp';
import { evaluate } from '../train/evaluate';
import { runAnalysis, sameWeights } from './analysis';

before(async () => {
  await initBackend();
});

describe('sameWeights', () => {
  test('a clone is the same; one changed weight, bias or activation is not', async () => {
    const m = await readModel(fixture('onnx', 'mnist2x10.onnx'));
    const c = cloneMLP(m);
    assert.ok(sameWeights(m, c));
    c.layers[1].weights[7] += 1e-7;
    assert.ok(!sameWeights(m, c));
    const b = cloneMLP(m);
    b.layers[0].bias![0] = -b.layers[0].bias![0] || -0;
    assert.ok(!sameWeights(m, b));
    const a = cloneMLP(m);
    a.layers[0].activation = 'tanh';
    assert.ok(!sameWeights(m, a));
  });
});

describe('runAnalysis', () => {
  test('the unpruned points (k = 0) carry the original\'s own measurements, pruned points their own', async () => {
    const path = fixture('onnx', 'mnist2x10.onnx');
    const r = await runAnalysis({ model: path, data: 'mnist', strategies: ['magnitude', 'unit-l2'], sparsities: [0, 0.5], geometry: false });
    const original = await readModel(path);
    const test = (await loadDataset('mnist')).test!;
    const fresh = await evaluate(original, test);
    for (const run of r.runs) {
      const zero = run.points.find((p) => p.sparsity === 0)!;
      assert.equal(zero.accuracy, fresh.accuracy);
      assert.ok(Math.abs(zero.loss - fresh.loss) < 1e-9);
      assert.equal(zero.agreement, 1);
      zero.layers.forEach((l) => assert.ok(Math.abs((l.similarity ?? 0) - 1) < 1e-6, `${run.strategy} ${l.name}: ${l.similarity}`));
      assert.deepEqual(zero.similarityMatrix, r.baseline.similarityMatrix);
      assert.equal(zero.latency.denseMsPer100, r.baseline.latency.denseMsPer100);
      // The CSR timing exists for the unstructured strategy only.
      assert.equal(zero.latency.sparseMsPer100 === null, run.kind === 'structured');
      const half = run.points.find((p) => p.sparsity === 0.5)!;
      assert.ok(half.agreement < 1 && half.accuracy !== fresh.accuracy, `${run.strategy} at 50% is measured on the pruned model`);
    }
    assert.equal(r.baseline.accuracy, fresh.accuracy);
  });
});
