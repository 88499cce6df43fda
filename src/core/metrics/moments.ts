import {
  type MomentInputs,
  ortBlockMoments,
  ortRawNorms,
  ortRawProducts,
  type Piece,
  type RawPairNorms,
  type RawSide,
  symmetricPieces,
} from '../engine/onnxruntime';
import { type CrossProductEngine, Float32Left, float32Multiplier, resolveEngine } from './engine';
import { addABt, frobeniusNormSquared, mirrorUpper, trace } from './linalg';
import { checkFinite, checkShape, type Matrix, powerOfTwoScale, SimilarityError } from './matrix';

/**
 * Second moments of several representations of the same samples, accumulated over batches of
 * rows in float64: for every representation its column sums and X^T X, and for every pair
 * (x_i, y_j) the cross-product X_i^T Y_j. Feature-space linear CKA, CCA and NBS need nothing
 * else, so activations never have to be held at once and no n x n matrix is ever built.
 *
 * Each representation is shifted by the column means of the first rows seen (a column constant
 * there is shifted by its exact value, so a dead unit contributes exact zeros) and scaled by a
 * power of two that brings those rows into [-1, 1]. The shift keeps the final centring (X^T X - s s^T / n)
 * free of cancellation; the scale keeps float32 products from overflowing or underflowing and
 * changes no metric (all are scale-invariant), only the units of the moments returned here.
 *
 * With `rawProducts` on onnxruntime (the linear-CKA matrices), representations whose first rows
 * are near enough to centred (rawSafe) are multiplied as they are instead: no shift, no scale,
 * so no centred copy of their rows, up to 16,384 rows per run, and the first run's float32
 * products are kept as the sums. That took the 6x6 benchmark matrix's first call from ~2.6 s to
 * 1.8-2.3 s (~0.9 s of it had been page faults of fresh memory), within 3e-7 of float64.
 * With `oneBatch` (linearCKAMatrix: every row at once, at most one run's worth) the graph reduces
 * each product to the norms CKA reads, sums the columns itself and keeps no product
 * (addRawNorms): 1.31-1.54 s on the engines benchmark, within 1e-7 of float64.
 */

export interface CrossMomentsOptions {
  engine?: CrossProductEngine;
  /**
   * On onnxruntime, multiply the rows as they are when the first rows show that safe (see
   * rawSafe): no centred copies, and the first block's products are kept as they come, in
   * float32. For norms of the products (linear CKA); CCA's whitening keeps the centred path.
   */
  rawProducts?: boolean;
  /**
   * The caller adds every row in one batch (linearCKAMatrix). With raw products taken in one
   * run, the graph then reduces each product to the norms linear CKA reads (rawNormsModel) and
   * keeps no product: only centeredCrossNormSquared and centeredGramNorms can be read after, and
   * a second batch throws.
   */
  oneBatch?: boolean;
  /** Names for messages, one per representation. */
  xNames?: string[];
  yNames?: string[];
}

interface Rep {
  name: string;
  cols: number;
  shift: Float64Array;
  scale: number;
  sum: Float64Array;
  /**
   * Upper triangle valid; the lower one is mirrored on read. Allocated by the first batch that
   * adds to it (gramOf): a model against itself keeps its Grams in CrossMoments.selfUpper.
   * float32 while it holds one block of raw products as they came (see CrossMoments.addRaw).
   */
  gram?: Float32Array | Float64Array;
  /** Whether its first rows allow multiplying it as it is (rawSafe; set with the shift). */
  rawSafe?: boolean;
  /** Multiplied as it is (CrossMoments.addRaw): shift 0, scale 1. */
  raw?: boolean;
}

/** The Gram to add to, in float64 (a float32 one is widened first). */
function gramOf(rep: Rep): Float64Array {
  const gram = rep.gram ? widened(rep.gram) : new Float64Array(rep.cols * rep.cols);
  rep.gram = gram;
  return gram;
}

/** `a` in float64 to add to: itself, or a float32 array widened. */
function widened(a: Float32Array | Float64Array): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

const CHUNK_F64 = 256;
const CHUNK_F32 = 1024;
/**
 * Rows per onnxruntime block. MLAS accumulates each block's products in float32; the float64
 * sums over blocks cost a JS pass over P x Q per block, so larger blocks save that, while the
 * graph's intermediates (centred copies and pieces; ~85 MB a side at 2048 rows of the
 * 3494-column benchmark) grow with the block, and the first run of a session page-faults them
 * all in. On the engines benchmark 2048 used less CPU than 1024 or 4096 on a first call and
 * 150 MB less peak memory than 4096 (measured when the products also concatenated copies).
 * Accuracy does not depend on it here: at 1024, 2048 and 6000 rows the 3 x 3 CKA matrix of that
 * benchmark's networks on 6000 images agreed with float64 within 8e-9 alike.
 */
const CHUNK_ORT = 2048;

function newRep(name: string, cols: number): Rep {
  return {
    name,
    cols,
    shift: new Float64Array(cols),
    scale: 1,
    sum: new Float64Array(cols),
  };
}

/**
 * Rows of the first batch that set the shift and scale; any shift near the mean does, and a
 * scale within a few powers of two. 2048 rows halved this pass (60 ms of compare here) from 4096.
 */
const SHIFT_ROWS = 2048;

/**
 * Rows per run of raw products. MLAS sums each product over a run's rows in float32; at 10,000
 * rows the 6x6 benchmark matrix agreed with the float64 engine within 3e-7.
 */
const RAW_ROWS = 16_384;

/**
 * Multiplied uncentred, a representation's float32 products carry rounding in proportion to its
 * raw second moments, sum_j E[x_j^2], where the centred path's follows its spread, sum_j var_j
 * (the shift then removes the mean exactly in float64). A ratio of at most 4 costs at most two
 * bits. ReLU layers of random networks and MNIST's pixels sit near 1.5; data far from zero mean
 * (a sigmoid's outputs, features with an offset) stay on the centred path.
 */
const RAW_MOMENT_RATIO = 4;

/** Share of the columns that must be safe to multiply raw for CrossMoments to take raw products. */
const RAW_SHARE = 0.75;

/**
 * Whether rows can be multiplied raw, from their first rows: summed over the columns, second
 * moments within RAW_MOMENT_RATIO of the spread; and magnitudes (maxAbs) where float32 products
 * neither overflow nor underflow unscaled.
 */
function rawSafe(second: number, spread: number, maxAbs: number): boolean {
  if (maxAbs === 0) return true;
  return maxAbs <= 2 ** 40 && maxAbs >= 2 ** -40 && second <= RAW_MOMENT_RATIO * spread;
}

/**
 * Column sums of the first `rows` rows of a (row-major, `cols` wide) in float64, of the values
 * as onnxruntime multiplies them: as they are, or with `centring` (float32 Sub, then the exact
 * power-of-two Mul).
 */
function columnSums(a: Float32Array, rows: number, cols: number, centring: RawSide['centring'][number]): Float64Array {
  const sum = new Float64Array(cols);
  if (centring) {
    const { shift, scale } = centring;
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) sum[j] += Math.fround(a[o + j] - shift[j]) * scale;
    }
    return sum;
  }
  // Four rows per pass over the sums: a quarter of the loads and stores of `sum`.
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) sum[j] += a[o + j] + a[o + cols + j] + (a[o + 2 * cols + j] + a[o + 3 * cols + j]);
  }
  for (; i < rows; i++) for (let j = 0; j < cols; j++) sum[j] += a[i * cols + j];
  return sum;
}

function copyShift(from: Rep, to: Rep): void {
  to.shift.set(from.shift);
  to.scale = from.scale;
}

/**
 * Shift: column means of the first rows, or the exact value of a column that is constant there.
 * One pass keeps each column's sum, least and greatest value: max |v - shift| is the larger of
 * (greatest - shift) and (shift - least), exactly, since v - shift rounds monotonically in v.
 */
function initShift(rep: Rep, m: Matrix): void {
  const { cols, data } = m;
  const rows = Math.min(m.rows, SHIFT_ROWS);
  const shift = rep.shift;
  const lo = new Float64Array(cols).fill(Infinity);
  const hi = new Float64Array(cols).fill(-Infinity);
  const squares = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = data[o + j];
      shift[j] += v;
      squares[j] += v * v;
      if (v < lo[j]) lo[j] = v;
      if (v > hi[j]) hi[j] = v;
    }
  }
  let max = 0;
  let maxAbs = 0;
  let second = 0;
  let spread = 0;
  for (let j = 0; j < cols; j++) {
    const mean = shift[j] / rows;
    second += squares[j] / rows;
    spread += squares[j] / rows - mean * mean;
    maxAbs = Math.max(maxAbs, -lo[j], hi[j]);
    shift[j] = lo[j] === hi[j] ? lo[j] : mean;
    max = Math.max(max, hi[j] - shift[j], shift[j] - lo[j]);
  }
  rep.scale = powerOfTwoScale(max);
  rep.rawSafe = rawSafe(second, spread, maxAbs);
}

export class CrossMoments {
  private n = 0;
  private readonly xs: Rep[];
  private readonly ys: Rep[];
  /**
   * cross[i][j]: xs[i].cols x ys[j].cols, allocated when a batch needs it: a model against itself
   * keeps its cross products in `selfUpper` instead (for two 3494-column networks the full
   * blocks would be 390 MB more, and spreading into them cost more than their products' sums).
   */
  private crossStore: (Float32Array | Float64Array)[][] | undefined;
  /** Products taken raw (decided on the first batch; shifts 0 and scales 1 then). */
  private raw = false;
  /** Hands the first run's kept products back to onnxruntime's pool (see release). */
  private recycle: (() => void) | undefined;
  private released = false;
  /** False once a batch's ys were not the very matrices of its xs. */
  private allSelf = true;
  private chosen: 'float64' | 'float32' | undefined;

  constructor(
    xCols: number[],
    yCols: number[],
    private readonly options: CrossMomentsOptions = {},
  ) {
    for (const c of [...xCols, ...yCols]) {
      if (!Number.isInteger(c) || c < 1) throw new SimilarityError(`every representation needs at least one feature, got ${c}`);
    }
    this.xs = xCols.map((c, i) => newRep(options.xNames?.[i] ?? (xCols.length > 1 ? `X[${i}]` : 'X'), c));
    this.ys = yCols.map((c, j) => newRep(options.yNames?.[j] ?? (yCols.length > 1 ? `Y[${j}]` : 'Y'), c));
  }

  /** The cross products to add to, in float64 (float32 ones are widened first, once). */
  private get cross(): Float64Array[][] {
    const store = this.crossStore ?? this.xs.map((x) => this.ys.map((y) => new Float64Array(x.cols * y.cols)));
    if (store.some((row) => row.some((a) => !(a instanceof Float64Array)))) this.crossStore = store.map((row) => row.map(widened));
    else this.crossStore = store;
    return this.crossStore as Float64Array[][];
  }

  /** Samples accumulated so far. */
  get rows(): number {
    return this.n;
  }

  /** Whether every batch so far gave the same matrices as xs and ys: a list against itself. */
  get selfProduct(): boolean {
    return this.n > 0 && this.allSelf;
  }

  /** Whether onnxruntime multiplies rows as they are (decided on the first batch; see chooseRaw). */
  get rawProducts(): boolean {
    return this.raw;
  }

  /** The engine in use (known after the first batch). */
  get engine(): 'float64' | 'float32' | undefined {
    return this.chosen;
  }

  get xCount(): number {
    return this.xs.length;
  }

  get yCount(): number {
    return this.ys.length;
  }

  name(side: 'x' | 'y', i: number): string {
    return (side === 'x' ? this.xs : this.ys)[i].name;
  }

  cols(side: 'x' | 'y', i: number): number {
    return (side === 'x' ? this.xs : this.ys)[i].cols;
  }

  /** Adds one batch: the same rows of every representation. */
  add(xs: Matrix[], ys: Matrix[]): void {
    if (this.released) throw new Error('CrossMoments added to after release()');
    if (this.norms) throw new Error('CrossMoments given a second batch after one reduced to norms (oneBatch)');
    const rows = this.checkBatch(xs, ys);
    // A list against itself: the y side is the x side's very rows, checked and measured once.
    const self = sameMatrices(xs, ys);
    const checked = self ? xs : [...xs, ...ys];
    const reps = [...this.xs, ...this.ys];
    // A batch that may be reduced to norms (addRawNorms) finds non-finite values in its column
    // sums: one pass over the rows less.
    const mayReduce =
      this.n === 0 && this.options.oneBatch === true && rows <= RAW_ROWS && checked.every((m) => m.data instanceof Float32Array);
    if (!mayReduce) checked.forEach((m, k) => checkFinite(m, reps[k].name));
    if (rows === 0) return;
    this.allSelf &&= self;
    if (this.n === 0) this.begin(checked, self);
    if (mayReduce && this.raw) this.addRawNorms(xs, ys, rows);
    else {
      if (mayReduce) checked.forEach((m, k) => checkFinite(m, reps[k].name));
      this.addBatch(xs, ys, rows);
    }
    this.n += rows;
  }

  /** The batch's row count, after checking that it fits these moments. */
  private checkBatch(xs: Matrix[], ys: Matrix[]): number {
    if (xs.length !== this.xs.length || ys.length !== this.ys.length) {
      throw new SimilarityError(`batch has ${xs.length} + ${ys.length} representations, expected ${this.xs.length} + ${this.ys.length}`);
    }
    const all = [...xs, ...ys];
    const reps = [...this.xs, ...this.ys];
    const rows = all.length ? all[0].rows : 0;
    all.forEach((m, k) => {
      if (m.cols !== reps[k].cols) {
        throw new SimilarityError(`${reps[k].name}: batch has ${m.cols} features, expected ${reps[k].cols}`);
      }
      if (m.rows !== rows) {
        throw new SimilarityError(`${reps[k].name}: batch has ${m.rows} samples, ${reps[0].name} has ${rows}`);
      }
    });
    (sameMatrices(xs, ys) ? xs : all).forEach((m, k) => checkShape(m, reps[k].name, 1));
    return rows;
  }

  /** First batch: shifts and scales from its first rows, the engine, and whether products go raw. */
  private begin(checked: Matrix[], self: boolean): void {
    const reps = [...this.xs, ...this.ys];
    checked.forEach((m, k) => initShift(reps[k], m));
    if (self) this.ys.forEach((r, j) => copyShift(this.xs[j], r));
    const px = this.xs.reduce((a, r) => a + r.cols, 0);
    const qy = this.ys.reduce((a, r) => a + r.cols, 0);
    const squares = reps.reduce((a, r) => a + r.cols * r.cols, 0);
    this.chosen = resolveEngine(this.options.engine, px * qy + squares);
    if (this.chosen === 'float32' && float32Multiplier() === 'onnxruntime' && this.options.rawProducts) this.chooseRaw(self);
  }

  private addBatch(xs: Matrix[], ys: Matrix[], rows: number): void {
    if (this.raw) this.addRaw(xs, ys, rows);
    else if (this.chosen === 'float32' && float32Multiplier() === 'onnxruntime') this.addOrt(xs, ys, rows);
    else if (this.chosen === 'float32') this.addF32(xs, ys, rows);
    else this.addF64(xs, ys, rows);
  }

  private addF64(xs: Matrix[], ys: Matrix[], rows: number): void {
    const bufX = this.xs.map((r) => new Float64Array(r.cols * CHUNK_F64));
    const bufY = this.ys.map((r) => new Float64Array(r.cols * CHUNK_F64));
    for (let r0 = 0; r0 < rows; r0 += CHUNK_F64) {
      const kc = Math.min(CHUNK_F64, rows - r0);
      xs.forEach((m, i) => packT64(m, r0, kc, this.xs[i], bufX[i]));
      ys.forEach((m, j) => packT64(m, r0, kc, this.ys[j], bufY[j]));
      this.xs.forEach((r, i) => addABt(bufX[i], r.cols, bufX[i], r.cols, kc, gramOf(r), true));
      this.ys.forEach((r, j) => addABt(bufY[j], r.cols, bufY[j], r.cols, kc, gramOf(r), true));
      this.xs.forEach((rx, i) => this.ys.forEach((ry, j) => addABt(bufX[i], rx.cols, bufY[j], ry.cols, kc, this.cross[i][j])));
    }
  }

  private addF32(xs: Matrix[], ys: Matrix[], rows: number): void {
    const P = this.xs.reduce((a, r) => a + r.cols, 0);
    const chunk = Math.min(CHUNK_F32, rows);
    const xT = new Float32Array(P * chunk);
    const xBlocks = this.xs.map((r) => new Float32Array(chunk * r.cols));
    const yT = this.ys.map((r) => new Float32Array(r.cols * chunk));
    const yBlocks = this.ys.map((r) => new Float32Array(chunk * r.cols));
    const yRow = this.ys.map((r) => new Float32Array(chunk * r.cols));
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const kc = Math.min(chunk, rows - r0);
      let off = 0;
      xs.forEach((m, i) => {
        const rep = this.xs[i];
        const t = xT.subarray(off * kc, (off + rep.cols) * kc);
        packF32(m, r0, kc, rep, t, xBlocks[i], null);
        gramUpperF32(t, xBlocks[i], rep.cols, kc, gramOf(rep));
        off += rep.cols;
      });
      ys.forEach((m, j) => {
        const rep = this.ys[j];
        packF32(m, r0, kc, rep, yT[j], yBlocks[j], yRow[j]);
        gramUpperF32(yT[j], yBlocks[j], rep.cols, kc, gramOf(rep));
      });
      // Every x representation against one y representation per matmul: large products run
      // near peak, and the output (P x q_j) stays a fraction of the full P x Q.
      const left = new Float32Left(xT.subarray(0, P * kc), P, kc);
      try {
        this.ys.forEach((ry, j) => {
          const c = left.times(yRow[j].subarray(0, kc * ry.cols), ry.cols);
          let ro = 0;
          this.xs.forEach((rx, i) => {
            const block = this.cross[i][j];
            const src = c.subarray(ro * ry.cols, (ro + rx.cols) * ry.cols);
            for (let e = 0; e < block.length; e++) block[e] += src[e];
            ro += rx.cols;
          });
        });
      } finally {
        left.dispose();
      }
    }
  }

  /**
   * onnxruntime: per block of CHUNK_ORT rows one session run centres and scales every
   * representation and returns all the products (see ortBlockMoments), summed here in float64.
   * The rows go in as they are (float32 data is not copied). When ys are the very same matrices
   * as xs (a model against itself), only X_cat^T X_cat is multiplied: its blocks are the cross
   * products and its diagonal blocks the Grams.
   */
  private addOrt(xs: Matrix[], ys: Matrix[], rows: number): void {
    const self = sameMatrices(xs, ys);
    const side = (ms: Matrix[], reps: Rep[], r0: number, kc: number): MomentInputs => ({
      rows: ms.map((m) => float32Rows(m, r0, kc)),
      cols: reps.map((r) => r.cols),
      shifts: reps.map((r) => Float32Array.from(r.shift)),
      scales: reps.map((r) => r.scale),
    });
    for (let r0 = 0; r0 < rows; r0 += CHUNK_ORT) {
      const kc = Math.min(CHUNK_ORT, rows - r0);
      const out = ortBlockMoments(side(xs, this.xs, r0, kc), self ? undefined : side(ys, this.ys, r0, kc), kc);
      if (!out) throw new Error('onnxruntime moments asked for after onnxruntime-node failed to load');
      const reps = [...this.xs, ...this.ys];
      reps.forEach((r, k) => addInto(r.sum, out.sums[self ? k % this.xs.length : k]));
      if (self) this.addSelfUpper(out.uppers[0]);
      else {
        reps.forEach((r, k) => addUpperGram(out.uppers[k], r));
        const ny = this.ys.length;
        this.cross.forEach((row, i) => row.forEach((acc, j) => addInto(acc, out.cross![i * ny + j])));
      }
    }
  }

  /**
   * Raw products when the representations whose first rows allow it (rawSafe) hold at least
   * RAW_SHARE of the columns. Those lose their shift and scale; the rest are centred on the way
   * into the same runs.
   */
  private chooseRaw(self: boolean): void {
    const reps = self ? this.xs : [...this.xs, ...this.ys];
    const safeCols = reps.reduce((a, r) => a + (r.rawSafe ? r.cols : 0), 0);
    this.raw = safeCols >= RAW_SHARE * reps.reduce((a, r) => a + r.cols, 0);
    if (!this.raw) return;
    reps.forEach((r) => {
      r.raw = r.rawSafe;
      if (!r.raw) return;
      r.shift.fill(0);
      r.scale = 1;
    });
    if (self)
      this.ys.forEach((r, j) => {
        r.raw = this.xs[j].raw;
        copyShift(this.xs[j], r);
      });
  }

  /**
   * Raw products on onnxruntime, RAW_ROWS rows per run. The first run's products become the
   * sums as they are (float32, nothing copied or added); a later run widens them to float64
   * once and adds to them. Column sums in float64 from the same float32 values.
   */
  private addRaw(xs: Matrix[], ys: Matrix[], rows: number): void {
    const self = sameMatrices(xs, ys);
    const centring = (reps: Rep[]) => reps.map((r) => (r.raw ? undefined : { shift: Float32Array.from(r.shift), scale: r.scale }));
    const [cx, cy] = [centring(this.xs), centring(this.ys)];
    for (let r0 = 0; r0 < rows; r0 += RAW_ROWS) {
      const kc = Math.min(RAW_ROWS, rows - r0);
      const first = this.n === 0 && r0 === 0;
      const side = (ms: Matrix[], c: RawSide['centring']): RawSide => ({
        rows: ms.map((m) => float32Rows(m, r0, kc)),
        cols: ms.map((m) => m.cols),
        centring: c,
      });
      const x = side(xs, cx);
      const y = self ? undefined : side(ys, cy);
      const run = ortRawProducts(x, y, kc, first);
      if (!run) throw new Error('onnxruntime products asked for after onnxruntime-node failed to load');
      const out = run.products;
      if (first) this.recycle = run.recycle;
      this.addRawSums(x, y, kc);
      if (self) this.addSelfUpper(out, first);
      else this.addRawPairs(out, first);
    }
  }

  /**
   * One batch of at most RAW_ROWS float32 rows, all there will be (oneBatch): one run of
   * rawNormsModel gives every centred norm linear CKA reads, and no product is kept. The graph
   * sums the raw representations' columns too; a sum that is not finite means a value that is
   * not, which checkFinite then names.
   */
  private addRawNorms(xs: Matrix[], ys: Matrix[], rows: number): void {
    const self = sameMatrices(xs, ys);
    const side = (ms: Matrix[], reps: Rep[]): RawSide => ({
      rows: ms.map((m) => float32Rows(m, 0, rows)),
      cols: reps.map((r) => r.cols),
      centring: reps.map((r) => (r.raw ? undefined : { shift: Float32Array.from(r.shift), scale: r.scale })),
    });
    const x = side(xs, this.xs);
    const y = self ? undefined : { ...side(ys, this.ys), sameAs: this.sharedRows(xs, ys) };
    const centredSums = (s: RawSide | undefined) =>
      s?.rows.map((a, k) => (s.centring[k] ? columnSums(a, rows, s.cols[k], s.centring[k]) : undefined)) ?? [];
    const out = ortRawNorms(x, y, rows, { x: centredSums(x), y: centredSums(y) });
    if (!out) throw new Error('onnxruntime norms asked for after onnxruntime-node failed to load');
    const sy = y ? out.sums.y : out.sums.x;
    const finite = (sums: Float64Array[], ms: Matrix[], reps: Rep[]) =>
      sums.forEach((sum, k) => {
        if (sum.every(Number.isFinite)) return;
        checkFinite(ms[k], reps[k].name);
        throw new SimilarityError(`${reps[k].name}: values too large to multiply in float32`);
      });
    finite(out.sums.x, xs, this.xs);
    if (y) finite(sy, ys, this.ys);
    this.xs.forEach((r, i) => r.sum.set(out.sums.x[i]));
    this.ys.forEach((r, j) => r.sum.set(sy[j]));
    this.norms = centredNorms(out.pairs, (o) => (o.side === 'x' ? out.sums.x : sy)[o.i], rows);
  }

  /** Per y representation, the x one with its very rows when both are multiplied raw (a shared input layer). */
  private sharedRows(xs: Matrix[], ys: Matrix[]): (number | undefined)[] {
    return ys.map((m, j) => {
      const i = xs.findIndex((x, k) => x.data === m.data && x.cols === m.cols && this.xs[k].raw && this.ys[j].raw);
      return i < 0 ? undefined : i;
    });
  }

  /** A run's column sums in float64, to each side (a self product's y side gets x's). */
  private addRawSums(x: RawSide, y: RawSide | undefined, kc: number): void {
    const sums = (side: RawSide) => side.rows.map((a, k) => columnSums(a, kc, side.cols[k], side.centring[k]));
    const sx = sums(x);
    const sy = y ? sums(y) : sx;
    this.xs.forEach((r, i) => addInto(r.sum, sx[i]));
    this.ys.forEach((r, j) => addInto(r.sum, sy[j]));
  }

  /**
   * rawProductsModel's non-self outputs (pairs, then x Grams, then y Grams, each Gram as its upper
   * blocks) into the sums. The first batch's cross products are kept as they came; Grams go into
   * float64 upper triangles, the rest of them never written (readers mirror the upper one).
   */
  private addRawPairs(out: Float32Array[], first: boolean): void {
    const nx = this.xs.length;
    const ny = this.ys.length;
    if (first) this.crossStore = this.xs.map((_, i) => out.slice(i * ny, (i + 1) * ny));
    else this.cross.forEach((row, i) => row.forEach((acc, j) => addInto(acc, out[i * ny + j])));
    let k = nx * ny;
    for (const r of [...this.xs, ...this.ys]) {
      const s = symmetricPieces([r.cols]).length;
      addUpperGram(out.slice(k, (k += (s * (s + 1)) / 2)), r);
    }
  }

  /** The centred norms of a batch reduced in the graph (addRawNorms); then nothing else is kept. */
  private norms: CentredNorms | undefined;

  /**
   * The self product's upper blocks summed over row blocks in float64. Grams and cross
   * products are gathered from them per read: spreading every block into full matrices, half of
   * it as strided transposed writes, cost more than the products' own sums here.
   */
  private selfUpper: (Float32Array | Float64Array)[] | undefined;

  /** Adds a block's upper blocks; `keep`: the first block of raw products, kept as it came. */
  private addSelfUpper(uppers: Float32Array[], keep = false): void {
    if (keep) {
      this.selfUpper = uppers;
      return;
    }
    const sums = (this.selfUpper ?? uppers.map((u) => new Float64Array(u.length))).map(widened);
    this.selfUpper = sums;
    sums.forEach((acc, k) => addInto(acc, uppers[k]));
  }

  /** The accumulated Gram of a representation (upper triangle valid), a fresh array. */
  private rawGram(rep: Rep, i: number): Float64Array {
    this.notNormsOnly();
    const g = rep.gram ? Float64Array.from(rep.gram) : new Float64Array(rep.cols * rep.cols);
    if (!this.selfUpper) return g;
    forEachUpperBlock(this.selfUpper, this.selfPieces(), (pa, pb, b) => {
      if (pa.rep === i && pb.rep === i) addBlock(g, rep.cols, pa.start, pb.start, b);
    });
    return g;
  }

  /** How the self product is cut: whole representations for raw products (rawProductsModel). */
  private selfPieces(): Piece[] {
    if (this.raw) return this.xs.map((r, rep) => ({ rep, start: 0, width: r.cols }));
    return symmetricPieces(this.xs.map((r) => r.cols));
  }

  /**
   * X_i^T Y_j as accumulated (uncentred, scaled), a fresh array: the cross blocks of batches
   * that had them plus, from the self product's upper blocks, block (i, j) where it lies
   * above the diagonal and block (j, i) transposed where it lies below.
   */
  private rawCross(i: number, j: number): Float64Array {
    this.notNormsOnly();
    const q = this.ys[j].cols;
    const c = this.crossStore ? Float64Array.from(this.crossStore[i][j]) : new Float64Array(this.xs[i].cols * q);
    if (!this.selfUpper) return c;
    forEachUpperBlock(this.selfUpper, this.selfPieces(), (pa, pb, b) => {
      if (pa.rep === i && pb.rep === j) addBlock(c, q, pa.start, pb.start, b);
      if (pa.rep === j && pb.rep === i && pa !== pb) addBlockTransposed(c, q, pb.start, pa.start, b);
    });
    return c;
  }

  private notNormsOnly(): void {
    if (this.norms) throw new Error('CrossMoments of one batch reduced to norms (oneBatch) hold no Gram or cross product');
  }

  /**
   * Done with these moments: the products kept from onnxruntime go back for the next caller to
   * reuse, so a second job does not fault in fresh memory. Nothing can be read or added after.
   */
  release(): void {
    this.released = true;
    this.recycle?.();
    this.recycle = undefined;
    this.crossStore = undefined;
    this.selfUpper = undefined;
    this.norms = undefined;
    for (const r of [...this.xs, ...this.ys]) r.gram = undefined;
  }

  private check(side: 'x' | 'y', i: number): Rep {
    if (this.released) throw new Error('CrossMoments read after release()');
    const reps = side === 'x' ? this.xs : this.ys;
    if (!Number.isInteger(i) || i < 0 || i >= reps.length) throw new SimilarityError(`no representation ${side}[${i}]`);
    if (this.n < 2) throw new SimilarityError(`${reps[i].name}: ${this.n} samples accumulated; at least 2 are needed`);
    return reps[i];
  }

  /** Centred X^T X (in the representation's scaled units; see `scale`). */
  centeredGram(side: 'x' | 'y', i: number): Float64Array {
    const rep = this.check(side, i);
    const p = rep.cols;
    const g = this.rawGram(rep, i);
    mirrorUpper(g, p);
    const s = rep.sum;
    const n = this.n;
    for (let a = 0; a < p; a++) {
      const sa = s[a] / n;
      for (let b = 0; b < p; b++) g[a * p + b] -= sa * s[b];
    }
    return g;
  }

  /** Centred X_i^T Y_j (in scaled units). */
  centeredCross(i: number, j: number): Float64Array {
    const rx = this.check('x', i);
    const ry = this.check('y', j);
    const c = this.rawCross(i, j);
    const n = this.n;
    for (let a = 0; a < rx.cols; a++) {
      const sa = rx.sum[a] / n;
      for (let b = 0; b < ry.cols; b++) c[a * ry.cols + b] -= sa * ry.sum[b];
    }
    return c;
  }

  /**
   * ||centred X_i^T Y_j||_F^2, summed as the accumulated blocks are read: linear CKA needs only
   * this, and building each p x q matrix first cost a fresh float64 copy per pair (98 MB for the
   * 6 x 6 benchmark) and two more passes. Equal to frobeniusNormSquared(centeredCross(i, j)) up to
   * the order of the sums; a sum that overflows or underflows is taken from that matrix instead.
   */
  centeredCrossNormSquared(i: number, j: number): number {
    const rx = this.check('x', i);
    const ry = this.check('y', j);
    if (this.norms) return this.norms.cross.get(this.allSelf && j < i ? `${j} ${i}` : `${i} ${j}`)!;
    const u = this.meanOf(rx);
    let sum = 0;
    if (this.selfUpper && !this.crossStore) {
      forEachUpperBlock(this.selfUpper, this.selfPieces(), (pa, pb, b) => {
        // A block of a representation with itself off the diagonal also stands for its mirror image.
        if (pa.rep === i && pb.rep === j) sum += (i === j && pa !== pb ? 2 : 1) * centredSumSq(b, u, pa.start, ry.sum, pb.start);
        // Block (j, i) above the diagonal: the transpose of the one wanted, entries centred alike.
        else if (pa.rep === j && pb.rep === i) sum += centredSumSq(b, ry.sum, pa.start, u, pb.start);
      });
    } else if (!this.selfUpper && this.crossStore) {
      sum = centredSumSq({ src: this.crossStore[i][j], h: rx.cols, w: ry.cols }, u, 0, ry.sum, 0);
    } else sum = NaN;
    return plainSumUsable(sum) ? sum : frobeniusNormSquared(this.centeredCross(i, j));
  }

  /** Trace and squared Frobenius norm of centredGram(side, i), summed as they are read (see above). */
  centeredGramNorms(side: 'x' | 'y', i: number): { trace: number; normSquared: number } {
    const rep = this.check(side, i);
    if (this.norms) return this.norms.grams.get(this.allSelf ? `x${i}` : `${side}${i}`)!;
    const u = this.meanOf(rep);
    let norms = { trace: 0, normSquared: NaN };
    if (this.selfUpper && !rep.gram) {
      norms.normSquared = 0;
      // In a self product representation i of either side is piece rep i of the x side.
      forEachUpperBlock(this.selfUpper, this.selfPieces(), (pa, pb, b) => {
        if (pa.rep === i && pb.rep === i) addGramBlockNorms(norms, b, u, rep.sum, pa.start, pb.start, pa === pb);
      });
    } else if (!this.selfUpper && rep.gram) norms = upperGramNorms(rep.gram, rep.cols, u, rep.sum);
    if (plainSumUsable(norms.normSquared)) return norms;
    const g = this.centeredGram(side, i);
    return { trace: trace(g, rep.cols), normSquared: frobeniusNormSquared(g) };
  }

  /** Column means of the accumulated (shifted, scaled) values. */
  private meanOf(rep: Rep): Float64Array {
    const u = new Float64Array(rep.cols);
    for (let a = 0; a < rep.cols; a++) u[a] = rep.sum[a] / this.n;
    return u;
  }

  /** The factor the representation was multiplied by before accumulation. */
  scale(side: 'x' | 'y', i: number): number {
    return (side === 'x' ? this.xs : this.ys)[i].scale;
  }
}

/**
 * Whether a plain float64 sum of squares can stand: finite, and far from underflow (the shift and
 * scale put entries near 1, so only degenerate data comes near; it gets the scaled sum instead).
 */
function plainSumUsable(x: number): boolean {
  return Number.isFinite(x) && x > 1e-250;
}

/** Sum over an h x w block of (b[r][c] - u[r0 + r] * v[c0 + c])^2: its entries centred, squared. */
function centredSumSq(b: SrcBlock, u: Float64Array, r0: number, v: Float64Array, c0: number): number {
  let sum = 0;
  for (let r = 0; r < b.h; r++) {
    const ur = u[r0 + r];
    const o = r * b.w;
    for (let c = 0; c < b.w; c++) {
      const d = b.src[o + c] - ur * v[c0 + c];
      sum += d * d;
    }
  }
  return sum;
}

/** Adds a Gram's upper block (rows from r0, columns from c0) to its centred trace and squared norm. */
function addGramBlockNorms(
  norms: { trace: number; normSquared: number },
  b: SrcBlock,
  u: Float64Array,
  s: Float64Array,
  r0: number,
  c0: number,
  diagonal: boolean,
): void {
  // A block off the diagonal stands for itself and its mirror image below.
  norms.normSquared += (diagonal ? 1 : 2) * centredSumSq(b, u, r0, s, c0);
  if (diagonal) for (let r = 0; r < b.h; r++) norms.trace += b.src[r * b.w + r] - u[r0 + r] * s[c0 + r];
}

/** Centred trace and squared norm of a p x p Gram whose upper triangle holds it. */
function upperGramNorms(
  g: Float32Array | Float64Array,
  p: number,
  u: Float64Array,
  s: Float64Array,
): { trace: number; normSquared: number } {
  let t = 0;
  let off = 0;
  let diag = 0;
  for (let a = 0; a < p; a++) {
    const ua = u[a];
    const d = g[a * p + a] - ua * s[a];
    t += d;
    diag += d * d;
    for (let b = a + 1; b < p; b++) {
      const e = g[a * p + b] - ua * s[b];
      off += e * e;
    }
  }
  return { trace: t, normSquared: diag + 2 * off };
}

/**
 * Centred norms by pair: cross (i, j) keyed "i j" (a self product has i <= j only), Grams keyed
 * by side and index ("x0"; a self product's y side is its x side).
 */
interface CentredNorms {
  cross: Map<string, number>;
  grams: Map<string, { trace: number; normSquared: number }>;
}

/**
 * From rawNormsModel's float64 reductions: ||P - s_a s_b^T / n||^2 = ||P||^2 - 2 s_a.(P s_b) / n
 * + |s_a|^2 |s_b|^2 / n^2, and trace(P - s s^T / n) = trace(P) - |s|^2 / n. The three terms
 * can be of similar size and cancel, but each is float64 while the rounding that matters is
 * float32's, in P itself, as on the other paths. A result a hair below 0 (a pair with no shared
 * variance) is 0.
 */
function centredNorms(pairs: RawPairNorms[], sumOf: (o: RawPairNorms['a']) => Float64Array, n: number): CentredNorms {
  const out: CentredNorms = { cross: new Map(), grams: new Map() };
  const self = pairs.every((p) => p.a.side === 'x' && p.b.side === 'x');
  for (const p of pairs) {
    const [sa, sb] = [sumOf(p.a), sumOf(p.b)];
    const normSquared = Math.max(0, p.normSquared - (2 / n) * p.sumProduct + (dot(sa, sa) * dot(sb, sb)) / (n * n));
    if (self || p.a.side !== p.b.side) out.cross.set(`${p.a.i} ${p.b.i}`, normSquared);
    if (p.trace !== undefined) out.grams.set(`${p.a.side}${p.a.i}`, { trace: p.trace - dot(sa, sa) / n, normSquared });
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}

/** Whether ys are the very matrices of xs, in order (not merely equal values). */
function sameMatrices(xs: Matrix[], ys: Matrix[]): boolean {
  return xs.length === ys.length && xs.every((m, i) => m.data === ys[i].data);
}

/** Rows r0..r0+kc of m as float32: a view of float32 data, a rounded copy of float64 data. */
function float32Rows(m: Matrix, r0: number, kc: number): Float32Array {
  const rows = m.data.subarray(r0 * m.cols, (r0 + kc) * m.cols);
  return rows instanceof Float32Array ? rows : Float32Array.from(rows);
}

function addInto(acc: Float64Array, add: Float32Array | Float64Array): void {
  for (let e = 0; e < acc.length; e++) acc[e] += add[e];
}

/** An h x w block, row-major. */
interface SrcBlock {
  src: Float32Array | Float64Array;
  h: number;
  w: number;
}

/** Visits the upper blocks of a symmetric product (BlockMoments.uppers): piece a by each piece b >= a. */
function forEachUpperBlock(blocks: (Float32Array | Float64Array)[], ps: Piece[], visit: (pa: Piece, pb: Piece, b: SrcBlock) => void): void {
  let k = 0;
  ps.forEach((pa, a) => {
    for (let b = a; b < ps.length; b++) visit(pa, ps[b], { src: blocks[k++], h: pa.width, w: ps[b].width });
  });
}

/** dst (row length ld) from (r0, c0) += the block. */
function addBlock(dst: Float64Array, ld: number, r0: number, c0: number, b: SrcBlock): void {
  for (let r = 0; r < b.h; r++) {
    const d = (r0 + r) * ld + c0;
    const s = r * b.w;
    for (let c = 0; c < b.w; c++) dst[d + c] += b.src[s + c];
  }
}

/** dst (row length ld) from (r0, c0) += the block transposed, in tiles of 16 source rows for the cache. */
function addBlockTransposed(dst: Float64Array, ld: number, r0: number, c0: number, b: SrcBlock): void {
  for (let t = 0; t < b.h; t += 16) {
    const te = Math.min(b.h, t + 16);
    for (let c = 0; c < b.w; c++) {
      const d = (r0 + c) * ld + c0;
      for (let r = t; r < te; r++) dst[d + r] += b.src[r * b.w + c];
    }
  }
}

/** A Gram's upper blocks (its representation cut as symmetricPieces cuts it) into rep.gram's upper triangle. */
function addUpperGram(uppers: Float32Array[], rep: Rep): void {
  forEachUpperBlock(uppers, symmetricPieces([rep.cols]), (pa, pb, b) => addBlock(gramOf(rep), rep.cols, pa.start, pb.start, b));
}

/** Rows r0..r0+kc of m, shifted and scaled, transposed into out (cols x kc); also adds to the sums. */
function packT64(m: Matrix, r0: number, kc: number, rep: Rep, out: Float64Array): void {
  const { cols, data } = m;
  const { shift, scale, sum } = rep;
  for (let t = 0; t < kc; t++) {
    const o = (r0 + t) * cols;
    for (let j = 0; j < cols; j++) {
      const v = (data[o + j] - shift[j]) * scale;
      out[j * kc + t] = v;
      sum[j] += v;
    }
  }
}

/** Column-block width of the float32 Gram products: only blocks on or above the diagonal are multiplied. */
const GRAM_BLOCK = 256;

/**
 * Rows r0..r0+kc of m, shifted and scaled, rounded to float32 and written two or three ways:
 * transposed into `t` (cols x kc); row-major in column blocks of GRAM_BLOCK into `blocks` (the
 * block starting at column b0 holds kc x width values at offset kc * b0); and, when given,
 * row-major into `row` (kc x cols). The sums use the rounded values so they match the products.
 */
function packF32(m: Matrix, r0: number, kc: number, rep: Rep, t: Float32Array, blocks: Float32Array, row: Float32Array | null): void {
  const { cols, data } = m;
  const { shift, scale, sum } = rep;
  for (let r = 0; r < kc; r++) {
    const o = (r0 + r) * cols;
    const ro = r * cols;
    for (let b0 = 0; b0 < cols; b0 += GRAM_BLOCK) {
      const bw = Math.min(GRAM_BLOCK, cols - b0);
      const bo = kc * b0 + r * bw - b0;
      for (let j = b0; j < b0 + bw; j++) {
        const v = Math.fround((data[o + j] - shift[j]) * scale);
        t[j * kc + r] = v;
        blocks[bo + j] = v;
        sum[j] += v;
        if (row) row[ro + j] = v;
      }
    }
  }
}

/** gram (p x p, upper blocks) += T * T^T from the transposed (p x kc) and blocked row-major copies. */
function gramUpperF32(t: Float32Array, blocks: Float32Array, p: number, kc: number, gram: Float64Array): void {
  for (let a0 = 0; a0 < p; a0 += GRAM_BLOCK) {
    const aw = Math.min(GRAM_BLOCK, p - a0);
    const left = new Float32Left(t.subarray(a0 * kc, (a0 + aw) * kc), aw, kc);
    try {
      for (let b0 = a0; b0 < p; b0 += GRAM_BLOCK) {
        const bw = Math.min(GRAM_BLOCK, p - b0);
        const g = left.times(blocks.subarray(kc * b0, kc * (b0 + bw)), bw);
        for (let r = 0; r < aw; r++) {
          const dst = (a0 + r) * p + b0;
          const src = r * bw;
          for (let c = 0; c < bw; c++) gram[dst + c] += g[src + c];
        }
      }
    } finally {
      left.dispose();
    }
  }
}
