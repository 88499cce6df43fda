import type { CrossProductEngine } from './engine';
import { leftSVD, matmul, matmulAtB, singularValues, symmetricEigen, trace } from './linalg';
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

/**
 * PWCCA (Morcos, Raghu & Bengio 2018): sum_i a_i rho_i / sum_i a_i with
 * a_i = sum_j |<h_i, x_j>|, h_i the unit-norm canonical variates of X and x_j the activation
 * vectors of X's units. The variates are centred, so <h_i, x_j> = <h_i, xc_j>, and with
 * H = Xc W A (A: left singular vectors of W_x^T C_xy W_y), H^T Xc = A^T L_r^(1/2) V_r^T.
 * Weights come from X, the first argument, as in the paper (Google's code picks the side
 * with fewer units).
 */
export function pwccaFromMoments(m: CrossMoments, i = 0, j = 0, options: CCAOptions = {}): PWCCAResult {
  const keep = rankKeep(checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
  const work = ccaCore(m, i, j, keep, keep, 'PWCCA', true);
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

export function pwcca(x: Matrix, y: Matrix, options: CCAOptions = {}): number {
  return pwccaFromMoments(momentsOf(x, y, options), 0, 0, options).value;
}
