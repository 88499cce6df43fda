import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardSubstitute, SymmetricEigen } from './cca-linalg';
import { symmetricEigen } from './linalg';
import { close, gaussianMatrix } from '../../../test/kits/metrics';

/** A random symmetric p x p matrix G^T G (positive semi-definite, rank min(rows, p)) or G + G^T. */
function symmetric(p: number, seed: number, kind: 'gram' | 'indefinite', rows = p): Float64Array {
  const g = gaussianMatrix(rows, p, seed).data;
  const a = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      if (kind === 'indefinite') a[i * p + j] = g[i * p + j] + g[j * p + i];
      else for (let r = 0; r < rows; r++) a[i * p + j] += g[r * p + i] * g[r * p + j];
    }
  }
  return a;
}

/** max |A v - lambda v| over eigenpairs, and max |V V^T - I|, each relative to the largest |eigenvalue|. */
function residuals(a: Float64Array, p: number, eig: SymmetricEigen): { residual: number; orthogonality: number } {
  const v = eig.vectors();
  const scale = Math.max(Math.abs(eig.values[0]), Math.abs(eig.values[p - 1]));
  let residual = 0;
  let orthogonality = 0;
  for (let c = 0; c < p; c++) {
    for (let i = 0; i < p; i++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += a[i * p + j] * v[c * p + j];
      residual = Math.max(residual, Math.abs(s - eig.values[c] * v[c * p + i]) / scale);
    }
    for (let d = 0; d < p; d++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += v[c * p + j] * v[d * p + j];
      orthogonality = Math.max(orthogonality, Math.abs(s - (c === d ? 1 : 0)));
    }
  }
  return { residual, orthogonality };
}

describe('SymmetricEigen', () => {
  it('diagonalises 2 x 2 and 3 x 3 matrices worked out by hand', () => {
    // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1) and (1, -1) / sqrt 2.
    const two = new SymmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    close(two.values[0], 3, 1e-15, 'lambda 1');
    close(two.values[1], 1, 1e-15, 'lambda 2');
    const v = two.vectors();
    close(Math.abs(v[0]), Math.SQRT1_2, 1e-15, 'v1');
    close(v[0] * v[1], 0.5, 1e-15, 'v1 along (1, 1)');
    close(v[2] * v[3], -0.5, 1e-15, 'v2 along (1, -1)');
    // diag(5, -1, 2) in disguise: the eigenvalues come sorted, largest first.
    const three = new SymmetricEigen(Float64Array.of(2, 0, 0, 0, 5, 0, 0, 0, -1), 3);
    assert.deepEqual(Array.from(three.values), [5, 2, -1]);
  });

  for (const [p, kind, rows] of [
    [7, 'indefinite', 7],
    [60, 'gram', 60],
    [150, 'gram', 40],
    [300, 'indefinite', 300],
  ] as const) {
    it(`agrees with ml-matrix's EVD on a ${p} x ${p} ${kind} matrix${rows < p ? ` of rank ${rows}` : ''}, vectors included`, () => {
      const a = symmetric(p, p + rows, kind, rows);
      const eig = new SymmetricEigen(a, p);
      const ref = symmetricEigen(a, p);
      const scale = Math.abs(ref.values[0]) + Math.abs(ref.values[p - 1]);
      for (let i = 0; i < p; i++) close(eig.values[i] / scale, ref.values[i] / scale, 1e-13, `lambda ${i}`);
      const { residual, orthogonality } = residuals(a, p, eig);
      assert.ok(residual < 1e-13, `residual ${residual}`);
      assert.ok(orthogonality < 1e-12, `orthogonality ${orthogonality}`);
      // Eigenvalues of the lower triangle only: the upper one is never read.
      const lower = Float64Array.from(a, (x, i) => (i % p > Math.floor(i / p) ? NaN : x));
      assert.deepEqual(Array.from(new SymmetricEigen(lower, p).values), Array.from(eig.values));
    });
  }

  it('a repeated eigenvalue and a zero matrix', () => {
    // 2 I_4 + (1,1,1,1)(1,1,1,1)^T: 6 once, 2 three times; any orthonormal basis of the repeated space will do.
    const a = Float64Array.from({ length: 16 }, (_, i) => 1 + (i % 5 === 0 ? 2 : 0));
    const eig = new SymmetricEigen(a, 4);
    [6, 2, 2, 2].forEach((v, i) => close(eig.values[i], v, 1e-14, `lambda ${i}`));
    const { residual, orthogonality } = residuals(a, 4, eig);
    assert.ok(residual < 1e-15 && orthogonality < 1e-15, `${residual} ${orthogonality}`);
    const zero = new SymmetricEigen(new Float64Array(9), 3);
    assert.deepEqual(Array.from(zero.values), [0, 0, 0]);
    assert.ok(residuals(new Float64Array(9), 3, zero).orthogonality < 1e-15);
  });
});

describe('forwardSubstitute', () => {
  for (const k of [5, 64, 150]) {
    it(`solves L Z = B for a ${k} x ${k} lower triangular L, across its blocks of rows`, () => {
      const g = gaussianMatrix(k, k, k).data;
      // Lower triangle with a dominant diagonal; the upper triangle holds noise that must be ignored.
      const l = Float64Array.from(g, (x, i) => (i % k === Math.floor(i / k) ? 3 + Math.abs(x) : x));
      const z = gaussianMatrix(k, k, k + 1).data;
      const b = new Float64Array(k * k);
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let m = 0; m <= i; m++) s += l[i * k + m] * z[m * k + j];
          b[i * k + j] = s;
        }
      }
      forwardSubstitute(l, k, b);
      for (let i = 0; i < k * k; i++) close(b[i], z[i], 1e-11, `entry ${i}`);
    });
  }
});
