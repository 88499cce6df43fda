import { PruneScopeError } from '../errors';
import { layerActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import { centeredGram, ckaOrderFromGram, type CkaVariant } from './cka-fast';
import { prewarmGram } from './gram';
import { requireSamples, sharesPerLayer, structuredPlan, unitsToRemove, type PruneOptions, type StructuredPlan } from './strategy';

/** Samples the CKA study scores on: the first 512 rows of the validation split. */
export const CKA_DEFAULT_SAMPLES = 512;

/**
 * CKA of the layer's outputs after removing order[0..t] against the original, for every t
 * (same algebra as cka-fast.ts: A = sum of kept R_i, B = sum of kept r_i, r re-summed every
 * 256 removals).
 */
export function ckaCurve(c: Float64Array, p: number, order: number[]): Float64Array {
  const c2 = new Float64Array(p * p);
  for (let i = 0; i < c2.length; i++) c2[i] = c[i] * c[i];
  const rowSq = new Float64Array(p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) rowSq[i] += c2[i * p + j];
  let f = 0;
  for (let i = 0; i < p; i++) f += rowSq[i];
  const r = new Float64Array(rowSq);
  const alive = new Float64Array(p).fill(1);
  const curve = new Float64Array(order.length);
  order.forEach((k, t) => {
    alive[k] = 0;
    if ((t + 1) % 256 === 0) {
      for (let i = 0; i < p; i++) {
        let s = 0;
        for (let j = 0; j < p; j++) s += c2[i * p + j] * alive[j];
        r[i] = s;
      }
    } else {
      for (let i = 0; i < p; i++) r[i] -= c2[k * p + i];
    }
    let a = 0;
    let b = 0;
    for (let i = 0; i < p; i++) {
      a += rowSq[i] * alive[i];
      b += r[i] * alive[i];
    }
    curve[t] = f === 0 ? 1 : b > 0 ? a / Math.sqrt(f * b) : 0;
  });
  return curve;
}

/**
 * CKA pruning of every prunable layer, each scored on the original network's pre-activation
 * outputs for the same samples (layers are pruned independently of each other).
 */
export function ckaPlan(variant: CkaVariant, mlp: MLP, options: PruneOptions): StructuredPlan {
  const requested = sharesPerLayer(mlp, options);
  const layers = requested.flatMap((s, l) => (s > 0 ? [l] : []));
  for (const l of layers) {
    const a = mlp.layers[l].activation;
    if (l < mlp.layers.length - 1 && (a === 'softmax' || a === 'log_softmax')) {
      throw new PruneScopeError(
        `${variant}: layer ${mlp.layers[l].name} (position ${l}) uses ${a}, which mixes all its units, so removing one cannot be expressed as a smaller layer`,
      );
    }
  }
  const { x, n } = requireSamples(variant, mlp, options, CKA_DEFAULT_SAMPLES);
  const notes: string[] = [`${variant}: scored on the first ${n} samples of ${options.samples!.source}`];
  const orders: number[][] = mlp.layers.map(() => []);
  const scores: (Float64Array | null)[] = mlp.layers.map(() => null);
  const curves: (Float64Array | null)[] = mlp.layers.map(() => null);
  if (layers.length > 0) {
    prewarmGram(); // the helper thread starts while the activations are computed
    const acts = layerActivations(mlp, x, n, { layers, pre: true, post: false, batchSize: options.batchSize });
    for (const act of acts) {
      const l = act.layer;
      const layer = mlp.layers[l];
      const p = layer.units;
      const k = unitsToRemove(p, requested[l], layer.name, notes);
      const c = centeredGram(act.pre!, n, p);
      act.pre = undefined; // drop the activations early: big layers hold megabytes
      const result = ckaOrderFromGram(c, p, k, variant);
      orders[l] = result.order;
      if (variant === 'cka') {
        scores[l] = result.scores;
        curves[l] = ckaCurve(c, p, result.order);
      } else {
        // Per unit: the score it was removed with; kept units have none.
        const perUnit = new Float64Array(p).fill(Number.NaN);
        result.order.forEach((u, t) => (perUnit[u] = result.scores[t]));
        scores[l] = perUnit;
        curves[l] = result.scores;
      }
    }
  }
  return { ...structuredPlan(variant, requested, orders, notes, scores), curves };
}
