import * as tf from '../tfjs';
import { PruneScopeError } from '../errors';
import { applyActivation } from '../model/forward';
import type { Activation } from '../model/mlp';

/**
 * Hand-written forward and backward pass of an MLP with a softmax cross-entropy loss.
 *
 * Why not tf.grads: on the wasm backend a plain matMul(a, b) runs through XNNPACK (~20 GFLOP/s
 * per core) but matMul with transposeA or transposeB falls back to a naive loop (~1.5 GFLOP/s),
 * and autodiff of matMul uses exactly those. Here every product is a plain matMul; the operands
 * that need transposing are transposed explicitly (a cheap memory pass), the bias gradient is a
 * ones-row product that reuses the operator XNNPACK already packed for dW, and the input
 * gradient of the first layer, which nobody needs, is never computed.
 */

export interface LayerSpec {
  activation: Activation;
  /** Negative slope for leaky_relu. */
  alpha?: number;
  /** Dropout rate after this layer's activation (training only); 0 for none. */
  dropout: number;
}

export interface Params {
  kernels: tf.Tensor2D[];
  /** null for layers without bias. */
  biases: (tf.Tensor1D | null)[];
}

export interface Gradients {
  kernels: tf.Tensor2D[];
  biases: (tf.Tensor1D | null)[];
}

export interface BatchResult {
  /** Sum over the batch of the per-sample cross-entropy (not the mean). */
  lossSum: tf.Scalar;
  /** Number of samples whose argmax equals the label. */
  correct: tf.Scalar;
}

/** Output activations the loss can treat as softmax over the last layer's pre-activation (logits). */
export const LOGIT_OUTPUTS: readonly Activation[] = ['softmax', 'linear', 'log_softmax'];

/** Hidden activations with a backward pass here. */
export const TRAINABLE_HIDDEN: readonly Activation[] = ['linear', 'relu', 'relu6', 'leaky_relu', 'sigmoid', 'tanh'];

export function checkTrainable(specs: LayerSpec[], modelName: string): void {
  specs.forEach((s, i) => {
    const last = i === specs.length - 1;
    if (last && !LOGIT_OUTPUTS.includes(s.activation)) {
      throw new PruneScopeError(
        `model ${modelName}: output layer ${i + 1} has activation ${s.activation}; training uses cross-entropy and needs softmax, log_softmax or linear (logits)`,
      );
    }
    if (!last && !TRAINABLE_HIDDEN.includes(s.activation)) {
      throw new PruneScopeError(
        `model ${modelName}: hidden layer ${i + 1} has activation ${s.activation}, which training does not support`,
      );
    }
    if (!(s.dropout >= 0 && s.dropout < 1)) {
      throw new PruneScopeError(`model ${modelName}: layer ${i + 1} has dropout rate ${s.dropout}; it must be in [0, 1)`);
    }
  });
}

/**
 * On the wasm backend transposed matMuls are slow, so transposes are separate ops there;
 * other backends (tfjs-node's TensorFlow, cpu) take the flags at full speed.
 */
export function explicitTransposes(): boolean {
  return tf.getBackend() === 'wasm';
}

/** a^T b */
export function matMulTA(a: tf.Tensor2D, b: tf.Tensor2D, explicit: boolean): tf.Tensor2D {
  return explicit ? tf.matMul(tf.transpose(a), b) : tf.matMul(a, b, true, false);
}

/** a b^T */
function matMulTB(a: tf.Tensor2D, b: tf.Tensor2D, explicit: boolean): tf.Tensor2D {
  return explicit ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
}

/** Column sums of dz: a ones-row product on wasm, where Sum over axis 0 transposes first. */
function columnSums(dz: tf.Tensor2D, explicit: boolean): tf.Tensor1D {
  if (!explicit) return tf.sum(dz, 0);
  return tf.reshape(tf.matMul(tf.ones([1, dz.shape[0]]), dz), [dz.shape[1]]);
}

/** A hidden layer's activation, as inference applies it; only those with a backward pass here. */
export function activate(z: tf.Tensor2D, spec: LayerSpec): tf.Tensor2D {
  if (!TRAINABLE_HIDDEN.includes(spec.activation)) {
    throw new PruneScopeError(`activation ${spec.activation} is not supported in a hidden layer during training`);
  }
  return applyActivation(z, spec.activation, spec.alpha);
}

/** d(activation)/dz expressed through the activation's output a; null means 1. */
function activationDerivative(a: tf.Tensor2D, spec: LayerSpec): tf.Tensor2D | null {
  switch (spec.activation) {
    case 'linear':
      return null;
    case 'relu':
      return tf.step(a);
    case 'relu6':
      return tf.mul<tf.Tensor2D>(tf.step(a), tf.step(tf.sub(6, a)));
    case 'leaky_relu':
      // a > 0 exactly where z > 0 (alpha > 0)
      return tf.step(a, spec.alpha ?? 0.01);
    case 'sigmoid':
      return tf.mul<tf.Tensor2D>(a, tf.sub(1, a));
    case 'tanh':
      return tf.sub<tf.Tensor2D>(1, tf.square(a));
    default:
      throw new PruneScopeError(`activation ${spec.activation} is not supported in a hidden layer during training`);
  }
}

/** Activations XNNPACK applies as an output clamp inside the matmul (fused: no extra pass). */
const FUSABLE: Partial<Record<Activation, 'linear' | 'relu' | 'relu6'>> = { linear: 'linear', relu: 'relu', relu6: 'relu6' };

/** One dense layer with its activation (none for the output layer's logits). */
function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D | null, spec: LayerSpec | null): tf.Tensor2D {
  const fused = spec ? FUSABLE[spec.activation] : 'linear';
  if (fused) return tf.fused.matMul({ a: x, b: kernel, bias: bias ?? undefined, activation: fused }) as tf.Tensor2D;
  const z = tf.matMul<tf.Tensor2D>(x, kernel);
  return activate(bias ? tf.add<tf.Tensor2D>(z, bias) : z, spec as LayerSpec);
}

/** Logits (pre-activation of the last layer) without dropout; for evaluation. */
export function logits(specs: LayerSpec[], params: Params, x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  for (let l = 0; l < specs.length; l++) h = dense(h, params.kernels[l], params.biases[l], l === specs.length - 1 ? null : specs[l]);
  return h;
}

/** Cross-entropy sum and correct count for logits against one-hot targets and integer labels. */
export function batchMetrics(z: tf.Tensor2D, yOneHot: tf.Tensor2D, labels: tf.Tensor1D): BatchResult & { logProbs: tf.Tensor2D } {
  const logProbs = tf.logSoftmax(z);
  const lossSum = tf.neg(tf.sum<tf.Scalar>(tf.mul(logProbs, yOneHot)));
  const correct = tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(z, 1), labels), 'float32'));
  return { lossSum, correct, logProbs };
}

/**
 * What the backward pass saw at layer l: the input the layer multiplied ([batch, in]) and dz,
 * d(mean CE)/d(pre-activation) ([batch, units]); row s of dz is sample s's own loss gradient
 * divided by the batch size. Per-sample quantities (an empirical Fisher) need these, which the
 * batch-mean gradients have already summed away. The tensors belong to the enclosing tf.tidy.
 */
export type LayerTrace = (layer: number, input: tf.Tensor2D, dz: tf.Tensor2D) => void;

/**
 * One forward and backward pass. Returns gradients of the MEAN cross-entropy over the batch.
 * `dropoutMasks[l]` (or null) multiplies layer l's activation; entries are 0 or 1/(1-rate).
 * `explicit` chooses separate transposes (wasm) or transpose flags (other backends).
 * `trace`, when given, is called for every layer from the last to the first (see LayerTrace).
 * Call inside tf.tidy.
 */
export function lossAndGradients(
  specs: LayerSpec[],
  params: Params,
  x: tf.Tensor2D,
  yOneHot: tf.Tensor2D,
  labels: tf.Tensor1D,
  dropoutMasks: (tf.Tensor2D | null)[],
  explicit = explicitTransposes(),
  trace?: LayerTrace,
): BatchResult & { grads: Gradients } {
  const L = specs.length;
  const batch = x.shape[0];
  // inputs[l] is what layer l multiplies; outputs[l] the activation before dropout
  const inputs: tf.Tensor2D[] = [x];
  const outputs: tf.Tensor2D[] = [];
  let z = x;
  for (let l = 0; l < L; l++) {
    if (l === L - 1) {
      z = dense(inputs[l], params.kernels[l], params.biases[l], null);
      break;
    }
    const a = dense(inputs[l], params.kernels[l], params.biases[l], specs[l]);
    outputs.push(a);
    const mask = dropoutMasks[l];
    inputs.push(mask ? tf.mul(a, mask) : a);
  }
  const { lossSum, correct, logProbs } = batchMetrics(z, yOneHot, labels);

  const gradK = new Array<tf.Tensor2D>(L);
  const gradB = new Array<tf.Tensor1D | null>(L);
  // d(mean CE)/dz = (softmax - y) / batch
  let dz = tf.div<tf.Tensor2D>(tf.sub(tf.exp(logProbs), yOneHot), batch);
  for (let l = L - 1; l >= 0; l--) {
    trace?.(l, inputs[l], dz);
    gradK[l] = matMulTA(inputs[l], dz, explicit);
    gradB[l] = params.biases[l] ? columnSums(dz, explicit) : null;
    if (l === 0) break;
    let da = matMulTB(dz, params.kernels[l], explicit);
    const mask = dropoutMasks[l - 1];
    if (mask) da = tf.mul(da, mask);
    const d = activationDerivative(outputs[l - 1], specs[l - 1]);
    dz = d ? tf.mul(da, d) : da;
  }
  return { lossSum, correct, grads: { kernels: gradK, biases: gradB } };
}
