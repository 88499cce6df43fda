import { randomSubset, seededRandom } from './rng';
import type { LayerOrder, OrderingCriterion } from './strategy';

/**
 * Baseline: units chosen at random. A seeded shuffle has no scores to rank, so it gives an
 * order; one generator walks the layers in order, so the plan depends on the seed alone.
 */
export const randomUnits: OrderingCriterion = {
  gives: 'order',
  target: 'units',
  needsSamples: false,
  order({ mlp, layers, counts, options }) {
    const next = seededRandom(options.seed ?? 1);
    return new Map(layers.map((l): [number, LayerOrder] => [l, { order: randomSubset(mlp.layers[l].units, counts[l], next) }]));
  },
};
