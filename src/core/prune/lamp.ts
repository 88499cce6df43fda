import type { LayerScores, ScoringCriterion } from './strategy';

/**
 * LAMP (Lee et al. 2021, "Layer-adaptive sparsity for the magnitude-based pruning", ICLR): within
 * a layer, weights are sorted by |w| ascending and weight u scores
 *   w_u^2 / sum over v at or after u in that order of w_v^2,
 * its share of the squared mass it and every larger weight carry. Ranked globally (the registry
 * runs it with scope 'global'), this sets each layer's sparsity from the scores rather than from
 * one magnitude threshold, so a layer of small weights is not emptied before the others.
 *
 * Equal |w| are ordered by flat index, lowest first, so scores are deterministic and the lower
 * index, having the larger denominator, scores lower and goes first, as the selector's tie rule
 * would have it. A layer's largest weight scores exactly 1 and every other weight less, so a
 * global ranking removes it only after every other weight of every layer: each layer keeps at
 * least its largest weight unless more than (all weights - prunable layers) are asked for (then
 * the plan's notes say so). Weights of an all-zero layer score 0 (0/0: removing them changes nothing).
 */

/** LAMP scores of one layer's weights ([in, out] row-major), in float64. */
export function lampScores(weights: Float32Array): Float64Array {
  const n = weights.length;
  const abs = new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(weights[i]);
  const order = ascendingOrder(abs);
  const scores = new Float64Array(n);
  let suffix = 0;
  for (let t = n - 1; t >= 0; t--) {
    const u = order[t];
    const square = abs[u] * abs[u];
    suffix += square;
    scores[u] = suffix > 0 ? square / suffix : 0;
  }
  return scores;
}

/**
 * Indices of non-negative float32 values in ascending order, equal values by index: two stable
 * 16-bit counting passes over the values' bits (which order like the values when the sign bit is
 * clear). Linear, where a comparator sort of a million indices takes seconds.
 */
function ascendingOrder(abs: Float32Array): Uint32Array {
  const bits = new Uint32Array(abs.buffer, abs.byteOffset, abs.length);
  let order = new Uint32Array(abs.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  for (const shift of [0, 16]) {
    const counts = new Uint32Array(65537);
    for (let i = 0; i < bits.length; i++) counts[((bits[i] >>> shift) & 0xffff) + 1]++;
    for (let d = 1; d <= 65536; d++) counts[d] += counts[d - 1];
    const next = new Uint32Array(abs.length);
    for (const u of order) next[counts[(bits[u] >>> shift) & 0xffff]++] = u;
    order = next;
  }
  return order;
}

export const lampCriterion: ScoringCriterion = {
  gives: 'scores',
  target: 'weights',
  removeFirst: 'lowest',
  needsSamples: false,
  score({ strategy, mlp, layers, options, notes }) {
    const total = layers.reduce((s, l) => s + mlp.layers[l].weights.length, 0);
    const removed = typeof options.sparsity === 'number' ? Math.round(options.sparsity * total) : 0;
    if (removed > total - layers.length) {
      notes.push(
        `${strategy}: removing ${removed} of ${total} weights leaves fewer than one per layer, so the largest weight (score 1) of some layers goes too`,
      );
    }
    return new Map(layers.map((l): [number, LayerScores] => [l, { scores: lampScores(mlp.layers[l].weights) }]));
  },
};
