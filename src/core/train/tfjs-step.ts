import * as tf from '../tfjs';
import type { Dataset } from '../data/dataset';
import { Adam } from './adam';
import { batchMetrics, type Gradients, logits, lossAndGradients, type Params } from './backprop';
import { type FlatLayout, flatLayout, initialParams, type Stepper, type StepperSetup } from './stepper';

/** float32 one-hot rows (the wasm OneHot kernel ignores a float32 dtype and writes int32 bits). */
function oneHot(labels: tf.Tensor1D, classes: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D;
}

/**
 * Training steps on TensorFlow.js (the active backend: wasm, tfjs-node or cpu). The parameters,
 * Adam's moments and the epoch's running totals stay on the backend; only the totals are read
 * back, once per epoch.
 */
export class TfjsStepper implements Stepper {
  readonly engine: string;
  private tensors: tf.Tensor[];
  private readonly layout: FlatLayout;
  private readonly masks: (tf.Tensor | null)[];
  private readonly adam: Adam;
  private readonly classes: number;
  private totals: tf.Tensor;

  constructor(
    private readonly setup: StepperSetup,
    engine: string,
  ) {
    const { mlp } = setup;
    this.engine = engine;
    this.layout = flatLayout(mlp);
    const shapes = mlp.layers.flatMap((l) => (l.bias ? [[l.inputSize, l.units], [l.units]] : [[l.inputSize, l.units]]));
    this.tensors = initialParams(mlp, setup.masks).map((v, i) => tf.tensor(v, shapes[i]));
    this.masks = this.tensors.map(() => null);
    setup.masks.forEach((m, i) => {
      if (m) this.masks[this.layout.kernelIndex[i]] = tf.tensor2d(m, [mlp.layers[i].inputSize, mlp.layers[i].units]);
    });
    this.adam = new Adam(setup.adam, shapes);
    this.classes = mlp.layers[mlp.layers.length - 1].units;
    this.totals = tf.zeros([2]);
  }

  private get current(): Params {
    return {
      kernels: this.layout.kernelIndex.map((i) => this.tensors[i] as tf.Tensor2D),
      biases: this.layout.biasIndex.map((i) => (i === null ? null : (this.tensors[i] as tf.Tensor1D))),
    };
  }

  step(x: Float32Array, labels: Int32Array, rows: number, dropout: (Float32Array | null)[]): void {
    const { mlp, specs } = this.setup;
    const features = mlp.inputSize;
    const next = tf.tidy(() => {
      const xb = tf.tensor2d(x.subarray(0, rows * features), [rows, features]);
      const lb = tf.tensor1d(labels.subarray(0, rows), 'int32');
      const masks = dropout.map((m, l) => (m ? tf.tensor2d(m.subarray(0, rows * mlp.layers[l].units), [rows, mlp.layers[l].units]) : null));
      const r = lossAndGradients(specs, this.current, xb, oneHot(lb, this.classes), lb, masks);
      const updated = this.adam.update(this.tensors, this.penalized(r.grads), this.masks);
      return { updated, totals: tf.keep(tf.add(this.totals, tf.stack([r.lossSum, r.correct]))) };
    });
    tf.dispose(this.tensors);
    this.totals.dispose();
    this.tensors = next.updated;
    this.totals = next.totals;
  }

  /** The gradients in flat order, each kernel's with its L2 and L1 penalty added. */
  private penalized(g: Gradients): tf.Tensor[] {
    const grads = new Array<tf.Tensor>(this.tensors.length);
    const { l1, l2 } = this.setup;
    g.kernels.forEach((k, l) => {
      const w = this.tensors[this.layout.kernelIndex[l]];
      let total: tf.Tensor = k;
      if (l2 > 0) total = tf.add(total, tf.mul(w, 2 * l2));
      if (l1 > 0) total = tf.add(total, tf.mul(tf.sign(w), l1));
      grads[this.layout.kernelIndex[l]] = total;
    });
    g.biases.forEach((b, l) => {
      if (b) grads[this.layout.biasIndex[l] as number] = b;
    });
    return grads;
  }

  takeTotals(): [number, number] {
    const [lossSum, correct] = this.totals.dataSync();
    this.totals.dispose();
    this.totals = tf.zeros([2]);
    return [lossSum, correct];
  }

  /** Mean cross-entropy and accuracy of the logits, in batches of 1024; one download at the end. */
  validate(data: Dataset, y: Int32Array): { loss: number; accuracy: number } {
    const { n, features } = data;
    let acc = tf.zeros([2]);
    for (let start = 0; start < n; start += 1024) {
      const end = Math.min(n, start + 1024);
      const next = tf.tidy(() => {
        const xb = tf.tensor2d(data.x.subarray(start * features, end * features), [end - start, features]);
        const lb = tf.tensor1d(y.subarray(start, end), 'int32');
        const { lossSum, correct } = batchMetrics(logits(this.setup.specs, this.current, xb), oneHot(lb, this.classes), lb);
        return tf.add(acc, tf.stack([lossSum, correct]));
      });
      acc.dispose();
      acc = next;
    }
    const [lossSum, correct] = acc.dataSync();
    acc.dispose();
    return { loss: lossSum / n, accuracy: correct / n };
  }

  params(): Float32Array[] {
    return this.tensors.map((t) => new Float32Array(t.dataSync() as Float32Array));
  }

  dispose(): void {
    tf.dispose([...this.tensors, ...this.masks.filter((m): m is tf.Tensor => m !== null), this.totals]);
    this.adam.dispose();
  }
}
