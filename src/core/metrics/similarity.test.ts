import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { SimilarityError } from './matrix';
import { isSimilarityMetricId, SIMILARITY_METRIC_IDS, SIMILARITY_METRICS } from './similarity';
import { centralPixels, close, constantColumns, hstack, mnistActivations, type MnistActivations } from '../../../test/kits/metrics';

describe('SIMILARITY_METRICS', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(500);
  });

  it('holds every command-line name', () => {
    assert.deepEqual([...SIMILARITY_METRIC_IDS].sort(), [
      'debiased-cka',
      'linear-cka',
      'mean-cca',
      'minibatch-cka',
      'nbs',
      'pwcca',
      'pwcca-paper',
      'rbf-cka',
      'svcca',
    ]);
    assert.ok(isSimilarityMetricId('svcca'));
    assert.ok(!isSimilarityMetricId('cka'));
    for (const id of SIMILARITY_METRIC_IDS) assert.equal(SIMILARITY_METRICS[id].id, id);
  });

  it('every metric gives 1 for a layer with itself and a number in [0, 1] between real layers with dead units', () => {
    const [h1, h2, h3] = real.layers;
    for (const id of SIMILARITY_METRIC_IDS) {
      const metric = SIMILARITY_METRICS[id];
      close(metric.compute(h2, h2, { batch: 50 }), 1, 1e-9, `${id} self`);
      for (const [x, y] of [
        [h1, h2],
        [h2, h3],
        [centralPixels(real.input), h1],
      ]) {
        const v = metric.compute(x, y, { batch: 50, engine: 'float64' });
        assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `${id}: ${v}`);
      }
      // Two extra dead units (constant columns) change nothing.
      const dead = hstack(h1, constantColumns(h1.rows, [0, 0]));
      close(metric.compute(dead, h3, { batch: 50 }), metric.compute(h1, h3, { batch: 50 }), 1e-9, `${id} dead units`);
    }
  });

  it('every metric refuses an all-zero layer with a SimilarityError, never NaN', () => {
    const zero = constantColumns(real.layers[0].rows, [0, 0, 0]);
    for (const id of SIMILARITY_METRIC_IDS) {
      assert.throws(() => SIMILARITY_METRICS[id].compute(zero, real.layers[1], { batch: 50 }), SimilarityError, id);
    }
  });
});
