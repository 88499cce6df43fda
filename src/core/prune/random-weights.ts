import type { MLP } from '../model/mlp';
import { randomSubset, seededRandom } from './rng';
import { sharesPerLayer, type PruneStrategy, type UnstructuredPlan } from './strategy';

/** Baseline for magnitude pruning: zeroes weights chosen at random (seeded). */
export const randomWeightsStrategy: PruneStrategy = {
  id: 'random-weights',
  label: 'Random weights',
  kind: 'unstructured',
  description: 'zeroes randomly chosen weights of each layer (seeded baseline)',
  needsSamples: false,
  plan(mlp: MLP, options): UnstructuredPlan {
    const requested = sharesPerLayer(mlp, options);
    const next = seededRandom(options.seed ?? 1);
    const masks = mlp.layers.map((layer, l) => {
      if (requested[l] === 0) return null;
      const mask = new Uint8Array(layer.weights.length).fill(1);
      for (const i of randomSubset(layer.weights.length, Math.round(requested[l] * layer.weights.length), next)) mask[i] = 0;
      return mask;
    });
    return { kind: 'unstructured', strategy: 'random-weights', requested, notes: [], masks };
  },
};
