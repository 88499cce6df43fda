import * as tf from '../tfjs';
import { PruneScopeError } from '../errors';
import { mlpTensors } from '../model/forward';
import type { MLP } from '../model/mlp';
import {
  explicitTransposes,
  LOGIT_OUTPUTS,
  lossAndGradients,
  matMulTA,
  TRAINABLE_HIDDEN,
  type LayerSpec,
  type LayerTrace,
} from '../train/backprop';
import { calibrationRows, type PruneOptions } from './strategy';

/**
 * Loss gradients on calibration rows, for the gradient-based criteria (taylor, obd).
 *
 * The loss is the one training minimises: the mean cross-entropy of softmax(logits) against the
 * labels, logits being the last layer's pre-activation (backprop.ts), with no dropout. Rows are
 * the first `calibration` (else `sampleCount`, else DEFAULT_GRADIENT_SAMPLES) of `samples`, run
 * in mini-batches of `batchSize` through the existing hand-written backward pass; everything
 * summed across batches is summed in float64.
 *
 * The empirical Fisher diagonal of a dense kernel needs per-sample gradients, which the
 * batch-mean gradient has already summed away. Sample s's gradient of W_ij is x_si * d_sj (its
 * input times its own pre-activation delta), so sum_s (x_si d_sj)^2 is one matrix product,
 * (X∘X)^T (D∘D), per batch: no per-sample loop and no per-sample gradient ever held.
 */

/** Calibration rows when `sampleCount` is not given. */
export const DEFAULT_GRADIENT_SAMPLES = 1024;

/** One mini-batch's gradients of its mean loss, as computed (float32), for the layers asked for. */
export interface BatchGradients {
  /** First row of the batch. */
  start: number;
  rows: number;
  /** Per model layer: dL/dW ([in, out] row-major), or null for a layer not asked for. */
  kernels: (Float32Array | null)[];
  /** Per model layer: dL/db, or null (layer not asked for, or without bias). */
  biases: (Float32Array | null)[];
}

export interface GradientRequest {
  /** Model layers whose gradients are wanted. */
  layers: readonly number[];
  /** Rows per mini-batch when `options.batchSize` is not given. */
  defaultBatchSize: number;
  /** Also accumulate the empirical Fisher diagonal of these layers' kernels. */
  fisher?: boolean;
  /** Called after every mini-batch, in row order. */
  onBatch?: (batch: BatchGradients) => void;
}

export interface CalibrationGradients {
  /** Rows used, from the first. */
  n: number;
  batchSize: number;
  batches: number;
  /** Mean cross-entropy over the rows. */
  loss: number;
  /** Per model layer (null where not asked): mean over the rows of d(loss)/dW, float64. */
  kernels: (Float64Array | null)[];
  /** Per model layer: the same for the bias (null where not asked or without bias). */
  biases: (Float64Array | null)[];
  /** Per model layer, with `fisher`: mean over the rows of (d loss_s / dW)^2, one entry per kernel weight. */
  fisher: (Float64Array | null)[];
}

/**
 * Refuses models whose loss gradient backprop.ts cannot give: an output that is not a classifier's
 * (softmax, log_softmax or linear logits) or a hidden activation without a backward pass.
 */
export function checkGradientModel(strategy: string, mlp: MLP): void {
  const last = mlp.layers.length - 1;
  mlp.layers.forEach((layer, l) => {
    const where = `layer ${layer.name} (position ${l})`;
    if (l === last && !LOGIT_OUTPUTS.includes(layer.activation)) {
      throw new PruneScopeError(
        `${strategy} needs the gradient of a classifier's cross-entropy, but the output ${where} uses ${layer.activation}, ` +
          'not softmax, log_softmax or linear logits; use magnitude instead',
      );
    }
    if (l < last && !TRAINABLE_HIDDEN.includes(layer.activation)) {
      throw new PruneScopeError(
        `${strategy} backpropagates through every layer, but ${where} uses ${layer.activation}, which has no backward pass ` +
          `(supported: ${TRAINABLE_HIDDEN.join(', ')}); use magnitude instead`,
      );
    }
  });
}

/** The labels of the first n rows, checked against the model's classes. */
function calibrationLabels(strategy: string, mlp: MLP, options: PruneOptions, n: number): Int32Array {
  const ds = options.samples!;
  if (!ds.y) throw new PruneScopeError(`${ds.source}: strategy ${strategy} needs labelled samples for its loss gradient; these have none`);
  const y = ds.y.subarray(0, n);
  const classes = mlp.layers[mlp.layers.length - 1].units;
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= classes) {
      throw new PruneScopeError(
        `${ds.source}: row ${i} has label ${y[i]} but model ${mlp.name} has ${classes} output classes (0..${classes - 1})`,
      );
    }
  }
  return y;
}

function resolveBatchSize(options: PruneOptions, fallback: number): number {
  const b = options.batchSize ?? fallback;
  if (!Number.isInteger(b) || b < 1) throw new PruneScopeError(`batch size ${b} is not a positive integer`);
  return b;
}

interface Accumulators {
  kernels: (Float64Array | null)[];
  biases: (Float64Array | null)[];
  fisher: (Float64Array | null)[];
  lossSum: number;
}

function accumulators(mlp: MLP, wanted: boolean[], fisher: boolean): Accumulators {
  const of = (l: number, size: number) => (wanted[l] ? new Float64Array(size) : null);
  return {
    kernels: mlp.layers.map((layer, l) => of(l, layer.weights.length)),
    biases: mlp.layers.map((layer, l) => (layer.bias ? of(l, layer.units) : null)),
    fisher: mlp.layers.map((layer, l) => (fisher ? of(l, layer.weights.length) : null)),
    lossSum: 0,
  };
}

/** acc += scale * v, elementwise. */
function addScaled(acc: Float64Array, v: ArrayLike<number>, scale: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] += scale * v[i];
}

/** sum_s (x_si d_sj)^2 for one batch: (X∘X)^T (D∘D), with D the per-sample deltas (dz times the batch size). */
function fisherSum(input: tf.Tensor2D, dz: tf.Tensor2D, rows: number, explicit: boolean): tf.Tensor2D {
  return matMulTA(tf.square(input), tf.square(tf.mul<tf.Tensor2D>(dz, rows)), explicit);
}

/** One mini-batch: its gradients downloaded, added (times its rows) to the sums, and handed to `onBatch`. */
function runBatch(
  mlp: MLP,
  params: ReturnType<typeof mlpTensors>,
  rows: { x: Float32Array; y: Int32Array; start: number; count: number },
  wanted: boolean[],
  request: GradientRequest,
  acc: Accumulators,
): void {
  const specs: LayerSpec[] = mlp.layers.map((l) => ({ activation: l.activation, alpha: l.alpha, dropout: 0 }));
  const explicit = explicitTransposes();
  const { start, count } = rows;
  tf.tidy(() => {
    const f = mlp.inputSize;
    const xb = tf.tensor2d(rows.x.subarray(start * f, (start + count) * f), [count, f]);
    const lb = tf.tensor1d(rows.y.subarray(start, start + count), 'int32');
    const yb = tf.cast(tf.oneHot(lb, mlp.layers[mlp.layers.length - 1].units), 'float32') as tf.Tensor2D;
    const fisher = new Map<number, tf.Tensor2D>();
    const trace: LayerTrace = (l, input, dz) => {
      if (wanted[l]) fisher.set(l, fisherSum(input, dz, count, explicit));
    };
    const masks = specs.map(() => null);
    const r = lossAndGradients(specs, params, xb, yb, lb, masks, explicit, request.fisher ? trace : undefined);
    acc.lossSum += r.lossSum.dataSync()[0];
    const batch: BatchGradients = { start, rows: count, kernels: mlp.layers.map(() => null), biases: mlp.layers.map(() => null) };
    mlp.layers.forEach((_, l) => {
      if (!wanted[l]) return;
      const k = r.grads.kernels[l].dataSync() as Float32Array;
      const b = r.grads.biases[l]?.dataSync() as Float32Array | undefined;
      batch.kernels[l] = k;
      addScaled(acc.kernels[l]!, k, count);
      if (b) addScaled(acc.biases[l]!, (batch.biases[l] = b), count);
      const fl = fisher.get(l);
      if (fl) addScaled(acc.fisher[l]!, fl.dataSync(), 1);
    });
    request.onBatch?.(batch);
  });
}

/**
 * Mean loss gradients (and, with `fisher`, the empirical Fisher diagonal) of the requested layers
 * over the calibration rows; `onBatch` sees every mini-batch's own gradients on the way.
 */
export function calibrationGradients(strategy: string, mlp: MLP, options: PruneOptions, request: GradientRequest): CalibrationGradients {
  checkGradientModel(strategy, mlp);
  const { x, n } = calibrationRows(strategy, mlp, options, DEFAULT_GRADIENT_SAMPLES);
  const y = calibrationLabels(strategy, mlp, options, n);
  const batchSize = resolveBatchSize(options, request.defaultBatchSize);
  const wanted = mlp.layers.map((_, l) => request.layers.includes(l));
  const acc = accumulators(mlp, wanted, request.fisher ?? false);
  const params = mlpTensors(mlp);
  let batches = 0;
  try {
    for (let start = 0; start < n; start += batchSize, batches++) {
      runBatch(mlp, params, { x, y, start, count: Math.min(batchSize, n - start) }, wanted, request, acc);
    }
  } finally {
    params.dispose();
  }
  for (const a of [...acc.kernels, ...acc.biases, ...acc.fisher]) if (a) for (let i = 0; i < a.length; i++) a[i] /= n;
  return { n, batchSize, batches, loss: acc.lossSum / n, kernels: acc.kernels, biases: acc.biases, fisher: acc.fisher };
}
