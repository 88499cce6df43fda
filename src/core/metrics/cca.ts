import type { CrossProductEngine } from './engine';
import { choleskyInPlace } from './cholesky';
import { leftSVD, matmul, matmulAtB, singularValues, symmetricEigen, trace, transpose } from './linalg';
import { checkPair, type Matrix, type MatrixNames, SimilarityError } from './matrix';
import { CrossMoments } from './moments';

/**
 * Canonical correlation analysis between two representations, and the summaries built on it:
 * mean CCA, SVCCA (Raghu et al. 2017) and PWCCA (Morcos et al. 2018).
 *
 * Computed from the centred second moments without inverting a covariance matrix: each side is
 * whitened through its eigen-decomposition C = V L V^T, keeping only directions whose eigenvalue
 * exceeds rankTolerance x the largest (W = V_r L_r^(-1/2)), so rank-deficient inputs (dead or
 * duplicated units, n < p) are handled by truncation. The canonical correlations are then the
 * singular values of W_x^T C_xy W_y. Because the whitened data Xc W has orthonormal columns,
 * this is the same as the QR/SVD formulation (singular values of Q_x^T Q_y) restricted to the
 * numerical ranges of X and Y, and it needs only p x p, q x q and p x q matrices.
 */

export interface CCAOptions {
  /** Eigenvalues of the covariance below this fraction of the largest count as zero (default 1e-10). */
  rankTolerance?: number;
  /** float64 unless float32 is asked for (auto means float64 here): whitening magnifies the rounding of small directions. */
  engine?: CrossProductEngine;
  names?: MatrixNames;
}

export interface SVCCAOptions extends CCAOptions {
  /** Share of each side's variance the kept SVD directions must explain (default 0.99). */
  varianceKept?: number;
}

export interface CCAResult {
  /** Canonical correlations, largest first, min(rankX, rankY) of them, each in [0, 1]. */
  correlations: Float64Array;
  /** Directions kept on each side (numerical rank, or the SVCCA truncation). */
  rankX: number;
  rankY: number;
}

export const DEFAULT_RANK_TOLERANCE = 1e-10;
export const DEFAULT_VARIANCE_KEPT = 0.99;

interface Whitening {
  /** p x r row-major, W = V_r L_r^(-1/2). */
  w: Float64Array;
  r: number;
  values: Float64Array;
  vectors: Float64Array;
}

function whiten(cov: Float64Array, p: number, keep: (values: Float64Array) => number, name: string, metric: string): Whitening {
  if (!(trace(cov, p) > 0)) {
    throw new SimilarityError(
      `${metric}: ${name} has no variance (every feature is constant over the samples, e.g. a dead ReLU layer), so there are no canonical directions`,
    );
  }
  const { values, vectors } = symmetricEigen(cov, p);
  const r = keep(values);
  const w = new Float64Array(p * r);
  for (let c = 0; c < r; c++) {
    const f = 1 / Math.sqrt(values[c]);
    for (let a = 0; a < p; a++) w[a * r + c] = vectors[a * p + c] * f;
  }
  return { w, r, values, vectors };
}

function rankKeep(tol: number): (values: Float64Array) => number {
  return (values) => {
    const cut = values[0] * tol;
    let r = 0;
    while (r < values.length && values[r] > cut && values[r] > 0) r++;
    return r;
  };
}

function varianceKeep(share: number, tol: number): (values: Float64Array) => number {
  return (values) => {
    const rank = rankKeep(tol)(values);
    let total = 0;
    for (let i = 0; i < rank; i++) total += values[i];
    let acc = 0;
    let k = 0;
    while (k < rank && acc < share * total) acc += values[k++];
    return Math.max(1, k);
  };
}

function checkTolerance(tol: number): number {
  if (!(tol >= 0 && tol < 1)) throw new SimilarityError(`CCA: rankTolerance must be in [0, 1), got ${tol}`);
  return tol;
}

interface CCAWork extends CCAResult {
  wx: Whitening;
  /** rankX x k left singular vectors of W_x^T C_xy W_y. */
  left: Float64Array;
}

function ccaCore(
  m: CrossMoments,
  i: number,
  j: number,
  keepX: (v: Float64Array) => number,
  keepY: (v: Float64Array) => number,
  metric: string,
  wantLeft: boolean,
): CCAWork {
  const p = m.cols('x', i);
  const q = m.cols('y', j);
  const wx = whiten(m.centeredGram('x', i), p, keepX, m.name('x', i), metric);
  const wy = whiten(m.centeredGram('y', j), q, keepY, m.name('y', j), metric);
  const cxy = m.centeredCross(i, j);
  const t = matmul(cxy, p, q, wy.w, wy.r);
  const core = matmulAtB(wx.w, p, wx.r, t, wy.r);
  const k = Math.min(wx.r, wy.r);
  let correlations: Float64Array;
  let left: Float64Array = new Float64Array(0);
  if (wantLeft) {
    const svd = leftSVD(core, wx.r, wy.r);
    correlations = svd.values;
    left = svd.left;
  } else {
    correlations = singularValues(core, wx.r, wy.r).subarray(0, k);
  }
  // Whitening is exact only to rounding, so clip values that stray past 1.
  correlations = Float64Array.from(correlations, (v) => Math.min(1, Math.max(0, v)));
  return { correlations, rankX: wx.r, rankY: wy.r, wx, left };
}

function momentsOf(x: Matrix, y: Matrix, options: CCAOptions): CrossMoments {
  checkPair(x, y, options.names);
  const m = new CrossMoments([x.cols], [y.cols], {
    // float32 moments perturb small eigen-directions, which whitening then magnifies.
    engine: options.engine === 'float32' ? 'float32' : 'float64',
    xNames: [options.names?.x ?? 'X'],
    yNames: [options.names?.y ?? 'Y'],
  });
  m.add([x], [y]);
  return m;
}

export function ccaFromMoments(m: CrossMoments, i = 0, j = 0, options: CCAOptions = {}): CCAResult {
  const keep = rankKeep(checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
  const { correlations, rankX, rankY } = ccaCore(m, i, j, keep, keep, 'CCA', false);
  return { correlations, rankX, rankY };
}

/** Canonical correlations of X and Y. */
export function canonicalCorrelations(x: Matrix, y: Matrix, options: CCAOptions = {}): CCAResult {
  return ccaFromMoments(momentsOf(x, y, options), 0, 0, options);
}

function mean(v: Float64Array): number {
  let s = 0;
  for (const a of v) s += a;
  return s / v.length;
}

/** Mean of the canonical correlations over min(rank X, rank Y) pairs. */
export function meanCCA(x: Matrix, y: Matrix, options: CCAOptions = {}): number {
  return mean(canonicalCorrelations(x, y, options).correlations);
}

export function svccaFromMoments(m: CrossMoments, i = 0, j = 0, options: SVCCAOptions = {}): CCAResult {
  const share = options.varianceKept ?? DEFAULT_VARIANCE_KEPT;
  if (!(share > 0 && share <= 1)) throw new SimilarityError(`SVCCA: varianceKept must be in (0, 1], got ${share}`);
  const keep = varianceKeep(share, checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
  const { correlations, rankX, rankY } = ccaCore(m, i, j, keep, keep, 'SVCCA', false);
  return { correlations, rankX, rankY };
}

/**
 * SVCCA: keep the top principal directions of each side that explain `varianceKept` of its
 * variance (CCA on the projections Xc V_k, whose covariance is diagonal), then mean CCA.
 */
export function svcca(x: Matrix, y: Matrix, options: SVCCAOptions = {}): number {
  return mean(svccaFromMoments(momentsOf(x, y, options), 0, 0, options).correlations);
}

export interface PWCCAResult extends CCAResult {
  /** Normalised weight of each canonical correlation (sums to 1). */
  weights: Float64Array;
  value: number;
}

export interface PWCCAOptions extends CCAOptions {
  /**
   * google/svcca's `epsilon`, relative to the largest variance of each side: units whose variance
   * is below it are dropped, and it is added to the diagonal of the scaled covariances. The
   * reference's default, 0, turns a dead unit into NaN there; 1e-10 drops constant units and
   * otherwise moves the value by far less than 1e-6.
   */
  epsilon?: number;
}

export const DEFAULT_PWCCA_EPSILON = 1e-10;

export interface ReferencePWCCAResult extends PWCCAResult {
  /** The side whose units weight the correlations: the one with fewer kept units (x on a tie). */
  side: 'x' | 'y';
}

/** One side of the reference computation, restricted to the kept units, in the data's own units. */
interface KeptSide {
  keep: number[];
  /** Covariance / its largest entry, plus epsilon on the diagonal (k x k). */
  cov: Float64Array;
  /** Centred X^T X of the kept units (k x k). */
  scatter: Float64Array;
  mean: Float64Array;
  /** Largest entry of the scatter, to scale the cross-covariance the same way. */
  max: number;
}

function columnMeans(x: Matrix): Float64Array {
  const mean = new Float64Array(x.cols);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < x.cols; c++) mean[c] += x.data[r * x.cols + c];
  return mean.map((v) => v / x.rows);
}

function keptSide(m: CrossMoments, side: 'x' | 'y', x: Matrix, eps: number): KeptSide {
  const p = m.cols(side, 0);
  const f = 1 / m.scale(side, 0) ** 2;
  const g = m.centeredGram(side, 0).map((v) => v * f);
  let max = 0;
  for (const v of g) max = Math.max(max, Math.abs(v));
  if (!(max > 0)) {
    throw new SimilarityError(
      `PWCCA: ${m.name(side, 0)} has no variance (every feature is constant over the samples, e.g. a dead ReLU layer)`,
    );
  }
  const keep: number[] = [];
  for (let a = 0; a < p; a++) if (g[a * p + a] / max >= eps) keep.push(a);
  const k = keep.length;
  const cov = new Float64Array(k * k);
  const scatter = new Float64Array(k * k);
  keep.forEach((a, r) =>
    keep.forEach((b, c) => {
      scatter[r * k + c] = g[a * p + b];
      cov[r * k + c] = g[a * p + b] / max + (r === c ? eps : 0);
    }),
  );
  const means = columnMeans(x);
  return { keep, cov, scatter, mean: Float64Array.from(keep, (a) => means[a]), max };
}

/** The symmetric square root of pinv(C), as cca_core takes it (pinv's default cutoff, 1e-15 of the largest). */
function inverseSqrt(c: Float64Array, k: number): Float64Array {
  const { values, vectors } = symmetricEigen(c, k);
  const cut = values[0] * 1e-15;
  const d = Float64Array.from(values, (v) => (v > cut ? 1 / Math.sqrt(v) : 0));
  const out = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += vectors[a * k + l] * d[l] * vectors[b * k + l];
      out[a * k + b] = s;
    }
  }
  return out;
}

/**
 * Rows = the smaller side's singular vectors of Wx Cxy Wy (cca_core's coef_x = u^T or coef_y = v),
 * each turned so that its largest-magnitude entry is positive: the reference depends on these signs.
 */
function canonicalCoefficients(arr: Float64Array, kx: number, ky: number, side: 'x' | 'y'): { coef: Float64Array; rho: Float64Array } {
  const svd = side === 'x' ? leftSVD(arr, kx, ky) : leftSVD(transpose(arr, kx, ky), ky, kx);
  const k = side === 'x' ? kx : ky;
  const coef = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    let big = 0;
    for (let a = 0; a < k; a++) if (Math.abs(svd.left[a * k + c]) > Math.abs(big)) big = svd.left[a * k + c];
    const sign = big < 0 ? -1 : 1;
    for (let a = 0; a < k; a++) coef[c * k + a] = sign * svd.left[a * k + c];
  }
  return { coef, rho: Float64Array.from(svd.values, (v) => Math.min(1, Math.abs(v))) };
}

/**
 * pwcca.py's weights without the n x k matrices: with D = C (A - mu) + mu 1^T the directions
 * (k x n) and A the raw activations, numpy's qr(D^T) = P R gives P^T A^T = R^-T D A^T, where
 * D D^T = C S C^T + n mu mu^T = R^T R (Cholesky, up to row signs, which |.| ignores) and
 * D A^T = C S + n mu mu^T, S the centred scatter.
 */
function projectionWeights(coef: Float64Array, s: KeptSide, n: number, name: string): Float64Array {
  const k = s.keep.length;
  const cs = matmul(coef, k, k, s.scatter, k);
  const g = matmul(cs, k, k, transpose(coef, k, k), k);
  const mm = (a: number, b: number): number => n * s.mean[a] * s.mean[b];
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      g[a * k + b] += mm(a, b);
      cs[a * k + b] += mm(a, b);
    }
  }
  if (!choleskyInPlace(g, k)) {
    throw new SimilarityError(
      `PWCCA: the canonical directions of ${name} are linearly dependent (collinear units, or more units than samples); raise epsilon or drop those units`,
    );
  }
  const weights = new Float64Array(k);
  // Forward substitution L Z = D A^T, row by row; weight c is the l1 norm of row c of Z.
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < k; j++) {
      let v = cs[c * k + j];
      for (let l = 0; l < c; l++) v -= g[c * k + l] * cs[l * k + j];
      cs[c * k + j] = v / g[c * k + c];
      weights[c] += Math.abs(cs[c * k + j]);
    }
  }
  return weights;
}

/**
 * PWCCA as google/svcca computes it (pwcca.compute_pwcca over cca_core.get_cca_similarity, the
 * code of Morcos et al. 2018): see docs/similarity-metrics.md#pwcca for its quirks, which are kept
 * here on purpose so that values agree with published ones.
 */
export function referencePWCCA(x: Matrix, y: Matrix, options: PWCCAOptions = {}): ReferencePWCCAResult {
  const eps = options.epsilon ?? DEFAULT_PWCCA_EPSILON;
  if (!(eps >= 0 && eps < 1)) throw new SimilarityError(`PWCCA: epsilon must be in [0, 1), got ${eps}`);
  const m = momentsOf(x, y, { ...options, engine: 'float64' });
  const sx = keptSide(m, 'x', x, eps);
  const sy = keptSide(m, 'y', y, eps);
  const kx = sx.keep.length;
  const ky = sy.keep.length;
  const fxy = 1 / (m.scale('x', 0) * m.scale('y', 0) * Math.sqrt(sx.max * sy.max));
  const cross = m.centeredCross(0, 0);
  const q = y.cols;
  const sxy = new Float64Array(kx * ky);
  sx.keep.forEach((a, r) => sy.keep.forEach((b, c) => (sxy[r * ky + c] = cross[a * q + b] * fxy)));
  const arr = matmul(matmul(inverseSqrt(sx.cov, kx), kx, kx, sxy, ky), kx, ky, inverseSqrt(sy.cov, ky), ky);
  const side = kx <= ky ? 'x' : 'y';
  const { coef, rho } = canonicalCoefficients(arr, kx, ky, side);
  const weights = projectionWeights(coef, side === 'x' ? sx : sy, x.rows, m.name(side, 0));
  let total = 0;
  for (const w of weights) total += w;
  let value = 0;
  weights.forEach((w, c) => {
    weights[c] = w / total;
    value += weights[c] * rho[c];
  });
  return { correlations: rho, rankX: kx, rankY: ky, weights, value: Math.min(1, Math.max(0, value)), side };
}

/** PWCCA, agreeing with google/svcca's compute_pwcca (see referencePWCCA). */
export function pwcca(x: Matrix, y: Matrix, options: PWCCAOptions = {}): number {
  return referencePWCCA(x, y, options).value;
}

/**
 * PWCCA as the paper writes it (Morcos, Raghu & Bengio 2018, eq. in section 2.2, metric id
 * 'pwcca-paper' where registered): sum_i a_i rho_i / sum_i a_i with
 * a_i = sum_j |<h_i, x_j>|, h_i the unit-norm canonical variates of X and x_j the activation
 * vectors of X's units. The variates are centred, so <h_i, x_j> = <h_i, xc_j>, and with
 * H = Xc W A (A: left singular vectors of W_x^T C_xy W_y), H^T Xc = A^T L_r^(1/2) V_r^T.
 * Weights come from X, the first argument. Unlike the reference code (see `pwcca`) this is
 * invariant to the order of the units and to the signs the SVD picks.
 */
export function pwccaPaperFromMoments(m: CrossMoments, i = 0, j = 0, options: CCAOptions = {}): PWCCAResult {
  const keep = rankKeep(checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
  const work = ccaCore(m, i, j, keep, keep, 'PWCCA (paper)', true);
  const { wx, left, correlations } = work;
  const p = m.cols('x', i);
  const r = wx.r;
  const k = correlations.length;
  const weights = new Float64Array(k);
  const proj = new Float64Array(p);
  for (let c = 0; c < k; c++) {
    proj.fill(0);
    for (let l = 0; l < r; l++) {
      const f = left[l * k + c] * Math.sqrt(wx.values[l]);
      if (f === 0) continue;
      for (let a = 0; a < p; a++) proj[a] += f * wx.vectors[a * p + l];
    }
    let s = 0;
    for (let a = 0; a < p; a++) s += Math.abs(proj[a]);
    weights[c] = s;
  }
  let total = 0;
  for (const w of weights) total += w;
  let value = 0;
  for (let c = 0; c < k; c++) {
    weights[c] /= total;
    value += weights[c] * correlations[c];
  }
  return { correlations, rankX: work.rankX, rankY: work.rankY, weights, value: Math.min(1, Math.max(0, value)) };
}

export function pwccaPaper(x: Matrix, y: Matrix, options: CCAOptions = {}): number {
  return pwccaPaperFromMoments(momentsOf(x, y, options), 0, 0, options).value;
}
