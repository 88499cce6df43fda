import * as tf from '../tfjs';
import { PruneScopeError } from '../errors';
import { applyActivation, denseLinear, mlpTensors } from './forward';
import type { MLP } from './mlp';

/**
 * Per-layer activations of an MLP over many samples, computed batch by batch so memory stays
 * bounded by one batch of every requested layer (plus whatever the caller keeps). Inference only:
 * dropout never applies here.
 */

export interface ActivationOptions {
  /** Layer indices to report (default: every layer). Order does not matter; results come in layer order. */
  layers?: number[];
  /** Report the layer's output before its activation function (default false). */
  pre?: boolean;
  /** Report the layer's output after its activation function (default true). */
  post?: boolean;
  /** Rows per forward pass (default 1000). */
  batchSize?: number;
}

/** One layer's activations: row-major [rows, units] matrices. */
export interface LayerActivations {
  layer: number;
  units: number;
  /** Before the activation function, when asked for. */
  pre?: Float32Array;
  /** After the activation function, when asked for. */
  post?: Float32Array;
}

export interface ActivationBatch {
  /** First sample row of this batch. */
  start: number;
  /** Rows in this batch. */
  rows: number;
  /** Requested layers, in layer order; the arrays belong to the callee and stay valid after the call. */
  layers: LayerActivations[];
}

interface ResolvedOptions {
  layers: number[];
  pre: boolean;
  post: boolean;
  batchSize: number;
}

function resolveOptions(mlp: MLP, x: Float32Array, n: number, options: ActivationOptions): ResolvedOptions {
  const all = mlp.layers.map((_, i) => i);
  const layers = [...new Set(options.layers ?? all)].sort((a, b) => a - b);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= mlp.layers.length) {
      throw new PruneScopeError(`model ${mlp.name}: no layer ${l} (it has layers 0..${mlp.layers.length - 1})`);
    }
  }
  const pre = options.pre ?? false;
  const post = options.post ?? true;
  if (!pre && !post) throw new PruneScopeError('activations: ask for pre, post or both');
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new PruneScopeError(`activations: batch size ${batchSize} is not a positive integer`);
  if (!Number.isInteger(n) || n < 0) throw new PruneScopeError(`activations: sample count ${n} is not a non-negative integer`);
  if (x.length < n * mlp.inputSize) {
    throw new PruneScopeError(
      `model ${mlp.name}: ${n} samples of ${mlp.inputSize} features need ${n * mlp.inputSize} values, got ${x.length}`,
    );
  }
  return { layers, pre, post, batchSize };
}

/**
 * Calls `onBatch` once per batch of rows with the requested layers' activations for that batch.
 * Only the layers up to the deepest requested one are evaluated.
 */
export function streamActivations(
  mlp: MLP,
  x: Float32Array,
  n: number,
  options: ActivationOptions,
  onBatch: (batch: ActivationBatch) => void,
): void {
  const o = resolveOptions(mlp, x, n, options);
  if (o.layers.length === 0) return;
  const wanted = new Set(o.layers);
  const last = o.layers[o.layers.length - 1];
  const inSize = mlp.inputSize;
  const t = mlpTensors({ ...mlp, layers: mlp.layers.slice(0, last + 1) });
  try {
    for (let start = 0; start < n; start += o.batchSize) {
      const rows = Math.min(n, start + o.batchSize) - start;
      const out: LayerActivations[] = [];
      // dataSync inside tidy: every intermediate tensor of the batch is freed on exit.
      tf.tidy(() => {
        let h = tf.tensor2d(x.subarray(start * inSize, (start + rows) * inSize), [rows, inSize]);
        for (let l = 0; l <= last; l++) {
          const layer = mlp.layers[l];
          const z = denseLinear(h, t.kernels[l], t.biases[l]);
          h = applyActivation(z, layer.activation, layer.alpha);
          if (wanted.has(l)) {
            const entry: LayerActivations = { layer: l, units: layer.units };
            // dataSync may hand back the tensor's own buffer; copy so callers own their arrays.
            if (o.pre) entry.pre = new Float32Array(z.dataSync() as Float32Array);
            if (o.post) entry.post = new Float32Array(h.dataSync() as Float32Array);
            out.push(entry);
          }
        }
      });
      onBatch({ start, rows, layers: out });
    }
  } finally {
    t.dispose();
  }
}

/** Activations of the requested layers for all n rows of x, as whole [n, units] matrices. */
export function layerActivations(mlp: MLP, x: Float32Array, n: number, options: ActivationOptions = {}): LayerActivations[] {
  const o = resolveOptions(mlp, x, n, options);
  const result: LayerActivations[] = o.layers.map((l) => {
    const units = mlp.layers[l].units;
    const entry: LayerActivations = { layer: l, units };
    if (o.pre) entry.pre = new Float32Array(n * units);
    if (o.post) entry.post = new Float32Array(n * units);
    return entry;
  });
  streamActivations(mlp, x, n, o, (batch) => {
    batch.layers.forEach((b, i) => {
      const r = result[i];
      if (b.pre) r.pre!.set(b.pre, batch.start * r.units);
      if (b.post) r.post!.set(b.post, batch.start * r.units);
    });
  });
  return result;
}
