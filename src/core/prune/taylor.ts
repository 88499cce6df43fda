import type { MLP } from '../model/mlp';
import { calibrationGradients, type BatchGradients } from './gradients';
import type { LayerScores, PruneOptions, PruneTarget, ScoringCriterion } from './strategy';

/**
 * First-order Taylor importance (Molchanov, Mallya, Tyree, Frosio & Kautz, "Importance Estimation
 * for Neural Network Pruning", CVPR 2019). Removing a parameter set S changes the loss by about
 * -sum_{m in S} g_m w_m (first-order Taylor expansion around the trained weights); the paper
 * scores S by the square of that estimate, computed on each mini-batch and averaged over them.
 *
 * Exactly, with g^(b) the gradient of mini-batch b's mean cross-entropy (backprop.ts, no
 * dropout), n_b its rows and n all calibration rows:
 *   weights (`taylor`, the paper's Eq. 3):  I_ij = sum_b (n_b / n) (g^(b)_ij w_ij)^2
 *   units (`taylor-units`, Eq. 4, the group being unit j's incoming weights and its bias):
 *                                           I_j = sum_b (n_b / n) (sum_i g^(b)_ij w_ij + g^(b)_j b_j)^2
 * The lowest go first. With equal batches the n_b / n weights are the paper's plain average over
 * mini-batches (NVlabs' pruning_engine.py sums the per-batch criteria and divides by their
 * count); weighting by rows only keeps a short last batch from counting as much as a full one.
 *
 * Why squared per batch, not |w * mean gradient|: on a trained network the gradient averaged over
 * many rows is close to zero for every weight, so the full-batch term ranks noise. The average of
 * squared per-batch terms is (w * mean g)^2 + w^2 Var_b(g): it also counts how much the loss moves
 * from batch to batch when the weight goes. That makes the batch size part of the criterion: the
 * default is TAYLOR_BATCH_SIZE rows (`batchSize` overrides it); with one batch it is (w * mean g)^2.
 *
 * The unit form equals the paper's gate form: the derivative of the batch loss with respect to a
 * gate scaling unit j's pre-activation z_j is mean_s(delta_sj z_sj) = sum_i g_ij w_ij + g_j b_j.
 */

/** Rows per mini-batch when `options.batchSize` is not given. */
export const TAYLOR_BATCH_SIZE = 64;

/** acc[i] += rows * (g[i] w[i])^2 */
function addWeightTerms(acc: Float64Array, g: Float32Array, w: Float32Array, rows: number): void {
  for (let i = 0; i < acc.length; i++) {
    const t = g[i] * w[i];
    acc[i] += rows * t * t;
  }
}

/** acc[j] += rows * (sum_i g_ij w_ij + gb_j b_j)^2, kernels [in, out] row-major. */
function addUnitTerms(acc: Float64Array, batch: BatchGradients, l: number, mlp: MLP): void {
  const { weights, bias, inputSize, units } = mlp.layers[l];
  const g = batch.kernels[l]!;
  const gb = batch.biases[l];
  const s = new Float64Array(units);
  for (let i = 0; i < inputSize; i++) {
    const row = i * units;
    for (let j = 0; j < units; j++) s[j] += g[row + j] * weights[row + j];
  }
  if (bias && gb) for (let j = 0; j < units; j++) s[j] += gb[j] * bias[j];
  for (let j = 0; j < units; j++) acc[j] += batch.rows * s[j] * s[j];
}

export interface TaylorScores {
  /** Per scored layer: one score per weight ([in, out] row-major) or per unit. */
  scores: Map<number, Float64Array>;
  n: number;
  batches: number;
  batchSize: number;
}

/** The Taylor importance of every weight or unit of `layers` (see the file comment for the formula). */
export function taylorScores(
  strategy: string,
  mlp: MLP,
  options: PruneOptions,
  layers: readonly number[],
  target: PruneTarget,
): TaylorScores {
  const scores = new Map(layers.map((l) => [l, new Float64Array(target === 'units' ? mlp.layers[l].units : mlp.layers[l].weights.length)]));
  const onBatch = (batch: BatchGradients) => {
    for (const [l, acc] of scores) {
      if (target === 'units') addUnitTerms(acc, batch, l, mlp);
      else addWeightTerms(acc, batch.kernels[l]!, mlp.layers[l].weights, batch.rows);
    }
  };
  const g = calibrationGradients(strategy, mlp, options, { layers, defaultBatchSize: TAYLOR_BATCH_SIZE, onBatch });
  for (const acc of scores.values()) for (let i = 0; i < acc.length; i++) acc[i] /= g.n;
  return { scores, n: g.n, batches: g.batches, batchSize: g.batchSize };
}

/** `taylor` (target 'weights') and `taylor-units` (target 'units'): one criterion, parametrised by what it scores. */
export function taylorCriterion(target: PruneTarget): ScoringCriterion {
  return {
    gives: 'scores',
    target,
    removeFirst: 'lowest',
    needsSamples: true,
    score({ strategy, mlp, options, layers, notes }) {
      const t = taylorScores(strategy, mlp, options, layers, target);
      notes.push(
        `${strategy}: loss gradients on the first ${t.n} samples of ${options.samples!.source}, ${t.batches} mini-batches of up to ${t.batchSize}`,
      );
      return new Map(layers.map((l): [number, LayerScores] => [l, { scores: t.scores.get(l)! }]));
    },
  };
}

export const taylorWeights = taylorCriterion('weights');
export const taylorUnits = taylorCriterion('units');
