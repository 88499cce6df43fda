import { countNonzero } from './count';

/**
 * The framework-neutral description every reader produces and every writer consumes.
 * Weights are kept in the Keras/tfjs kernel layout [inputSize, units], row-major, so that
 * row i holds the outgoing weights of input i and column j the incoming weights of unit j.
 */

export const ACTIVATIONS = ['linear', 'relu', 'relu6', 'leaky_relu', 'sigmoid', 'tanh', 'softmax', 'log_softmax'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export interface DenseLayer {
  name: string;
  inputSize: number;
  units: number;
  /** [inputSize, units] row-major. */
  weights: Float32Array;
  /** Length `units`, or null when the source had no bias. */
  bias: Float32Array | null;
  activation: Activation;
  /** Negative slope, only for leaky_relu. */
  alpha?: number;
  /** Dropout rate applied to this layer's output during training (0 or absent: none). */
  dropout?: number;
}

export type ModelFormatId = 'tfjs-layers' | 'tfjs-graph' | 'onnx' | 'safetensors' | 'pytorch' | 'keras';

export interface ModelSource {
  format: ModelFormatId;
  /** Absolute path of the file that was read. */
  path: string;
  /** Tool that wrote the file, when the file says (e.g. "pytorch 1.11", "TensorFlow.js tfjs-layers v1.3.2"). */
  producer?: string;
  /** Things a person should know about the reading, e.g. post-processing nodes left out. */
  notes: string[];
  /** Every file the model was read from (the model file first, then weights or external data). */
  files?: string[];
}

export interface MLP {
  name: string;
  /** Shape of one input sample as the source declares it (e.g. [1, 28, 28]); its product is inputSize. */
  inputShape: number[];
  inputSize: number;
  layers: DenseLayer[];
  source?: ModelSource;
}

export function parameterCount(layer: DenseLayer): number {
  return layer.weights.length + (layer.bias ? layer.bias.length : 0);
}

/** Share of exactly-zero parameters (weights and bias) of a layer. */
export function layerSparsity(layer: DenseLayer): number {
  const n = parameterCount(layer);
  const zeros = n - countNonzero(layer.weights) - (layer.bias ? countNonzero(layer.bias) : 0);
  return n === 0 ? 0 : zeros / n;
}

/** Checks the invariants readers and pruning must keep; throws with what is wrong. */
export function validateMLP(mlp: MLP): void {
  if (mlp.layers.length === 0) throw new Error(`model ${mlp.name} has no dense layers`);
  let size = mlp.inputSize;
  if (!mlp.inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new Error(`input shape [${mlp.inputShape}] has a dimension that is not a positive integer; an input needs at least one value`);
  }
  const shapeSize = mlp.inputShape.reduce((a, b) => a * b, 1);
  if (shapeSize !== mlp.inputSize) {
    throw new Error(`input shape [${mlp.inputShape}] does not hold ${mlp.inputSize} values`);
  }
  if (!Number.isSafeInteger(mlp.inputSize) || mlp.inputSize <= 0) {
    throw new Error(`input size ${mlp.inputSize}: an input needs at least one value`);
  }
  for (const [i, layer] of mlp.layers.entries()) {
    const which = `layer ${i + 1} of ${mlp.layers.length} '${layer.name}'`;
    if (!Number.isSafeInteger(layer.units) || layer.units <= 0) {
      throw new Error(`${which} has ${layer.units} units; a dense layer needs a whole number of units, at least one`);
    }
    if (layer.inputSize !== size) {
      throw new Error(`layer ${layer.name} takes ${layer.inputSize} inputs but receives ${size}`);
    }
    if (layer.weights.length !== layer.inputSize * layer.units) {
      throw new Error(`layer ${layer.name} has ${layer.weights.length} weights, expected ${layer.inputSize}x${layer.units}`);
    }
    if (layer.bias && layer.bias.length !== layer.units) {
      throw new Error(`layer ${layer.name} has ${layer.bias.length} biases, expected ${layer.units}`);
    }
    size = layer.units;
  }
}

export function outputSize(mlp: MLP): number {
  return mlp.layers[mlp.layers.length - 1].units;
}

export function cloneMLP(mlp: MLP): MLP {
  return {
    ...mlp,
    inputShape: [...mlp.inputShape],
    layers: mlp.layers.map((l) => ({
      ...l,
      weights: new Float32Array(l.weights),
      bias: l.bias ? new Float32Array(l.bias) : null,
    })),
    source: mlp.source ? { ...mlp.source, notes: [...mlp.source.notes] } : undefined,
  };
}
