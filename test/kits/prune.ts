import { makeDataset, type Dataset } from '../../src/core/data/dataset';
import { getSplit, loadDataset } from '../../src/core/data/load';
import type { Activation, DenseLayer, MLP } from '../../src/core/model/mlp';
import { seededRandom } from '../../src/core/prune/rng';

/** Helpers shared by the pruning tests and the benchmark (not used by the product code). */

/** A random MLP: Glorot-uniform weights, biases uniform in [-biasScale, biasScale] (default 0.1). */
export function randomMLP(sizes: number[], activations: Activation | Activation[], seed = 1, biasScale = 0.1): MLP {
  const next = seededRandom(seed);
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inputSize = sizes[l];
    const units = sizes[l + 1];
    const limit = Math.sqrt(6 / (inputSize + units));
    const weights = Float32Array.from({ length: inputSize * units }, () => (2 * next() - 1) * limit);
    const bias = Float32Array.from({ length: units }, () => (2 * next() - 1) * biasScale);
    const activation = Array.isArray(activations) ? activations[l] : l + 2 === sizes.length ? 'linear' : activations;
    layers.push({ name: `dense_${l}`, inputSize, units, weights, bias, activation });
  }
  return { name: `random-${sizes.join('-')}`, inputShape: [sizes[0]], inputSize: sizes[0], layers };
}

/** The first `count` rows of an MNIST split (unit-normalised, as loadDataset gives them). */
export async function mnistRows(count: number, split: 'train' | 'validation' | 'test' = 'validation'): Promise<Dataset> {
  const ds = getSplit(await loadDataset('mnist'), split);
  const n = Math.min(count, ds.n);
  return makeDataset(`${ds.source}[0:${n}]`, ds.x.slice(0, n * ds.features), ds.y ? ds.y.slice(0, n) : null, ds.sampleShape);
}

/** Outputs with shared structure: a few latent factors mixed per column plus noise, varied scales. */
export function correlatedOutputs(n: number, p: number, seed: number, factors = 8): Float32Array {
  const next = seededRandom(seed);
  const lat = Float64Array.from({ length: n * factors }, () => next() - 0.5);
  const mix = Float64Array.from({ length: factors * p }, () => next() - 0.5);
  const z = new Float32Array(n * p);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let q = 0; q < factors; q++) s += lat[r * factors + q] * mix[q * p + j];
      z[r * p + j] = s * (1 + (j % 5)) + 0.3 * (next() - 0.5);
    }
  }
  return z;
}

/** A dense layer with hand-written weights ([in, out] row-major) and a zero bias. */
export function handLayer(name: string, inputSize: number, units: number, weights: number[], activation: Activation = 'relu'): DenseLayer {
  return { name, inputSize, units, weights: Float32Array.from(weights), bias: new Float32Array(units), activation };
}

/** An MLP of hand-written layers (the input size is the first layer's). */
export function handMLP(name: string, layers: DenseLayer[]): MLP {
  return { name, inputShape: [layers[0].inputSize], inputSize: layers[0].inputSize, layers };
}

/** How many weights a mask prunes (0 for an untouched layer). */
export function zeroCount(mask: Uint8Array | null): number {
  return mask ? mask.reduce((a, m) => a + (m === 0 ? 1 : 0), 0) : 0;
}

/** Largest |a - b| over two arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
