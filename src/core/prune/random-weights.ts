import { randomSubset, seededRandom } from './rng';
import type { LayerOrder, OrderingCriterion } from './strategy';

/** Baseline for magnitude pruning: weights chosen at random (seeded; one generator walks the layers in order). */
export const randomWeights: OrderingCriterion = {
  gives: 'order',
  target: 'weights',
  needsSamples: false,
  order({ mlp, layers, counts, options }) {
    const next = seededRandom(options.seed ?? 1);
    return new Map(layers.map((l): [number, LayerOrder] => [l, { order: randomSubset(mlp.layers[l].weights.length, counts[l], next) }]));
  },
};
