/**
 * The dense linear algebra the CCA family needs on wide layers (1000 units and more), on flat
 * row-major float64 arrays: a symmetric eigen-decomposition (Householder tridiagonalisation, then
 * tql2's implicit QL) and a blocked triangular solve. The eigen-decomposition is the algorithm of
 * ml-matrix's EVD (JAMA's tred2/tql2) rearranged so that inner loops walk contiguous rows and the
 * bulk of the work goes through the blocked product of linalg.ts: ml-matrix keeps arrays of rows
 * and rotates columns, and took ~10 s for a 1000 x 1000 matrix on the development machine where
 * this takes ~3 s with eigenvectors, ~1 s without (cca-linalg.test.ts checks it against ml-matrix).
 */

import { addABt, transpose } from './linalg';

const EPS = 2 ** -52;

/** sqrt(a^2 + b^2) without overflow or underflow (Math.hypot is several times slower in V8). */
function hypot(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x > y) {
    const r = y / x;
    return x * Math.sqrt(1 + r * r);
  }
  if (y === 0) return 0;
  const r = x / y;
  return y * Math.sqrt(1 + r * r);
}

/** A symmetric tridiagonal matrix and the Householder reflectors that reduced a matrix to it. */
interface Tridiagonal {
  /** Diagonal. */
  d: Float64Array;
  /** e[i] = T[i + 1][i]; e[n - 1] = 0. */
  e: Float64Array;
  /** Reflector k is I - betas[k] v v^T on indices k + 1 .. n - 1, v = vs[k]. */
  vs: Float64Array[];
  betas: Float64Array;
}

/** p = beta * A22 v over the lower triangle of the trailing block from row/column `o` (A symmetric). */
function symmetricTimes(a: Float64Array, n: number, o: number, v: Float64Array, beta: number, p: Float64Array): void {
  const m = n - o;
  p.fill(0, 0, m);
  for (let i = 0; i < m; i++) {
    const row = (o + i) * n + o;
    const vi = v[i];
    let s = 0;
    for (let j = 0; j < i; j++) {
      const aij = a[row + j];
      s += aij * v[j];
      p[j] += aij * vi;
    }
    p[i] += s + a[row + i] * vi;
  }
  for (let i = 0; i < m; i++) p[i] *= beta;
}

/**
 * Householder reduction of a symmetric n x n matrix (read from its lower triangle, which is
 * overwritten) to tridiagonal form, A = Q T Q^T with Q = H_0 ... H_{n-3}.
 */
export function tridiagonalize(a: Float64Array, n: number): Tridiagonal {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const vs: Float64Array[] = [];
  const betas = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    const o = k + 1;
    const m = n - o;
    const v = new Float64Array(m);
    for (let i = 0; i < m; i++) v[i] = a[(o + i) * n + k];
    vs.push(v);
    const { tau: beta, head } = householder(v, 0, m);
    e[k] = beta === 0 ? v[0] : head;
    betas[k] = beta;
    if (beta === 0) continue;
    symmetricTimes(a, n, o, v, beta, p);
    let pv = 0;
    for (let i = 0; i < m; i++) pv += p[i] * v[i];
    const half = (beta * pv) / 2;
    for (let i = 0; i < m; i++) p[i] -= half * v[i];
    // A22 -= v w^T + w v^T on the lower triangle; w is in p.
    for (let i = 0; i < m; i++) {
      const row = (o + i) * n + o;
      const vi = v[i];
      const wi = p[i];
      for (let j = 0; j <= i; j++) a[row + j] -= vi * p[j] + wi * v[j];
    }
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  if (n >= 2) e[n - 2] = a[(n - 1) * n + n - 2];
  e[n - 1] = 0;
  return { d, e, vs, betas };
}

/** Reflectors applied together by accumulateQt: enough to multiply through the fast kernel, few enough that T stays small. */
const WY_BLOCK = 32;

/**
 * M[o:, o:] <- M[o:, o:] H_{k1-1} ... H_{k0} with o = k0 + 1, through the compact WY form
 * I - Y T Y^T of the product (Schreiber & Van Loan), so the work is two matrix products.
 */
function applyReflectorBlock(qt: Float64Array, n: number, vs: Float64Array[], betas: Float64Array, k0: number, k1: number): void {
  const o = k0 + 1;
  const m = n - o;
  const b = k1 - k0;
  // Row j of y is the reflector applied j-th, H_{k1-1-j}, in the coordinates o..n-1.
  const y = new Float64Array(b * m);
  const tau = new Float64Array(b);
  for (let j = 0; j < b; j++) {
    const k = k1 - 1 - j;
    y.set(vs[k], j * m + (k - k0));
    tau[j] = betas[k];
  }
  const g = new Float64Array(b * b);
  addABt(y, b, y, b, m, g);
  // T upper triangular: T[j][j] = tau_j, T[0:j, j] = -tau_j T[0:j, 0:j] (Y^T y_j).
  const t = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    t[j * b + j] = tau[j];
    for (let i = 0; i < j; i++) {
      let sum = 0;
      for (let l = i; l < j; l++) sum += t[i * b + l] * g[l * b + j];
      t[i * b + j] = -tau[j] * sum;
    }
  }
  const sub = new Float64Array(m * m);
  for (let r = 0; r < m; r++) sub.set(qt.subarray((o + r) * n + o, (o + r) * n + n), r * m);
  const w = new Float64Array(m * b);
  addABt(sub, m, y, b, m, w);
  // -(M Y) T, then M += that times Y^T.
  const wt = new Float64Array(m * b);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < b; j++) {
      let sum = 0;
      for (let l = 0; l <= j; l++) sum += w[r * b + l] * t[l * b + j];
      wt[r * b + j] = -sum;
    }
  }
  addABt(wt, m, transpose(y, b, m), m, b, sub);
  for (let r = 0; r < m; r++) qt.set(sub.subarray(r * m, r * m + m), (o + r) * n + o);
}

/**
 * Q^T = H_{n-3} ... H_0, built as M = I, M = M H_k for k from the last: each product changes only
 * the rows and columns past k, and blocks of WY_BLOCK reflectors go through matrix products.
 */
export function accumulateQt(vs: Float64Array[], betas: Float64Array, n: number): Float64Array {
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  for (let k1 = vs.length; k1 > 0; k1 -= WY_BLOCK) applyReflectorBlock(qt, n, vs, betas, Math.max(0, k1 - WY_BLOCK), k1);
  return qt;
}

/**
 * The rotations of one QL sweep (on rows i and i + 1 for i from m - 1 down to l), applied to the
 * rows of z after the sweep, four at a time: consecutive rotations share a row, so fusing them
 * loads and stores each element of the shared rows once instead of twice (the sweeps of an
 * n x n decomposition make about n^2 rotations of rows of length n).
 */
class SweepRotations {
  private readonly cs: Float64Array;
  private readonly sn: Float64Array;
  private top = 0;
  private count = 0;

  constructor(
    private readonly z: Float64Array,
    private readonly n: number,
  ) {
    this.cs = new Float64Array(n);
    this.sn = new Float64Array(n);
  }

  /** Starts a sweep whose first rotation is on rows m - 1 and m. */
  begin(m: number): void {
    this.top = m - 1;
    this.count = 0;
  }

  /** The next rotation (on rows top - count and top - count + 1): row_i = c row_i - s row_(i+1), row_(i+1) = s row_i + c row_(i+1). */
  push(c: number, s: number): void {
    this.cs[this.count] = c;
    this.sn[this.count] = s;
    this.count++;
  }

  apply(): void {
    let t = 0;
    for (; t + 4 <= this.count; t += 4) this.applyFour(t);
    for (; t < this.count; t++) this.applyOne(t);
  }

  private applyOne(t: number): void {
    const { z, n } = this;
    const r0 = (this.top - t) * n;
    const r1 = r0 + n;
    const c = this.cs[t];
    const s = this.sn[t];
    for (let k = 0; k < n; k++) {
      const h = z[r1 + k];
      const g = z[r0 + k];
      z[r1 + k] = s * g + c * h;
      z[r0 + k] = c * g - s * h;
    }
  }

  /** Rotations t .. t + 3: rows i + 1, i, i - 1, i - 2, i - 3 with i = top - t, each element once. */
  private applyFour(t: number): void {
    const { z, n, cs, sn } = this;
    const ra = (this.top - t + 1) * n;
    const rb = ra - n;
    const rc = rb - n;
    const rd = rc - n;
    const re = rd - n;
    const [c0, c1, c2, c3] = [cs[t], cs[t + 1], cs[t + 2], cs[t + 3]];
    const [s0, s1, s2, s3] = [sn[t], sn[t + 1], sn[t + 2], sn[t + 3]];
    for (let k = 0; k < n; k++) {
      let b = z[rb + k];
      const a = z[ra + k];
      z[ra + k] = s0 * b + c0 * a;
      b = c0 * b - s0 * a;
      let c = z[rc + k];
      z[rb + k] = s1 * c + c1 * b;
      c = c1 * c - s1 * b;
      let d = z[rd + k];
      z[rc + k] = s2 * d + c2 * c;
      d = c2 * d - s2 * c;
      const e = z[re + k];
      z[rd + k] = s3 * e + c3 * d;
      z[re + k] = c3 * e - s3 * d;
    }
  }
}

/** One implicit QL sweep of tql2 on the block l..m (z rotated along, when given). */
function qlSweep(d: Float64Array, e: Float64Array, l: number, m: number, n: number, z: SweepRotations | undefined): number {
  const g0 = d[l];
  let p = (d[l + 1] - g0) / (2 * e[l]);
  let r = hypot(p, 1);
  if (p < 0) r = -r;
  d[l] = e[l] / (p + r);
  d[l + 1] = e[l] * (p + r);
  const dl1 = d[l + 1];
  const h0 = g0 - d[l];
  for (let i = l + 2; i < n; i++) d[i] -= h0;
  z?.begin(m);
  p = d[m];
  let c = 1;
  let c2 = c;
  let c3 = c;
  const el1 = e[l + 1];
  let s = 0;
  let s2 = 0;
  for (let i = m - 1; i >= l; i--) {
    c3 = c2;
    c2 = c;
    s2 = s;
    const g = c * e[i];
    const h = c * p;
    r = hypot(p, e[i]);
    e[i + 1] = s * r;
    s = e[i] / r;
    c = p / r;
    p = c * d[i] - s * g;
    d[i + 1] = h + s * (c * g + s * d[i]);
    z?.push(c, s);
  }
  z?.apply();
  p = (-s * s2 * c3 * el1 * e[l]) / dl1;
  e[l] = s * p;
  d[l] = c * p;
  return h0;
}

/**
 * Eigenvalues of the symmetric tridiagonal (d, e) in place in d, by tql2's implicit QL; z (rows
 * of length n, e.g. Q^T) gets the rotations, so its row i ends as the eigenvector of d[i].
 */
export function tridiagonalQL(d: Float64Array, e: Float64Array, n: number, z?: Float64Array): void {
  const rotations = z && new SweepRotations(z, n);
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      do {
        f += qlSweep(d, e, l, m, n, rotations);
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/**
 * Eigen-decomposition of a symmetric n x n matrix given by its lower triangle (not changed):
 * eigenvalues at once, eigenvectors only when asked for (they cost about three times as much),
 * from the same reduction.
 */
export class SymmetricEigen {
  /** Eigenvalues, largest first. */
  readonly values: Float64Array;
  private reduction: Tridiagonal | undefined;
  private rows: Float64Array | undefined;

  constructor(
    a: Float64Array,
    readonly n: number,
  ) {
    this.reduction = tridiagonalize(Float64Array.from(a.subarray(0, n * n)), n);
    const d = Float64Array.from(this.reduction.d);
    tridiagonalQL(d, Float64Array.from(this.reduction.e), n);
    this.values = d.sort().reverse();
  }

  /** n x n row-major; row i is the unit eigenvector of values[i]. */
  vectors(): Float64Array {
    if (this.rows) return this.rows;
    const n = this.n;
    const { d, e, vs, betas } = this.reduction!;
    const qt = accumulateQt(vs, betas, n);
    // The same QL on the same (d, e) gives the same eigenvalues, now with their vectors.
    tridiagonalQL(d, e, n, qt);
    const order = Array.from(d.keys()).sort((i, j) => d[j] - d[i]);
    const rows = new Float64Array(n * n);
    order.forEach((src, dst) => rows.set(qt.subarray(src * n, src * n + n), dst * n));
    this.rows = rows;
    this.reduction = undefined;
    return rows;
  }
}

/** Householder vector of x (in place): returns tau with H = I - tau v v^T and H x = -sign(x0) |x| e1, and -sign(x0) |x|. */
function householder(v: Float64Array, from: number, to: number): { tau: number; head: number } {
  let norm2 = 0;
  for (let i = from; i < to; i++) norm2 += v[i] * v[i];
  const alpha = Math.sqrt(norm2);
  if (alpha === 0) return { tau: 0, head: 0 };
  const x0 = v[from];
  const sign = x0 < 0 ? -1 : 1;
  v[from] = x0 + sign * alpha;
  return { tau: 1 / (alpha * (alpha + Math.abs(x0))), head: -sign * alpha };
}

/** Rows solved at a time by forwardSubstitute: the rows before them update them in one product. */
const SOLVE_BLOCK = 64;

/**
 * Solves L Z = B in place (B k x k row-major, L the lower triangle of l) by blocks of rows: a
 * block first takes off what the rows solved so far contribute (one product through the fast
 * kernel), then is solved a row at a time.
 */
export function forwardSubstitute(l: Float64Array, k: number, b: Float64Array): void {
  // Z^T, filled as rows of Z are solved, to pack the operand of the block products.
  const zt = new Float64Array(k * k);
  for (let i0 = 0; i0 < k; i0 += SOLVE_BLOCK) {
    const i1 = Math.min(k, i0 + SOLVE_BLOCK);
    if (i0 > 0) {
      const lb = new Float64Array((i1 - i0) * i0);
      for (let r = i0; r < i1; r++) for (let c = 0; c < i0; c++) lb[(r - i0) * i0 + c] = -l[r * k + c];
      const zp = new Float64Array(k * i0);
      for (let j = 0; j < k; j++) zp.set(zt.subarray(j * k, j * k + i0), j * i0);
      addABt(lb, i1 - i0, zp, k, i0, b.subarray(i0 * k, i1 * k));
    }
    for (let c = i0; c < i1; c++) {
      const rc = c * k;
      for (let m = i0; m < c; m++) {
        const f = l[rc + m];
        if (f === 0) continue;
        const rm = m * k;
        for (let j = 0; j < k; j++) b[rc + j] -= f * b[rm + j];
      }
      const d = l[rc + c];
      for (let j = 0; j < k; j++) {
        b[rc + j] /= d;
        zt[j * k + c] = b[rc + j];
      }
    }
  }
}
