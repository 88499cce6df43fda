import type { LayerScores, ScoringCriterion } from './strategy';

export type UnitNorm = 1 | 2;

/** Norm of each unit's incoming weights (column j of the [in, out] kernel), in float64. */
export function incomingNorms(weights: Float32Array, inputSize: number, units: number, order: UnitNorm): Float64Array {
  const norms = new Float64Array(units);
  for (let i = 0; i < inputSize; i++) {
    const row = i * units;
    for (let j = 0; j < units; j++) {
      const w = weights[row + j];
      norms[j] += order === 1 ? Math.abs(w) : w * w;
    }
  }
  if (order === 2) for (let j = 0; j < units; j++) norms[j] = Math.sqrt(norms[j]);
  return norms;
}

/** The units with the smallest incoming-weight norm go first; one criterion for unit-l1 and unit-l2. */
export function unitNorm(order: UnitNorm): ScoringCriterion {
  return {
    gives: 'scores',
    target: 'units',
    removeFirst: 'lowest',
    needsSamples: false,
    score: ({ mlp, layers }) =>
      new Map(
        layers.map((l): [number, LayerScores] => {
          const layer = mlp.layers[l];
          return [l, { scores: incomingNorms(layer.weights, layer.inputSize, layer.units, order) }];
        }),
      ),
  };
}
