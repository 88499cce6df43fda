import { countNonzero } from './count';
import { layerSparsity, parameterCount, type MLP } from './mlp';

export interface WeightStats {
  mean: number;
  std: number;
  min: number;
  max: number;
  meanAbs: number;
}

export interface LayerSummary {
  index: number;
  name: string;
  inputSize: number;
  units: number;
  activation: string;
  hasBias: boolean;
  dropout: number;
  parameters: number;
  /** Share of exactly-zero weights and biases. */
  sparsity: number;
  zeroWeights: number;
  weights: WeightStats;
  bias: WeightStats | null;
}

export interface ModelSummary {
  name: string;
  format: string;
  producer: string | null;
  path: string | null;
  inputShape: number[];
  inputSize: number;
  outputSize: number;
  parameters: number;
  sparsity: number;
  layers: LayerSummary[];
  notes: string[];
}

function stats(values: Float32Array): WeightStats {
  if (values.length === 0) return { mean: 0, std: 0, min: 0, max: 0, meanAbs: 0 };
  // Float64 sums: a million float32 additions drift visibly otherwise. An indexed loop:
  // `for...of` over a typed array ran 5x slower here (see count.ts).
  let sum = 0;
  let sumSq = 0;
  let sumAbs = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    sum += v;
    sumSq += v * v;
    sumAbs += Math.abs(v);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(Math.max(0, sumSq / values.length - mean * mean)), min, max, meanAbs: sumAbs / values.length };
}

export function summarizeModel(mlp: MLP): ModelSummary {
  const layers = mlp.layers.map((l, index): LayerSummary => {
    const zeroWeights = l.weights.length - countNonzero(l.weights);
    return {
      index,
      name: l.name,
      inputSize: l.inputSize,
      units: l.units,
      activation: l.activation === 'leaky_relu' ? `leaky_relu(${l.alpha ?? 0.01})` : l.activation,
      hasBias: l.bias !== null,
      dropout: l.dropout ?? 0,
      parameters: parameterCount(l),
      sparsity: layerSparsity(l),
      zeroWeights,
      weights: stats(l.weights),
      bias: l.bias ? stats(l.bias) : null,
    };
  });
  const parameters = layers.reduce((a, l) => a + l.parameters, 0);
  const zeros = layers.reduce((a, l) => a + l.sparsity * l.parameters, 0);
  return {
    name: mlp.name,
    format: mlp.source?.format ?? 'memory',
    producer: mlp.source?.producer ?? null,
    path: mlp.source?.path ?? null,
    inputShape: mlp.inputShape,
    inputSize: mlp.inputSize,
    outputSize: mlp.layers[mlp.layers.length - 1].units,
    parameters,
    sparsity: parameters === 0 ? 0 : zeros / parameters,
    layers,
    notes: mlp.source?.notes ?? [],
  };
}
