import * as tf from '../tfjs';
import { backendInfo, engineInfo } from '../backend';
import { onnxRuntime, ortMatMul } from '../engine/onnxruntime';
import { tfjsMatMul } from '../engine/wasm-engine';

/**
 * Where the large cross-products run. `float64`: the JS kernel in linalg.ts (float64 rounding
 * only, ~1.5 GMAC/s). `float32`: tfjs matMul on the active backend (XNNPACK under wasm, ~11
 * GMAC/s on one core), fed centred and power-of-two-scaled blocks of 1024 rows whose products are
 * summed in float64. `onnxruntime`: onnxruntime-node (MLAS with FMA; src/core/engine/onnxruntime.ts)
 * centres and multiplies blocks of 2048 rows, every product of a block in one session run
 * (CrossMoments.addOrt), summed in float64 as well; for the linear-CKA matrices it multiplies
 * representations that are near enough to centred as they are, up to 16,384 rows per run
 * (CrossMoments.addRaw). When it does not load, `float32` runs after a one-line note. Linear CKA from the float32 blocks differs from
 * float64 by at most 2e-6 on the MNIST activations of cka.test.ts and 6e-8 on the random networks
 * of the benchmark, on either multiplier. `auto` picks float32 when initBackend() chose a native
 * or wasm backend and the product is large, else float64 (the CKA matrices prefer onnxruntime:
 * see matrixEngine); the CCA family and NBS default to float64 (see cca.ts, nbs.ts).
 */
export type CrossProductEngine = 'auto' | 'float64' | 'float32' | 'onnxruntime';

/** Who multiplies the float32 blocks: tfjs (the wasm engine) or onnxruntime. */
export type Float32Multiplier = 'tfjs' | 'onnxruntime';

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

/**
 * The multiplier the next Float32Left uses; set by resolveEngine. Module state rather than a
 * parameter because CrossMoments builds its Float32Left blocks without naming an engine; a
 * resolution and the blocks it chose are made inside one synchronous add(), so they match.
 */
let multiplier: Float32Multiplier = 'tfjs';

export function float32Multiplier(): Float32Multiplier {
  return multiplier;
}

export function resolveEngine(engine: CrossProductEngine | undefined, workPerRow: number): 'float64' | 'float32' {
  if (engine === 'float64') return 'float64';
  if (engine === 'float32' || engine === 'onnxruntime') {
    // onnxruntime() writes the fallback note itself when the package does not load.
    multiplier = engine === 'onnxruntime' && onnxRuntime() ? 'onnxruntime' : 'tfjs';
    return 'float32';
  }
  if (workPerRow < AUTO_FLOAT32_WORK) return 'float64';
  multiplier = 'tfjs';
  return fastTfjsBackend() ? 'float32' : 'float64';
}

/**
 * What `auto` means for the CKA matrices (compare, analysis): onnxruntime when it loads and the
 * products are large. Single-pair metrics keep `auto` as above: there the Gram and the cross
 * product of X with itself come from the same tfjs kernel, bit for bit, so CKA(X, X) is exactly 1,
 * which onnxruntime's differently tiled kernels round to within ~3e-11 instead.
 */
export function matrixEngine(engine: CrossProductEngine | undefined, workPerRow: number): CrossProductEngine | undefined {
  // A process that chose its engine (--engine wasm, prunescope.engine) keeps the matrices on it too.
  const chosen = engineInfo()?.name;
  const allowed = chosen === undefined || chosen === 'onnxruntime';
  return (engine ?? 'auto') === 'auto' && workPerRow >= AUTO_FLOAT32_WORK && allowed && onnxRuntime() ? 'onnxruntime' : engine;
}

/** The engine a resolved choice really ran: float64, float32 (tfjs) or onnxruntime. */
export function engineThatRan(chosen: 'float64' | 'float32' | undefined): 'float64' | 'float32' | 'onnxruntime' | undefined {
  return chosen === 'float32' && multiplier === 'onnxruntime' ? 'onnxruntime' : chosen;
}

/**
 * A left factor A (m x k, row-major float32), kept for several right factors: uploaded once to
 * the tfjs backend, or handed to onnxruntime per product (its tensors wrap the same memory).
 * dispose() when done.
 */
export class Float32Left {
  private readonly a: tf.Tensor2D | undefined;
  private readonly onOrt: boolean;

  constructor(
    private readonly A: Float32Array,
    readonly m: number,
    readonly k: number,
  ) {
    this.onOrt = multiplier === 'onnxruntime' && onnxRuntime() !== undefined;
    this.a = this.onOrt ? undefined : tf.tensor2d(A, [m, k]);
  }

  /** A * B for B (k x n, row-major); returns m x n row-major. */
  times(B: Float32Array, n: number): Float32Array {
    if (!this.a) return ortMatMul(this.A, B, this.m, this.k, n) ?? tfjsMatMul(this.A, B, this.m, this.k, n);
    const a = this.a;
    const c = tf.tidy(() => tf.matMul(a, tf.tensor2d(B, [this.k, n])));
    try {
      return c.dataSync() as Float32Array;
    } finally {
      c.dispose();
    }
  }

  dispose(): void {
    this.a?.dispose();
  }
}
