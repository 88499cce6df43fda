import { type CrossProductEngine, engineThatRan, matrixEngine } from './engine';
import {
  type BandwidthMedian,
  centerGram,
  centeredScaled,
  checkGramRows,
  DEFAULT_MAX_GRAM_ROWS,
  gramDot,
  linearGram,
  rbfGramFromLinear,
  unbiasedHsicGram,
} from './gram';
import { addABt, frobeniusNormSquared, mirrorUpper, transpose } from './linalg';
import { checkPair, columnMeans, type Matrix, type MatrixNames, powerOfTwoScale, SimilarityError } from './matrix';
import { CrossMoments } from './moments';

/**
 * Centered Kernel Alignment (Kornblith et al. 2019, "Similarity of Neural Network
 * Representations Revisited") in its linear, RBF, debiased and minibatch (Nguyen et al. 2021)
 * forms. All values are in [0, 1]; inputs that leave a value undefined (a representation with no
 * variance, too few samples) raise SimilarityError instead of returning NaN.
 */

export type CKAForm = 'auto' | 'feature' | 'gram';

export interface CKAOptions {
  /** `feature`: p x q cross-products (any n). `gram`: n x n Gram matrices. `auto`: gram only when p >= n or q >= n. */
  form?: CKAForm;
  engine?: CrossProductEngine;
  /** Largest n for which n x n matrices may be built (default 5000). */
  maxGramRows?: number;
  names?: MatrixNames;
}

function useGram(x: Matrix, y: Matrix, options: CKAOptions, metric: string): boolean {
  const form = options.form ?? 'auto';
  const limit = options.maxGramRows ?? DEFAULT_MAX_GRAM_ROWS;
  if (form === 'feature') return false;
  if (form === 'gram') {
    checkGramRows(x.rows, metric, limit);
    return true;
  }
  return (x.cols >= x.rows || y.cols >= y.rows) && x.rows <= limit;
}

function zeroVariance(name: string, metric: string): SimilarityError {
  return new SimilarityError(
    `${metric}: ${name} has no variance (every feature is constant over the samples, e.g. a dead ReLU layer), so the similarity is undefined`,
  );
}

function clampUnit(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * Linear CKA from accumulated moments: ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on centred
 * columns. Each matrix is divided by its trace first so no square of a square can overflow.
 */
export function linearCKAFromMoments(m: CrossMoments, i = 0, j = 0, metric = 'linear CKA'): number {
  return ckaFromNorms(m, i, j, gramNorms(m, 'x', i), gramNorms(m, 'y', j), metric);
}

/** A representation's centred-Gram trace and Frobenius norm over that trace (or why it has none). */
type GramNorms = { trace: number; normOverTrace: number } | { trace: 0; error?: SimilarityError };

function gramNorms(m: CrossMoments, side: 'x' | 'y', i: number): GramNorms {
  const { trace: t, normSquared } = m.centeredGramNorms(side, i);
  return t > 0 ? { trace: t, normOverTrace: Math.sqrt(normSquared) / t } : { trace: 0 };
}

/** The norms of a representation that has them, or the error saying why it has none. */
function defined(norms: GramNorms, name: string, metric: string): { trace: number; normOverTrace: number } {
  if (!('normOverTrace' in norms)) throw norms.error ?? zeroVariance(name, metric);
  return norms;
}

function ckaFromNorms(m: CrossMoments, i: number, j: number, nx: GramNorms, ny: GramNorms, metric = 'linear CKA'): number {
  const x = defined(nx, m.name('x', i), metric);
  const y = defined(ny, m.name('y', j), metric);
  const num = m.centeredCrossNormSquared(i, j) / (x.trace * y.trace);
  return clampUnit(num / (x.normOverTrace * y.normOverTrace));
}

/** CKA of a representation with itself: 1 wherever it is defined at all. */
function selfCKA(m: CrossMoments, i: number, norms: GramNorms, metric = 'linear CKA'): number {
  defined(norms, m.name('x', i), metric);
  return 1;
}

/** Linear CKA of two activation matrices over the same samples. */
export function linearCKA(x: Matrix, y: Matrix, options: CKAOptions = {}): number {
  checkPair(x, y, options.names);
  if (useGram(x, y, options, 'linear CKA')) return linearCKAGram(x, y, options.names);
  const m = new CrossMoments([x.cols], [y.cols], {
    engine: options.engine,
    xNames: [options.names?.x ?? 'X'],
    yNames: [options.names?.y ?? 'Y'],
  });
  m.add([x], [y]);
  return linearCKAFromMoments(m);
}

/** Linear CKA through n x n Gram matrices: tr(Kx Ky) / sqrt(tr(Kx Kx) tr(Ky Ky)), centred. */
export function linearCKAGram(x: Matrix, y: Matrix, names: MatrixNames = {}): number {
  checkPair(x, y, names);
  const n = x.rows;
  const kx = linearGram(centeredScaled(x), n, x.cols);
  const ky = linearGram(centeredScaled(y), n, y.cols);
  return ckaFromCenteredGrams(kx, ky, names, 'linear CKA');
}

function ckaFromCenteredGrams(kx: Float64Array, ky: Float64Array, names: MatrixNames, metric: string): number {
  const xx = gramDot(kx, kx);
  const yy = gramDot(ky, ky);
  if (!(xx > 0)) throw zeroVariance(names.x ?? 'X', metric);
  if (!(yy > 0)) throw zeroVariance(names.y ?? 'Y', metric);
  return clampUnit(gramDot(kx, ky) / Math.sqrt(xx) / Math.sqrt(yy));
}

/**
 * Streaming feature-space linear CKA: add batches of rows of X and Y (same samples in the
 * same order); memory is O(p^2 + q^2 + pq) whatever the number of samples.
 */
export class LinearCKAAccumulator {
  private readonly m: CrossMoments;

  constructor(xCols: number, yCols: number, options: { engine?: CrossProductEngine; names?: MatrixNames } = {}) {
    this.m = new CrossMoments([xCols], [yCols], {
      engine: options.engine,
      xNames: [options.names?.x ?? 'X'],
      yNames: [options.names?.y ?? 'Y'],
    });
  }

  private ran: 'float64' | 'float32' | 'onnxruntime' | undefined;

  add(x: Matrix, y: Matrix): void {
    this.m.add([x], [y]);
    this.ran = engineThatRan(this.m.engine);
  }

  get rows(): number {
    return this.m.rows;
  }

  get engine(): 'float64' | 'float32' | 'onnxruntime' | undefined {
    return this.ran;
  }

  /** The moments, for NBS or CCA on the same data. */
  get moments(): CrossMoments {
    return this.m;
  }

  value(): number {
    return linearCKAFromMoments(this.m);
  }
}

export interface CKAMatrixResult {
  /** values[i][j]: CKA of x representation i with y representation j; null where undefined. */
  values: (number | null)[][];
  /** Why entries are null. */
  problems: string[];
  /** float32 means tfjs multiplied the float32 blocks; onnxruntime, onnxruntime-node did. */
  engine: 'float64' | 'float32' | 'onnxruntime' | undefined;
  rows: number;
}

/**
 * Streaming linear CKA between every representation of one list (e.g. the layers of model A)
 * and every one of another (model B): one pass over the rows, all cross-products in one matmul
 * per chunk.
 */
export class CKAMatrixAccumulator {
  private readonly m: CrossMoments;

  /** `oneBatch`: every row comes in one add (see CrossMomentsOptions). */
  constructor(
    xCols: number[],
    yCols: number[],
    options: { engine?: CrossProductEngine; xNames?: string[]; yNames?: string[]; oneBatch?: boolean } = {},
  ) {
    const sum = (c: number[]) => c.reduce((a, b) => a + b, 0);
    const work = sum(xCols) * sum(yCols) + sum([...xCols, ...yCols].map((c) => c * c));
    // Only norms of the products are read, so onnxruntime may multiply safe rows uncentred.
    this.m = new CrossMoments(xCols, yCols, { ...options, engine: matrixEngine(options.engine, work), rawProducts: true });
  }

  private ran: 'float64' | 'float32' | 'onnxruntime' | undefined;

  add(xs: Matrix[], ys: Matrix[]): void {
    this.m.add(xs, ys);
    // Read right after the add: the multiplier is the one this add resolved (see engine.ts).
    this.ran = engineThatRan(this.m.engine);
  }

  get moments(): CrossMoments {
    return this.m;
  }

  /** Done: its memory goes back for reuse (CrossMoments.release); no add or result after. */
  release(): void {
    this.m.release();
  }

  /** gramNorms, or (e.g. fewer than 2 samples) the error each of its pairs reports. */
  private norms(side: 'x' | 'y', i: number): GramNorms {
    try {
      return gramNorms(this.m, side, i);
    } catch (e) {
      if (!(e instanceof SimilarityError)) throw e;
      return { trace: 0, error: e };
    }
  }

  result(): CKAMatrixResult {
    const problems: string[] = [];
    const values: (number | null)[][] = [];
    // A list against itself: its CKA matrix is symmetric with ones on the diagonal, so each
    // pair below the diagonal is the one above it, and its Grams are those of the x side.
    const self = this.m.selfProduct;
    // Each centred Gram once, not once per pair.
    const nx = Array.from({ length: this.m.xCount }, (_, i) => this.norms('x', i));
    const ny = self ? nx : Array.from({ length: this.m.yCount }, (_, j) => this.norms('y', j));
    for (let i = 0; i < this.m.xCount; i++) {
      const row: (number | null)[] = [];
      for (let j = 0; j < this.m.yCount; j++) {
        if (self && j < i) {
          row.push(values[j][i]);
          continue;
        }
        try {
          row.push(self && i === j ? selfCKA(this.m, i, nx[i]) : ckaFromNorms(this.m, i, j, nx[i], ny[j]));
        } catch (e) {
          if (!(e instanceof SimilarityError)) throw e;
          row.push(null);
          if (!problems.includes(e.message)) problems.push(e.message);
        }
      }
      values.push(row);
    }
    return { values, problems, engine: this.ran, rows: this.m.rows };
  }
}

/** Linear CKA between every pair (xs[i], ys[j]) of in-memory activations. */
export function linearCKAMatrix(
  xs: Matrix[],
  ys: Matrix[],
  options: { engine?: CrossProductEngine; xNames?: string[]; yNames?: string[] } = {},
): CKAMatrixResult {
  const acc = new CKAMatrixAccumulator(
    xs.map((m) => m.cols),
    ys.map((m) => m.cols),
    { ...options, oneBatch: true },
  );
  try {
    acc.add(xs, ys);
    return acc.result();
  } finally {
    acc.release();
  }
}

export interface RbfCKAOptions {
  /** sigma = threshold * sqrt(median nonzero squared distance); default 1. */
  threshold?: number;
  /** Use the unbiased HSIC estimator (Kornblith's `debiased=True`). */
  debiased?: boolean;
  /** What the bandwidth's median is taken over (gram.ts `BandwidthMedian`); default `pairs`. */
  bandwidthMedian?: BandwidthMedian;
  maxGramRows?: number;
  names?: MatrixNames;
}

/**
 * CKA with Gaussian kernels. The bandwidth follows Kornblith's reference code (sigma^2 =
 * threshold^2 x median squared distance) except that, by default, the median is over distinct
 * sample pairs with nonzero distance, not over the whole matrix including its zero diagonal;
 * `bandwidthMedian: 'matrix'` gives the reference's own (docs/similarity-metrics.md).
 */
export function rbfCKA(x: Matrix, y: Matrix, options: RbfCKAOptions = {}): number {
  checkPair(x, y, options.names, options.debiased ? 4 : 2);
  const threshold = options.threshold ?? 1;
  if (!(threshold > 0) || !Number.isFinite(threshold)) {
    throw new SimilarityError(`RBF CKA: threshold must be a positive number, got ${threshold}`);
  }
  const n = x.rows;
  // Two n x n Gram matrices plus the half-size buffer for the median.
  checkGramRows(n, 'rbf-cka', options.maxGramRows ?? DEFAULT_MAX_GRAM_ROWS, 2.5);
  const nx = options.names?.x ?? 'X';
  const ny = options.names?.y ?? 'Y';
  const over = options.bandwidthMedian ?? 'pairs';
  const kx = rbfGramFromLinear(linearGram(centeredScaled(x), n, x.cols), n, threshold, nx, over);
  const ky = rbfGramFromLinear(linearGram(centeredScaled(y), n, y.cols), n, threshold, ny, over);
  if (options.debiased) return ckaUnbiasedGrams(kx, ky, n, options.names ?? {}, 'debiased RBF CKA');
  return ckaFromCenteredGrams(centerGram(kx, n), centerGram(ky, n), options.names ?? {}, 'RBF CKA');
}

function ckaUnbiasedGrams(kx: Float64Array, ky: Float64Array, n: number, names: MatrixNames, metric: string): number {
  const xx = unbiasedHsicGram(kx, kx, n);
  const yy = unbiasedHsicGram(ky, ky, n);
  if (!(xx > 0)) throw notPositive(names.x ?? 'X', metric, n);
  if (!(yy > 0)) throw notPositive(names.y ?? 'Y', metric, n);
  return clampUnit(unbiasedHsicGram(kx, ky, n) / Math.sqrt(xx) / Math.sqrt(yy));
}

function notPositive(name: string, metric: string, n: number): SimilarityError {
  return new SimilarityError(
    `${metric}: the unbiased HSIC of ${name} with itself is not positive over ${n} samples, so the similarity is undefined; ` +
      `${name} has (almost) no variance, or there are too few samples for the unbiased estimator`,
  );
}

/** The sums the unbiased HSIC needs, from centred (and scaled) features. */
interface HsicParts {
  /** ||Xc^T Yc||_F^2, ||Xc^T Xc||_F^2, ||Yc^T Yc||_F^2. */
  sxy: number;
  sxx: number;
  syy: number;
  /** Squared row norms of Xc and Yc. */
  r: Float64Array;
  t: Float64Array;
}

/**
 * n(n-3) x unbiased HSIC for linear kernels on centred features (Kornblith's
 * `_debiased_dot_product_similarity_helper`): with K = Xc Xc^T the column sums vanish, so
 * 1^T K~ 1 = -sum r, K~ 1 = -r, and Song et al.'s estimator becomes
 *   ||Xc^T Yc||^2 - n/(n-2) sum r_i t_i + (sum r)(sum t) / ((n-1)(n-2)).
 */
function unbiasedLinear(s: number, r: Float64Array, t: Float64Array, n: number): number {
  let rt = 0;
  let sr = 0;
  let st = 0;
  for (let i = 0; i < n; i++) {
    rt += r[i] * t[i];
    sr += r[i];
    st += t[i];
  }
  return s - (n / (n - 2)) * rt + (sr * st) / ((n - 1) * (n - 2));
}

function rowSquares(a: Float64Array, n: number, p: number): Float64Array {
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * p;
    for (let j = 0; j < p; j++) s += a[o + j] * a[o + j];
    r[i] = s;
  }
  return r;
}

/** HSIC parts for centred, scaled xc (n x p) and yc (n x q), by the cheaper exact route. */
function hsicParts(xc: Float64Array, yc: Float64Array, n: number, p: number, q: number): HsicParts {
  const r = rowSquares(xc, n, p);
  const t = rowSquares(yc, n, q);
  const featureCost = p * q + (p * p + q * q) / 2;
  const gramCost = (n * (p + q)) / 2;
  if (gramCost < featureCost) {
    const kx = linearGram(xc, n, p);
    const ky = linearGram(yc, n, q);
    return { sxy: gramDot(kx, ky), sxx: gramDot(kx, kx), syy: gramDot(ky, ky), r, t };
  }
  const xt = transpose(xc, n, p);
  const yt = transpose(yc, n, q);
  const cxy = new Float64Array(p * q);
  addABt(xt, p, yt, q, n, cxy);
  const cxx = new Float64Array(p * p);
  addABt(xt, p, xt, p, n, cxx, true);
  mirrorUpper(cxx, p);
  const cyy = new Float64Array(q * q);
  addABt(yt, q, yt, q, n, cyy, true);
  mirrorUpper(cyy, q);
  return { sxy: frobeniusNormSquared(cxy), sxx: frobeniusNormSquared(cxx), syy: frobeniusNormSquared(cyy), r, t };
}

/**
 * Debiased linear CKA: CKA with the unbiased HSIC estimator (Song et al. 2012), as in
 * Kornblith's `feature_space_linear_cka(..., debiased=True)`. Needs n >= 4. Can be slightly
 * negative in principle; it is clamped to [0, 1] like the other forms.
 */
export function debiasedCKA(x: Matrix, y: Matrix, options: CKAOptions = {}): number {
  checkPair(x, y, options.names, 4);
  const n = x.rows;
  const names = options.names ?? {};
  if (useGram(x, y, options, 'debiased CKA')) {
    return ckaUnbiasedGrams(linearGram(centeredScaled(x), n, x.cols), linearGram(centeredScaled(y), n, y.cols), n, names, 'debiased CKA');
  }
  // Feature space without copying the data: the moments give the three Frobenius norms and
  // the row norms are computed from the data and the column means, in the moments' units.
  const m = new CrossMoments([x.cols], [y.cols], { engine: options.engine, xNames: [names.x ?? 'X'], yNames: [names.y ?? 'Y'] });
  m.add([x], [y]);
  const parts: HsicParts = {
    sxy: frobeniusNormSquared(m.centeredCross(0, 0)),
    sxx: frobeniusNormSquared(m.centeredGram('x', 0)),
    syy: frobeniusNormSquared(m.centeredGram('y', 0)),
    r: centredRowSquares(x, m.scale('x', 0)),
    t: centredRowSquares(y, m.scale('y', 0)),
  };
  return ckaFromParts([parts], [n], names, 'debiased CKA');
}

/** ||(x_i - mean) * scale||^2 for every row i. */
function centredRowSquares(m: Matrix, scale: number): Float64Array {
  const { rows, cols, data } = m;
  const mean = columnMeans(m);
  const r = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const v = (data[o + j] - mean[j]) * scale;
      s += v * v;
    }
    r[i] = s;
  }
  return r;
}

function ckaFromParts(parts: HsicParts[], sizes: number[], names: MatrixNames, metric: string): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  parts.forEach((pt, b) => {
    const n = sizes[b];
    // Divide by n(n-3) so every minibatch estimates the same quantity.
    const f = 1 / (n * (n - 3));
    xy += unbiasedLinear(pt.sxy, pt.r, pt.t, n) * f;
    xx += unbiasedLinear(pt.sxx, pt.r, pt.r, n) * f;
    yy += unbiasedLinear(pt.syy, pt.t, pt.t, n) * f;
  });
  const n = sizes.reduce((a, b) => a + b, 0);
  if (!(xx > 0)) throw notPositive(names.x ?? 'X', metric, n);
  if (!(yy > 0)) throw notPositive(names.y ?? 'Y', metric, n);
  return clampUnit(xy / Math.sqrt(xx) / Math.sqrt(yy));
}

export interface MinibatchCKAOptions {
  /** Rows per minibatch (default 256, at least 4). */
  batch?: number;
  names?: MatrixNames;
}

export const DEFAULT_MINIBATCH = 256;

/**
 * Minibatch CKA (Nguyen, Raghu & Kornblith 2021): the unbiased linear HSIC of consecutive
 * minibatches, summed, then CKA = sum HSIC_xy / sqrt(sum HSIC_xx * sum HSIC_yy). Rows are used in
 * the order given (shuffle beforehand for random minibatches); a last remainder of fewer than 4
 * rows joins the previous minibatch so no sample is dropped. With batch >= n it equals
 * debiasedCKA.
 */
export function minibatchCKA(x: Matrix, y: Matrix, options: MinibatchCKAOptions = {}): number {
  const batch = options.batch ?? DEFAULT_MINIBATCH;
  if (!Number.isInteger(batch) || batch < 4) {
    throw new SimilarityError(
      `minibatch CKA: minibatches of ${batch} samples are refused; the unbiased HSIC estimator needs at least 4 samples per minibatch (use --batch 4 or more; 64 or more gives stable values)`,
    );
  }
  checkPair(x, y, options.names, 4);
  const n = x.rows;
  const starts: number[] = [];
  for (let s = 0; s < n; s += batch) starts.push(s);
  if (n - starts[starts.length - 1] < 4) starts.pop();
  const sx = globalScale(x);
  const sy = globalScale(y);
  const parts: HsicParts[] = [];
  const sizes: number[] = [];
  starts.forEach((s, b) => {
    const e = b + 1 < starts.length ? starts[b + 1] : n;
    const xc = centeredRows(x, s, e, sx);
    const yc = centeredRows(y, s, e, sy);
    parts.push(hsicParts(xc, yc, e - s, x.cols, y.cols));
    sizes.push(e - s);
  });
  return ckaFromParts(parts, sizes, options.names ?? {}, 'minibatch CKA');
}

/** A power of two that brings m's centred values into [-1, 1] (see centeredScaled). */
function globalScale(m: Matrix): number {
  const { rows, cols, data } = m;
  const mean = columnMeans(m);
  let max = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const a = Math.abs(data[i * cols + j] - mean[j]);
      if (a > max) max = a;
    }
  }
  return powerOfTwoScale(max);
}

/** Rows [s, e) of m, centred on their own means and multiplied by scale. */
function centeredRows(m: Matrix, s: number, e: number, scale: number): Float64Array {
  const cols = m.cols;
  const b = e - s;
  const out = new Float64Array(b * cols);
  const mean = new Float64Array(cols);
  for (let i = 0; i < b; i++) {
    const o = (s + i) * cols;
    for (let j = 0; j < cols; j++) {
      const v = m.data[o + j] * scale;
      out[i * cols + j] = v;
      mean[j] += v;
    }
  }
  for (let j = 0; j < cols; j++) mean[j] /= b;
  for (let i = 0; i < b; i++) for (let j = 0; j < cols; j++) out[i * cols + j] -= mean[j];
  return out;
}
