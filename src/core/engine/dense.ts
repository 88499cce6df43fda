import type { MLP } from '../model/mlp';

/**
 * One interface for the dense work (issue 15): Gram matrices and cross products of activations,
 * and forward passes. `onnxruntime` runs them natively (MLAS, with FMA on AVX2/AVX-512 cores);
 * `wasm` is the tfjs code path PruneScope has always used, wrapped. Both multiply in float32.
 *
 * Rounding of gram/cross: the rows are cut into blocks of ROW_BLOCK; each block's product is
 * computed in float32 (the engine's kernel accumulates in float32 over at most ROW_BLOCK terms)
 * and the block results are summed in float64, as the float32 cross-product engine of
 * metrics/engine.ts does. The error therefore grows with the block, not with n: on MNIST
 * activations the Grams agree with float64 to about 1e-6 relative (see dense.test.ts).
 */
export type DenseEngineName = 'onnxruntime' | 'wasm';
export type DenseEnginePreference = 'auto' | DenseEngineName;
export const DENSE_ENGINE_PREFERENCES: readonly DenseEnginePreference[] = ['auto', 'onnxruntime', 'wasm'];

/** Rows per float32 block product. */
export const ROW_BLOCK = 1024;

export interface MatMulTranspose {
  a?: boolean;
  b?: boolean;
}

export interface ForwardOptions {
  /** Also return every layer's output after its activation (default false). */
  activations?: boolean;
  /** Rows per run (default 2048). */
  batchSize?: number;
}

export interface ForwardOutput {
  /** The network's outputs, row-major [n, output units]. */
  outputs: Float32Array;
  /** With `activations`: layer l's output after its activation, row-major [n, units_l]. */
  activations?: Float32Array[];
}

export interface DenseEngine {
  readonly name: DenseEngineName;
  /** Why a preferred engine was not used, when one was skipped. */
  readonly note?: string;
  /**
   * op(A) op(B) in float32, row-major; A is m x k (k x m with trans.a), B is k x n (n x k with
   * trans.b). Synchronous: the block kernel the other methods and the synchronous similarity
   * code are built on.
   */
  matMul(A: Float32Array, B: Float32Array, m: number, k: number, n: number, trans?: MatMulTranspose): Float32Array;
  /** X^T X (p x p, row-major) for X n x p row-major. */
  gram(X: Float32Array, n: number, p: number): Promise<Float64Array>;
  /** X^T Y (p x q, row-major) for X n x p and Y n x q, row-major, over the same rows. */
  cross(X: Float32Array, n: number, p: number, Y: Float32Array, q: number): Promise<Float64Array>;
  /** The network's outputs on n rows of x (and, when asked, every layer's activations). */
  forward(mlp: MLP, x: Float32Array, n: number, options?: ForwardOptions): Promise<ForwardOutput>;
}

/** X^T Y summed in float64 over float32 products of ROW_BLOCK-row blocks. */
export function blockCross(matMul: DenseEngine['matMul'], X: Float32Array, n: number, p: number, Y: Float32Array, q: number): Float64Array {
  const out = new Float64Array(p * q);
  for (let r0 = 0; r0 < n; r0 += ROW_BLOCK) {
    const kc = Math.min(ROW_BLOCK, n - r0);
    const c = matMul(X.subarray(r0 * p, (r0 + kc) * p), Y.subarray(r0 * q, (r0 + kc) * q), p, kc, q, { a: true });
    for (let e = 0; e < out.length; e++) out[e] += c[e];
  }
  return out;
}

/** Yields to the event loop so an async caller's other work (heartbeats, progress) can run. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
