import type { MLP } from '../model/mlp';
import { calibrationGradients } from './gradients';
import type { LayerScores, PruneOptions, ScoringCriterion } from './strategy';

/**
 * Optimal Brain Damage (LeCun, Denker & Solla, NIPS 1989/1990). Near a minimum the gradient
 * vanishes and the loss change of zeroing weight k is, to second order with the off-diagonal
 * Hessian terms dropped, the saliency s_k = h_kk w_k^2 / 2; the smallest go first, per layer.
 *
 * h_kk here is the empirical-Fisher diagonal on the calibration rows,
 *   h_kk ≈ F_kk = mean over samples s of (d loss_s / d w_k)^2,
 * the Gauss-Newton / Levenberg-Marquardt approximation the paper itself uses (it drops the
 * second-derivative-of-activation term), with the model's output covariance replaced by the
 * labels' observed gradients, as Fisher-based pruning does (Theis et al. 2018, Liu et al. 2021).
 * It needs only per-sample first derivatives, one extra matrix product per layer and batch
 * (gradients.ts); the batch size therefore only changes speed and memory, never the scores.
 */

/** Rows per forward and backward pass when `options.batchSize` is not given. */
export const OBD_BATCH_SIZE = 1000;

export interface ObdScores {
  /** Per scored layer: 0.5 F_kk w_k^2 for each weight, [in, out] row-major. */
  scores: Map<number, Float64Array>;
  n: number;
}

/** OBD saliency of every weight of `layers`. */
export function obdSaliencies(strategy: string, mlp: MLP, options: PruneOptions, layers: readonly number[]): ObdScores {
  const g = calibrationGradients(strategy, mlp, options, { layers, defaultBatchSize: OBD_BATCH_SIZE, fisher: true });
  const scores = new Map(
    layers.map((l) => {
      const w = mlp.layers[l].weights;
      const f = g.fisher[l]!;
      const s = new Float64Array(w.length);
      for (let k = 0; k < w.length; k++) s[k] = 0.5 * f[k] * w[k] * w[k];
      return [l, s];
    }),
  );
  return { scores, n: g.n };
}

/** `obd`: the weights with the smallest w^2 × Fisher diagonal go first, layer by layer. */
export const obdCriterion: ScoringCriterion = {
  gives: 'scores',
  target: 'weights',
  removeFirst: 'lowest',
  needsSamples: true,
  score({ strategy, mlp, options, layers, notes }) {
    const o = obdSaliencies(strategy, mlp, options, layers);
    notes.push(`${strategy}: Fisher diagonal from the first ${o.n} samples of ${options.samples!.source}`);
    return new Map(layers.map((l): [number, LayerScores] => [l, { scores: o.scores.get(l)! }]));
  },
};
