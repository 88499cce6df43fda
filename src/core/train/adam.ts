import * as tf from '../tfjs';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Keras' defaults except the learning rate, which Keras also defaults to 1e-3. */
export const KERAS_ADAM: AdamConfig = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

/** Keras' Adam step size at step t (1-based), both bias corrections folded in. */
export function adamAlpha(config: AdamConfig, t: number): number {
  return (config.learningRate * Math.sqrt(1 - config.beta2 ** t)) / (1 - config.beta1 ** t);
}

/**
 * Adam exactly as Keras applies it (keras.optimizers.Adam, amsgrad off):
 *   m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
 *   w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 * (tf.train.adam puts epsilon inside the bias correction, which differs slightly.)
 * Tensors are replaced, not assigned: plain tensors cost less than Variables here.
 */
export class Adam {
  /** Steps taken so far (Keras' `iterations`). */
  step = 0;
  m: tf.Tensor[];
  v: tf.Tensor[];

  constructor(
    readonly config: AdamConfig,
    shapes: number[][],
  ) {
    this.m = shapes.map((s) => tf.zeros(s));
    this.v = shapes.map((s) => tf.zeros(s));
  }

  /**
   * New parameters for one step. The new parameters, m and v are kept out of any enclosing
   * tf.tidy; the previous m and v are disposed, the previous parameters are the caller's.
   * `masks[i]` (or null) is multiplied into parameter i after the step so pruned weights stay 0.
   */
  update(params: tf.Tensor[], grads: tf.Tensor[], masks: (tf.Tensor | null)[] = []): tf.Tensor[] {
    const { beta1, beta2, epsilon } = this.config;
    this.step++;
    const alpha = adamAlpha(this.config, this.step);
    return params.map((p, i) => {
      const g = grads[i];
      const m = tf.keep(tf.add(this.m[i], tf.mul(tf.sub(g, this.m[i]), 1 - beta1)));
      const v = tf.keep(tf.add(this.v[i], tf.mul(tf.sub(tf.square(g), this.v[i]), 1 - beta2)));
      let w = tf.sub(p, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(v), epsilon)));
      const mask = masks[i];
      if (mask) w = tf.mul(w, mask);
      this.m[i].dispose();
      this.v[i].dispose();
      this.m[i] = m;
      this.v[i] = v;
      return tf.keep(w);
    });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}
