import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  binLabels,
  GEOMETRY_ASCENDING,
  GEOMETRY_DESCENDING,
  geometryLayers,
  geometrySeries,
  heatCells,
  layerLabels,
  layerSimilaritySeries,
  pct,
  pickPoint,
  pointLabel,
  seriesBySparsity,
  sparsityRange,
  xOf,
} from './data';
import { seriesName } from '../../src/core/results/format';
import { sampleAnalysis, sampleComparison } from './sample-results';

test('one series per strategy and round, sorted by sparsity', () => {
  const r = sampleAnalysis();
  const series = seriesBySparsity(r, (p) => p.accuracy);
  assert.deepEqual(
    series.map((s) => s.label),
    ['magnitude · round 0', 'magnitude · round 1', 'unit-l2 · round 0', 'unit-l2 · round 1', 'apoz · round 0', 'apoz · round 1'],
  );
  assert.deepEqual(
    series.map((s) => s.colour),
    [0, 0, 1, 1, 2, 2],
  );
  assert.deepEqual(
    series.map((s) => s.dash),
    [0, 1, 0, 1, 0, 1],
  );
  for (const s of series) {
    assert.equal(s.points.length, 9);
    assert.deepEqual(
      s.points.map((p) => p.x),
      [...s.points.map((p) => p.x)].sort((a, b) => a - b),
    );
  }
  // One-round runs are labelled by strategy alone.
  r.runs.forEach((run) => (run.points = run.points.filter((p) => p.iteration === 0)));
  assert.deepEqual(
    seriesBySparsity(r, (p) => p.accuracy).map((s) => s.label),
    ['magnitude', 'unit-l2', 'apoz'],
  );
  // Null values (no sparse latency for structured pruning) are left out.
  assert.deepEqual(
    seriesBySparsity(r, (p) => p.latency.sparseMsPer100).map((s) => s.points.length),
    [9, 0, 0],
  );
  assert.deepEqual(sparsityRange(r), [0, 0.9]);
});

test('x axes: share requested, or 1 - what is left / the original, each series sorted by its own x', () => {
  const r = sampleAnalysis();
  r.baseline.parameters = 1000;
  r.baseline.flops = 2000;
  r.runs = r.runs.slice(0, 2);
  const [magnitude, unit] = r.runs;
  magnitude.points = magnitude.points.filter((p) => p.iteration === 0 && (p.sparsity === 0.2 || p.sparsity === 0.5));
  unit.points = unit.points.filter((p) => p.iteration === 0 && (p.sparsity === 0.2 || p.sparsity === 0.5));
  // magnitude at 20% / 50%: 800 / 520 parameters left; unit-l2: 640 / 250, listed 50% first.
  [magnitude.points[0].parameters, magnitude.points[1].parameters] = [800, 520];
  [magnitude.points[0].flops, magnitude.points[1].flops] = [1600, 1000];
  unit.points.reverse();
  [unit.points[0].parameters, unit.points[1].parameters] = [250, 640];
  [unit.points[0].flops, unit.points[1].flops] = [500, 1300];
  const at = (axis: 'requested' | 'parameters' | 'flops') =>
    seriesBySparsity(r, (p) => p.accuracy, axis).map((s) => s.points.map((p) => [p.x, p.requested]));
  assert.deepEqual(at('requested'), [
    [
      [0.2, undefined],
      [0.5, undefined],
    ],
    [
      [0.2, undefined],
      [0.5, undefined],
    ],
  ]);
  const close = (got: (number | undefined)[][][], want: number[][][]) =>
    got.forEach((s, i) =>
      s.forEach(([x, requested], j) => {
        assert.ok(Math.abs(x! - want[i][j][0]) < 1e-12, `series ${i} point ${j}: x ${x}, wanted ${want[i][j][0]}`);
        assert.equal(requested, want[i][j][1]);
      }),
    );
  close(at('parameters'), [
    [
      [0.2, 0.2],
      [0.48, 0.5],
    ],
    [
      [0.36, 0.2],
      [0.75, 0.5],
    ],
  ]);
  close(at('flops'), [
    [
      [0.2, 0.2],
      [0.5, 0.5],
    ],
    [
      [0.35, 0.2],
      [0.75, 0.5],
    ],
  ]);
  const [lo, hi] = sparsityRange(r, 'parameters');
  assert.equal(lo, 0);
  assert.ok(Math.abs(hi - 0.75) < 1e-12);
  // An original with nothing to remove has no such axis: its points are left out.
  r.baseline.flops = 0;
  assert.equal(xOf(r, 'flops')(unit.points[0]), null);
  assert.deepEqual(
    seriesBySparsity(r, (p) => p.accuracy, 'flops').map((s) => s.points.length),
    [0, 0],
  );
  assert.deepEqual(sparsityRange(r, 'flops'), [0, 1]);
});

test('layer similarity: one line per layer', () => {
  const r = sampleAnalysis();
  const run = r.runs[0];
  run.points = run.points.filter((p) => p.iteration === 0);
  const series = layerSimilaritySeries(run);
  assert.deepEqual(
    series.map((s) => s.label),
    ['dense_1', 'dense_2', 'dense_3'],
  );
  assert.equal(series[0].points[0].y, run.points[0].layers[0].similarity);
});

test('picker defaults: the first round point nearest 50 %', () => {
  const r = sampleAnalysis();
  const picked = pickPoint(r);
  assert.equal(picked?.run.strategy, 'magnitude');
  assert.equal(picked?.run.points[picked.index].sparsity, 0.5);
  assert.equal(picked?.run.points[picked.index].iteration, 0);
  const chosen = pickPoint(r, 'apoz', 12);
  assert.equal(chosen?.run.strategy, 'apoz');
  assert.equal(chosen?.index, 12);
  assert.equal(pointLabel(chosen.run, 12), '40% · round 1');
  // A stale choice (strategy gone, index out of range) falls back.
  assert.equal(pickPoint(r, 'gone', 99)?.run.strategy, 'magnitude');
});

test('a strategy run plain and compensated: two series, named by label, each with its colour, each pickable', () => {
  const r = sampleAnalysis();
  const [magnitude, unit] = r.runs;
  const compensated = { ...magnitude, label: 'magnitude + compensation', compensated: true, points: magnitude.points.slice(0, 9) };
  r.runs = [magnitude, compensated, unit];
  r.runs.forEach((run) => (run.points = run.points.filter((p) => p.iteration === 0)));
  assert.deepEqual(r.runs.map(seriesName), ['magnitude', 'magnitude + compensation', 'unit-l2']);
  const series = seriesBySparsity(r, (p) => p.accuracy);
  assert.deepEqual(
    series.map((s) => [s.label, s.colour]),
    [
      ['magnitude', 0],
      ['magnitude + compensation', 1],
      ['unit-l2', 2],
    ],
  );
  // Picked by series name: the compensated run, not the first run of the strategy both share.
  assert.equal(pickPoint(r, 'magnitude + compensation', 3)?.run, compensated);
  assert.equal(pickPoint(r, 'magnitude', 3)?.run, magnitude);
  assert.equal(pickPoint(r, 'unit-l2')?.run, unit);
});

test('heatmap cells, bin labels and layer labels', () => {
  assert.deepEqual(
    heatCells([
      [1, null],
      [0.5, 0.25],
    ]),
    [
      { x: 0, y: 0, v: 1 },
      { x: 1, y: 0, v: null },
      { x: 0, y: 1, v: 0.5 },
      { x: 1, y: 1, v: 0.25 },
    ],
  );
  assert.deepEqual(binLabels({ edges: [0, 0.1, 0.2], counts: [3, 4] }), ['0–0.1', '0.1–0.2']);
  assert.deepEqual(binLabels({ edges: [0, 0.001, 200], counts: [1, 1] }), ['0–1.0e-3', '1.0e-3–2.0e+2']);
  assert.deepEqual(layerLabels(['fc', 'fc']), ['1 fc', '2 fc']);
  assert.equal(pct(0.125), '12.5%');
});

test("geometry: one series per APoZ order, R^2 against units kept; the picker's layers", () => {
  const g = sampleAnalysis().baseline.geometry![0];
  assert.ok(g.applies);
  const [asc, desc] = geometrySeries(g);
  assert.deepEqual([asc.label, desc.label], [GEOMETRY_ASCENDING, GEOMETRY_DESCENDING]);
  assert.deepEqual([asc.colour, desc.colour], [0, 1]);
  assert.deepEqual(
    asc.points.map((p) => p.x),
    g.ascending.map((p) => p.k),
  );
  assert.deepEqual(
    desc.points.map((p) => p.y),
    g.descending.map((p) => p.r2),
  );

  const a = sampleAnalysis();
  assert.deepEqual(geometryLayers([{ name: 'original', geometry: a.baseline.geometry }]), { labels: ['1 dense_1', '2 dense_2'], first: 0 });
  const c = sampleComparison();
  assert.deepEqual(
    geometryLayers([
      { name: 'A', geometry: c.a.geometry },
      { name: 'B', geometry: c.b.geometry },
    ]).labels,
    ['1 A Gemm_2 · B Gemm_2', '2 A Gemm_4 · B Gemm_4'],
  );
  // The default is the first position where any model has curves; old results have none.
  const notFirst = [{ name: 'B', geometry: [c.b.geometry![1], c.b.geometry![0]] }];
  assert.equal(geometryLayers(notFirst).first, 1);
  assert.deepEqual(geometryLayers([{ name: 'original' }]), { labels: [], first: 0 });
});
