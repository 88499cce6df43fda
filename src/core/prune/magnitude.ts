import type { MLP } from '../model/mlp';
import { sharesPerLayer, type PruneStrategy, type UnstructuredPlan } from './strategy';

/** 0/1 mask that prunes the k smallest |w| of one layer (ties: lowest flat index first). */
export function smallestMagnitudeMask(weights: Float32Array, k: number): Uint8Array {
  const mask = new Uint8Array(weights.length).fill(1);
  if (k <= 0) return mask;
  const idx = new Uint32Array(weights.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => Math.abs(weights[a]) - Math.abs(weights[b]) || a - b);
  for (let i = 0; i < Math.min(k, idx.length); i++) mask[idx[i]] = 0;
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
