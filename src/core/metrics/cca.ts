import { forwardSubstitute, SymmetricEigen } from './cca-linalg';
import { correlationsOf, keepForReverse, paperPWCCAOf, prepared, smallerGram, takeReverse, type PreparedMatrix } from './cca-sides';
import type { CrossProductEngine } from './engine';
import { choleskyInPlace } from './cholesky';
import { addABt, leftSVD, matmul, matmulAtB, mirrorUpper, singularValues, symmetricEigen, trace, transpose } from './linalg';
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
 *
 * The functions on matrices (canonicalCorrelations, meanCCA, svcca, pwccaPaper, pwcca) prepare
 * each matrix once (cca-sides.ts: centring, spectrum, basis U with U^T U = I) and keep it while the
 * matrix lives, so the pairs of a similarity matrix reuse it; a pair is then U_x^T U_y and the
 * eigenvalues of its smaller Gram matrix. The *FromMoments functions take accumulated moments
 * instead (and serve the float32 engine, when it is asked for).
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

/** The float32 engine works on moments; everything else on prepared matrices. */
function usesMoments(options: CCAOptions): boolean {
  return options.engine === 'float32' || options.engine === 'onnxruntime';
}

function noVariance(metric: string, name: string): SimilarityError {
  return new SimilarityError(
    `${metric}: ${name} has no variance (every feature is constant over the samples, e.g. a dead ReLU layer), so there are no canonical directions`,
  );
}

/** Both matrices checked and prepared (or found prepared), each with variance. */
function preparedPair(x: Matrix, y: Matrix, names: MatrixNames | undefined, metric: string): [PreparedMatrix, PreparedMatrix] {
  checkPair(x, y, names);
  const px = prepared(x);
  const py = prepared(y);
  if (!(px.total > 0)) throw noVariance(metric, names?.x ?? 'X');
  if (!(py.total > 0)) throw noVariance(metric, names?.y ?? 'Y');
  return [px, py];
}

function preparedCCA(
  x: Matrix,
  y: Matrix,
  keep: (values: Float64Array) => number,
  names: MatrixNames | undefined,
  metric: string,
): CCAResult {
  const [px, py] = preparedPair(x, y, names, metric);
  const rankX = keep(px.values());
  const rankY = keep(py.values());
  return { correlations: correlationsOf(px, rankX, py, rankY), rankX, rankY };
}

/** Canonical correlations of X and Y. */
export function canonicalCorrelations(x: Matrix, y: Matrix, options: CCAOptions = {}): CCAResult {
  if (usesMoments(options)) return ccaFromMoments(momentsOf(x, y, options), 0, 0, options);
  const keep = rankKeep(checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
  return preparedCCA(x, y, keep, options.names, 'CCA');
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
  const keep = svccaKeep(options);
  const { correlations, rankX, rankY } = ccaCore(m, i, j, keep, keep, 'SVCCA', false);
  return { correlations, rankX, rankY };
}

function svccaKeep(options: SVCCAOptions): (values: Float64Array) => number {
  const share = options.varianceKept ?? DEFAULT_VARIANCE_KEPT;
  if (!(share > 0 && share <= 1)) throw new SimilarityError(`SVCCA: varianceKept must be in (0, 1], got ${share}`);
  return varianceKeep(share, checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
}

/**
 * SVCCA: keep the top principal directions of each side that explain `varianceKept` of its
 * variance (CCA on the projections Xc V_k, whose covariance is diagonal), then mean CCA.
 */
export function svcca(x: Matrix, y: Matrix, options: SVCCAOptions = {}): number {
  if (usesMoments(options)) return mean(svccaFromMoments(momentsOf(x, y, options), 0, 0, options).correlations);
  return mean(preparedCCA(x, y, svccaKeep(options), options.names, 'SVCCA').correlations);
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
  /** Eigen-decomposition of the covariance / its largest entry, plus epsilon on the diagonal (k x k). */
  eig: SymmetricEigen;
  /** Centred X^T X of the kept units (k x k). */
  scatter: Float64Array;
  mean: Float64Array;
  /** Largest entry of the scatter, to scale the cross-covariance the same way. */
  max: number;
  /** cov^(-1/2) Xk^T / sqrt(max) (k x n), Xk the kept centred units: Wx Cxy Wy = Fx Fy^T. */
  whitened: Float64Array;
}

function makeKeptSide(pm: PreparedMatrix, eps: number): KeptSide {
  const p = pm.p;
  const g = pm.scatter();
  let max = 0;
  for (const v of g) max = Math.max(max, Math.abs(v));
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
  const eig = new SymmetricEigen(cov, k);
  const inv = inverseSqrt(eig);
  const t = pm.transposed();
  const rows = new Float64Array(k * pm.n);
  keep.forEach((a, r) => rows.set(t.subarray(a * pm.n, (a + 1) * pm.n), r * pm.n));
  const whitened = matmul(inv, k, k, rows, pm.n);
  const f = 1 / Math.sqrt(max);
  for (let i = 0; i < whitened.length; i++) whitened[i] *= f;
  return { keep, eig, scatter, mean: Float64Array.from(keep, (a) => pm.mean[a]), max, whitened };
}

function keptSide(pm: PreparedMatrix, eps: number, name: string): KeptSide {
  if (!(pm.total > 0)) {
    throw new SimilarityError(`PWCCA: ${name} has no variance (every feature is constant over the samples, e.g. a dead ReLU layer)`);
  }
  return pm.memo(`pwcca ${eps}`, () => makeKeptSide(pm, eps));
}

/** V D V^T with D = the inverse square roots of the eigenvalues above pinv's default cutoff (1e-15 of the largest), else 0. */
function inverseSqrt(eig: SymmetricEigen): Float64Array {
  const { values, n: k } = eig;
  const cut = values[0] * 1e-15;
  const vectors = eig.vectors();
  // F = D^(1/2) V^T (rows scaled); the result is F^T F.
  const ft = new Float64Array(k * k);
  for (let l = 0; l < k; l++) {
    const f = values[l] > cut ? values[l] ** -0.25 : 0;
    for (let a = 0; a < k; a++) ft[a * k + l] = f * vectors[l * k + a];
  }
  const out = new Float64Array(k * k);
  addABt(ft, k, ft, k, k, out, true);
  mirrorUpper(out, k);
  return out;
}

/** Turns each row so that its largest-magnitude entry is positive: the reference depends on these signs. */
function flipRows(rows: Float64Array, k: number, order: ArrayLike<number>): Float64Array {
  const coef = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    const src = order[c] * k;
    let big = 0;
    for (let a = 0; a < k; a++) if (Math.abs(rows[src + a]) > Math.abs(big)) big = rows[src + a];
    const sign = big < 0 ? -1 : 1;
    for (let a = 0; a < k; a++) coef[c * k + a] = sign * rows[src + a];
  }
  return coef;
}

/**
 * Rows = the smaller side's singular vectors of Wx Cxy Wy (cca_core's coef_x = u^T or coef_y = v),
 * from the eigenvectors of that side's Gram matrix of it, signs flipped as the reference needs.
 */
function canonicalCoefficients(sx: KeptSide, sy: KeptSide, n: number): { coef: Float64Array; rho: Float64Array } {
  const kx = sx.keep.length;
  const ky = sy.keep.length;
  const arr = new Float64Array(kx * ky);
  addABt(sx.whitened, kx, sy.whitened, ky, n, arr);
  // The side with fewer kept units (x on a tie) is the smaller dimension of arr.
  const { g, s: k } = smallerGram(arr, kx, ky);
  const eig = new SymmetricEigen(g, k);
  const rho = Float64Array.from(eig.values, (v) => Math.min(1, Math.sqrt(Math.max(0, v))));
  return { coef: flipRows(eig.vectors(), k, Array.from(rho.keys())), rho };
}

/**
 * A side against itself: Wx Cxx Wx = V diag(d^2 (mu - eps)) V^T from the decomposition of
 * cov = V diag(mu) V^T already made, so its singular vectors are V's columns (no new decomposition).
 */
function selfCoefficients(s: KeptSide, eps: number): { coef: Float64Array; rho: Float64Array } {
  const { values, n: k } = s.eig;
  const cut = values[0] * 1e-15;
  const delta = Float64Array.from(values, (mu) => (mu > cut ? Math.abs((mu - eps) / mu) : 0));
  const order = Array.from(delta.keys()).sort((i, j) => delta[j] - delta[i] || i - j);
  return { coef: flipRows(s.eig.vectors(), k, order), rho: Float64Array.from(order, (i) => Math.min(1, delta[i])) };
}

function dependentDirections(name: string): SimilarityError {
  return new SimilarityError(
    `PWCCA: the canonical directions of ${name} are linearly dependent (collinear units, or more units than samples); raise epsilon or drop those units`,
  );
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
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      const mm = n * s.mean[a] * s.mean[b];
      g[a * k + b] += mm;
      cs[a * k + b] += mm;
    }
  }
  if (!choleskyInPlace(g, k)) throw dependentDirections(name);
  forwardSubstitute(g, k, cs);
  const weights = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let w = 0;
    for (let j = 0; j < k; j++) w += Math.abs(cs[c * k + j]);
    weights[c] = w;
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
  checkPair(x, y, options.names);
  const px = prepared(x);
  const py = prepared(y);
  const names = { x: options.names?.x ?? 'X', y: options.names?.y ?? 'Y' };
  const sx = keptSide(px, eps, names.x);
  const sy = keptSide(py, eps, names.y);
  const [kx, ky] = [sx.keep.length, sy.keep.length];
  // With kx != ky the side with fewer kept units, and so everything, is the same in both orders.
  const reverse = kx !== ky ? takeReverse<ReferencePWCCAResult>(px, py, `pwcca ${eps}`) : undefined;
  if (reverse) return { ...reverse, rankX: kx, rankY: ky, side: reverse.side === 'x' ? 'y' : 'x' };
  const side = kx <= ky ? 'x' : 'y';
  // D (k x n) has rank <= n, so D D^T cannot be factored: say so before the k^3 work that would find out.
  if ((side === 'x' ? kx : ky) > x.rows) throw dependentDirections(names[side]);
  const { coef, rho } = px === py ? selfCoefficients(sx, eps) : canonicalCoefficients(sx, sy, x.rows);
  const weights = projectionWeights(coef, side === 'x' ? sx : sy, x.rows, names[side]);
  let total = 0;
  for (const w of weights) total += w;
  let value = 0;
  weights.forEach((w, c) => {
    weights[c] = w / total;
    value += weights[c] * rho[c];
  });
  const result: ReferencePWCCAResult = { correlations: rho, rankX: kx, rankY: ky, weights, value: Math.min(1, Math.max(0, value)), side };
  if (kx !== ky) keepForReverse(px, py, `pwcca ${eps}`, { ...result, correlations: rho.slice(), weights: weights.slice() });
  return result;
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
  if (usesMoments(options)) return pwccaPaperFromMoments(momentsOf(x, y, options), 0, 0, options).value;
  const keep = rankKeep(checkTolerance(options.rankTolerance ?? DEFAULT_RANK_TOLERANCE));
  const [px, py] = preparedPair(x, y, options.names, 'PWCCA (paper)');
  return paperPWCCAOf(px, keep(px.values()), py, keep(py.values())).value;
}
