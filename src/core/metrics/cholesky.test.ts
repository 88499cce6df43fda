import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { seededRandom } from '../random';
import { choleskyInPlace, choleskySolveInPlace } from './cholesky';

/** A random symmetric positive definite p x p matrix, B B^T + p I. */
function spd(p: number, seed: number): Float64Array {
  const next = seededRandom(seed);
  const B = Array.from({ length: p * p }, () => next() - 0.5);
  const A = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      let s = i === j ? p : 0;
      for (let k = 0; k < p; k++) s += B[i * p + k] * B[j * p + k];
      A[i * p + j] = s;
    }
  }
  return A;
}

describe('cholesky', () => {
  it('factors and solves as ml-matrix does, for several right-hand sides', () => {
    const p = 37;
    const k = 4;
    const A = spd(p, 3);
    const next = seededRandom(5);
    const B = Float64Array.from({ length: p * k }, () => next() - 0.5);
    const ref = new CholeskyDecomposition(Matrix.from1DArray(p, p, A));
    const want = ref.solve(Matrix.from1DArray(p, k, B));
    const L = Float64Array.from(A);
    assert.ok(choleskyInPlace(L, p));
    for (let i = 0; i < p; i++) {
      for (let j = 0; j <= i; j++) assert.ok(Math.abs(L[i * p + j] - ref.lowerTriangularMatrix.get(i, j)) < 1e-12);
    }
    const X = Float64Array.from(B);
    choleskySolveInPlace(L, p, X, k);
    for (let i = 0; i < p; i++) for (let c = 0; c < k; c++) assert.ok(Math.abs(X[i * k + c] - want.get(i, c)) < 1e-10);
  });

  it('says when a matrix is not positive definite', () => {
    // [[1, 2], [2, 1]] has eigenvalues 3 and -1.
    assert.equal(choleskyInPlace(Float64Array.from([1, 2, 2, 1]), 2), false);
    assert.equal(choleskyInPlace(Float64Array.from([0, 0, 0, 1]), 2), false);
  });
});
