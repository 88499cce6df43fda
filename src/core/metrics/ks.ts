import { countNonzero } from '../model/count';

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

/** |w| in ascending order with the index each came from; built once per weight array. */
interface MagnitudeOrder {
  abs: Float32Array;
  index: Uint32Array;
}

const orders = new WeakMap<ArrayLike<number>, MagnitudeOrder>();

/**
 * The ascending order of |w|. Keys pack the float32 bits of |w| (which order like the values
 * for non-negative floats) above the index, so one native numeric sort orders both; past 2^22
 * weights the keys would not fit in a double's 53 bits and a comparator sort does it.
 */
function magnitudeOrder(weights: ArrayLike<number>): MagnitudeOrder {
  const cached = orders.get(weights);
  if (cached) return cached;
  const n = weights.length;
  // Plain loops: TypedArray.from with a mapping function took ~1 s per million values here.
  const abs = new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(weights[i]);
  const bits = new Uint32Array(abs.buffer);
  const index = new Uint32Array(n);
  if (n <= 1 << 22) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = bits[i] * 4194304 + i;
    keys.sort();
    for (let i = 0; i < n; i++) index[i] = keys[i] % 4194304;
  } else {
    for (let i = 0; i < n; i++) index[i] = i;
    index.sort((a, b) => abs[a] - abs[b] || a - b);
  }
  const sorted = new Float32Array(n);
  for (let i = 0; i < n; i++) sorted[i] = abs[index[i]];
  const order = { abs: sorted, index };
  if (typeof weights === 'object') orders.set(weights, order);
  return order;
}

/**
 * KS statistic between |w| of the weights a keep mask drops (0) and those it keeps (1). The
 * order of |w| is computed once per weight array (an analysis asks for every point of every
 * strategy against the same original weights); each call is then one pass over it.
 */
export function keepMaskMagnitudeKS(weights: ArrayLike<number>, keep: ArrayLike<number>): number | null {
  const { abs, index } = magnitudeOrder(weights);
  const kept = countNonzero(keep);
  const pruned = keep.length - kept;
  if (kept === 0 || pruned === 0) return null;
  let seenKept = 0;
  let d = 0;
  for (let k = 0; k < abs.length;) {
    const v = abs[k];
    // Equal values step together (see ksStatistic). No branch on the mask: unit pruning keeps
    // weights at random with respect to their order here.
    for (; k < abs.length && abs[k] === v; k++) seenKept += ((keep[index[k]] !== 0) as unknown as number) | 0;
    d = Math.max(d, Math.abs((k - seenKept) / pruned - seenKept / kept));
  }
  return d;
}
