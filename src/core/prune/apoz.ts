import { PruneScopeError } from '../errors';
import { streamActivations } from '../model/activations';
import type { DenseLayer, MLP } from '../model/mlp';
import { requireSamples, type LayerScores, type ScoringCriterion } from './strategy';

/** Activations whose output is exactly 0 on a whole half-line, so "percentage of zeros" means something. */
export function isReluLike(layer: DenseLayer): boolean {
  return layer.activation === 'relu' || layer.activation === 'relu6' || (layer.activation === 'leaky_relu' && layer.alpha === 0);
}

/** Average Percentage of Zeros per unit: share of samples on which the post-activation output is exactly 0. */
export function apozScores(mlp: MLP, layers: number[], x: Float32Array, n: number, batchSize?: number): Map<number, Float64Array> {
  const zeros = new Map(layers.map((l) => [l, new Float64Array(mlp.layers[l].units)]));
  streamActivations(mlp, x, n, { layers, post: true, batchSize }, (batch) => {
    for (const a of batch.layers) {
      const z = zeros.get(a.layer)!;
      const post = a.post!;
      for (let r = 0; r < batch.rows; r++) {
        const o = r * a.units;
        for (let j = 0; j < a.units; j++) if (post[o + j] === 0) z[j]++;
      }
    }
  });
  for (const z of zeros.values()) for (let j = 0; j < z.length; j++) z[j] /= n;
  return zeros;
}

/**
 * Network trimming (Hu et al. 2016): the units that are zero most often go first. Only ReLU-like
 * layers have exact zeros to count, so other layers are refused rather than scored as never zero.
 */
export const apozCriterion: ScoringCriterion = {
  gives: 'scores',
  target: 'units',
  removeFirst: 'highest',
  needsSamples: true,
  score({ strategy, mlp, layers, options }) {
    for (const l of layers) {
      const layer = mlp.layers[l];
      if (!isReluLike(layer)) {
        throw new PruneScopeError(
          `${strategy} needs ReLU-like layers (relu, relu6), but layer ${layer.name} (position ${l}) uses ${layer.activation}, ` +
            'whose output is not exactly zero on a share of samples; use cka, unit-l1, unit-l2 or magnitude instead',
        );
      }
    }
    const { x, n } = requireSamples(strategy, mlp, options);
    const apoz = apozScores(mlp, layers, x, n, options.batchSize);
    return new Map(layers.map((l): [number, LayerScores] => [l, { scores: apoz.get(l)! }]));
  },
};
