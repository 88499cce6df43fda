import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coincidenceText, coincidentGroups, dropAxis, finiteRange, rangePosition, rangeText, smallestWithin, type Series } from './data';
import { metricNote } from './metric-notes';
import { sampleAnalysis } from './sample-results';

const line = (label: string, ys: number[]): Series => ({ label, colour: 0, dash: 0, points: ys.map((y, i) => ({ x: i / 10, y })) });

test('series coincide when every point is equal within 1e-12; empty series never do', () => {
  const series = [line('a', [1, 2]), line('b', [1, 2 + 1e-13]), line('c', [1, 2 + 1e-9]), line('d', [1]), line('e', []), line('f', [])];
  assert.deepEqual(coincidentGroups(series), [['a', 'b']]);
  assert.equal(
    coincidenceText([...series, line('g', [1, 2]), line('h', [1])]),
    'a, b and g coincide on this chart; d and h coincide on this chart',
  );
  assert.equal(coincidenceText([line('a', [1]), line('b', [2])]), '');
});

test('the smallest model within 1 point: fewest parameters, ties to the more accurate', () => {
  const r = sampleAnalysis();
  // Hand-worked in test/browser/readable-charts.test.ts: magnitude round 0 at 30%.
  assert.deepEqual(smallestWithin(r), {
    series: 'magnitude · round 0',
    sparsity: 0.3,
    parameters: 58880,
    accuracy: 0.975 - 0.2 * 0.3 ** 3,
  });
  // Within 3 points: unit-l2 0.5·0.4³ = 0.032 misses, magnitude 0.2·0.5³ = 0.025 and apoz 0.35·0.4³ = 0.0224 reach
  // 50% and 40%; 50% keeps 784·100·0.5 + 100·50·0.5 + 500 = 42,200 parameters.
  assert.equal(smallestWithin(r, 3)?.sparsity, 0.5);
  assert.equal(smallestWithin(r, 3)?.parameters, 42200);
  assert.equal(smallestWithin({ ...r, baseline: { ...r.baseline, accuracy: 1 } }), undefined);
});

test('colour ranges and the drop axis fit the values', () => {
  const range = finiteRange([
    [
      [0.7, null],
      [1, 0.66],
    ],
    [[Number.NaN, 0.9]],
  ]);
  assert.deepEqual(range, { min: 0.66, max: 1 });
  assert.equal(rangeText(range), 'colour scale 0.66–1.00');
  assert.equal(rangeText(finiteRange([[[null]]])), 'colour scale: no defined values');
  assert.ok(Math.abs(rangePosition(0.83, range!) - 0.5) < 1e-12);
  assert.equal(rangePosition(0.4, { min: 0.4, max: 0.4 }), 0.5);
  assert.deepEqual(dropAxis([line('a', [0.2, 2.3, 4.1])]), { min: 0, max: 5, clipped: 0, largest: 4.1 });
  assert.deepEqual(dropAxis([line('a', [-1.5, 12, 30])]), { min: -2, max: 10, clipped: 2, largest: 30 });
});

test('every metric id the panel may show has a note; unknown ones none', () => {
  for (const id of ['linear-cka', 'rbf-cka', 'debiased-cka', 'minibatch-cka', 'mean-cca', 'svcca', 'pwcca', 'pwcca-paper', 'nbs'])
    assert.ok((metricNote(id) ?? '').length > 60, id);
  assert.equal(metricNote('toString'), undefined);
});
