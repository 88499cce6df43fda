import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../src/core/data/load';
import { readModel } from '../../src/core/formats/registry';
import { layerActivations } from '../../src/core/model/activations';
import type { Activation } from '../../src/core/model/mlp';
import { matrix, type Matrix } from '../../src/core/metrics/matrix';
import { seededRandom } from '../../src/core/random';
import { built } from './encode/models';

/** Helpers shared by the metrics tests (not used by the product code). */

export const rng = seededRandom;

export type Matrix64 = Matrix & { data: Float64Array };

export function gaussianMatrix(rows: number, cols: number, seed: number): Matrix64 {
  const u = rng(seed);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return { rows, cols, data };
}

/** A (rows x k) * B (k x cols), row-major, float64. */
export function multiply(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`cannot multiply ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k];
      for (let j = 0; j < b.cols; j++) out[i * b.cols + j] += v * b.data[k * b.cols + j];
    }
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

/** A random p x p orthogonal matrix (Gram-Schmidt on Gaussian columns, done twice for accuracy). */
export function orthogonal(p: number, seed: number): Matrix {
  const g = gaussianMatrix(p, p, seed);
  const cols: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    const v = new Float64Array(p);
    for (let i = 0; i < p; i++) v[i] = g.data[i * p + j];
    for (let pass = 0; pass < 2; pass++) {
      for (const c of cols) {
        let d = 0;
        for (let i = 0; i < p; i++) d += c[i] * v[i];
        for (let i = 0; i < p; i++) v[i] -= d * c[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < p; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < p; i++) v[i] /= norm;
    cols.push(v);
  }
  const data = new Float64Array(p * p);
  for (let j = 0; j < p; j++) for (let i = 0; i < p; i++) data[i * p + j] = cols[j][i];
  return { rows: p, cols: p, data };
}

export function scaled(m: Matrix, f: number): Matrix {
  return { rows: m.rows, cols: m.cols, data: Float64Array.from(m.data, (v) => v * f) };
}

/** Columns of a and b side by side. */
export function hstack(...ms: Matrix[]): Matrix {
  const rows = ms[0].rows;
  const cols = ms.reduce((s, m) => s + m.cols, 0);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    let o = 0;
    for (const m of ms) {
      for (let j = 0; j < m.cols; j++) data[i * cols + o + j] = m.data[i * m.cols + j];
      o += m.cols;
    }
  }
  return { rows, cols, data };
}

export function constantColumns(rows: number, values: number[]): Matrix {
  const data = new Float64Array(rows * values.length);
  for (let i = 0; i < rows; i++) values.forEach((v, j) => (data[i * values.length + j] = v));
  return { rows, cols: values.length, data };
}

export function columns(m: Matrix, idx: number[]): Matrix {
  const data = new Float64Array(m.rows * idx.length);
  for (let i = 0; i < m.rows; i++) idx.forEach((j, k) => (data[i * idx.length + k] = m.data[i * m.cols + j]));
  return { rows: m.rows, cols: idx.length, data };
}

export interface MnistActivations {
  /** MNIST test images, pixels in [0, 1]. */
  input: Matrix;
  /** Post-activation outputs of the three Gemm layers of the built mnist2x10.onnx (10 units each). */
  layers: Matrix[];
  activations: Activation[];
}

const cache = new Map<number, Promise<MnistActivations>>();

/**
 * Real activations: the first n MNIST test images through the encoder kit's mnist2x10.onnx
 * (784 -> 10 relu -> 10 relu -> 10 linear; three first-layer units and one second-layer unit never
 * fire, as in the PyTorch export it stands in for). Call initBackend() first.
 */
export function mnistActivations(n: number): Promise<MnistActivations> {
  let p = cache.get(n);
  if (!p) {
    p = (async () => {
      const mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
      const test = (await loadDataset('mnist')).test!;
      const x = test.x.subarray(0, n * test.features);
      const acts = layerActivations(mlp, x, n);
      return {
        input: { rows: n, cols: test.features, data: x },
        layers: acts.map((a) => ({ rows: n, cols: a.units, data: a.post! })),
        activations: mlp.layers.map((l) => l.activation),
      };
    })();
    cache.set(n, p);
  }
  return p;
}

/** The central size x size pixels of 28 x 28 images: an input representation small enough for O(p^3) metrics. */
export function centralPixels(input: Matrix, size = 8): Matrix {
  const start = 14 - size / 2;
  const idx: number[] = [];
  for (let r = start; r < start + size; r++) for (let c = start; c < start + size; c++) idx.push(r * 28 + c);
  return columns(input, idx);
}

export interface ReferenceCase {
  name: string;
  x: Matrix;
  y: Matrix;
  [value: string]: unknown;
}

/** Cases and values from testdata/reference.py (independent NumPy implementations). */
export function referenceCases(): ReferenceCase[] {
  const raw = JSON.parse(readFileSync(join(__dirname, '..', '..', 'src', 'core', 'metrics', 'testdata', 'reference.json'), 'utf8')) as {
    cases: { x: { rows: number; cols: number; data: number[] }; y: { rows: number; cols: number; data: number[] } }[];
  };
  return raw.cases.map((c) => ({
    ...c,
    x: { ...c.x, data: Float64Array.from(c.x.data) },
    y: { ...c.y, data: Float64Array.from(c.y.data) },
  })) as ReferenceCase[];
}

export function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: got ${actual}, expected ${expected} (tolerance ${tol}, off by ${Math.abs(actual - expected)})`,
  );
}

/** A small float64 matrix from row-major values, for hand-worked cases. */
export const m64 = (rows: number, cols: number, values: number[]): Matrix => matrix(Float64Array.from(values), rows, cols);

/**
 * The activations the reference-code tests share (testdata/README-pwcca.md, README-cka.md): the
 * first 500 validation rows through mnist2x10.onnx (a), the same model with each layer's weights
 * below its median |w| set to zero (b), and mnist2x5_sigmoid.onnx (c); `aN` is layer N after its
 * activation.
 */
export async function referenceActivations(): Promise<Map<string, Matrix>> {
  const val = (await loadDataset('mnist')).validation!;
  const n = 500;
  const x = val.x.subarray(0, n * val.features);
  const a = await readModel(built('onnx', 'mnist2x10.onnx'));
  const b = await readModel(built('onnx', 'mnist2x10.onnx'));
  for (const l of b.layers) {
    const cut = Float32Array.from(l.weights, Math.abs).sort()[Math.floor(l.weights.length / 2)];
    l.weights.forEach((w, i) => Math.abs(w) < cut && (l.weights[i] = 0));
  }
  const c = await readModel(built('onnx', 'mnist2x5_sigmoid.onnx'));
  const acts = new Map<string, Matrix>();
  for (const [k, mlp] of [
    ['a', a],
    ['b', b],
    ['c', c],
  ] as const) {
    layerActivations(mlp, x, n).forEach((h, i) => acts.set(`${k}${i}`, { rows: n, cols: h.units, data: h.post! }));
  }
  return acts;
}

/** X X^T (rows x rows, row-major) for X rows x cols, row-major, by one plain float64 dot product per entry. */
export function plainRowGram(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let t = 0;
      for (let u = 0; u < cols; u++) t += x[i * cols + u] * x[j * cols + u];
      out[i * rows + j] = t;
    }
  }
  return out;
}
