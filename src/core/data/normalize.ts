import { DataError } from '../errors';
import { allFinite } from '../model/count';
import { type Dataset, type DatasetSplits, makeDataset, type Normalization, SPLIT_NAMES, type SplitName } from './dataset';

/**
 * Normalization, applied while the raw arrays become Datasets:
 *
 * - `unit`: pixel bytes to [0, 1]. Data stored as bytes (IDX ubyte, NPY uint8) is divided by 255.
 *   Other data is looked at as a whole (all splits together, so every split gets the same map):
 *   values already inside [0, 1] are kept as they are; integer values inside [0, 255] (pixels
 *   saved as int or float, e.g. a CSV of MNIST) are divided by 255; anything else is refused,
 *   since no fixed map puts it in [0, 1] -- use `zscore` or `none` for such data.
 * - `zscore`: per feature, (x - mean) / std with mean and std (population) taken from the train
 *   split, or from all splits together when there is no train split; a feature with std 0 gets
 *   std 1 (it becomes 0 everywhere).
 * - `none`: values as stored.
 *
 * The default is `unit` for byte data and `none` for everything else.
 */

export type NumericArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** One split as read from disk, before normalization. */
export interface RawDataset {
  source: string;
  /** Row-major [n, features]. */
  values: NumericArray;
  /** True for data stored as unsigned bytes (pixels). */
  bytes: boolean;
  y: Int32Array | null;
  n: number;
  sampleShape: number[];
}

export type RawSplits = Partial<Record<SplitName, RawDataset>>;

export function defaultNormalization(raws: RawDataset[]): Normalization {
  return raws.length > 0 && raws.every((r) => r.bytes) ? 'unit' : 'none';
}

function toFloat32(values: NumericArray): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Refuses NaN and infinities, naming the row. */
function checkFinite(raw: RawDataset): void {
  if (raw.bytes || !(raw.values instanceof Float32Array || raw.values instanceof Float64Array)) return;
  const v = raw.values;
  if (allFinite(v)) return;
  const f = raw.values.length / Math.max(1, raw.n);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      throw new DataError(raw.source, `holds ${v[i]} at row ${Math.floor(i / f)}, feature ${i % f}; the data must be finite numbers`);
    }
  }
}

/** The divisor 'unit' uses: 255 for pixel values, 1 for data already in [0, 1]. */
function unitDivisor(raws: RawDataset[], name: string): number {
  if (raws.every((r) => r.bytes)) return 255;
  let min = Infinity;
  let max = -Infinity;
  let integers = true;
  for (const r of raws) {
    const v = r.values;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x < min) min = x;
      if (x > max) max = x;
      if (integers && !Number.isInteger(x)) integers = false;
    }
  }
  if (min >= 0 && max <= 1) return 1;
  if (integers && min >= 0 && max <= 255) return 255;
  throw new DataError(
    name,
    `values run from ${min} to ${max}: 'unit' normalization is for pixel data (bytes 0..255, or values already in [0, 1]); use 'zscore' or 'none' for this data`,
  );
}

export interface ZscoreStats {
  mean: Float64Array;
  std: Float64Array;
}

/** Per-feature mean and population std over the rows of the given raw splits (std 0 becomes 1). */
export function zscoreStats(raws: { values: ArrayLike<number>; n: number }[], features: number): ZscoreStats {
  const sum = new Float64Array(features);
  const sq = new Float64Array(features);
  let rows = 0;
  for (const r of raws) {
    rows += r.n;
    const v = r.values;
    for (let row = 0; row < r.n; row++) {
      const base = row * features;
      for (let j = 0; j < features; j++) sum[j] += v[base + j];
    }
  }
  const mean = sum.map((s) => (rows > 0 ? s / rows : 0));
  for (const r of raws) {
    const v = r.values;
    for (let row = 0; row < r.n; row++) {
      const base = row * features;
      for (let j = 0; j < features; j++) {
        const d = v[base + j] - mean[j];
        sq[j] += d * d;
      }
    }
  }
  const std = sq.map((s) => {
    const sd = rows > 0 ? Math.sqrt(s / rows) : 0;
    return sd === 0 ? 1 : sd;
  });
  return { mean, std };
}

function applyZscore(values: NumericArray, n: number, stats: ZscoreStats): Float32Array {
  const f = stats.mean.length;
  const out = new Float32Array(n * f);
  for (let row = 0; row < n; row++) {
    const base = row * f;
    for (let j = 0; j < f; j++) out[base + j] = (values[base + j] - stats.mean[j]) / stats.std[j];
  }
  return out;
}

function divided(values: NumericArray, divisor: number): Float32Array {
  if (divisor === 1) return toFloat32(values);
  // Bytes (MNIST's 55 M pixels) through a 256-entry table: the generic loop below reads a union of
  // array types, which V8 cannot specialise, and took 1.5 s of every MNIST command here.
  if (values instanceof Uint8Array) {
    const table = new Float32Array(256).map((_, b) => b / divisor);
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = table[values[i]];
    return out;
  }
  // Every other type is exact in float64, so one rounding happens, as in the byte table.
  const wide = values instanceof Float64Array ? values : Float64Array.from(values);
  const out = new Float32Array(wide.length);
  for (let i = 0; i < wide.length; i++) out[i] = wide[i] / divisor;
  return out;
}

/**
 * Turns raw splits into a DatasetSplits under one normalization (the default one when
 * `normalize` is undefined). All splits must have the same sample shape.
 */
export function finishSplits(name: string, raws: RawSplits, normalize?: Normalization): DatasetSplits {
  const present = SPLIT_NAMES.filter((s) => raws[s] !== undefined);
  if (present.length === 0) throw new DataError(name, 'holds no data');
  const list = present.map((s) => raws[s]!);
  const features = list[0].sampleShape.reduce((a, b) => a * b, 1);
  for (const r of list) {
    const f = r.sampleShape.reduce((a, b) => a * b, 1);
    if (f !== features) {
      throw new DataError(
        name,
        `splits differ in sample shape: ${list[0].source} has [${list[0].sampleShape}] but ${r.source} has [${r.sampleShape}]`,
      );
    }
    if (r.values.length !== r.n * f) throw new Error(`${r.source}: ${r.values.length} values for ${r.n} rows of ${f}`);
    if (r.y && r.y.length !== r.n) throw new DataError(r.source, `has ${r.n} samples but ${r.y.length} labels`);
    checkFinite(r);
  }
  const mode = normalize ?? defaultNormalization(list);
  const out: DatasetSplits = { name, normalization: mode };
  let convert: (r: RawDataset) => Float32Array;
  if (mode === 'none') {
    convert = (r) => toFloat32(r.values);
  } else if (mode === 'unit') {
    const divisor = unitDivisor(list, name);
    convert = (r) => divided(r.values, divisor);
  } else {
    const basis = raws.train ? [raws.train] : list;
    const stats = zscoreStats(basis, features);
    convert = (r) => applyZscore(r.values, r.n, stats);
  }
  for (const s of present) defineLazySplit(out, s, raws[s]!, convert);
  return out;
}

/**
 * A split converted on first read: a command that uses one split does not pay for the others
 * (MNIST's 55,000 training images are 170 MB of fresh float32 memory, ~0.7 s of page faults here).
 */
function defineLazySplit(out: DatasetSplits, s: SplitName, r: RawDataset, convert: (r: RawDataset) => Float32Array): void {
  let ds: Dataset | undefined;
  Object.defineProperty(out, s, {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!ds) {
        ds = makeDataset(r.source, convert(r), r.y, r.sampleShape);
        ds.n = r.n; // makeDataset infers n from x, which is 0 for 0-feature samples
      }
      return ds;
    },
    set: (v: Dataset) => {
      ds = v;
    },
  });
}
