import { ModelFormatError } from '../../errors';
import { naturalCompare } from '../safetensors/safetensors';
import { LABEL } from './container';
import { printable } from './pickle';
import type { LinearGroup, NormGroup } from './state-dict';
import { tensorValues } from './tensors';

/**
 * BatchNorm1d layers of a state dict, folded into the Linear layer they follow. In evaluation
 * mode BatchNorm1d computes y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, an
 * affine map per feature, so Linear then BatchNorm1d is one Linear layer:
 * W' = W * s, b' = (b - running_mean) * s + bias, with s = weight / sqrt(running_var + eps).
 * A state dict stores neither eps (PyTorch's default 1e-5 is used) nor where the activation sits;
 * Linear -> BatchNorm1d -> activation, the usual order, is assumed. A BatchNorm1d before the first
 * Linear layer (normalising the input) is folded into that layer's inputs instead.
 */

export const BATCHNORM_EPS = 1e-5;

export interface Attached {
  /** The BatchNorm1d that follows each Linear layer, if any. */
  after: Map<LinearGroup, NormGroup>;
  /** A BatchNorm1d of the input, before the first Linear layer. */
  input?: NormGroup;
}

const numbered = (prefix: string) => {
  const m = /^(.*?)([A-Za-z_]+)_?(\d+)$/.exec(prefix);
  return m ? { parent: m[1], word: m[2], n: m[3] } : undefined;
};

/** The Linear layer `norm` follows, by the clearest evidence there is; undefined when none tells. */
function linearBefore(norm: NormGroup, free: LinearGroup[], all: (LinearGroup | NormGroup)[]): LinearGroup | undefined {
  const fits = (g: LinearGroup | NormGroup | undefined) => free.find((l) => l === g);
  // "bn1" goes with "fc1": the same parent, the same number, another word.
  const num = numbered(norm.prefix);
  if (num) {
    const same = free.filter((l) => {
      const o = numbered(l.prefix);
      return o && o.parent === num.parent && o.n === num.n && o.word !== num.word;
    });
    if (same.length === 1) return same[0];
  }
  const inFileOrder = [...all].sort((a, b) => a.first - b.first);
  const prevInFile = fits(inFileOrder[inFileOrder.indexOf(norm) - 1]);
  if (prevInFile) return prevInFile;
  const byName = [...all].sort((a, b) => naturalCompare(a.prefix, b.prefix));
  return fits(byName[byName.indexOf(norm) - 1]);
}

/** Pairs each BatchNorm1d with the Linear layer it follows (or with the input), refusing one that pairs with none. */
export function attachNorms(file: string, order: LinearGroup[], norms: NormGroup[], notes: string[]): Attached {
  const after = new Map<LinearGroup, NormGroup>();
  let input: NormGroup | undefined;
  const all = [...order, ...norms];
  for (const norm of [...norms].sort((a, b) => a.first - b.first)) {
    const free = order.filter((l) => l.units === norm.features && !after.has(l));
    let linear = linearBefore(norm, free, all);
    if (!linear && !input && norm.features === order[0].inputSize && norm.first < order[0].first) {
      input = norm;
      notes.push(
        `folded BatchNorm1d "${printable(norm.prefix)}" into the inputs of "${printable(order[0].prefix)}" (it comes first in the state dict and matches its ${norm.features} inputs)`,
      );
      continue;
    }
    if (!linear && free.length === 1) linear = free[0];
    if (!linear) {
      throw new ModelFormatError(
        file,
        LABEL,
        `cannot tell which Linear layer it follows: ${free.length ? `${free.length} layers have ${norm.features} outputs` : `no Linear layer has ${norm.features} outputs`}`,
        `BatchNorm1d "${printable(norm.prefix)}" (${norm.features} features)`,
      );
    }
    after.set(linear, norm);
    notes.push(`folded BatchNorm1d "${printable(norm.prefix)}" into "${printable(linear.prefix)}"`);
  }
  if (norms.length > 0) {
    notes.push(
      `BatchNorm1d folded with its running statistics and eps ${BATCHNORM_EPS} (PyTorch's default; a state dict does not store eps), taken to come before the activation`,
    );
  }
  return { after, input };
}

/** scale = weight / sqrt(running_var + eps) and shift = bias - running_mean * scale, per feature. */
function affine(file: string, norm: NormGroup, littleEndian: boolean): { scale: Float64Array; shift: Float64Array } {
  const mean = tensorValues(file, norm.mean, littleEndian, Float64Array);
  const variance = tensorValues(file, norm.variance, littleEndian, Float64Array);
  const gamma = norm.weight ? tensorValues(file, norm.weight, littleEndian, Float64Array) : undefined;
  const beta = norm.bias ? tensorValues(file, norm.bias, littleEndian, Float64Array) : undefined;
  const scale = new Float64Array(norm.features);
  const shift = new Float64Array(norm.features);
  for (let i = 0; i < norm.features; i++) {
    if (!(variance[i] + BATCHNORM_EPS > 0)) {
      throw new ModelFormatError(
        file,
        LABEL,
        `running_var[${i}] is ${variance[i]}; a variance cannot be negative`,
        `BatchNorm1d "${printable(norm.prefix)}"`,
      );
    }
    scale[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + BATCHNORM_EPS);
    shift[i] = (beta ? beta[i] : 0) - mean[i] * scale[i];
  }
  return { scale, shift };
}

/** Folds a BatchNorm1d of the layer's outputs into its kernel [in, units] and bias. */
export function foldAfter(
  file: string,
  kernel: Float32Array,
  bias: Float32Array | null,
  units: number,
  norm: NormGroup,
  le: boolean,
): Float32Array {
  const { scale, shift } = affine(file, norm, le);
  for (let i = 0; i < kernel.length; i++) kernel[i] *= scale[i % units];
  const out = new Float32Array(units);
  for (let o = 0; o < units; o++) out[o] = (bias ? bias[o] : 0) * scale[o] + shift[o];
  return out;
}

/** Folds a BatchNorm1d of the layer's inputs into its kernel [in, units] and bias. */
export function foldInput(
  file: string,
  kernel: Float32Array,
  bias: Float32Array | null,
  units: number,
  norm: NormGroup,
  le: boolean,
): Float32Array {
  const { scale, shift } = affine(file, norm, le);
  const out = new Float64Array(units);
  if (bias) out.set(bias);
  for (let k = 0; k < norm.features; k++) {
    for (let o = 0; o < units; o++) {
      const w = kernel[k * units + o];
      out[o] += w * shift[k];
      kernel[k * units + o] = w * scale[k];
    }
  }
  return Float32Array.from(out);
}
