/**
 * The Keras layer chain: the shared one (topology.ts) with its arrays from an HDF5 file, plus
 * BatchNormalization, which is folded into a Dense layer. At inference BatchNormalization is
 * y = s*x + t per feature, s = gamma / sqrt(moving_variance + epsilon), t = beta - s*moving_mean.
 * After a Dense layer whose activation is still to come it folds into that layer's columns;
 * after an activation (or on the input) it folds into the rows of the next Dense layer.
 */
import { ModelFormatError } from '../../errors';
import type { DenseLayer } from '../../model/mlp';
import { preview } from '../tfjs/weights';
import type { H5Array } from './h5';
import { LayerChain, where, type KerasLayer, type KernelRef, type ParsedActivation, type Src } from './topology';
import type { WeightSource } from './weights';

/** A per-feature affine map y = s*x + t waiting for the next Dense layer. */
interface Affine {
  s: Float64Array;
  t: Float64Array;
  /** The BatchNormalization layers it comes from, for messages. */
  from: string[];
}

/** The roles of a Dense layer's variables, in Keras's order. */
export function denseRoles(l: KerasLayer): string[] {
  return l.config.use_bias === false ? ['kernel'] : ['kernel', 'bias'];
}

/** The roles of a BatchNormalization layer's variables, in Keras's order. */
export function batchNormRoles(l: KerasLayer): string[] {
  const roles: string[] = [];
  if (l.config.scale !== false) roles.push('gamma');
  if (l.config.center !== false) roles.push('beta');
  return [...roles, 'moving_mean', 'moving_variance'];
}

export class KerasChain extends LayerChain {
  private readonly cache = new Map<KerasLayer, Map<string, H5Array>>();
  private pending: Affine | undefined;
  /** How arrays not stored as float32 were stored ("float64 (converted to float32)"). */
  private readonly converted = new Set<string>();

  constructor(
    src: Src,
    notes: string[],
    shape: number[] | undefined,
    private readonly weights: WeightSource,
  ) {
    super(src, notes, shape);
  }

  private arraysOf(l: KerasLayer, roles: string[]): Map<string, H5Array> {
    let arrays = this.cache.get(l);
    if (!arrays) {
      arrays = this.weights.arrays(l, roles);
      this.cache.set(l, arrays);
    }
    return arrays;
  }

  private fail(l: KerasLayer, problem: string): never {
    throw new ModelFormatError(this.src.file, this.src.label, problem, where(l));
  }

  private checked(l: KerasLayer, a: H5Array, shape: number[]): Float32Array {
    if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
      this.fail(l, `weight ${a.path} has shape [${a.shape}]; expected [${shape}]`);
    }
    if (a.dtype !== 'float32') this.converted.add(a.dtype);
    return a.values;
  }

  protected override kernelOf(l: KerasLayer): KernelRef {
    const kernel = this.arraysOf(l, denseRoles(l)).get('kernel')!;
    if (kernel.shape.length !== 2) this.fail(l, `kernel ${kernel.path} has shape [${kernel.shape}]; expected [inputs, units]`);
    return { name: kernel.path, shape: kernel.shape };
  }

  protected override kernelValues(l: KerasLayer, _kernel: KernelRef, shape: [number, number]): Float32Array {
    return this.checked(l, this.arraysOf(l, denseRoles(l)).get('kernel')!, shape);
  }

  protected override biasValues(l: KerasLayer, units: number): Float32Array {
    return this.checked(l, this.arraysOf(l, denseRoles(l)).get('bias')!, [units]);
  }

  protected override addDense(l: KerasLayer): void {
    const pending = this.pending;
    this.pending = undefined;
    super.addDense(l);
    if (pending) this.foldIntoRows(this.dense[this.dense.length - 1], pending);
  }

  protected override applyActivation(l: KerasLayer, act: ParsedActivation): void {
    if (act.activation !== 'linear' && this.pending) {
      this.fail(
        l,
        `activation ${act.activation} follows BatchNormalization '${this.pending.from.join("', '")}', which comes after an activation; it cannot be folded into a Dense layer`,
      );
    }
    super.applyActivation(l, act);
  }

  protected override addOther(l: KerasLayer): void {
    if (l.className === 'BatchNormalization') this.addBatchNorm(l);
  }

  override finish(): DenseLayer[] {
    if (this.pending) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `BatchNormalization '${this.pending.from.join("', '")}' comes after the last Dense layer's activation; it cannot be folded into a Dense layer`,
      );
    }
    if (this.converted.size > 0) this.notes.push(`some weights are stored as ${[...this.converted].join(', ')}`);
    return super.finish();
  }

  private addBatchNorm(l: KerasLayer): void {
    const arrays = this.arraysOf(l, batchNormRoles(l));
    const mean = arrays.get('moving_mean')!;
    if (!this.shape) {
      this.shape = [mean.shape[0] ?? 0];
      this.inputShape = this.inputShape ?? [...this.shape];
      this.notes.push(`the model does not declare its input shape; [${this.shape}] was taken from '${mean.path}'`);
    }
    if (this.shape.length !== 1) {
      this.fail(l, `BatchNormalization of a [${this.shape}] tensor is not supported (only of the flat features a Dense layer takes)`);
    }
    const axis = Array.isArray(l.config.axis) && l.config.axis.length === 1 ? (l.config.axis[0] as unknown) : (l.config.axis ?? -1);
    if (axis !== -1 && axis !== 1) this.fail(l, `axis ${preview(l.config.axis)} is not supported (only the feature axis, -1)`);
    const eps = l.config.epsilon ?? 1e-3;
    if (typeof eps !== 'number' || !(eps >= 0)) this.fail(l, `epsilon ${preview(l.config.epsilon)} is not a number >= 0`);
    const affine = this.affineOf(l, arrays, this.shape[0], eps);
    const last = this.dense[this.dense.length - 1];
    if (last && this.canFold) {
      this.foldIntoColumns(last, affine);
      this.notes.push(`BatchNormalization '${l.name}' was folded into Dense '${last.name}'`);
    } else if (this.pending) {
      // Two in a row: s2*(s1*x + t1) + t2.
      const p = this.pending;
      for (let i = 0; i < p.s.length; i++) {
        p.t[i] = affine.s[i] * p.t[i] + affine.t[i];
        p.s[i] *= affine.s[i];
      }
      p.from.push(l.name);
    } else {
      this.pending = affine;
    }
  }

  private affineOf(l: KerasLayer, arrays: Map<string, H5Array>, n: number, eps: number): Affine {
    const values = (role: string): Float32Array | undefined => {
      const a = arrays.get(role);
      return a ? this.checked(l, a, [n]) : undefined;
    };
    const gamma = values('gamma');
    const beta = values('beta');
    const mean = values('moving_mean')!;
    const variance = values('moving_variance')!;
    const s = new Float64Array(n);
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!(variance[i] + eps > 0)) this.fail(l, `moving_variance[${i}] + epsilon is ${variance[i] + eps}; it must be positive`);
      s[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
      t[i] = (beta ? beta[i] : 0) - s[i] * mean[i];
    }
    return { s, t, from: [l.name] };
  }

  /** y = s*(xW + b) + t: scales column j of W and its bias. */
  private foldIntoColumns(layer: DenseLayer, a: Affine): void {
    const { inputSize, units, weights } = layer;
    for (let i = 0; i < inputSize; i++) {
      for (let j = 0; j < units; j++) weights[i * units + j] *= a.s[j];
    }
    const bias = layer.bias ?? new Float32Array(units);
    for (let j = 0; j < units; j++) bias[j] = a.s[j] * bias[j] + a.t[j];
    layer.bias = bias;
  }

  /** (s*x + t)W + b = x(diag(s)W) + (tW + b): scales row i of W, adds t through W to the bias. */
  private foldIntoRows(layer: DenseLayer, a: Affine): void {
    const { inputSize, units, weights } = layer;
    if (a.s.length !== inputSize) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `BatchNormalization '${a.from.join("', '")}' has ${a.s.length} features but Dense '${layer.name}' takes ${inputSize}`,
      );
    }
    const shift = new Float64Array(units);
    if (layer.bias) for (let j = 0; j < units; j++) shift[j] = layer.bias[j];
    for (let i = 0; i < inputSize; i++) {
      for (let j = 0; j < units; j++) {
        const w = weights[i * units + j];
        shift[j] += a.t[i] * w;
        weights[i * units + j] = w * a.s[i];
      }
    }
    layer.bias = Float32Array.from(shift);
    this.notes.push(`BatchNormalization '${a.from.join("', '")}' was folded into the inputs of Dense '${layer.name}'`);
  }
}
