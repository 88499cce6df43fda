import * as tf from '../tfjs';
import { layerActivations } from '../model/activations';
import { predict } from '../model/forward';
import type { MLP } from '../model/mlp';
import { blockCross, type DenseEngine, type ForwardOptions, type ForwardOutput, type MatMulTranspose, yieldToLoop } from './dense';

/** op(A) op(B) on the active tfjs backend (tfjs-backend-wasm after initBackend()). */
export function tfjsMatMul(A: Float32Array, B: Float32Array, m: number, k: number, n: number, trans: MatMulTranspose = {}): Float32Array {
  const c = tf.tidy(() => {
    // Transposed explicitly: tfjs-wasm's transposed-operand matmul kernels are slow.
    const a = tf.tensor2d(A.subarray(0, m * k), trans.a ? [k, m] : [m, k]);
    const b = tf.tensor2d(B.subarray(0, k * n), trans.b ? [n, k] : [k, n]);
    return tf.matMul(trans.a ? tf.transpose(a) : a, trans.b ? tf.transpose(b) : b);
  });
  try {
    return c.dataSync() as Float32Array;
  } finally {
    c.dispose();
  }
}

/** Today's tfjs code paths behind the DenseEngine interface. */
export function wasmEngine(note?: string): DenseEngine {
  return {
    name: 'wasm',
    note,
    matMul: tfjsMatMul,
    async gram(X, n, p) {
      await yieldToLoop();
      return blockCross(tfjsMatMul, X, n, p, X, p);
    },
    async cross(X, n, p, Y, q) {
      await yieldToLoop();
      return blockCross(tfjsMatMul, X, n, p, Y, q);
    },
    async forward(mlp: MLP, x: Float32Array, n: number, options: ForwardOptions = {}): Promise<ForwardOutput> {
      await yieldToLoop();
      const batch = options.batchSize ?? 2048;
      if (!options.activations) return { outputs: predict(mlp, x, n, batch) };
      const acts = layerActivations(mlp, x, n, { post: true, batchSize: batch }).map((a) => a.post!);
      return { outputs: acts[acts.length - 1], activations: acts };
    },
  };
}
