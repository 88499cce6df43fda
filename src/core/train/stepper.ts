import type { Dataset } from '../data/dataset';
import type { MLP } from '../model/mlp';
import type { AdamConfig } from './adam';
import type { LayerSpec } from './backprop';

/**
 * What a training run needs from the engine that does the arithmetic (issue 15): an Adam step on
 * a batch, validation, and the current parameters. fit.ts drives either implementation the same
 * way (batches, shuffling, dropout masks, early stopping), so the two differ only in the kernels:
 * tfjs-step.ts on TensorFlow.js, ort-step.ts on onnxruntime.
 */
export interface Stepper {
  /** Which engine steps: "onnxruntime" or the TensorFlow.js backend's engine name. */
  readonly engine: string;
  /**
   * One Adam step on `rows` rows of x ([rows, features]) with integer labels; `dropout[l]` (or
   * null) multiplies hidden layer l's activation. Adds the batch's loss sum and correct count to
   * the epoch's totals.
   */
  step(x: Float32Array, labels: Int32Array, rows: number, dropout: (Float32Array | null)[]): void;
  /** The epoch's [loss sum, correct count] since the previous call. */
  takeTotals(): [number, number];
  /** Mean cross-entropy and accuracy of the current parameters on the data. */
  validate(data: Dataset, labels: Int32Array): { loss: number; accuracy: number };
  /** Copies of the current parameters in flat order (see FlatLayout). */
  params(): Float32Array[];
  dispose(): void;
}

/** Everything a stepper is built from. */
export interface StepperSetup {
  mlp: MLP;
  specs: LayerSpec[];
  /** Per layer, null or the 0/1 [inputSize, units] mask of kept weights. */
  masks: (Float32Array | null)[];
  adam: AdamConfig;
  l1: number;
  l2: number;
}

/** Flat parameter order: kernel of layer 0, its bias (if any), kernel of layer 1, ... */
export interface FlatLayout {
  kernelIndex: number[];
  biasIndex: (number | null)[];
  count: number;
}

export function flatLayout(mlp: MLP): FlatLayout {
  const kernelIndex: number[] = [];
  const biasIndex: (number | null)[] = [];
  let count = 0;
  for (const l of mlp.layers) {
    kernelIndex.push(count++);
    biasIndex.push(l.bias ? count++ : null);
  }
  return { kernelIndex, biasIndex, count };
}

/** The starting parameters in flat order, pruned weights zeroed. */
export function initialParams(mlp: MLP, masks: (Float32Array | null)[]): Float32Array[] {
  const out: Float32Array[] = [];
  mlp.layers.forEach((l, i) => {
    const w = new Float32Array(l.weights);
    const m = masks[i];
    if (m) for (let j = 0; j < w.length; j++) w[j] *= m[j];
    out.push(w);
    if (l.bias) out.push(new Float32Array(l.bias));
  });
  return out;
}

/** Index of the largest value of each row (the first on ties, as tf.argMax). */
export function countCorrect(logits: Float32Array, labels: Int32Array, rows: number, classes: number): number {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    if (best === labels[r]) correct++;
  }
  return correct;
}
