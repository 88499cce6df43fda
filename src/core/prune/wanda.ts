import { streamActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import { calibrationRows, type LayerScores, type ScoringCriterion } from './strategy';

/**
 * Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models"):
 * weight (i, j) scores |W_ij| * ||X_i||_2, the norm of input feature i over the calibration rows,
 * and each output unit loses its own lowest-scored incoming weights (the registry runs it with
 * scope 'output', so the selector ranks within units and applies N:M patterns per unit).
 *
 * Inputs come from the ORIGINAL network: layer 0 sees the samples, layer l > 0 the
 * post-activations of layer l - 1 of the unpruned model. The paper (locuslab/wanda) prunes layer by
 * layer and feeds each layer the already-pruned network's inputs. We do not, because here a
 * criterion only scores: the selector decides every mask after all scores are in, so no pruned
 * earlier layer exists yet when a later one is scored. Drift from earlier layers' removals is what
 * compensation, a separate step after selection, corrects, feeding each layer the pruned
 * network's own inputs.
 */

/**
 * Per requested layer, the sum over the first n rows of the square of each of its input
 * features, in float64. Activations are streamed batch by batch, never held for all rows.
 */
export function inputSquareSums(mlp: MLP, layers: number[], x: Float32Array, n: number, batchSize?: number): Map<number, Float64Array> {
  const sums = new Map(layers.map((l) => [l, new Float64Array(mlp.layers[l].inputSize)]));
  const first = sums.get(0);
  if (first) {
    const f = mlp.inputSize;
    for (let r = 0; r < n; r++) for (let i = 0; i < f; i++) first[i] += x[r * f + i] ** 2;
  }
  // Layer l's inputs are layer l - 1's outputs: one pass of the original network serves them all.
  const sources = layers.filter((l) => l > 0).map((l) => l - 1);
  if (sources.length === 0) return sums;
  streamActivations(mlp, x, n, { layers: sources, post: true, batchSize }, (batch) => {
    for (const a of batch.layers) {
      const s = sums.get(a.layer + 1)!;
      const post = a.post!;
      for (let r = 0; r < batch.rows; r++) {
        const o = r * a.units;
        for (let i = 0; i < a.units; i++) s[i] += post[o + i] ** 2;
      }
    }
  });
  return sums;
}

/** Wanda scores of one layer: |W_ij| * sqrt(sum of squares of input i), [in, out] row-major. */
export function wandaLayerScores(weights: Float32Array, inputSize: number, units: number, squareSums: Float64Array): Float64Array {
  const scores = new Float64Array(inputSize * units);
  for (let i = 0; i < inputSize; i++) {
    const norm = Math.sqrt(squareSums[i]);
    for (let j = 0; j < units; j++) scores[i * units + j] = Math.abs(weights[i * units + j]) * norm;
  }
  return scores;
}

/**
 * Calibration rows when neither `calibration` nor `sampleCount` is given: the experiments' own
 * default, so a strategy run alone scores on what a compensated run would fit on.
 */
export const WANDA_DEFAULT_SAMPLES = 2048;

export const wandaCriterion: ScoringCriterion = {
  gives: 'scores',
  target: 'weights',
  removeFirst: 'lowest',
  needsSamples: true,
  score({ strategy, mlp, layers, options, notes }) {
    const { x, n } = calibrationRows(strategy, mlp, options, WANDA_DEFAULT_SAMPLES);
    notes.push(`${strategy}: input norms from the first ${n} samples of ${options.samples!.source} (the original network's activations)`);
    const sums = inputSquareSums(mlp, layers, x, n, options.batchSize);
    return new Map(
      layers.map((l): [number, LayerScores] => {
        const layer = mlp.layers[l];
        return [l, { scores: wandaLayerScores(layer.weights, layer.inputSize, layer.units, sums.get(l)!) }];
      }),
    );
  },
};
