import { EVD, Matrix as MlMatrix, SVD } from 'ml-matrix';

/**
 * Float64 kernels for the products the metrics need. The hot one, C += A * B^T with both
 * operands stored as rows of length k, keeps a 3x3 block of C in registers while streaming
 * three rows of each operand, which is about 6x faster in V8 than the textbook triple loop.
 */

/**
 * C (p x q, row-major) += At * Bt^T, where At is p x k and Bt is q x k, both row-major.
 * With `upperOnly` (At and Bt the same matrix) only the tiles on and above the diagonal are
 * filled; call `mirrorUpper` afterwards.
 */
export function addABt(At: Float64Array, p: number, Bt: Float64Array, q: number, k: number, C: Float64Array, upperOnly = false): void {
  let a = 0;
  for (; a + 3 <= p; a += 3) addThreeRowsABt(At, a, Bt, q, k, C, upperOnly ? a : 0);
  for (; a < p; a++) {
    const r0 = a * k;
    const o0 = a * q;
    for (let b = upperOnly ? a : 0; b < q; b++) {
      const s0 = b * k;
      let c = 0;
      for (let t = 0; t < k; t++) c += At[r0 + t] * Bt[s0 + t];
      C[o0 + b] += c;
    }
  }
}

/**
 * Rows a, a + 1 and a + 2 of C += At * Bt^T, from column `from` on: 3x3 blocks of C kept in
 * registers while three rows of each operand stream by, then the columns left over, three rows at
 * a time. One call covers 3 x (q - from) x k products, so the call costs nothing measurable.
 */
// eslint-disable-next-line max-lines-per-function -- an unrolled three-row kernel: splitting it costs speed on the hot path
function addThreeRowsABt(At: Float64Array, a: number, Bt: Float64Array, q: number, k: number, C: Float64Array, from: number): void {
  const r0 = a * k;
  const r1 = r0 + k;
  const r2 = r1 + k;
  const o0 = a * q;
  const o1 = o0 + q;
  const o2 = o1 + q;
  let b = from;
  for (; b + 3 <= q; b += 3) {
    const s0 = b * k;
    const s1 = s0 + k;
    const s2 = s1 + k;
    let c00 = 0,
      c01 = 0,
      c02 = 0,
      c10 = 0,
      c11 = 0,
      c12 = 0,
      c20 = 0,
      c21 = 0,
      c22 = 0;
    for (let t = 0; t < k; t++) {
      const y0 = Bt[s0 + t];
      const y1 = Bt[s1 + t];
      const y2 = Bt[s2 + t];
      const x0 = At[r0 + t];
      const x1 = At[r1 + t];
      const x2 = At[r2 + t];
      c00 += x0 * y0;
      c01 += x0 * y1;
      c02 += x0 * y2;
      c10 += x1 * y0;
      c11 += x1 * y1;
      c12 += x1 * y2;
      c20 += x2 * y0;
      c21 += x2 * y1;
      c22 += x2 * y2;
    }
    C[o0 + b] += c00;
    C[o0 + b + 1] += c01;
    C[o0 + b + 2] += c02;
    C[o1 + b] += c10;
    C[o1 + b + 1] += c11;
    C[o1 + b + 2] += c12;
    C[o2 + b] += c20;
    C[o2 + b + 1] += c21;
    C[o2 + b + 2] += c22;
  }
  for (; b < q; b++) {
    const s0 = b * k;
    let c0 = 0,
      c1 = 0,
      c2 = 0;
    for (let t = 0; t < k; t++) {
      const y = Bt[s0 + t];
      c0 += At[r0 + t] * y;
      c1 += At[r1 + t] * y;
      c2 += At[r2 + t] * y;
    }
    C[o0 + b] += c0;
    C[o1 + b] += c1;
    C[o2 + b] += c2;
  }
}

/** Copies the upper triangle of a p x p matrix onto its lower triangle. */
export function mirrorUpper(C: Float64Array, p: number): void {
  for (let i = 0; i < p; i++) {
    for (let j = i + 1; j < p; j++) C[j * p + i] = C[i * p + j];
  }
}

/** Transpose of an r x c row-major matrix. */
export function transpose(A: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const o = i * c;
    for (let j = 0; j < c; j++) out[j * r + i] = A[o + j];
  }
  return out;
}

/** A (m x k) * B (k x n), all row-major float64. */
export function matmul(A: Float64Array, m: number, k: number, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(m * n);
  addABt(A, m, transpose(B, k, n), n, k, C);
  return C;
}

/** A^T B (k x n) for A (m x k) and B (m x n), all row-major float64. */
export function matmulAtB(A: Float64Array, m: number, k: number, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(k * n);
  addABt(transpose(A, m, k), k, transpose(B, m, n), n, m, C);
  return C;
}

export function trace(A: Float64Array, p: number): number {
  let t = 0;
  for (let i = 0; i < p; i++) t += A[i * p + i];
  return t;
}

/** The entries' sum of squares as (sum of (a / scale)^2, scale): neither overflows nor underflows. */
function scaledSumOfSquares(A: ArrayLike<number>): { sum: number; scale: number } {
  let scale = 0;
  for (let i = 0; i < A.length; i++) {
    const v = Math.abs(A[i]);
    if (v > scale) scale = v;
  }
  if (scale === 0) return { sum: 0, scale: 0 };
  let sum = 0;
  for (let i = 0; i < A.length; i++) {
    const v = A[i] / scale;
    sum += v * v;
  }
  return { sum, scale };
}

/** Sum of squares of the entries, computed with a scale so it neither overflows nor underflows. */
export function frobeniusNormSquared(A: ArrayLike<number>): number {
  const { sum, scale } = scaledSumOfSquares(A);
  return sum * scale * scale;
}

export function frobeniusNorm(A: ArrayLike<number>): number {
  const { sum, scale } = scaledSumOfSquares(A);
  return Math.sqrt(sum) * scale;
}

function toMl(A: Float64Array, r: number, c: number): MlMatrix {
  return MlMatrix.from1DArray(r, c, A);
}

export interface SymmetricEigen {
  /** Eigenvalues, largest first. */
  values: Float64Array;
  /** p x p row-major; column i is the eigenvector of values[i]. */
  vectors: Float64Array;
}

/** Eigen-decomposition of a symmetric p x p matrix (ml-matrix, float64), sorted largest first. */
export function symmetricEigen(A: Float64Array, p: number): SymmetricEigen {
  const evd = new EVD(toMl(A, p, p), { assumeSymmetric: true });
  const raw = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const order = raw.map((_, i) => i).sort((i, j) => raw[j] - raw[i]);
  const values = new Float64Array(p);
  const vectors = new Float64Array(p * p);
  for (let c = 0; c < p; c++) {
    const src = order[c];
    values[c] = raw[src];
    for (let r = 0; r < p; r++) vectors[r * p + c] = V.get(r, src);
  }
  return { values, vectors };
}

/** Singular values of an r x c matrix, largest first. */
export function singularValues(A: Float64Array, r: number, c: number): Float64Array {
  if (r === 0 || c === 0) return new Float64Array(0);
  const svd = new SVD(toMl(A, r, c), {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  return Float64Array.from(svd.diagonal).sort().reverse();
}

export interface ThinSVD {
  /** min(r, c) singular values, largest first. */
  values: Float64Array;
  /** r x min(r, c) row-major left singular vectors, in the order of `values`. */
  left: Float64Array;
}

/** Singular values and left singular vectors of an r x c matrix. */
export function leftSVD(A: Float64Array, r: number, c: number): ThinSVD {
  const k = Math.min(r, c);
  const svd = new SVD(toMl(A, r, c), {
    computeLeftSingularVectors: true,
    computeRightSingularVectors: r < c,
    autoTranspose: true,
  });
  const d = svd.diagonal;
  const U = svd.leftSingularVectors;
  const order = d
    .map((_, i) => i)
    .sort((i, j) => d[j] - d[i])
    .slice(0, k);
  const values = new Float64Array(k);
  const left = new Float64Array(r * k);
  for (let c2 = 0; c2 < k; c2++) {
    values[c2] = d[order[c2]];
    for (let i = 0; i < r; i++) left[i * k + c2] = U.get(i, order[c2]);
  }
  return { values, left };
}
