import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramBars, sparsityText, trainingSeries, type LayerHistogram } from './inspector-series';

// |w| of [0, 0, 0.1, 0.2, 0.4, 1, 1, 0.05] on 4 bins (weight-histogram.test.ts works them out).
const H: LayerHistogram = {
  layer: 'dense',
  weights: 8,
  zeros: 2,
  nonFinite: 0,
  linear: { edges: [0, 0.25, 0.5, 0.75, 1], counts: [5, 1, 0, 2] },
  log: { edges: [0.05, 0.106, 0.224, 0.473, 1], counts: [2, 1, 1, 2] },
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('linear bars hold the zeros in the first bin; log bars put them in a bar of their own', () => {
  const lin = histogramBars(H, 'linear');
  assert.deepEqual(lin.counts, [5, 1, 0, 2]);
  assert.deepEqual(lin.labels, ['0–0.25', '0.25–0.5', '0.5–0.75', '0.75–1']);
  const log = histogramBars(H, 'log');
  assert.deepEqual(log.counts, [2, 2, 1, 1, 2]);
  assert.equal(log.labels[0], '0');
  assert.equal(log.labels[1], '0.05–0.11');
  for (const b of [lin, log]) assert.equal(sum(b.counts), H.weights);
  const allZero = { ...H, zeros: 8, log: null, linear: { edges: [0, 0.5, 1], counts: [8, 0] } };
  assert.deepEqual(histogramBars(allZero, 'log').counts, [8]);
});

test('the sparsity line counts exact zeros among the weights', () => {
  assert.equal(sparsityText(H), 'sparsity 25%: 2 of 8 weights are exactly 0');
  assert.equal(
    sparsityText({ ...H, weights: 12_000, zeros: 1_500, nonFinite: 3 }),
    'sparsity 12.5%: 1,500 of 12,000 weights are exactly 0; 3 NaN or infinite, in no bin',
  );
});

test('training series: one point per epoch with a value, nulls left out', () => {
  const s = trainingSeries([
    { epoch: 1, loss: 1.5, accuracy: 0.5, valLoss: 1.2, valAccuracy: 0.6 },
    { epoch: 2, loss: 0.7, accuracy: null, valLoss: null, valAccuracy: 0.8 },
  ]);
  assert.deepEqual(
    s.loss.map((x) => [x.label, x.points]),
    [
      [
        'train',
        [
          { x: 1, y: 1.5 },
          { x: 2, y: 0.7 },
        ],
      ],
      ['validation', [{ x: 1, y: 1.2 }]],
    ],
  );
  assert.deepEqual(
    s.accuracy.map((x) => x.points),
    [
      [{ x: 1, y: 0.5 }],
      [
        { x: 1, y: 0.6 },
        { x: 2, y: 0.8 },
      ],
    ],
  );
});
