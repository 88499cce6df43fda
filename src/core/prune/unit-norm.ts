import type { MLP } from '../model/mlp';
import { rankByScore, sharesPerLayer, structuredPlan, unitsToRemove, type PruneOptions, type StructuredPlan } from './strategy';

/** Norm of each unit's incoming weights (column j of the [in, out] kernel), in float64. */
export function incomingNorms(weights: Float32Array, inputSize: number, units: number, order: 1 | 2): Float64Array {
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

/** Shared body of unit-l1 and unit-l2: remove the units with the smallest incoming norm. */
export function unitNormPlan(strategy: string, order: 1 | 2, mlp: MLP, options: PruneOptions): StructuredPlan {
  const requested = sharesPerLayer(mlp, options);
  const notes: string[] = [];
  const scores: (Float64Array | null)[] = [];
  const orders = mlp.layers.map((layer, l) => {
    if (requested[l] === 0) {
      scores.push(null);
      return [];
    }
    const norms = incomingNorms(layer.weights, layer.inputSize, layer.units, order);
    scores.push(norms);
    const k = unitsToRemove(layer.units, requested[l], layer.name, notes);
    return rankByScore(norms).slice(0, k);
  });
  return structuredPlan(strategy, requested, orders, notes, scores);
}
