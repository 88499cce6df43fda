import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
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
  /** Rows per forward pass (memory stays bounded by this). Default 1000. */
  batchSize?: number;
  /** Also return every row's argmax prediction (saves a second pass when they are needed too). */
  keepPredictions?: boolean;
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
  const { batchSize, labels } = checkEvaluation(mlp, dataset, options);
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

/** Checks the models, options and dataset before any forward pass; returns the batch size and the labels. */
function checkEvaluation(mlp: MLP, dataset: Dataset, options: EvaluateOptions): { batchSize: number; labels: Int32Array } {
  validateMLP(mlp);
  const { reference, referencePredictions } = options;
  if (referencePredictions && referencePredictions.length !== dataset.n) {
    throw new PruneScopeError(`${referencePredictions.length} reference predictions for ${dataset.n} rows of ${dataset.source}`);
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
