/**
 * Every weight's bin on equal-width |w| bins from 0 to the layer's largest |w|, computed once per
 * weight array and bin count. A pruning analysis draws the kept and pruned |w| histograms of the
 * same original weights at every point of every strategy; with the bins cached each histogram is
 * one pass over the keep mask instead of a division, a floor and a maximum per weight. The cache
 * is keyed by the array, so callers whose weights may still change in place pass cache = false.
 */
export interface MagnitudeBins {
  /** Bin edges, bins + 1 of them, from 0 to the largest |w| (to 1 when every weight is 0). */
  edges: number[];
  /** The bin of each weight. */
  bin: Uint16Array;
  /** Weights per bin. */
  counts: Int32Array;
}

const cache = new WeakMap<Float32Array, Map<number, MagnitudeBins>>();

export function magnitudeBins(weights: Float32Array, bins: number, useCache = true): MagnitudeBins {
  let byCount = useCache ? cache.get(weights) : undefined;
  const hit = byCount?.get(bins);
  if (hit) return hit;
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, Math.abs(weights[i]));
  const top = max > 0 ? max : 1;
  const bin = new Uint16Array(weights.length);
  const counts = new Int32Array(bins);
  for (let i = 0; i < weights.length; i++) counts[(bin[i] = Math.min(bins - 1, Math.floor((Math.abs(weights[i]) / top) * bins)))]++;
  const out = { edges: Array.from({ length: bins + 1 }, (_, b) => (top * b) / bins), bin, counts };
  if (!useCache) return out;
  if (!byCount) cache.set(weights, (byCount = new Map<number, MagnitudeBins>()));
  byCount.set(bins, out);
  return out;
}

/**
 * Counts per bin of the weights a mask keeps (non-zero) and of those it drops (0); `keptPerBin`
 * when the caller has them already (ks.ts reads them off its pass over the mask).
 */
export function keptAndPrunedCounts(weights: Float32Array, keep: ArrayLike<number> | null, bins: number, keptPerBin?: Int32Array | null) {
  const { edges, bin, counts } = magnitudeBins(weights, bins);
  let inKept = keptPerBin ?? counts;
  if (keep && !keptPerBin) {
    inKept = new Int32Array(bins);
    // Without a branch on the mask: kept and pruned weights are interleaved at random.
    for (let i = 0; i < bin.length; i++) inKept[bin[i]] += ((keep[i] !== 0) as unknown as number) | 0;
  }
  const kept = Array.from(inKept);
  const pruned = Array.from(counts, (c, b) => c - kept[b]);
  return { edges, kept, pruned };
}
