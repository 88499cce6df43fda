import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend';

/**
 * Where the large cross-products run. `float64`: the JS kernel in linalg.ts (float64 rounding
 * only, ~1.5 GMAC/s). `float32`: tfjs matMul on the active backend (XNNPACK under wasm, ~11
 * GMAC/s on one core), fed centred and power-of-two-scaled blocks of 1024 rows whose products are
 * summed in float64. Linear CKA from it differs from float64 by at most 2e-6 on the MNIST
 * activations of cka.test.ts and 6e-8 on the random networks of the benchmark. `auto` picks
 * float32 only when initBackend() chose a native or wasm backend and the product is large; the
 * CCA family and NBS default to float64 (see cca.ts, nbs.ts).
 */
export type CrossProductEngine = 'auto' | 'float64' | 'float32';

/** Multiply-adds per sample row below which float64 is used even when tfjs is fast. */
const AUTO_FLOAT32_WORK = 40_000;

export function fastTfjsBackend(): boolean {
  try {
    const name = backendInfo().name;
    return (name === 'wasm' || name === 'tensorflow') && tf.getBackend() === name;
  } catch {
    return false;
  }
}

export function resolveEngine(engine: CrossProductEngine | undefined, workPerRow: number): 'float64' | 'float32' {
  if (engine === 'float64' || engine === 'float32') return engine;
  return workPerRow >= AUTO_FLOAT32_WORK && fastTfjsBackend() ? 'float32' : 'float64';
}

/**
 * A left factor A (m x k, row-major float32) uploaded once to the tfjs backend, to be multiplied
 * by several right factors. dispose() when done.
 */
export class Float32Left {
  private readonly a: tf.Tensor2D;

  constructor(
    A: Float32Array,
    readonly m: number,
    readonly k: number,
  ) {
    this.a = tf.tensor2d(A, [m, k]);
  }

  /** A * B for B (k x n, row-major); returns m x n row-major. */
  times(B: Float32Array, n: number): Float32Array {
    const c = tf.tidy(() => tf.matMul(this.a, tf.tensor2d(B, [this.k, n])));
    try {
      return c.dataSync() as Float32Array;
    } finally {
      c.dispose();
    }
  }

  dispose(): void {
    this.a.dispose();
  }
}
