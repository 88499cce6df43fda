import { PruneScopeError } from '../errors';
import { streamActivations } from '../model/activations';
import type { DenseLayer, MLP } from '../model/mlp';
import {
  rankByScore,
  requireSamples,
  sharesPerLayer,
  structuredPlan,
  unitsToRemove,
  type PruneStrategy,
  type StructuredPlan,
} from './strategy';

/** Activations whose output is exactly 0 on a whole half-line, so "percentage of zeros" means something. */
export function isReluLike(layer: DenseLayer): boolean {
  return layer.activation === 'relu' || layer.activation === 'relu6' || (layer.activation === 'leaky_relu' && layer.alpha === 0);
}

/** Average Percentage of Zeros per unit: share of samples on which the post-activation output is exactly 0. */
export function apozScores(mlp: MLP, layers: number[], x: Float32Array, n: number, batchSize?: number): Map<number, Float64Array> {
  const zeros = new Map(layers.map((l) => [l, new Float64Array(mlp.layers[l].units)]));
  streamActivations(mlp, x, n, { layers, post: true, batchSize }, (batch) => {
    for (const a of batch.layers) {
      const z = zeros.get(a.layer)!;
      const post = a.post!;
      for (let r = 0; r < batch.rows; r++) {
        const o = r * a.units;
        for (let j = 0; j < a.units; j++) if (post[o + j] === 0) z[j]++;
      }
    }
  });
  for (const z of zeros.values()) for (let j = 0; j < z.length; j++) z[j] /= n;
  return zeros;
}

/** Network trimming (Hu et al. 2016): remove the units that are zero most often. */
export const apozStrategy: PruneStrategy = {
  id: 'apoz',
  label: 'APoZ (network trimming)',
  kind: 'structured',
  description: 'removes the ReLU neurons whose output is zero on the largest share of samples',
  needsSamples: true,
  plan(mlp: MLP, options): StructuredPlan {
    const requested = sharesPerLayer(mlp, options);
    const layers = requested.flatMap((s, l) => (s > 0 ? [l] : []));
    for (const l of layers) {
      const layer = mlp.layers[l];
      if (!isReluLike(layer)) {
        throw new PruneScopeError(
          `apoz needs ReLU-like layers (relu, relu6), but layer ${layer.name} (position ${l}) uses ${layer.activation}, ` +
            'whose output is not exactly zero on a share of samples; use cka, unit-l1, unit-l2 or magnitude instead',
        );
      }
    }
    const { x, n } = requireSamples('apoz', mlp, options);
    const apoz = apozScores(mlp, layers, x, n, options.batchSize);
    const notes: string[] = [];
    const scores: (Float64Array | null)[] = mlp.layers.map(() => null);
    const orders = mlp.layers.map((layer, l) => {
      if (requested[l] === 0) return [];
      const s = apoz.get(l)!;
      scores[l] = s;
      return rankByScore(s, true).slice(0, unitsToRemove(layer.units, requested[l], layer.name, notes));
    });
    return structuredPlan('apoz', requested, orders, notes, scores);
  },
};
