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

/** KS statistic between |w| of the weights a keep mask drops (0) and those it keeps (1). */
export function keepMaskMagnitudeKS(weights: ArrayLike<number>, keep: ArrayLike<number>): number | null {
  const pruned: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < weights.length; i++) (keep[i] ? kept : pruned).push(Math.abs(weights[i]));
  return ksStatistic(pruned, kept);
}
