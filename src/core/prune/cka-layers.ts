import { PruneScopeError } from '../errors';
import { layerActivations } from '../model/activations';
import { centeredGram } from './cka-fast';
import { prewarmGram } from './gram';
import { requireSamples, type ScoreRequest } from './strategy';

/** Samples the CKA study scores on: the first 512 rows of the validation split. */
export const CKA_DEFAULT_SAMPLES = 512;

/**
 * What both CKA criteria start from: for every layer asked, the centered Gram C = X^T X of the
 * original network's pre-activation outputs on the same samples (so layers are scored
 * independently of each other), handed to `each` one layer at a time. Notes which samples
 * were used, even when no layer is asked, so every CKA plan says what it was scored on.
 */
export function forEachLayerGram<T>(request: ScoreRequest, each: (c: Float64Array, p: number, layer: number) => T): Map<number, T> {
  const { strategy, mlp, layers, options } = request;
  for (const l of layers) {
    const a = mlp.layers[l].activation;
    if (l < mlp.layers.length - 1 && (a === 'softmax' || a === 'log_softmax')) {
      throw new PruneScopeError(
        `${strategy}: layer ${mlp.layers[l].name} (position ${l}) uses ${a}, which mixes all its units, so removing one cannot be expressed as a smaller layer`,
      );
    }
  }
  const { x, n } = requireSamples(strategy, mlp, options, CKA_DEFAULT_SAMPLES);
  request.notes.push(`${strategy}: scored on the first ${n} samples of ${options.samples!.source}`);
  const out = new Map<number, T>();
  if (layers.length === 0) return out;
  prewarmGram(); // the helper thread starts while the activations are computed
  const acts = layerActivations(mlp, x, n, { layers, pre: true, post: false, batchSize: options.batchSize });
  for (const act of acts) {
    const p = mlp.layers[act.layer].units;
    const c = centeredGram(act.pre!, n, p);
    act.pre = undefined; // drop the activations early: big layers hold megabytes
    out.set(act.layer, each(c, p, act.layer));
  }
  return out;
}
