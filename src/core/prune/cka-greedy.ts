import { ckaOrderFromGram } from './cka-fast';
import { forEachLayerGram } from './cka-layers';
import type { LayerOrder, OrderingCriterion } from './strategy';

/**
 * Greedy CKA pruning: each step ablates every remaining neuron together with those already
 * removed, scores the linear CKA to the original outputs, and removes the best. Exact, with
 * O(p) work per step (cka-fast.ts). Each choice depends on the previous ones, so this criterion
 * gives an order (of the count the selector asks for, ties by the selector's rule) rather than
 * scores.
 */
export const ckaGreedy: OrderingCriterion = {
  gives: 'order',
  target: 'units',
  needsSamples: true,
  order: (request) =>
    forEachLayerGram(request, (c, p, l): LayerOrder => {
      const result = ckaOrderFromGram(c, p, request.counts[l], 'cka-greedy');
      // Per unit: the score it was removed with; kept units have none.
      const perUnit = new Float64Array(p).fill(Number.NaN);
      result.order.forEach((u, t) => (perUnit[u] = result.scores[t]));
      return { order: result.order, scores: perUnit, curve: result.scores };
    }),
};
