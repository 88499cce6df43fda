import { SymmetricEigen } from './cca-linalg';
import { addABt, matmul, mirrorUpper, transpose } from './linalg';
import type { Matrix } from './matrix';

/**
 * What the CCA family derives from one activation matrix, prepared once per matrix and kept
 * while the matrix lives: a similarity matrix compares every layer of A with every layer of B and
 * each model with itself, so each layer takes part in 10 to 15 pairs, and on 1000-unit layers the
 * decompositions of one side cost seconds while a pair, given both sides, costs a fraction of it.
 *
 * The data are centred exactly in float64 (a constant column becomes exact zeros: a dead unit
 * adds nothing), and the spectrum of the centred scatter comes from the smaller of Xc^T Xc
 * (p x p) and Xc Xc^T (n x n), which have the same non-zero eigenvalues. Canonical directions
 * are rows of U^T, U (n x k) the orthonormal basis of the top k principal directions of Xc:
 * U = Xc V_k L_k^(-1/2) from Xc^T Xc = V L V^T, or the eigenvectors of Xc Xc^T directly.
 */
export class PreparedMatrix {
  readonly n: number;
  readonly p: number;
  /** Centred data, n x p row-major. */
  readonly xc: Float64Array;
  readonly mean: Float64Array;
  /** Sum of squares of the centred data: zero for a side with no variance. */
  readonly total: number;
  /** Correlations already computed against another prepared matrix, by "kx:ky". */
  readonly pairs = new WeakMap<PreparedMatrix, Map<string, Float64Array>>();
  /** Results against another prepared matrix kept for the same pair in the other order, by a key of the caller's. */
  readonly reverse = new WeakMap<PreparedMatrix, Map<string, unknown>>();
  private xcT: Float64Array | undefined;
  private scatterP: Float64Array | undefined;
  private eigen: SymmetricEigen | undefined;
  private basisRows: Float64Array | undefined;
  private basisCount = 0;
  private projectionRows: Float64Array | undefined;
  private readonly complements = new Map<number, Float64Array>();
  private projectionCount = 0;
  private readonly memos = new Map<string, unknown>();

  constructor(m: Matrix) {
    this.n = m.rows;
    this.p = m.cols;
    const { xc, mean } = centre(m);
    this.xc = xc;
    this.mean = mean;
    let total = 0;
    for (const v of xc) total += v * v;
    this.total = total;
  }

  /**
   * Whether the spectrum comes from Xc Xc^T (n x n) rather than Xc^T Xc (p x p): for layers at
   * least as wide as the samples, where it is no larger and its eigenvectors also span what the
   * layer leaves out (see complement).
   */
  get bySamples(): boolean {
    return this.p >= this.n;
  }

  /** Xc^T, p x n row-major. */
  transposed(): Float64Array {
    if (!this.xcT) {
      const { n, p, xc } = this;
      const t = new Float64Array(p * n);
      for (let r = 0; r < n; r++) for (let c = 0; c < p; c++) t[c * n + r] = xc[r * p + c];
      this.xcT = t;
    }
    return this.xcT;
  }

  /** The centred scatter Xc^T Xc, p x p. */
  scatter(): Float64Array {
    if (!this.scatterP) {
      const t = this.transposed();
      const s = new Float64Array(this.p * this.p);
      addABt(t, this.p, t, this.p, this.n, s, true);
      mirrorUpper(s, this.p);
      this.scatterP = s;
    }
    return this.scatterP;
  }

  private decomposition(): SymmetricEigen {
    if (!this.eigen) {
      if (this.bySamples) {
        const g = new Float64Array(this.n * this.n);
        addABt(this.xc, this.n, this.xc, this.n, this.p, g, true);
        mirrorUpper(g, this.n);
        this.eigen = new SymmetricEigen(g, this.n);
      } else {
        this.eigen = new SymmetricEigen(this.scatter(), this.p);
      }
    }
    return this.eigen;
  }

  /** Eigenvalues of the centred scatter, largest first (min(n, p) of them; the rest are zero). */
  values(): Float64Array {
    return this.decomposition().values;
  }

  /** U^T for the top k principal directions: k x n row-major, orthonormal rows. */
  basis(k: number): Float64Array {
    if (this.basisRows && this.basisCount >= k) return this.basisRows.subarray(0, k * this.n);
    const { n, p } = this;
    const eig = this.decomposition();
    let rows: Float64Array;
    if (this.bySamples) {
      rows = Float64Array.from(eig.vectors().subarray(0, k * n));
    } else {
      rows = new Float64Array(k * n);
      addABt(eig.vectors().subarray(0, k * p), k, this.xc, n, p, rows);
      for (let c = 0; c < k; c++) {
        const f = 1 / Math.sqrt(eig.values[c]);
        for (let r = 0; r < n; r++) rows[c * n + r] *= f;
      }
    }
    this.basisRows = rows;
    this.basisCount = k;
    return rows;
  }

  /**
   * An orthonormal basis of the centred vectors of the samples (those orthogonal to the vector of
   * ones) orthogonal to the top k directions: (n - 1 - k) x n rows, from the eigenvectors of
   * Xc Xc^T past k, the ones vector (an eigenvector of eigenvalue 0) turned out of them by a
   * Householder reflection. Only when bySamples; meant for k near n - 1, where it is small.
   */
  complement(k: number): Float64Array {
    const known = this.complements.get(k);
    if (known) return known;
    const { n } = this;
    const m = n - k;
    const rest = this.decomposition()
      .vectors()
      .subarray(k * n, n * n);
    // a = rest * 1/sqrt(n); H a = -|a| e1 with H = I - tau v v^T; row 0 of H rest is then the ones direction.
    const v = new Float64Array(m);
    const f = 1 / Math.sqrt(n);
    for (let i = 0; i < m; i++) {
      let t = 0;
      for (let r = 0; r < n; r++) t += rest[i * n + r];
      v[i] = t * f;
    }
    let norm = 0;
    for (const a of v) norm += a * a;
    norm = Math.sqrt(norm);
    const sign = v[0] < 0 ? -1 : 1;
    v[0] += sign * norm;
    const tau = norm > 0 ? 1 / (norm * (norm + Math.abs(v[0] - sign * norm))) : 0;
    const w = new Float64Array(n);
    for (let i = 0; i < m; i++) for (let r = 0; r < n; r++) w[r] += v[i] * rest[i * n + r];
    const out = new Float64Array((m - 1) * n);
    for (let i = 1; i < m; i++) {
      const g = tau * v[i];
      for (let r = 0; r < n; r++) out[(i - 1) * n + r] = rest[i * n + r] - g * w[r];
    }
    this.complements.set(k, out);
    return out;
  }

  /** What `make` returns for this matrix, made once per key (e.g. a metric's own preparation with its options). */
  memo<T>(key: string, make: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, make());
    return this.memos.get(key) as T;
  }

  /** U^T Xc for the top k directions: k x p, how much of each unit each direction carries. */
  projections(k: number): Float64Array {
    if (this.projectionRows && this.projectionCount >= k) return this.projectionRows.subarray(0, k * this.p);
    const out = new Float64Array(k * this.p);
    addABt(this.basis(k), k, this.transposed(), this.p, this.n, out);
    this.projectionRows = out;
    this.projectionCount = k;
    return out;
  }
}

/**
 * Centred float64 copy: a column constant over the samples becomes exact zeros; the others are
 * centred twice, the second pass removing what rounding left of the mean.
 */
function centre(m: Matrix): { xc: Float64Array; mean: Float64Array } {
  const { rows: n, cols: p, data } = m;
  const mean = new Float64Array(p);
  const constant = new Uint8Array(p).fill(1);
  for (let r = 0; r < n; r++) {
    const o = r * p;
    for (let c = 0; c < p; c++) {
      mean[c] += data[o + c];
      if (data[o + c] !== data[c]) constant[c] = 0;
    }
  }
  for (let c = 0; c < p; c++) mean[c] = constant[c] ? data[c] : mean[c] / n;
  const xc = new Float64Array(n * p);
  const rest = new Float64Array(p);
  for (let r = 0; r < n; r++) {
    const o = r * p;
    for (let c = 0; c < p; c++) {
      const v = data[o + c] - mean[c];
      xc[o + c] = v;
      rest[c] += v;
    }
  }
  for (let c = 0; c < p; c++) rest[c] /= n;
  for (let r = 0; r < n; r++) {
    const o = r * p;
    for (let c = 0; c < p; c++) xc[o + c] -= rest[c];
  }
  for (let c = 0; c < p; c++) mean[c] += rest[c];
  return { xc, mean };
}

interface CacheEntry {
  rows: number;
  cols: number;
  /** The values the preparation was made from, to notice data changed in place. */
  copy: Float32Array | Float64Array;
  prepared: PreparedMatrix;
}

const cache = new WeakMap<Matrix['data'], CacheEntry>();

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/**
 * The preparation of m: the one made earlier for the same data array when its shape and values
 * are unchanged (checked value by value, which costs far less than the decompositions it saves).
 */
export function prepared(m: Matrix): PreparedMatrix {
  const hit = cache.get(m.data);
  if (hit && hit.rows === m.rows && hit.cols === m.cols && sameValues(hit.copy, m.data)) return hit.prepared;
  const entry: CacheEntry = { rows: m.rows, cols: m.cols, copy: m.data.slice(), prepared: new PreparedMatrix(m) };
  cache.set(m.data, entry);
  return entry.prepared;
}

const EPS = 2 ** -52;

function ones(k: number): Float64Array {
  return new Float64Array(k).fill(1);
}

/** Whether the top k directions span every centred vector of the n samples (dimension n - 1). */
function spansSamples(s: PreparedMatrix, k: number): boolean {
  return k >= s.n - 1;
}

/**
 * Whether every canonical correlation is 1 without computing: the same directions on both
 * sides, or one side spanning the whole centred sample space (which then contains the other).
 */
function allOne(x: PreparedMatrix, kx: number, y: PreparedMatrix, ky: number): boolean {
  return (x === y && kx === ky) || spansSamples(x, kx) || spansSamples(y, ky);
}

/** U_x^T U_y, kx x ky: its singular values are the canonical correlations. */
function core(x: PreparedMatrix, kx: number, y: PreparedMatrix, ky: number): Float64Array {
  const c = new Float64Array(kx * ky);
  addABt(x.basis(kx), kx, y.basis(ky), ky, x.n, c);
  return c;
}

/** C C^T (r x r) when r <= c, else C^T C (c x c), of an r x c matrix. */
export function smallerGram(c: Float64Array, r: number, cols: number): { g: Float64Array; s: number } {
  const s = Math.min(r, cols);
  const g = new Float64Array(s * s);
  if (r <= cols) addABt(c, r, c, r, cols, g, true);
  else {
    const t = transpose(c, r, cols);
    addABt(t, cols, t, cols, r, g, true);
  }
  mirrorUpper(g, s);
  return { g, s };
}

/**
 * Singular values of an r x c matrix of norm <= 1 from the eigenvalues of its smaller Gram
 * matrix, largest first. A Gram eigenvalue below its rounding (about (r + c) eps) is reported as a
 * correlation of 0: squaring costs the accuracy of correlations near 0 (to ~1e-7 absolute on
 * 1000 x 1000 cores), not of the others, and is several times faster than a bidiagonalisation.
 */
function rootsOf(values: Float64Array, r: number, c: number): Float64Array {
  const noise = EPS * (r + c) * Math.max(1, values[0] ?? 0);
  return Float64Array.from(values, (v) => (v > noise ? Math.min(1, Math.sqrt(v)) : 0));
}

/**
 * The canonical correlations from the side that leaves out little: with U_w the wider side's
 * basis (kw of the n - 1 centred dimensions) and W its complement there, U_n's directions split
 * as U_n^T U_w U_w^T U_n + U_n^T W W^T U_n = I, so the correlations are 1, as many as kn minus
 * the rank of W^T U_n, and sqrt(1 - s^2) for the singular values s of W^T U_n: a product of
 * (n - 1 - kw) x kn instead of kw x kn (a 1000-unit layer on 1000 samples leaves out a few).
 */
function correlationsByComplement(wide: PreparedMatrix, kw: number, narrow: PreparedMatrix, kn: number): Float64Array {
  const w = wide.complement(kw);
  const c = w.length / wide.n;
  const rho = ones(kn);
  if (c === 0) return rho;
  const prod = new Float64Array(c * kn);
  addABt(w, c, narrow.basis(kn), kn, wide.n, prod);
  const { g, s } = smallerGram(prod, c, kn);
  const sines2 = new SymmetricEigen(g, s).values;
  const noise = EPS * (c + kn);
  // The largest sines give the smallest correlations, at the end.
  for (let i = 0; i < s; i++) {
    const left = 1 - sines2[i];
    rho[kn - 1 - i] = sines2[i] > noise ? (left > noise ? Math.sqrt(left) : 0) : 1;
  }
  return rho.sort().reverse();
}

/** Whether the complement of the wider side is enough cheaper than the direct product to use it. */
function byComplement(wide: PreparedMatrix, kw: number): boolean {
  return wide.bySamples && 2 * (wide.n - 1 - kw) < kw;
}

/** Canonical correlations of the top kx directions of x and the top ky of y, largest first. */
export function correlationsOf(x: PreparedMatrix, kx: number, y: PreparedMatrix, ky: number): Float64Array {
  const known = x.pairs.get(y)?.get(`${kx}:${ky}`) ?? y.pairs.get(x)?.get(`${ky}:${kx}`);
  if (known) return known.slice();
  let rho: Float64Array;
  const [wide, kw, narrow, kn] = kx >= ky ? ([x, kx, y, ky] as const) : ([y, ky, x, kx] as const);
  if (allOne(x, kx, y, ky)) rho = ones(Math.min(kx, ky));
  else if (byComplement(wide, kw)) rho = correlationsByComplement(wide, kw, narrow, kn);
  else {
    const { g, s } = smallerGram(core(x, kx, y, ky), kx, ky);
    rho = rootsOf(new SymmetricEigen(g, s).values, kx, ky);
  }
  let mine = x.pairs.get(y);
  if (!mine) {
    mine = new Map<string, Float64Array>();
    x.pairs.set(y, mine);
  }
  mine.set(`${kx}:${ky}`, rho);
  return rho.slice();
}

/**
 * Left singular vectors of the kx x ky core, as rows (min(kx, ky) x kx), with the singular values:
 * from the eigenvectors of the smaller Gram matrix (C v / |C v| when that is C^T C).
 */
function leftSingular(c: Float64Array, kx: number, ky: number, eig: SymmetricEigen): { rows: Float64Array; rho: Float64Array } {
  const s = eig.n;
  const rho = rootsOf(eig.values, kx, ky);
  if (kx <= ky) return { rows: eig.vectors(), rho };
  const rows = new Float64Array(s * kx);
  addABt(eig.vectors(), s, c, kx, ky, rows);
  for (let i = 0; i < s; i++) {
    let norm = 0;
    for (let a = 0; a < kx; a++) norm += rows[i * kx + a] ** 2;
    const f = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let a = 0; a < kx; a++) rows[i * kx + a] *= f;
  }
  return { rows, rho };
}

/**
 * What the other order of a pair left for this one: `key` names the result in x's map for y
 * (made for the call (x, y)); taking it removes it, so each is kept at most until its pair is
 * asked for in the other order (a self-similarity matrix asks for both).
 */
export function takeReverse<T>(x: PreparedMatrix, y: PreparedMatrix, key: string): T | undefined {
  const stored = y.reverse.get(x);
  const value = stored?.get(key) as T | undefined;
  stored?.delete(key);
  return value;
}

/** Keeps `value` for the call (y, x) to take with takeReverse(y, x, key). */
export function keepForReverse(x: PreparedMatrix, y: PreparedMatrix, key: string, value: unknown): void {
  if (x === y) return;
  let mine = x.reverse.get(y);
  if (!mine) {
    mine = new Map<string, unknown>();
    x.reverse.set(y, mine);
  }
  mine.set(key, value);
}

/**
 * U_x^T U_y and the eigen-decomposition of its smaller Gram matrix. The pair in the other order
 * has the transposed core and, unless kx = ky (then C C^T and C^T C are both "smaller"), the same
 * smaller Gram matrix: made once for both.
 */
function pairDecomposition(x: PreparedMatrix, kx: number, y: PreparedMatrix, ky: number): { c: Float64Array; eig: SymmetricEigen } {
  const stored = takeReverse<{ c: Float64Array; eig: SymmetricEigen }>(x, y, `paper ${ky}:${kx}`);
  const c = stored ? transpose(stored.c, ky, kx) : core(x, kx, y, ky);
  let eig = stored && kx !== ky ? stored.eig : undefined;
  if (!eig) {
    const { g, s } = smallerGram(c, kx, ky);
    eig = new SymmetricEigen(g, s);
  }
  if (!stored) keepForReverse(x, y, `paper ${kx}:${ky}`, { c, eig });
  return { c, eig };
}

export interface PaperPWCCA {
  correlations: Float64Array;
  /** Normalised weights (sum 1), or undefined when every correlation is 1 (the value is then 1 whatever they are). */
  weights?: Float64Array;
  value: number;
}

/**
 * PWCCA by the paper's formula (see pwccaPaper in cca.ts): weights a_i = sum_j |<h_i, xc_j>| with
 * H = U_x A, A the left singular vectors of U_x^T U_y, so H^T Xc = A^T (U_x^T Xc).
 */
export function paperPWCCAOf(x: PreparedMatrix, kx: number, y: PreparedMatrix, ky: number): PaperPWCCA {
  if (allOne(x, kx, y, ky)) return { correlations: ones(Math.min(kx, ky)), value: 1 };
  const { c, eig } = pairDecomposition(x, kx, y, ky);
  const { rows, rho } = leftSingular(c, kx, ky, eig);
  const k = rho.length;
  const h = matmul(rows, k, kx, x.projections(kx), x.p);
  const weights = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let a = 0; a < x.p; a++) s += Math.abs(h[c * x.p + a]);
    weights[c] = s;
  }
  let total = 0;
  for (const w of weights) total += w;
  let value = 0;
  for (let c = 0; c < k; c++) {
    weights[c] /= total;
    value += weights[c] * rho[c];
  }
  return { correlations: rho, weights, value: Math.min(1, Math.max(0, value)) };
}
