import { DataError } from '../errors';
import { float16ArrayToFloat32 } from '../io/float16';
import type { NpyArray } from '../io/npy';
import { npyToFloat32 } from '../io/npy';
import type { SplitName } from './dataset';
import type { IdxArray } from './idx';
import type { NumericArray, RawDataset } from './normalize';

/** An array from any of the readers: shape plus values. */
export type AnyArray = Pick<NpyArray, 'shape'> & { data: NpyArray['data'] | IdxArray['data']; dtype: string };

const isByteArray = (a: AnyArray) => a.dtype === 'uint8' || a.dtype === 'ubyte';

function featureValues(a: AnyArray, file: string): NumericArray {
  const d = a.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return npyToFloat32(a as NpyArray);
  if (a.dtype === 'float16') return float16ArrayToFloat32(d);
  if (a.dtype === 'bool') return d;
  if (d instanceof Uint8Array || d instanceof Int8Array || d instanceof Int16Array || d instanceof Uint16Array) return d;
  if (d instanceof Int32Array || d instanceof Uint32Array || d instanceof Float32Array || d instanceof Float64Array) return d;
  throw new DataError(file, `unsupported array type ${a.dtype}`);
}

/** Samples from an array of shape [n, ...sample]; a 1-D array is n samples of one feature. */
export function rawFromArray(x: AnyArray, y: AnyArray | null, source: string, xFile: string, yFile?: string): RawDataset {
  if (x.shape.length === 0) throw new DataError(xFile, 'is a scalar (0-D array); expected samples along the first axis');
  const n = x.shape[0];
  const sampleShape = x.shape.length === 1 ? [1] : x.shape.slice(1);
  const labels = y ? labelsFrom(y, yFile ?? xFile) : null;
  if (labels && labels.length !== n) {
    throw new DataError(yFile ?? xFile, `has ${labels.length} labels but ${xFile} has ${n} samples`);
  }
  return { source, values: featureValues(x, xFile), bytes: isByteArray(x), y: labels, n, sampleShape };
}

/**
 * Class labels from an array: shape [n] or [n, 1] of integer values >= 0 (in any numeric dtype),
 * or one-hot / score rows [n, k], whose argmax is taken.
 */
export function labelsFrom(y: AnyArray, file: string): Int32Array {
  if (y.shape.length === 0 || y.shape.length > 2) {
    throw new DataError(file, `labels must have shape [n] or [n, classes], not [${y.shape.join(', ')}]`);
  }
  const n = y.shape[0];
  const width = y.shape.length === 2 ? y.shape[1] : 1;
  const values = featureValues(y, file);
  const out = new Int32Array(n);
  if (width > 1) {
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < width; j++) if (values[i * width + j] > values[i * width + best]) best = j;
      out[i] = best;
    }
    return out;
  }
  if (width === 0) throw new DataError(file, `labels have shape [${y.shape.join(', ')}], with no values per sample`);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new DataError(file, `label ${v} at row ${i} is not a class index (an integer >= 0)`);
    }
    out[i] = v;
  }
  return out;
}

const SPLIT_WORDS: Record<SplitName, string[]> = {
  train: ['train', 'training'],
  validation: ['val', 'valid', 'validation', 'dev'],
  test: ['test', 'testing', 't10k'],
};
const X_WORDS = ['x', 'images', 'inputs', 'input', 'data', 'features'];
const Y_WORDS = ['y', 'labels', 'label', 'targets', 'target'];

/**
 * Which split and role an array name stands for: "x_train", "train_x", "X_test", "y_val",
 * "x_valid", "test_labels"; plain "x"/"y" (no split named) map to 'test'.
 */
export function arrayRole(name: string): { split: SplitName; role: 'x' | 'y' } | undefined {
  const key = name.toLowerCase().replace(/\.npy$/, '');
  const role = (w: string): 'x' | 'y' | undefined => (X_WORDS.includes(w) ? 'x' : Y_WORDS.includes(w) ? 'y' : undefined);
  const single = role(key);
  if (single) return { split: 'test', role: single };
  const parts = key.split(/[_\-.]/);
  if (parts.length !== 2) return undefined;
  for (const [a, b] of [parts, [parts[1], parts[0]]]) {
    const r = role(a);
    const split = (Object.keys(SPLIT_WORDS) as SplitName[]).find((s) => SPLIT_WORDS[s].includes(b));
    if (r && split) return { split, role: r };
  }
  return undefined;
}

export const EXPECTED_ARRAY_NAMES = 'x_train/y_train, x_val/y_val (or x_valid), x_test/y_test, or x/y';

/** Groups named arrays (NPZ members, .npy files in a folder) into splits. */
export function splitsFromNamed(
  names: string[],
  where: string,
): Partial<Record<SplitName, { x: string; y?: string }>> & { unused: string[] } {
  const out: Partial<Record<SplitName, { x?: string; y?: string }>> = {};
  const unused: string[] = [];
  for (const name of names) {
    const r = arrayRole(name);
    if (!r) {
      unused.push(name);
      continue;
    }
    const slot = (out[r.split] ??= {});
    if (slot[r.role]) throw new DataError(where, `both "${slot[r.role]}" and "${name}" hold ${r.role} for the ${r.split} split`);
    slot[r.role] = name;
  }
  const result: Partial<Record<SplitName, { x: string; y?: string }>> & { unused: string[] } = { unused };
  for (const [split, slot] of Object.entries(out) as [SplitName, { x?: string; y?: string }][]) {
    if (!slot.x)
      throw new DataError(where, `has labels "${slot.y}" for the ${split} split but no samples (expected ${EXPECTED_ARRAY_NAMES})`);
    result[split] = { x: slot.x, y: slot.y };
  }
  return result;
}
