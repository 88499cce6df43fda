import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, selectKth } from './gram';
import { addABt, mirrorUpper, singularValues, symmetricEigen } from './linalg';
import { CrossMoments } from './moments';
import { close, gaussianMatrix, rng } from '../../../test/kits/metrics';

describe('float64 kernels', () => {
  it('addABt equals the triple loop for every remainder shape, and accumulates', () => {
    for (const [p, q, k] of [
      [1, 1, 1],
      [7, 5, 13],
      [9, 9, 4],
      [4, 11, 3],
    ]) {
      const a = gaussianMatrix(p, k, p * 31 + q).data;
      const b = gaussianMatrix(q, k, k * 17 + 1).data;
      const c = new Float64Array(p * q).fill(1);
      addABt(a, p, b, q, k, c);
      for (let i = 0; i < p; i++) {
        for (let j = 0; j < q; j++) {
          let s = 1;
          for (let t = 0; t < k; t++) s += a[i * k + t] * b[j * k + t];
          close(c[i * q + j], s, 1e-12, `${p}x${q}x${k} [${i},${j}]`);
        }
      }
    }
  });

  it('the upper-triangle mode plus mirroring gives the full symmetric product', () => {
    const p = 8;
    const k = 5;
    const a = gaussianMatrix(p, k, 3).data;
    const full = new Float64Array(p * p);
    addABt(a, p, a, p, k, full);
    const upper = new Float64Array(p * p);
    addABt(a, p, a, p, k, upper, true);
    mirrorUpper(upper, p);
    upper.forEach((v, i) => close(v, full[i], 1e-12, `entry ${i}`));
  });

  it('eigen-decomposition comes sorted largest first; singular values likewise', () => {
    // diag(1, 3, 2) has eigenvalues 3, 2, 1 with unit eigenvectors e2, e3, e1.
    const e = symmetricEigen(Float64Array.from([1, 0, 0, 0, 3, 0, 0, 0, 2]), 3);
    assert.deepEqual(Array.from(e.values), [3, 2, 1]);
    close(Math.abs(e.vectors[1 * 3 + 0]), 1, 1e-15, 'first eigenvector is e2');
    // [[3, 0], [0, -4], [0, 0]] has singular values 4, 3.
    assert.deepEqual(
      Array.from(singularValues(Float64Array.from([3, 0, 0, -4, 0, 0]), 3, 2)).map((v) => Math.round(v * 1e12) / 1e12),
      [4, 3],
    );
  });

  it('quickselect and median agree with sorting, including ties and even lengths', () => {
    const u = rng(5);
    for (const len of [1, 2, 3, 10, 101, 1000]) {
      const values = Float64Array.from({ length: len }, () => Math.floor(u() * 20));
      const sorted = Float64Array.from(values).sort();
      for (const k of [0, len >> 1, len - 1]) assert.equal(selectKth(Float64Array.from(values), len, k), sorted[k]);
      const expected = len % 2 ? sorted[len >> 1] : (sorted[len / 2 - 1] + sorted[len / 2]) / 2;
      assert.equal(median(Float64Array.from(values), len), expected);
    }
  });
});

describe('CrossMoments', () => {
  it('a constant column is shifted by its exact value, so its moments are exact zeros', () => {
    const x = gaussianMatrix(50, 3, 1);
    for (let i = 0; i < 50; i++) x.data[i * 3 + 1] = 0.1;
    const m = new CrossMoments([3], [3], { engine: 'float64' });
    m.add([x], [x]);
    m.add([x], [x]);
    const g = m.centeredGram('x', 0);
    for (let j = 0; j < 3; j++) {
      assert.equal(g[1 * 3 + j], 0);
      assert.equal(g[j * 3 + 1], 0);
    }
    assert.equal(m.rows, 100);
  });

  it('rejects batches that do not fit', () => {
    const m = new CrossMoments([3], [2]);
    assert.throws(() => m.add([gaussianMatrix(4, 3, 1)], [gaussianMatrix(5, 2, 1)]), /Y: batch has 5 samples, X has 4/);
    assert.throws(() => m.add([gaussianMatrix(4, 2, 1)], [gaussianMatrix(4, 2, 1)]), /X: batch has 2 features, expected 3/);
    assert.throws(() => m.centeredGram('x', 0), /0 samples accumulated/);
  });
});
