/**
 * A plain-JavaScript reference forward pass for the networks the encoder kit builds: float64
 * arithmetic over the float32 weights, one row at a time, no TensorFlow.js. Tests use it to know
 * what a model file computes without asking the product.
 */

export type RefActivation = 'linear' | 'relu' | 'relu6' | 'leaky_relu' | 'sigmoid' | 'tanh' | 'softmax' | 'log_softmax';

export interface NetLayer {
  name: string;
  inputSize: number;
  units: number;
  /** [units][inputSize], row-major: row o holds the incoming weights of unit o (PyTorch's Linear layout). */
  w: Float32Array;
  bias: Float32Array | null;
  activation: RefActivation;
  /** Negative slope of leaky_relu. */
  alpha?: number;
}

export interface Net {
  inputShape: number[];
  inputSize: number;
  layers: NetLayer[];
}

/** Applies an activation to one row in place. */
export function activateRow(act: RefActivation, v: Float64Array, alpha = 0.2): void {
  switch (act) {
    case 'linear':
      return;
    case 'relu':
      for (let i = 0; i < v.length; i++) v[i] = v[i] > 0 ? v[i] : 0;
      return;
    case 'relu6':
      for (let i = 0; i < v.length; i++) v[i] = Math.min(6, v[i] > 0 ? v[i] : 0);
      return;
    case 'leaky_relu':
      for (let i = 0; i < v.length; i++) v[i] = v[i] >= 0 ? v[i] : alpha * v[i];
      return;
    case 'sigmoid':
      for (let i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-v[i]));
      return;
    case 'tanh':
      for (let i = 0; i < v.length; i++) v[i] = Math.tanh(v[i]);
      return;
    case 'softmax':
    case 'log_softmax': {
      let max = -Infinity;
      for (const x of v) max = Math.max(max, x);
      let sum = 0;
      for (const x of v) sum += Math.exp(x - max);
      for (let i = 0; i < v.length; i++) v[i] = act === 'softmax' ? Math.exp(v[i] - max) / sum : v[i] - max - Math.log(sum);
      return;
    }
  }
}

/** One layer on one row: bias + W x, then the activation (or none when `pre`). */
export function layerRow(l: NetLayer, x: ArrayLike<number>, pre = false): Float64Array {
  const out = new Float64Array(l.units);
  for (let o = 0; o < l.units; o++) {
    let s = l.bias ? l.bias[o] : 0;
    const row = o * l.inputSize;
    for (let i = 0; i < l.inputSize; i++) s += l.w[row + i] * x[i];
    out[o] = s;
  }
  if (!pre) activateRow(l.activation, out, l.alpha);
  return out;
}

/** Every layer's outputs (post-activation) for n rows of x: one [n, units] array per layer. */
export function forwardLayers(net: Net, x: ArrayLike<number>, n: number): Float64Array[] {
  const outs = net.layers.map((l) => new Float64Array(n * l.units));
  for (let r = 0; r < n; r++) {
    let h: Float64Array = new Float64Array(net.inputSize);
    for (let i = 0; i < net.inputSize; i++) h[i] = x[r * net.inputSize + i];
    net.layers.forEach((l, li) => {
      h = layerRow(l, h);
      outs[li].set(h, r * l.units);
    });
  }
  return outs;
}

/** The network's outputs for n rows of x, [n, units of the last layer]. */
export function forward(net: Net, x: ArrayLike<number>, n: number): Float64Array {
  const all = forwardLayers(net, x, n);
  return all[all.length - 1];
}

export function argmaxRow(v: ArrayLike<number>, start: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (v[start + j] > v[start + best]) best = j;
  return best;
}

/**
 * Accuracy and mean cross-entropy as a classifier: a softmax output used as it is, log_softmax
 * exponentiated, anything else through a softmax; probabilities clipped to [1e-7, 1] (Keras).
 */
export function accuracyAndLoss(net: Net, x: ArrayLike<number>, labels: ArrayLike<number>, n: number): { accuracy: number; loss: number } {
  const out = forward(net, x, n);
  const last = net.layers[net.layers.length - 1];
  const k = last.units;
  let correct = 0;
  let loss = 0;
  for (let r = 0; r < n; r++) {
    const row = Float64Array.from(out.subarray(r * k, (r + 1) * k));
    if (last.activation === 'log_softmax') for (let j = 0; j < k; j++) row[j] = Math.exp(row[j]);
    else if (last.activation !== 'softmax') activateRow('softmax', row);
    if (argmaxRow(row, 0, k) === labels[r]) correct++;
    loss -= Math.log(Math.min(1, Math.max(1e-7, row[labels[r]])));
  }
  return { accuracy: correct / n, loss: loss / n };
}

/** Layers in the kernel layout [inputSize, units] (Keras, tfjs, ONNX Gemm without transB). */
export function kernelOf(l: NetLayer): Float32Array {
  const k = new Float32Array(l.inputSize * l.units);
  for (let o = 0; o < l.units; o++) for (let i = 0; i < l.inputSize; i++) k[i * l.units + o] = l.w[o * l.inputSize + i];
  return k;
}
