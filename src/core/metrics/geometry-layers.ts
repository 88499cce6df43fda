import { engineInfo } from '../backend';
import { ortRowGram64 } from '../engine/onnxruntime';
import type { Activation } from '../model/mlp';
import type { LayerGeometry } from '../results/format';
import { apoz } from './apoz';
import { apozGeometry, DEFAULT_GEOMETRY_SAMPLES, defaultGeometryStep } from './geometry';
import { SimilarityError, type Matrix } from './matrix';

/**
 * Representational geometry as the results format records it: for one layer, or every hidden
 * layer of a model, from post-activation outputs. The APoZ order and the RDMs come from the same
 * rows, the first `samples` of the activations, so `prunescope geometry --samples N` reproduces
 * what `analyze` and `compare` record for the same N.
 */

export interface LayerGeometryOptions {
  /** First rows of the activations used (default 500, the cost being O(samples^2 x units)). */
  samples?: number;
  /** Record every `step` units (default ceil(units / 100)). */
  step?: number;
}

/** The first `n` rows of m, without copying. */
function firstRows(m: Matrix, n: number): Matrix {
  return n >= m.rows ? m : { rows: n, cols: m.cols, data: m.data.subarray(0, n * m.cols) };
}

/** Geometry of one layer; `applies: false` with the reason where APoZ or the geometry is undefined. */
export function layerGeometry(name: string, activation: Activation, outputs: Matrix, options: LayerGeometryOptions = {}): LayerGeometry {
  const samples = options.samples ?? DEFAULT_GEOMETRY_SAMPLES;
  if (!Number.isInteger(samples) || samples < 3) {
    throw new SimilarityError(`representational geometry needs at least 3 samples, got ${samples}`);
  }
  const rows = firstRows(outputs, samples);
  const a = apoz(rows, activation);
  if (!a.applies) return { layer: name, applies: false, reason: `geometry adds units in APoZ order, and ${a.reason}` };
  try {
    // The full layer's pair sums as one float64 product on onnxruntime when the process chose it.
    const rowGram = engineInfo()?.dense.name === 'onnxruntime' ? ortRowGram64 : undefined;
    const g = apozGeometry(rows, a.perNeuron, { maxSamples: rows.rows, step: options.step, name, rowGram });
    return { layer: name, applies: true, ...g };
  } catch (e) {
    // A dead layer, or too few rows: a fact about this layer, not a failed run.
    if (e instanceof SimilarityError) return { layer: name, applies: false, reason: e.message };
    throw e;
  }
}

/**
 * Geometry of every hidden layer (all but the output layer), from `outputs[i]` of layer i.
 * `previous` is what an earlier run computed from the same model files on the same activation
 * rows (the caller vouches for that): a layer's curves are taken from it when they were made
 * with the same units, samples and step, since computing them again would give the same numbers.
 */
export function hiddenLayerGeometry(
  layers: readonly { name: string; activation: Activation }[],
  outputs: readonly Matrix[],
  options: LayerGeometryOptions = {},
  previous?: readonly LayerGeometry[],
): LayerGeometry[] {
  return layers.slice(0, -1).map((l, i) => {
    const before = previous?.[i];
    const m = outputs[i];
    const same =
      before?.applies === true &&
      before.layer === l.name &&
      before.units === m.cols &&
      before.samples === Math.min(m.rows, options.samples ?? DEFAULT_GEOMETRY_SAMPLES) &&
      before.step === (options.step ?? defaultGeometryStep(m.cols));
    return same ? before : layerGeometry(l.name, l.activation, m, options);
  });
}
