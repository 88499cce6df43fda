import * as tf from '../tfjs';
import { engineInfo, initBackend } from '../backend';
import type { DenseEngine } from '../engine/dense';
import { wasmEngine } from '../engine/wasm-engine';
import type { Dataset } from '../data/dataset';
import { checkFits } from '../data/load';
import { DataError, PruneScopeError } from '../errors';
import { forward, mlpTensors, type MLPTensors } from '../model/forward';
import { outputSize, validateMLP, type MLP } from '../model/mlp';

export interface EvaluateOptions {
  /** A second model whose argmax predictions are compared with this one's. */
  reference?: MLP;
  /** The reference's argmax predictions for every row, when already known (saves its forward passes). */
  referencePredictions?: Int32Array;
  /** Rows per forward pass (memory stays bounded by this). Default 1000 on TensorFlow.js, the engine's own on a dense engine. */
  batchSize?: number;
  /** Also return every row's argmax prediction (saves a second pass when they are needed too). */
  keepPredictions?: boolean;
  /**
   * The model's outputs (after its last activation) for every row, when the caller already has
   * them, e.g. as the last layer of its representations: no forward pass is run then.
   */
  outputs?: Float32Array;
}

export interface Evaluation {
  /** Share of rows whose argmax output equals the label. */
  accuracy: number;
  /** Mean cross-entropy of the model's class probabilities, see `probabilities`. */
  loss: number;
  samples: number;
  /** Share of rows where this model and the reference predict the same class. */
  agreement?: number;
  /** Argmax prediction of every row, with `keepPredictions`. */
  predictions?: Int32Array;
}

/** Probabilities are clipped to [EPSILON, 1] before the log, as Keras does, so a confident miss costs ~16.1, not Infinity. */
export const EPSILON = 1e-7;

/**
 * Class probabilities from the model's outputs: a softmax output is used as it is, a log_softmax
 * output is exponentiated, and any other output activation (linear logits, or sigmoid/relu/tanh
 * scores) is turned into a distribution with a softmax.
 */
export function probabilities(outputs: tf.Tensor2D, activation: MLP['layers'][number]['activation']): tf.Tensor2D {
  if (activation === 'softmax') return outputs;
  if (activation === 'log_softmax') return tf.exp(outputs);
  return tf.softmax(outputs);
}

/**
 * Accuracy and mean cross-entropy of `mlp` on a labelled dataset, and optionally the share of
 * equal argmax predictions with `reference`, computed in batches.
 */
export async function evaluate(mlp: MLP, dataset: Dataset, options: EvaluateOptions = {}): Promise<Evaluation> {
  await initBackend();
  const checked = checkEvaluation(mlp, dataset, options);
  if (options.outputs) return evaluateOutputs(mlp, dataset, options.outputs, options, checked.labels);
  const dense = engineInfo()?.dense;
  if (dense?.name === 'onnxruntime') return evaluateOnEngine(dense, mlp, dataset, options, checked);
  const { batchSize, labels } = checked;
  const { reference, referencePredictions } = options;

  const lastActivation = mlp.layers[mlp.layers.length - 1].activation;
  const t = mlpTensors(mlp);
  let rt: MLPTensors | null = null;
  let lossSum = 0;
  let correct = 0;
  let agree = 0;
  const predictions = options.keepPredictions ? new Int32Array(dataset.n) : null;
  try {
    if (reference && !referencePredictions) rt = mlpTensors(reference);
    const f = dataset.features;
    for (let start = 0; start < dataset.n; start += batchSize) {
      const end = Math.min(dataset.n, start + batchSize);
      const rows = end - start;
      const [probs, pred, refPred] = tf.tidy(() => {
        const x = tf.tensor2d(dataset.x.subarray(start * f, end * f), [rows, f]);
        const p = probabilities(forward(mlp, t, x), lastActivation);
        const out: tf.Tensor[] = [p, tf.argMax(p, 1)];
        if (rt && reference) out.push(tf.argMax(forward(reference, rt, x), 1));
        return out;
      });
      const p = probs.dataSync();
      const yhat = pred.dataSync();
      const yref = refPred?.dataSync();
      tf.dispose([probs, pred, ...(refPred ? [refPred] : [])]);
      const k = probs.shape[1] as number;
      predictions?.set(yhat, start);
      for (let i = 0; i < rows; i++) {
        const label = labels[start + i];
        const q = Math.min(1, Math.max(EPSILON, p[i * k + label]));
        lossSum -= Math.log(q);
        if (yhat[i] === label) correct++;
        const r = referencePredictions ? referencePredictions[start + i] : yref?.[i];
        if (r !== undefined && r === yhat[i]) agree++;
      }
    }
  } finally {
    t.dispose();
    rt?.dispose();
  }
  const n = dataset.n;
  const result: Evaluation = { accuracy: correct / n, loss: lossSum / n, samples: n };
  if (reference || referencePredictions) result.agreement = agree / n;
  if (predictions) result.predictions = predictions;
  return result;
}

/** Argmax of each row of an [n, k] row-major array (the first of equal maxima, as tf.argMax). */
function argmaxRows(y: Float32Array, k: number): Int32Array {
  const out = new Int32Array(y.length / k);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (y[i * k + j] > y[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** -log of the row's probability of `label`, clipped as in `evaluate`, from the model's outputs. */
function rowLoss(y: Float32Array, o: number, k: number, label: number, activation: MLP['layers'][number]['activation']): number {
  let p: number;
  if (activation === 'softmax') p = y[o + label];
  else if (activation === 'log_softmax') p = Math.exp(y[o + label]);
  else {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, y[o + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(y[o + j] - max);
    p = Math.exp(y[o + label] - max) / sum;
  }
  return -Math.log(Math.min(1, Math.max(EPSILON, p)));
}

/**
 * `evaluate` with the forward passes on a dense engine (onnxruntime, whose sessions are kept per
 * model); the softmax, loss and argmax follow on the outputs in float64, as the tfjs path does in
 * float32, so the two agree to float32 rounding.
 */
async function evaluateOnEngine(
  dense: DenseEngine,
  mlp: MLP,
  dataset: Dataset,
  options: EvaluateOptions,
  { labels }: { labels: Int32Array },
): Promise<Evaluation> {
  // The engine's own batching unless one was asked for: onnxruntime feeds the weights on every
  // run and packs them for each product, so fewer, larger runs save that work.
  const y = (await dense.forward(mlp, dataset.x, dataset.n, { batchSize: options.batchSize })).outputs;
  return evaluateOutputs(mlp, dataset, y, options, labels);
}

/** Accuracy, loss (float64, as `evaluate` in float32) and agreement from the model's outputs for every row. */
async function evaluateOutputs(
  mlp: MLP,
  dataset: Dataset,
  y: Float32Array,
  options: EvaluateOptions,
  labels: Int32Array,
): Promise<Evaluation> {
  const n = dataset.n;
  const k = outputSize(mlp);
  const yhat = argmaxRows(y, k);
  const activation = mlp.layers[mlp.layers.length - 1].activation;
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    lossSum += rowLoss(y, i * k, k, labels[i], activation);
    if (yhat[i] === labels[i]) correct++;
  }
  const result: Evaluation = { accuracy: correct / n, loss: lossSum / n, samples: n };
  const { reference } = options;
  let refPred = options.referencePredictions;
  if (!refPred && reference) refPred = await referenceArgmax(reference, dataset, options.batchSize);
  if (refPred) {
    let agree = 0;
    for (let i = 0; i < n; i++) if (refPred[i] === yhat[i]) agree++;
    result.agreement = agree / n;
  }
  if (options.keepPredictions) result.predictions = yhat;
  return result;
}

/** The reference model's argmax for every row, on the process's dense engine (wasm unless another was chosen). */
async function referenceArgmax(reference: MLP, dataset: Dataset, batchSize: number | undefined): Promise<Int32Array> {
  const dense = engineInfo()?.dense ?? wasmEngine();
  return argmaxRows((await dense.forward(reference, dataset.x, dataset.n, { batchSize })).outputs, outputSize(reference));
}

/** Checks the models, options and dataset before any forward pass; returns the batch size and the labels. */
function checkEvaluation(mlp: MLP, dataset: Dataset, options: EvaluateOptions): { batchSize: number; labels: Int32Array } {
  validateMLP(mlp);
  const { reference, referencePredictions } = options;
  if (referencePredictions && referencePredictions.length !== dataset.n) {
    throw new PruneScopeError(`${referencePredictions.length} reference predictions for ${dataset.n} rows of ${dataset.source}`);
  }
  const k = outputSize(mlp);
  if (options.outputs && options.outputs.length !== dataset.n * k) {
    throw new PruneScopeError(`${options.outputs.length} outputs given for ${dataset.n} rows of ${k} classes of ${dataset.source}`);
  }
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PruneScopeError(`batch size must be a positive integer (got ${batchSize})`);
  const labels = dataset.y;
  if (!labels) throw new DataError(dataset.source, 'has no labels, so accuracy and loss cannot be computed');
  if (dataset.n === 0) throw new DataError(dataset.source, 'has no rows');
  checkFits(dataset, mlp.inputSize, outputSize(mlp), `model ${mlp.name}`, mlp.inputShape);
  if (reference) {
    validateMLP(reference);
    checkFits(dataset, reference.inputSize, undefined, `reference model ${reference.name}`, reference.inputShape);
  }
  return { batchSize, labels };
}
