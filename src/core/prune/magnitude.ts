import type { MLP } from '../model/mlp';
import { sharesPerLayer, type PruneStrategy, type UnstructuredPlan } from './strategy';

/**
 * 0/1 mask that prunes the k smallest |w| of one layer (ties: lowest flat index first).
 * The bits of a non-negative float32 order like its value, so a two-pass radix select over
 * those bits finds the k-th smallest exactly in O(n), instead of sorting a million weights.
 */
export function smallestMagnitudeMask(weights: Float32Array, k: number): Uint8Array {
  const n = weights.length;
  const mask = new Uint8Array(n).fill(1);
  if (k <= 0) return mask;
  if (k >= n) return mask.fill(0);
  // |w| as bits: the float32 pattern without its sign bit (so -0 and +0 are both 0).
  const raw = new Uint32Array(weights.buffer, weights.byteOffset, n);
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = raw[i] & 0x7fffffff;
  // Pass 1: the high 16 bits of the k-th smallest; pass 2: its low 16 bits.
  const high = new Uint32Array(65536);
  for (let i = 0; i < n; i++) high[bits[i] >>> 16]++;
  let rank = k - 1;
  let h = 0;
  while (rank >= high[h]) rank -= high[h++];
  const low = new Uint32Array(65536);
  for (let i = 0; i < n; i++) if (bits[i] >>> 16 === h) low[bits[i] & 0xffff]++;
  let l = 0;
  while (rank >= low[l]) rank -= low[l++];
  const threshold = ((h << 16) | l) >>> 0;
  // Everything below the threshold goes; of the values equal to it, the lowest indices until k.
  let removed = 0;
  for (let i = 0; i < n; i++) {
    if (bits[i] < threshold) {
      mask[i] = 0;
      removed++;
    }
  }
  for (let i = 0; i < n && removed < k; i++) {
    if (bits[i] === threshold) {
      mask[i] = 0;
      removed++;
    }
  }
  return mask;
}

/** Unstructured, layer by layer: each prunable layer loses its share of smallest-magnitude weights. */
export const magnitudeStrategy: PruneStrategy = {
  id: 'magnitude',
  label: 'Magnitude (layer-wise)',
  kind: 'unstructured',
  description: 'zeroes the smallest |w| of each layer',
  needsSamples: false,
  plan(mlp: MLP, options): UnstructuredPlan {
    const requested = sharesPerLayer(mlp, options);
    const masks = mlp.layers.map((layer, i) =>
      requested[i] > 0 ? smallestMagnitudeMask(layer.weights, Math.round(requested[i] * layer.weights.length)) : null,
    );
    return { kind: 'unstructured', strategy: 'magnitude', requested, notes: [], masks };
  },
};
