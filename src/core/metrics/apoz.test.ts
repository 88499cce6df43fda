import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { ApozCounter, apoz, apozApplies, histogram } from './apoz';
import { matrix } from './matrix';
import { mnistActivations, type MnistActivations } from '../../../test/kits/metrics';

describe('APoZ', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(1000);
  });

  it('by hand on a 4 x 3 ReLU output', () => {
    // Unit 0: zeros on samples 0, 2 -> 2/4; unit 1: never zero -> 0; unit 2: always zero -> 1.
    // Mean = (0.5 + 0 + 1) / 3 = 0.5. With 4 bins over [0, 1]: 0 -> bin 0, 0.5 -> bin 2, 1 -> bin 3 (the last bin holds 1).
    const acts = matrix(Float32Array.from([0, 1, 0, 2, 3, 0, 0, 0.5, 0, 7, 1e-30, 0]), 4, 3);
    const r = apoz(acts, 'relu', { bins: 4 });
    assert.ok(r.applies);
    assert.deepEqual(Array.from(r.perNeuron), [0.5, 0, 1]);
    assert.equal(r.mean, 0.5);
    assert.equal(r.samples, 4);
    assert.deepEqual(r.histogram.edges, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(r.histogram.counts, [1, 0, 1, 1]);
  });

  it('a share on a bin edge goes to the bin it starts, with 20 bins by default', () => {
    // 1 zero in 20 samples = 0.05, the lower edge of bin 1; 3 in 20 = 0.15, the edge of bin 3.
    const data = new Float32Array(20 * 2).fill(1);
    data[0] = 0;
    for (const i of [0, 1, 2]) data[i * 2 + 1] = 0;
    const r = apoz(matrix(data, 20, 2), 'relu6');
    assert.ok(r.applies);
    assert.equal(r.histogram.counts.length, 20);
    assert.equal(r.histogram.counts[1], 1);
    assert.equal(r.histogram.counts[3], 1);
  });

  it('does not apply to activations that are not exactly zero on a half-line', () => {
    for (const act of ['leaky_relu', 'sigmoid', 'tanh', 'linear', 'softmax', 'log_softmax'] as const) {
      const r = apoz(matrix(new Float32Array(6), 2, 3), act);
      assert.equal(r.applies, false, act);
      if (!r.applies) assert.match(r.reason, new RegExp(`relu6\\); .*${act === 'linear' ? 'linear' : act}`));
    }
    const leaky = apozApplies('leaky_relu');
    assert.ok(!leaky.applies && /not to exactly zero/.test(leaky.reason));
    assert.ok(apozApplies('relu').applies);
  });

  it('on the MNIST model: matches a direct count, finds the dead units, streams in batches', () => {
    const layer = real.layers[0];
    const r = apoz(layer, real.activations[0]);
    assert.ok(r.applies);
    for (let j = 0; j < layer.cols; j++) {
      let zeros = 0;
      for (let i = 0; i < layer.rows; i++) if (layer.data[i * layer.cols + j] === 0) zeros++;
      assert.equal(r.perNeuron[j], zeros / layer.rows);
    }
    assert.ok(
      r.perNeuron.some((v) => v === 1),
      'the first layer has units that never fire on these samples',
    );
    assert.equal(
      r.histogram.counts.reduce((a, b) => a + b, 0),
      layer.cols,
    );
    const counter = new ApozCounter(layer.cols, 'relu');
    for (let s = 0; s < layer.rows; s += 300) {
      const e = Math.min(layer.rows, s + 300);
      counter.add({ rows: e - s, cols: layer.cols, data: layer.data.subarray(s * layer.cols, e * layer.cols) });
    }
    assert.deepEqual(counter.result(), r);
    assert.equal(apoz(real.layers[2], real.activations[2]).applies, false, 'the output layer is linear');
  });

  it('histogram() bins arbitrary shares and rejects bad bin counts', () => {
    assert.deepEqual(histogram([0, 0.1, 0.99, 1], 2).counts, [2, 2]);
    assert.throws(() => histogram([0.5], 0), /positive whole number of bins/);
    assert.throws(() => new ApozCounter(3, 'relu').result(), /no samples/);
  });
});
