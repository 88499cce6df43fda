import type { LayerScores, ScoringCriterion } from './strategy';

/** |w| of each weight of a layer, in float64 ([in, out] row-major, as the kernel). */
export function weightMagnitudes(weights: Float32Array): Float64Array {
  const abs = new Float64Array(weights.length);
  for (let i = 0; i < weights.length; i++) abs[i] = Math.abs(weights[i]);
  return abs;
}

/**
 * Magnitude pruning's criterion: the smallest |w| go first. The registry runs it per layer
 * (`magnitude`) and globally (`magnitude-global`, one threshold for all prunable weights, so
 * layers with small weights lose more).
 */
export const weightMagnitude: ScoringCriterion = {
  gives: 'scores',
  target: 'weights',
  removeFirst: 'lowest',
  needsSamples: false,
  score: ({ mlp, layers }) => new Map(layers.map((l): [number, LayerScores] => [l, { scores: weightMagnitudes(mlp.layers[l].weights) }])),
};
