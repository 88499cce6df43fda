import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { onnxRuntime, ortRowGram64 } from '../engine/onnxruntime';
import { apoz } from './apoz';
import { apozGeometry, evenRows } from './geometry';
import { SimilarityError } from './matrix';
import {
  close,
  columns,
  constantColumns,
  gaussianMatrix,
  hstack,
  mnistActivations,
  plainRowGram,
  type MnistActivations,
} from '../../../test/kits/metrics';

describe('representational geometry curves', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(1000);
  });

  it('by hand: duplicated units leave the RDM unchanged', () => {
    // X = [a, b, a, b] with APoZ ordering a, b first. Over {a, b, a, b} every sample's vector is its
    // {a, b} vector repeated: the mean is the same and covariance and variances double, so Pearson
    // correlations, the RDM and R^2 against the full RDM are exactly those of {a, b}: 1 at k = 2.
    // At k = 1 each sample is a single value (constant), correlations count as 0 and R^2 as 0.
    const ab = gaussianMatrix(40, 2, 3);
    const x = hstack(ab, ab);
    const r = apozGeometry(x, [0.1, 0.2, 0.3, 0.4], { step: 1 });
    assert.deepEqual(
      r.ascending.map((p) => p.k),
      [1, 2, 3, 4],
    );
    close(r.ascending[0].r2, 0, 0, 'k = 1');
    close(r.ascending[1].r2, 1, 1e-12, 'k = 2');
    close(r.ascending[3].r2, 1, 1e-12, 'k = 4');
    // Descending adds the second copies first: {b} then {b, a}, the same set again at k = 2.
    close(r.descending[1].r2, 1, 1e-12, 'descending k = 2');
  });

  it('on the MNIST layer: both curves end at 1, steps and sample cap apply, values in [0, 1]', () => {
    const layer = real.layers[0];
    const a = apoz(layer, 'relu');
    assert.ok(a.applies);
    const r = apozGeometry(layer, a.perNeuron, { step: 3, maxSamples: 500 });
    assert.equal(r.samples, 500);
    assert.deepEqual(
      r.ascending.map((p) => p.k),
      [3, 6, 9, 10],
    );
    assert.deepEqual(
      r.descending.map((p) => p.k),
      [3, 6, 9, 10],
    );
    close(r.ascending[3].r2, 1, 1e-12, 'ascending full');
    close(r.descending[3].r2, 1, 1e-12, 'descending full');
    for (const p of [...r.ascending, ...r.descending]) assert.ok(p.r2 >= 0 && p.r2 <= 1, `${p.k}: ${p.r2}`);
    // The 3 never-firing units come first in descending order: they carry no geometry at all.
    assert.equal(r.descending[0].r2, 0);
    assert.ok(r.ascending[1].r2 > r.descending[1].r2, 'the 6 most active units keep more geometry than 3 dead + 3 others');
  });

  it('matches curves computed from scratch at every point (zeros, tied APoZ, steps not a multiple of four)', () => {
    // ReLU-like data: half the values exactly 0, one dead unit, so the blocked sums skip rows.
    const g = gaussianMatrix(37, 23, 5);
    const x = { rows: 37, cols: 23, data: Float64Array.from(g.data, (v, i) => (i % 23 === 4 ? 0 : Math.max(0, v))) };
    const apozValues = Array.from({ length: 23 }, (_, j) => [0.2, 0.5, 0.5, 0.9][j % 4]);
    for (const step of [1, 3, 5, 7, 13]) {
      const r = apozGeometry(x, apozValues, { step });
      const byHand = (order: number[]) => r.ascending.map((p) => ({ k: p.k, r2: r2FromScratch(x, order.slice(0, p.k), x.cols) }));
      const ids = Array.from({ length: 23 }, (_, j) => j);
      const ascending = [...ids].sort((a, b) => apozValues[a] - apozValues[b] || a - b);
      const descending = [...ids].sort((a, b) => apozValues[b] - apozValues[a] || a - b);
      for (const [got, want] of [
        [r.ascending, byHand(ascending)],
        [r.descending, byHand(descending)],
      ]) {
        assert.deepEqual(
          got.map((p) => p.k),
          want.map((p) => p.k),
        );
        got.forEach((p, i) => close(p.r2, want[i].r2, 1e-12, `step ${step}, k = ${p.k}`));
      }
    }
  });

  it('the full layer from a row product X X^T gives the curves of the pair loops (plain product; none)', () => {
    const g = gaussianMatrix(37, 23, 5);
    const x = { rows: 37, cols: 23, data: Float64Array.from(g.data, (v, i) => (i % 23 === 4 ? 0 : Math.max(0, v))) };
    const apozValues = Array.from({ length: 23 }, (_, j) => [0.2, 0.5, 0.5, 0.9][j % 4]);
    const loops = apozGeometry(x, apozValues, { step: 3 });
    sameCurves(apozGeometry(x, apozValues, { step: 3, rowGram: plainRowGram }), loops, 1e-13);
    // A product that cannot run leaves the loops to it.
    sameCurves(apozGeometry(x, apozValues, { step: 3, rowGram: () => undefined }), loops, 0);
  });

  const noOrt = !onnxRuntime() && 'onnxruntime-node does not load here';
  it("the full layer from onnxruntime's float64 product gives the curves of the pair loops (MNIST layer)", { skip: noOrt }, () => {
    const layer = real.layers[1];
    const a = apoz(layer, 'relu');
    assert.ok(a.applies);
    const loops = apozGeometry(layer, a.perNeuron, { maxSamples: 300 });
    sameCurves(apozGeometry(layer, a.perNeuron, { maxSamples: 300, rowGram: ortRowGram64 }), loops, 1e-12);
  });

  it('default step keeps large layers to about 100 points', () => {
    const x = gaussianMatrix(60, 250, 1);
    const r = apozGeometry(x, new Float64Array(250).fill(0.5), { maxSamples: 50 });
    assert.equal(r.step, 3);
    assert.equal(r.ascending.length, 84);
    assert.equal(r.ascending[r.ascending.length - 1].k, 250);
  });

  it('refuses a layer without geometry and mismatched APoZ', () => {
    const dead = constantColumns(30, [0, 0, 0]);
    assert.throws(
      () => apozGeometry(dead, [1, 1, 1], { name: 'dense_3' }),
      (e: unknown) => e instanceof SimilarityError && /dense_3: .*no geometry/.test(e.message),
    );
    const x = columns(gaussianMatrix(30, 4, 1), [0, 1, 2]);
    assert.throws(() => apozGeometry(x, [0.5, 0.5]), /2 APoZ values for 3 units/);
    assert.throws(() => apozGeometry(x, [0.5, 0.5, 2]), /APoZ of unit 2 is 2/);
  });

  it('evenRows spreads the cap over all rows', () => {
    assert.deepEqual(Array.from(evenRows(10, 4)), [0, 2, 5, 7]);
    assert.deepEqual(Array.from(evenRows(3, 10)), [0, 1, 2]);
  });
});

/** Sums of products of deviations from the means, two-pass: [ab, aa, bb]. */
function centredSums(a: ArrayLike<number>, b: ArrayLike<number>): [number, number, number] {
  const mean = (v: ArrayLike<number>) => Array.from(v).reduce((t, x) => t + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  const sums: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    sums[0] += (a[i] - ma) * (b[i] - mb);
    sums[1] += (a[i] - ma) ** 2;
    sums[2] += (b[i] - mb) ** 2;
  }
  return sums;
}

/** 1 - Pearson correlation of two vectors; 0 correlation when either is constant (the module's convention). */
function dissimilarity(a: number[], b: number[]): number {
  const [ab, aa, bb] = centredSums(a, b);
  return aa > 1e-12 && bb > 1e-12 ? 1 - ab / Math.sqrt(aa * bb) : 1;
}

/** R^2 between the RDM over `units` and the RDM over all `cols` units, each built from scratch, two-pass. */
function r2FromScratch(x: { rows: number; cols: number; data: ArrayLike<number> }, units: number[], cols: number): number {
  const rdm = (us: number[]) => {
    const rowsOf = Array.from({ length: x.rows }, (_, i) => us.map((j) => x.data[i * x.cols + j]));
    const out: number[] = [];
    for (let i = 0; i < x.rows; i++) for (let j = i + 1; j < x.rows; j++) out.push(dissimilarity(rowsOf[i], rowsOf[j]));
    return out;
  };
  const [pf, pp, ff] = centredSums(rdm(units), rdm(Array.from({ length: cols }, (_, j) => j)));
  return pp > 1e-24 && ff > 0 ? Math.min(1, (pf * pf) / pp / ff) : 0;
}

/** Both curves of two results at the same k, R^2 within tol. */
function sameCurves(got: ReturnType<typeof apozGeometry>, want: ReturnType<typeof apozGeometry>, tol: number): void {
  for (const side of ['ascending', 'descending'] as const) {
    assert.deepEqual(
      got[side].map((p) => p.k),
      want[side].map((p) => p.k),
    );
    got[side].forEach((p, i) => close(p.r2, want[side][i].r2, tol, `${side} k = ${p.k}`));
  }
}
