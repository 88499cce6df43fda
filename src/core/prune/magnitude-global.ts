import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { prunableLayers, sharesPerLayer, type PruneStrategy, type UnstructuredPlan } from './strategy';

/**
 * Unstructured across layers: one threshold for all prunable weights, so layers with small
 * weights lose more. Ties at the threshold: lowest layer, then lowest flat index, first.
 */
export const magnitudeGlobalStrategy: PruneStrategy = {
  id: 'magnitude-global',
  label: 'Magnitude (global)',
  kind: 'unstructured',
  description: 'zeroes the smallest |w| across all prunable layers together',
  needsSamples: false,
  plan(mlp: MLP, options): UnstructuredPlan {
    if (Array.isArray(options.sparsity)) {
      throw new PruneScopeError('magnitude-global takes one sparsity: the share of all prunable weights');
    }
    sharesPerLayer(mlp, options);
    const layers = prunableLayers(mlp, options.includeOutput);
    const total = layers.reduce((s, l) => s + mlp.layers[l].weights.length, 0);
    // Float64 keys: |w| and a position code that orders by (layer, index) among equal |w|.
    const abs = new Float64Array(total);
    const where = new Uint32Array(total);
    const layerOf = new Uint16Array(total);
    let p = 0;
    layers.forEach((l, li) => {
      const w = mlp.layers[l].weights;
      for (let i = 0; i < w.length; i++, p++) {
        abs[p] = Math.abs(w[i]);
        where[p] = i;
        layerOf[p] = li;
      }
    });
    const order = new Uint32Array(total);
    for (let i = 0; i < total; i++) order[i] = i;
    order.sort((a, b) => abs[a] - abs[b] || a - b);
    const k = Math.round(options.sparsity * total);
    const masks: (Uint8Array | null)[] = mlp.layers.map(() => null);
    for (const l of layers) masks[l] = new Uint8Array(mlp.layers[l].weights.length).fill(1);
    for (let i = 0; i < k; i++) masks[layers[layerOf[order[i]]]]![where[order[i]]] = 0;
    const requested = mlp.layers.map((_, i) => (layers.includes(i) ? (options.sparsity as number) : 0));
    return { kind: 'unstructured', strategy: 'magnitude-global', requested, notes: [], masks };
  },
};
