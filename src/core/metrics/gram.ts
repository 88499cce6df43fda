import { addABt, mirrorUpper } from './linalg';
import { columnMeans, type Matrix, powerOfTwoScale, SimilarityError } from './matrix';

/**
 * n x n Gram matrices and the HSIC estimators on them. Only for metrics that are n x n by
 * nature (RBF CKA) or for inputs with more features than samples; the sample count is checked
 * against a limit before anything is allocated.
 */

/** Default largest n for which an n x n Gram matrix is built (two of them take 400 MB). */
export const DEFAULT_MAX_GRAM_ROWS = 5000;

export function checkGramRows(n: number, metric: string, limit = DEFAULT_MAX_GRAM_ROWS, matrices = 2): void {
  if (n > limit) {
    const gb = (matrices * n * n * 8) / 1e9;
    throw new SimilarityError(
      `${metric} builds n x n Gram matrices: ${n} samples would need about ${gb.toFixed(gb < 10 ? 1 : 0)} GB, ` +
        `over the limit of ${limit} samples (option maxGramRows). Use a sample of the rows, or linear-cka, ` +
        `which works in feature space at any n.`,
    );
  }
}

/**
 * Column-centred float64 copy of m divided by a power of two so its largest entry is in
 * [0.5, 1]: metrics are scale-invariant, and this keeps squares of squares from overflowing or
 * underflowing when feature scales are extreme.
 */
export function centeredScaled(m: Matrix): Float64Array {
  const { rows, cols, data } = m;
  const mean = columnMeans(m);
  const out = new Float64Array(rows * cols);
  let max = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = data[o + j] - mean[j];
      out[o + j] = v;
      const a = Math.abs(v);
      if (a > max) max = a;
    }
  }
  const rest = columnMeans({ rows, cols, data: out });
  const scale = powerOfTwoScale(max);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] = (out[o + j] - rest[j]) * scale;
  }
  return out;
}

/** K = A A^T for A (n x p row-major): the linear-kernel Gram matrix, n x n. */
export function linearGram(a: Float64Array, n: number, p: number): Float64Array {
  const k = new Float64Array(n * n);
  addABt(a, n, a, n, p, k, true);
  mirrorUpper(k, n);
  return k;
}

/** H K H with H = I - 11^T/n, in place. */
export function centerGram(k: Float64Array, n: number): Float64Array {
  const mean = new Float64Array(n);
  let grand = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * n;
    for (let j = 0; j < n; j++) s += k[o + j];
    mean[i] = s / n;
    grand += s;
  }
  grand /= n * n;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    const mi = mean[i] - grand;
    for (let j = 0; j < n; j++) k[o + j] -= mi + mean[j];
  }
  return k;
}

/**
 * Sum of the elementwise product: tr(K L) for symmetric K, L. Four running sums that never wait
 * on each other: one sum waits on the add before it at every entry, and took 2.4x as long on
 * 512 x 512 Grams (an analysis takes 30 of these products per point).
 */
export function gramDot(k: Float64Array, l: Float64Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = k.length - (k.length % 4);
  for (let i = 0; i < end; i += 4) {
    s0 += k[i] * l[i];
    s1 += k[i + 1] * l[i + 1];
    s2 += k[i + 2] * l[i + 2];
    s3 += k[i + 3] * l[i + 3];
  }
  for (let i = end; i < k.length; i++) s0 += k[i] * l[i];
  return s0 + s1 + (s2 + s3);
}

/**
 * n(n-3) times the unbiased HSIC estimator of Song et al. (2012), eq. 5, on Gram matrices:
 *   tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1,
 * where K~, L~ are K, L with zeroed diagonals. The factor n(n-3) cancels in CKA.
 */
export function unbiasedHsicGram(k: Float64Array, l: Float64Array, n: number): number {
  if (n < 4) throw new SimilarityError(`the unbiased HSIC estimator needs at least 4 samples, got ${n}`);
  let tr = 0;
  let sumK = 0;
  let sumL = 0;
  let cross = 0;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    let rk = 0;
    let rl = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const a = k[o + j];
      const b = l[o + j];
      tr += a * b;
      rk += a;
      rl += b;
    }
    sumK += rk;
    sumL += rl;
    cross += rk * rl;
  }
  return tr + (sumK * sumL) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * cross;
}

/**
 * Quickselect: the k-th smallest value (0-based) of a[0..len), reordering a. Average O(len).
 */
export function selectKth(a: Float64Array, len: number, k: number): number {
  let lo = 0;
  let hi = len - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot keeps sorted or constant input from going quadratic.
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** Median of a[0..len) (mean of the two middle values when len is even), reordering a. */
export function median(a: Float64Array, len: number): number {
  const upper = selectKth(a, len, len >> 1);
  if (len % 2 === 1) return upper;
  // After selection every value left of len/2 is <= upper; the largest of them is the lower middle.
  let lower = -Infinity;
  for (let i = 0; i < len >> 1; i++) if (a[i] > lower) lower = a[i];
  return (lower + upper) / 2;
}

/**
 * Which squared distances the RBF bandwidth is the median of: `pairs`, the nonzero distances of
 * distinct samples (PruneScope's default), or `matrix`, every entry of the n x n distance matrix
 * with its zero diagonal and each pair twice, as np.median does in Kornblith et al.'s reference
 * code (`gram_rbf`); the latter is a little smaller, more so for small n.
 */
export type BandwidthMedian = 'pairs' | 'matrix';

/**
 * The median of the n x n symmetric matrix's entries from its n(n-1)/2 upper ones (`upper`,
 * reordered) and its n zeros on the diagonal: sorted, the matrix holds the n zeros, then each
 * upper value twice, so its k-th value is 0 below n and otherwise upper's floor((k - n) / 2)-th.
 */
function matrixMedian(upper: Float64Array, count: number, n: number): number {
  const total = n * n;
  const at = (k: number) => (k < n ? -1 : Math.floor((k - n) / 2));
  const [lo, hi] = total % 2 ? [at(total >> 1), at(total >> 1)] : [at(total / 2 - 1), at(total / 2)];
  const high = hi < 0 ? 0 : selectKth(upper, count, hi);
  if (lo === hi) return high;
  // After selecting hi, everything left of it is <= it: the largest of those is the lo-th value.
  let low = 0;
  if (lo >= 0) {
    low = -Infinity;
    for (let i = 0; i < hi; i++) if (upper[i] > low) low = upper[i];
  }
  return (low + high) / 2;
}

/**
 * RBF Gram matrix exp(-d^2 / (2 sigma^2)) from the linear Gram matrix G of centred features,
 * with sigma^2 = threshold^2 * the median of the squared distances `over` says. Overwrites and
 * returns G.
 */
export function rbfGramFromLinear(
  g: Float64Array,
  n: number,
  threshold: number,
  name: string,
  over: BandwidthMedian = 'pairs',
): Float64Array {
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = g[i * n + i];
  const upper = new Float64Array((n * (n - 1)) / 2);
  let count = 0;
  let nonzero = 0;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    for (let j = 0; j < n; j++) {
      const d = Math.max(0, diag[i] + diag[j] - 2 * g[o + j]);
      g[o + j] = j === i ? 0 : d;
      if (j > i && d > 0) nonzero++;
      if (j > i && (d > 0 || over === 'matrix')) upper[count++] = d;
    }
  }
  if (nonzero === 0) {
    throw new SimilarityError(`${name}: all samples are identical, so the RBF bandwidth (median distance) is undefined`);
  }
  const med = over === 'matrix' ? matrixMedian(upper, count, n) : median(upper, count);
  if (!(med > 0)) throw new SimilarityError(`${name}: most samples are identical, so the RBF bandwidth (median distance) is 0`);
  const sigma2 = threshold * threshold * med;
  const f = -1 / (2 * sigma2);
  for (let i = 0; i < g.length; i++) g[i] = Math.exp(g[i] * f);
  return g;
}
