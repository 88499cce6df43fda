import * as tf from '../tfjs';
import type { Activation, DenseLayer, MLP } from './mlp';

export function applyActivation(x: tf.Tensor2D, activation: Activation, alpha = 0.01): tf.Tensor2D {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'leaky_relu':
      return tf.leakyRelu(x, alpha);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x);
    case 'log_softmax':
      return tf.logSoftmax(x);
  }
}

/** Weights and biases of an MLP as tensors; dispose() when done. */
export interface MLPTensors {
  kernels: tf.Tensor2D[];
  biases: (tf.Tensor1D | null)[];
  dispose(): void;
}

export function mlpTensors(mlp: MLP): MLPTensors {
  const kernels = mlp.layers.map((l) => tf.tensor2d(l.weights, [l.inputSize, l.units]));
  const biases = mlp.layers.map((l) => (l.bias ? tf.tensor1d(l.bias) : null));
  return {
    kernels,
    biases,
    dispose() {
      tf.dispose([...kernels, ...biases.filter((b): b is tf.Tensor1D => b !== null)]);
    },
  };
}

/** One dense layer before its activation. */
export function denseLinear(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor2D {
  const y = tf.matMul<tf.Tensor2D>(x, kernel);
  return bias ? tf.add<tf.Tensor2D>(y, bias) : y;
}

/** Outputs of the whole network (after the last activation) for a batch x of shape [b, inputSize]. */
export function forward(mlp: MLP, t: MLPTensors, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    let h = x;
    mlp.layers.forEach((layer: DenseLayer, i) => {
      h = applyActivation(denseLinear(h, t.kernels[i], t.biases[i]), layer.activation, layer.alpha);
    });
    return h;
  });
}

/**
 * Runs the network over n rows of x in batches, so memory stays bounded, and returns the
 * outputs as one row-major Float32Array [n, outputSize].
 */
export function predict(mlp: MLP, x: Float32Array, n: number, batchSize = 1000): Float32Array {
  const inSize = mlp.inputSize;
  const outSize = mlp.layers[mlp.layers.length - 1].units;
  const out = new Float32Array(n * outSize);
  const t = mlpTensors(mlp);
  try {
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const y = tf.tidy(() => forward(mlp, t, tf.tensor2d(x.subarray(start * inSize, end * inSize), [end - start, inSize])));
      out.set(y.dataSync(), start * outSize);
      y.dispose();
    }
  } finally {
    t.dispose();
  }
  return out;
}
