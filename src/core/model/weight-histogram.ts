import type { Histogram } from '../results/format';
import type { MLP } from './mlp';

/** Bins of a layer's histogram unless asked otherwise: enough to see the shape, few enough to send. */
export const WEIGHT_HISTOGRAM_BINS = 40;

/** How the kernel weights of one layer are spread over |w|. */
export interface LayerWeightHistogram {
  layer: string;
  /** Kernel weights of the layer (inputSize * units); biases are not counted. */
  weights: number;
  /** Weights that are exactly 0 (pruned ones): the layer's weight sparsity is zeros / weights. */
  zeros: number;
  /** NaN or infinite weights, which no bin holds. */
  nonFinite: number;
  /** |w| on equal-width bins from 0 to the largest |w|; holds every finite weight, zeros in the first bin. */
  linear: Histogram;
  /**
   * |w| on bins of equal width in log10 |w| from the smallest non-zero |w| to the largest. Zeros
   * have no place on it (they are `zeros`); null when no weight is non-zero.
   */
  log: Histogram | null;
}

function linearHistogram(weights: Float32Array, max: number, bins: number): Histogram {
  // All zero: any span will do, and the zeros still land in the first bin.
  const top = max > 0 ? max : 1;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < weights.length; i++) {
    const a = Math.abs(weights[i]);
    if (Number.isFinite(a)) counts[Math.min(bins - 1, Math.floor((a / top) * bins))]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, b) => (top * b) / bins), counts };
}

function logHistogram(weights: Float32Array, min: number, max: number, bins: number): Histogram {
  const lo = Math.log10(min);
  const span = Math.log10(max) - lo;
  // Every non-zero |w| equal: one bin says so better than forty empty ones around it.
  const n = span > 0 ? bins : 1;
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < weights.length; i++) {
    const a = Math.abs(weights[i]);
    if (a === 0 || !Number.isFinite(a)) continue;
    const bin = span > 0 ? Math.floor(((Math.log10(a) - lo) / span) * n) : 0;
    counts[Math.min(n - 1, Math.max(0, bin))]++;
  }
  const edges = Array.from({ length: n + 1 }, (_, b) => 10 ** (lo + (span * b) / n));
  // The ends exactly as measured (10 ** log10(x) can be off in the last digit).
  edges[0] = min;
  edges[n] = max;
  return { edges, counts };
}

/** The magnitude histograms of one kernel. */
export function weightHistogram(layer: string, weights: Float32Array, bins = WEIGHT_HISTOGRAM_BINS): LayerWeightHistogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`histogram bins ${bins} is not a positive integer`);
  let zeros = 0;
  let nonFinite = 0;
  let max = 0;
  let minNonZero = Infinity;
  for (let i = 0; i < weights.length; i++) {
    const a = Math.abs(weights[i]);
    if (!Number.isFinite(a)) nonFinite++;
    else if (a === 0) zeros++;
    else {
      if (a > max) max = a;
      if (a < minNonZero) minNonZero = a;
    }
  }
  return {
    layer,
    weights: weights.length,
    zeros,
    nonFinite,
    linear: linearHistogram(weights, max, bins),
    log: max > 0 ? logHistogram(weights, minNonZero, max, bins) : null,
  };
}

/** One histogram per dense layer, in order. */
export function weightHistograms(mlp: MLP, bins = WEIGHT_HISTOGRAM_BINS): LayerWeightHistogram[] {
  return mlp.layers.map((l) => weightHistogram(l.name, l.weights, bins));
}
