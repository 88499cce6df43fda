import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countNonzero } from '../model/count';
import { keptAndPrunedCounts, magnitudeBins } from '../prune/magnitude-bins';
import { keepGridMagnitudes, keepMaskMagnitudeKS, keepMaskMagnitudes, ksStatistic } from './ks';

test('KS: disjoint samples are 1 apart, identical ones 0', () => {
  assert.equal(ksStatistic([1, 2, 3], [4, 5]), 1);
  assert.equal(ksStatistic([5, 4], [3, 1, 2]), 1);
  assert.equal(ksStatistic([2, 1, 3], [3, 2, 1]), 0);
});

test('KS: hand-worked interleaved samples', () => {
  // a = {1, 3, 5}, b = {2, 4}: after 1: 1/3 - 0; after 2: 1/3 - 1/2; after 3: 2/3 - 1/2;
  // after 4: 2/3 - 1; after 5: 1 - 1. Largest |gap| = 1/3.
  assert.ok(Math.abs(ksStatistic([1, 3, 5], [2, 4])! - 1 / 3) < 1e-12);
  // a = {1, 2, 3, 4}, b = {3.5}: after 3, F_a = 3/4 and F_b = 0.
  assert.ok(Math.abs(ksStatistic([4, 3, 2, 1], [3.5])! - 0.75) < 1e-12);
});

test('KS: ties step both CDFs together', () => {
  // a = {1, 1}, b = {1, 2}: at 1 both jump (F_a = 1, F_b = 1/2), gap 1/2. Stepping one side
  // alone would read F_a = 1/2 or 1 against F_b = 0 and report 1.
  assert.ok(Math.abs(ksStatistic([1, 1], [1, 2])! - 0.5) < 1e-12);
  // All equal on both sides: the CDFs coincide everywhere.
  assert.equal(ksStatistic([0, 0, 0], [0, 0]), 0);
  // a = {0, 0, 1}, b = {0, 1, 1}: at 0: 2/3 - 1/3; at 1: 1 - 1. Largest gap 1/3.
  assert.ok(Math.abs(ksStatistic([0, 1, 0], [1, 0, 1])! - 1 / 3) < 1e-12);
});

test('KS: an empty side gives null', () => {
  assert.equal(ksStatistic([], [1, 2]), null);
  assert.equal(ksStatistic([1], []), null);
  assert.equal(ksStatistic([], []), null);
});

test('KS of a keep mask: |w| of pruned against kept', () => {
  // Pruned |w| = {0.1, 0.2}, kept |w| = {0.3, 0.5}: the smallest pruned, as magnitude pruning does.
  assert.equal(keepMaskMagnitudeKS(Float32Array.from([-0.1, 0.5, 0.2, -0.3]), Uint8Array.from([0, 1, 0, 1])), 1);
  // Pruned {0.5, 0.1}, kept {0.2, 0.3}: after 0.1: 1/2 - 0; after 0.3: 1/2 - 1. Largest gap 1/2.
  assert.equal(keepMaskMagnitudeKS([-0.1, 0.3, 0.5, -0.2], [0, 1, 0, 1]), 0.5);
  // Nothing pruned: null.
  assert.equal(keepMaskMagnitudeKS([1, 2], [1, 1]), null);
});

test('KS of keep masks over one cached order equals the direct statistic, ties included', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  // Values on a coarse grid so that many |w| tie, with both signs of each.
  const weights = Float32Array.from({ length: 5000 }, () => Math.round((rand() - 0.5) * 40) / 16);
  for (let trial = 0; trial < 4; trial++) {
    const keep = Uint8Array.from(weights, (w) => (rand() < 0.3 + 0.1 * trial + 0.2 * Math.abs(w) ? 1 : 0));
    const pruned = Array.from(weights)
      .filter((_, i) => !keep[i])
      .map(Math.abs);
    const kept = Array.from(weights)
      .filter((_, i) => keep[i])
      .map(Math.abs);
    const want = ksStatistic(pruned, kept)!;
    assert.ok(want > 0.05, `the masks differ from random: ${want}`);
    assert.ok(Math.abs(keepMaskMagnitudeKS(weights, keep)! - want) < 1e-12, `trial ${trial}`);
  }
});

test('one read of a keep mask gives the kept count, the statistic and the kept weights per |w| bin', () => {
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  // Ties on a coarse grid, zeros, and 64 bins for ~40 distinct |w|: some bins stay empty.
  const weights = Float32Array.from({ length: 4000 }, () => Math.round((rand() - 0.5) * 80) / 32);
  const { bin, counts } = magnitudeBins(weights, 64);
  for (const share of [0, 0.2, 0.7, 1]) {
    const keep = Uint8Array.from(weights, (w) => (rand() < share + 0.3 * Math.abs(w) * share * (1 - share) ? 1 : 0));
    const m = keepMaskMagnitudes(weights, keep, { bin, count: 64 });
    assert.equal(m.kept, countNonzero(keep), `share ${share}`);
    assert.equal(m.ks, keepMaskMagnitudeKS(weights, keep));
    assert.deepEqual(Array.from(m.keptPerBin!), keptAndPrunedCounts(weights, keep, 64).kept, `share ${share}`);
    assert.ok(m.keptPerBin!.every((c, b) => c <= counts[b]));
  }
  assert.ok(
    counts.some((c) => c === 0),
    'some bins are empty',
  );
});

test('bins that do not rise with |w| (a NaN weight) give no counts, and the statistic stands', () => {
  const weights = Float32Array.of(0.1, NaN, 0.3, -0.2, 0.5);
  const { bin } = magnitudeBins(weights, 4, false);
  const keep = Uint8Array.of(0, 1, 1, 0, 1);
  const m = keepMaskMagnitudes(weights, keep, { bin, count: 4 });
  assert.equal(m.keptPerBin, null);
  assert.equal(m.kept, 3);
  assert.equal(m.ks, keepMaskMagnitudeKS(weights, keep));
});

test('past 2^22 weights (indices wider than 22 bits) the order is still exact', () => {
  let seed = 5;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const n = (1 << 22) + 4000;
  // Few distinct |w|, so ties span the whole range of indices.
  const weights = Float32Array.from({ length: n }, () => Math.round((rand() - 0.5) * 64) / 8);
  // Keep the weights at the highest indices more often, whatever their |w|: an order that lost
  // the top bits of the index would interleave them wrongly within each tie.
  const keep = Uint8Array.from(weights, (w, i) => (rand() < (i >= 1 << 22 ? 0.9 : 0.3) + 0.05 * Math.abs(w) ? 1 : 0));
  const pruned: number[] = [];
  const kept: number[] = [];
  weights.forEach((w, i) => (keep[i] ? kept : pruned).push(Math.abs(w)));
  assert.ok(Math.abs(keepMaskMagnitudeKS(weights, keep)! - ksStatistic(pruned, kept)!) < 1e-12);
});

test('a keep grid (kept inputs x kept units) reads as its full mask: count, statistic and per-bin counts', () => {
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const cases: { rows: number; units: number; weights: (i: number) => number }[] = [
    // Ties on a coarse grid, both signs.
    { rows: 37, units: 23, weights: () => Math.round((rand() - 0.5) * 40) / 16 },
    { rows: 1, units: 50, weights: () => rand() - 0.5 },
    // More rows than 16 bits hold: the wide row and column arrays.
    { rows: 70_000, units: 1, weights: () => rand() - 0.5 },
    // A NaN breaks the bins' runs: no per-bin counts from the pass, the statistic still read.
    { rows: 12, units: 9, weights: (i) => (i === 5 ? NaN : rand() - 0.5) },
  ];
  for (const { rows, units, weights: w } of cases) {
    const weights = Float32Array.from({ length: rows * units }, (_, i) => w(i));
    const bins = { bin: magnitudeBins(weights, 32).bin, count: 32 };
    for (const share of [0, 0.4, 0.8, 1]) {
      const grid = {
        rows: Uint8Array.from({ length: rows }, () => (rand() < share || rows === 1 ? 1 : 0)),
        units: Uint8Array.from({ length: units }, () => (rand() < share ? 1 : 0)),
      };
      const mask = new Uint8Array(rows * units);
      for (let r = 0; r < rows; r++) for (let u = 0; u < units; u++) mask[r * units + u] = grid.rows[r] & grid.units[u];
      const what = `${rows} x ${units} at ${share}`;
      assert.deepEqual(keepGridMagnitudes(weights, grid, bins), keepMaskMagnitudes(weights, mask, bins), what);
      assert.equal(keepGridMagnitudes(weights, grid).kept, countNonzero(mask), what);
    }
  }
  assert.throws(
    () => keepGridMagnitudes(new Float32Array(6), { rows: new Uint8Array(2), units: new Uint8Array(2) }),
    /2 x 2 grid for 6 weights/,
  );
});
