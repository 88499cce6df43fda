/**
 * Cholesky factorisation and solves of symmetric positive definite systems, in float64 on flat
 * row-major arrays. ml-matrix has a Cholesky decomposition, but it reads and writes through
 * `get`/`set` on arrays of rows and allocates a Matrix per system; compensation solves one system
 * per pruned unit (thousands per layer, each of a few hundred unknowns) and there the plain loops
 * below, which walk contiguous rows, are several times faster (measured in
 * bench/compensation.bench.ts). The results are checked against ml-matrix in cholesky.test.ts.
 */

/**
 * Replaces the lower triangle of A (p x p, row-major, symmetric) by L with A = L L^T; the upper
 * triangle is left as it was. Returns false, with A partly overwritten, when a pivot is not
 * positive (A is not positive definite in float64).
 */
export function choleskyInPlace(A: Float64Array, p: number): boolean {
  for (let i = 0; i < p; i++) {
    const ri = i * p;
    for (let j = 0; j <= i; j++) {
      const rj = j * p;
      const s = A[ri + j] - rowDot(A, ri, rj, j);
      if (i === j) {
        if (!(s > 0)) return false;
        A[ri + i] = Math.sqrt(s);
      } else {
        A[ri + j] = s / A[rj + j];
      }
    }
  }
  return true;
}

/** Sum over k < len of A[a + k] * A[b + k], with four partial sums (about twice as fast in V8 as one). */
function rowDot(A: Float64Array, a: number, b: number, len: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    s0 += A[a + k] * A[b + k];
    s1 += A[a + k + 1] * A[b + k + 1];
    s2 += A[a + k + 2] * A[b + k + 2];
    s3 += A[a + k + 3] * A[b + k + 3];
  }
  for (; k < len; k++) s0 += A[a + k] * A[b + k];
  return s0 + s1 + s2 + s3;
}

/**
 * Solves L L^T X = B in place for B (p x k, row-major, k right-hand sides), L the lower triangle
 * of `L` from choleskyInPlace. Rows of B are updated whole, so the inner loop runs over the k
 * contiguous right-hand sides.
 */
export function choleskySolveInPlace(L: Float64Array, p: number, B: Float64Array, k: number): void {
  // Forward: L Y = B.
  for (let i = 0; i < p; i++) {
    const ri = i * p;
    const bi = i * k;
    for (let m = 0; m < i; m++) {
      const l = L[ri + m];
      if (l === 0) continue;
      const bm = m * k;
      for (let c = 0; c < k; c++) B[bi + c] -= l * B[bm + c];
    }
    const d = L[ri + i];
    for (let c = 0; c < k; c++) B[bi + c] /= d;
  }
  // Backward: L^T X = Y.
  for (let i = p - 1; i >= 0; i--) {
    const bi = i * k;
    for (let m = i + 1; m < p; m++) {
      const l = L[m * p + i];
      if (l === 0) continue;
      const bm = m * k;
      for (let c = 0; c < k; c++) B[bi + c] -= l * B[bm + c];
    }
    const d = L[i * p + i];
    for (let c = 0; c < k; c++) B[bi + c] /= d;
  }
}
