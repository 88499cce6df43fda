import { HOST_LITTLE_ENDIAN } from '../io/endian';

/**
 * Exact two-sample Kolmogorov-Smirnov statistic: sup over x of |F1(x) - F2(x)|, the largest gap
 * between the two empirical CDFs, or null when either sample is empty (no CDF to compare).
 * Samples are copied to float64 and sorted; equal values are stepped past on both sides before
 * the gap is read, because the CDFs only jump together there and reading between the two jumps
 * would report a gap that no x has.
 */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  if (a.length === 0 || b.length === 0) return null;
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  // Past the end of one sample its CDF is 1 and the other's only rises towards 1: no larger gap.
  return d;
}

/** The ascending order of |w| for one weight array, built once per array. */
interface MagnitudeOrder {
  /** The index of each weight in that order. */
  index: Uint32Array;
  /** 1 where a run of equal |w| ends in that order (the next differs, or the array does). */
  groupEnd: Uint8Array;
  /** Scratch for one mask read in that order (calls do not overlap: the statistic is synchronous). */
  inOrder: Uint8Array;
  /** Row and column of each weight in that order, for a [rows, units] kernel: made on first use (keepGridMagnitudes). */
  grid?: { units: number; row: Uint16Array | Uint32Array; col: Uint16Array | Uint32Array };
}

const orders = new WeakMap<ArrayLike<number>, MagnitudeOrder>();

/** Which 32-bit word of a 64-bit integer holds its low bits, on this machine. */
const LOW_WORD = HOST_LITTLE_ENDIAN ? 0 : 1;

/**
 * The ascending order of |w|. 64-bit keys hold the float32 bits of |w| (which order like the
 * values for non-negative floats) above the index, so one native sort of unsigned integers orders
 * both, at any length. Keys as doubles (bits x 2^22 + index) took 1.7x as long to sort and stopped
 * at 2^22 weights, past which a comparator sort took over.
 */
function magnitudeOrder(weights: ArrayLike<number>): MagnitudeOrder {
  const cached = orders.get(weights);
  if (cached) return cached;
  const n = weights.length;
  // Plain loops: TypedArray.from with a mapping function took ~1 s per million values here.
  const abs = new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(weights[i]);
  const bits = new Uint32Array(abs.buffer);
  const keys = new BigUint64Array(n);
  // The words written directly: no BigInt is made per weight.
  const words = new Uint32Array(keys.buffer);
  for (let i = 0; i < n; i++) {
    words[2 * i + LOW_WORD] = i;
    words[2 * i + 1 - LOW_WORD] = bits[i];
  }
  keys.sort();
  const index = new Uint32Array(n);
  for (let k = 0; k < n; k++) index[k] = words[2 * k + LOW_WORD];
  const groupEnd = new Uint8Array(n);
  for (let k = 0; k < n; k++) groupEnd[k] = k === n - 1 || abs[index[k + 1]] !== abs[index[k]] ? 1 : 0;
  const order = { index, groupEnd, inOrder: new Uint8Array(n) };
  if (typeof weights === 'object') orders.set(weights, order);
  return order;
}

/**
 * Where each bin ends in the |w| order (one past its last weight), for `bin`, each weight's bin
 * on bins that rise with |w|, as magnitude-bins.ts makes them; null when they do not rise in that
 * order (a NaN or infinite weight). Cached per bin array: it belongs to one weight array.
 */
const binEndsCache = new WeakMap<Uint16Array, Int32Array | null>();

function binEndsInOrder(order: MagnitudeOrder, bin: Uint16Array, count: number): Int32Array | null {
  if (binEndsCache.has(bin)) return binEndsCache.get(bin)!;
  const ends = new Int32Array(count);
  let rising = bin.length === order.index.length;
  let last = 0;
  for (let k = 0; rising && k < order.index.length; k++) {
    const b = bin[order.index[k]];
    if (b < last || b >= count) rising = false;
    else ends[(last = b)] = k + 1;
  }
  // Empty bins end where the one before them does.
  for (let b = 1; b < count; b++) ends[b] = Math.max(ends[b], ends[b - 1]);
  const out = rising ? ends : null;
  binEndsCache.set(bin, out);
  return out;
}

/** What one read of a keep mask in |w| order gives. */
export interface KeepMaskMagnitudes {
  /** Weights the mask keeps (not 0). */
  kept: number;
  /** KS statistic between |w| of the pruned and the kept weights; null when either is empty. */
  ks: number | null;
  /** Kept weights per bin of the `bins` given, when given and rising with |w|; else null. */
  keptPerBin: Int32Array | null;
}

/**
 * KS statistic between |w| of the weights a keep mask drops (0) and those it keeps (1), with the
 * kept count and, given each weight's bin on equal-width |w| bins, the kept count per bin: the
 * bins are runs of that order, so the same pass reads them off where each run ends, and a
 * pruning analysis's histograms and counts cost no pass of their own (they took 1.3 s and 0.7 s
 * of a 40-point sweep, the statistic 2.6 s). The order of |w| is computed once per weight array
 * (an analysis asks for every point of every strategy against the same original weights); each
 * call then reads the mask in that order and makes one pass over it.
 *
 * The gap between the CDFs after a pruned weights and b kept ones is |a / pruned - b / kept|;
 * the pass tracks it times kept x pruned, a x kept - b x pruned, which moves by +kept or -pruned
 * per weight: whole numbers, exact in a double below 2^53 (layers under ~94 million weights),
 * and no division per weight. It is read only where a run of equal |w| ends (see ksStatistic).
 * The gather first, then the pass over contiguous bytes: the pass that read the mask at random
 * and divided at each weight took 13 ms per million weights, these two 5 ms.
 */
export function keepMaskMagnitudes(
  weights: ArrayLike<number>,
  keep: ArrayLike<number>,
  bins?: { bin: Uint16Array; count: number },
): KeepMaskMagnitudes {
  const order = magnitudeOrder(weights);
  const { index, inOrder } = order;
  let kept = 0;
  // No branch on the mask: unit pruning keeps weights at random with respect to this order.
  for (let k = 0; k < index.length; k++) kept += inOrder[k] = ((keep[index[k]] !== 0) as unknown as number) | 0;
  return readInOrder(order, kept, bins);
}

/** Which rows (inputs) and columns (units) of a [rows, units] kernel a structured pruning keeps (1). */
export interface KeepGrid {
  rows: Uint8Array;
  units: Uint8Array;
}

/**
 * keepMaskMagnitudes for a mask that keeps whole rows and columns (unit pruning): weight
 * (r, u) is kept when both are. Each weight's row and column in |w| order are stored once per
 * weight array, so a call reads two arrays of a few hundred bytes at random instead of a mask
 * as large as the layer, which no longer has to be built: a 1000 x 1000 layer at half its inputs
 * and units, 11-12 ms a call against 13.5-15 ms for its mask, built beforehand.
 */
export function keepGridMagnitudes(
  weights: ArrayLike<number>,
  keep: KeepGrid,
  bins?: { bin: Uint16Array; count: number },
): KeepMaskMagnitudes {
  if (keep.rows.length * keep.units.length !== weights.length) {
    throw new Error(`keepGridMagnitudes: ${keep.rows.length} x ${keep.units.length} grid for ${weights.length} weights`);
  }
  const order = magnitudeOrder(weights);
  const { row, col } = gridOf(order, keep.units.length);
  const { inOrder } = order;
  const { rows, units } = keep;
  let kept = 0;
  for (let k = 0; k < inOrder.length; k++) kept += inOrder[k] = rows[row[k]] & units[col[k]];
  return readInOrder(order, kept, bins);
}

/** The row and column of each weight in |w| order for `units` columns, cached on the order. */
function gridOf(order: MagnitudeOrder, units: number): NonNullable<MagnitudeOrder['grid']> {
  if (order.grid?.units === units) return order.grid;
  const { index } = order;
  const wide = index.length / units > 0xffff || units > 0xffff;
  const row = wide ? new Uint32Array(index.length) : new Uint16Array(index.length);
  const col = wide ? new Uint32Array(index.length) : new Uint16Array(index.length);
  for (let k = 0; k < index.length; k++) {
    const i = index[k];
    const r = Math.floor(i / units);
    row[k] = r;
    col[k] = i - r * units;
  }
  order.grid = { units, row, col };
  return order.grid;
}

/** The count, statistic and per-bin counts from a mask read into `order.inOrder`, `kept` of them 1. */
function readInOrder(order: MagnitudeOrder, kept: number, bins?: { bin: Uint16Array; count: number }): KeepMaskMagnitudes {
  const n = order.index.length;
  const ends = bins ? binEndsInOrder(order, bins.bin, bins.count) : null;
  const keptPerBin = ends ? new Int32Array(ends.length) : null;
  const pruned = n - kept;
  if (kept === 0 || pruned === 0) {
    if (keptPerBin && kept) keptPerBin.forEach((_, b) => (keptPerBin[b] = ends![b] - (b ? ends![b - 1] : 0)));
    return { kept, ks: null, keptPerBin };
  }
  const pass = new GapPass(order, kept, pruned);
  if (!ends || !keptPerBin) pass.to(n);
  else {
    let before = 0;
    for (let b = 0; b < ends.length; b++) {
      const keptSoFar = pass.to(ends[b]);
      keptPerBin[b] = keptSoFar - before;
      before = keptSoFar;
    }
  }
  return { kept, ks: pass.widest / (kept * pruned), keptPerBin };
}

/** The KS statistic of keepMaskMagnitudes alone. */
export function keepMaskMagnitudeKS(weights: ArrayLike<number>, keep: ArrayLike<number>): number | null {
  return keepMaskMagnitudes(weights, keep).ks;
}

/** The pass over a mask read in |w| order (`inOrder`), in pieces that end where a caller reads. */
class GapPass {
  private k = 0;
  private gap = 0;
  widest = 0;
  private readonly step: number;

  constructor(
    private readonly order: MagnitudeOrder,
    private readonly kept: number,
    pruned: number,
  ) {
    this.step = kept + pruned;
  }

  /** Advances to position `end` of the order; returns the kept weights before it. */
  to(end: number): number {
    const { inOrder, groupEnd } = this.order;
    const { kept, step } = this;
    let { gap, widest, k } = this;
    for (; k < end; k++) {
      gap += kept - inOrder[k] * step;
      if (groupEnd[k] !== 0) {
        const g = gap < 0 ? -gap : gap;
        if (g > widest) widest = g;
      }
    }
    this.gap = gap;
    this.widest = widest;
    this.k = k;
    // gap = (k - b) kept - b pruned = k kept - b step: b, a whole number, comes back exactly.
    return Math.round((k * kept - gap) / step);
  }
}
