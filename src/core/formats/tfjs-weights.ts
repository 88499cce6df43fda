/**
 * The TensorFlow.js weights manifest, shared by LayersModel and GraphModel files:
 * `weightsManifest` is a list of groups, each with the shard files (`paths`, concatenated in
 * order) and the weights stored one after another in them. Decoding follows tfjs-core's
 * `io.decodeWeights`, including quantization (uint8/uint16: value = q * scale + min; float16).
 */
import { promises as fs, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { ModelFormatError } from '../errors';

export type WeightDtype = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

export interface WeightQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  min?: number;
  scale?: number;
  original_dtype?: string;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  quantization?: WeightQuantization;
  group?: string;
}

export interface DecodedWeight {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  /** float32 weights as Float32Array, int32 as Int32Array, bool as Uint8Array; null for string/complex64. */
  values: Float32Array | Int32Array | Uint8Array | null;
  /** The quantization dtype the weight was stored with, if any. */
  quantized?: WeightQuantization['dtype'];
  /** Index of the manifest group (0-based) and the weight's position in the whole manifest. */
  group: number;
  index: number;
  /** The manifest's own `group` field ('model' or 'optimizer'), when given. */
  role?: string;
}

export interface LoadedWeights {
  /** By manifest name; a later weight of the same name replaces an earlier one, as in tfjs-core. */
  byName: Map<string, DecodedWeight>;
  /** Every weight in manifest order. */
  all: DecodedWeight[];
  /** The shard files read, absolute. */
  files: string[];
  notes: string[];
}

const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Converts one IEEE half-precision value; every half is exactly representable as a float32. */
export function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Rounds to the nearest half (ties to even), as numpy's float32 -> float16 cast does. */
export function float32ToFloat16(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

interface CheckedSpec extends WeightSpec {
  size: number;
  bytesPerValue: number;
}

function checkSpec(file: string, label: string, raw: unknown, where: string): CheckedSpec {
  if (!isRecord(raw) || typeof raw.name !== 'string') {
    throw new ModelFormatError(file, label, 'a weights manifest entry has no name', where);
  }
  const at = `${where}, weight '${raw.name}'`;
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new ModelFormatError(file, label, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`, at);
  }
  const size = product(shape as number[]);
  if (!Number.isSafeInteger(size)) throw new ModelFormatError(file, label, `shape [${shape}] is too large`, at);
  const dtype = raw.dtype === undefined ? 'float32' : raw.dtype;
  if (typeof dtype !== 'string' || !['float32', 'int32', 'bool', 'string', 'complex64', 'float16'].includes(dtype)) {
    throw new ModelFormatError(file, label, `unknown dtype ${JSON.stringify(dtype)}`, at);
  }
  let quantization: WeightQuantization | undefined;
  // tfjs-core never writes a bare float16 dtype, but a float16 payload decodes the same way.
  if (dtype === 'float16') quantization = { dtype: 'float16' };
  if (raw.quantization !== undefined && raw.quantization !== null) {
    const q = raw.quantization;
    if (!isRecord(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)) {
      throw new ModelFormatError(
        file,
        label,
        `unknown quantization ${JSON.stringify(isRecord(q) ? q.dtype : q)} (expected uint8, uint16 or float16)`,
        at,
      );
    }
    quantization = q as unknown as WeightQuantization;
    if (quantization.dtype !== 'float16') {
      if (typeof q.min !== 'number' || typeof q.scale !== 'number' || !Number.isFinite(q.min) || !Number.isFinite(q.scale)) {
        throw new ModelFormatError(file, label, `${quantization.dtype} quantization needs numeric min and scale`, at);
      }
    }
    const target = dtype === 'float16' ? 'float32' : dtype;
    if (quantization.dtype === 'float16' && target !== 'float32') {
      throw new ModelFormatError(file, label, `float16 quantization only applies to float32 weights, not ${dtype}`, at);
    }
    if (target !== 'float32' && target !== 'int32') {
      throw new ModelFormatError(file, label, `quantized weights must be float32 or int32, not ${dtype}`, at);
    }
  }
  const outDtype = (dtype === 'float16' ? 'float32' : dtype) as WeightDtype;
  const bytesPerValue = quantization ? VALUE_BYTES[quantization.dtype] : dtype === 'string' ? 0 : VALUE_BYTES[dtype];
  return {
    name: raw.name,
    shape: shape as number[],
    dtype: outDtype,
    quantization,
    group: typeof raw.group === 'string' ? raw.group : undefined,
    size,
    bytesPerValue,
  };
}

function decode(spec: CheckedSpec, bytes: Uint8Array): Float32Array | Int32Array | Uint8Array | null {
  // Copy so typed-array views are aligned whatever the offset in the shard.
  const buf = bytes.slice().buffer;
  const q = spec.quantization;
  if (q) {
    const stored = q.dtype === 'uint8' ? new Uint8Array(buf) : new Uint16Array(buf);
    if (q.dtype === 'float16') {
      const out = new Float32Array(stored.length);
      for (let i = 0; i < stored.length; i++) out[i] = float16ToFloat32(stored[i]);
      return out;
    }
    const scale = q.scale as number;
    const min = q.min as number;
    if (spec.dtype === 'int32') {
      const out = new Int32Array(stored.length);
      for (let i = 0; i < stored.length; i++) out[i] = Math.round(stored[i] * scale + min);
      return out;
    }
    const out = new Float32Array(stored.length);
    for (let i = 0; i < stored.length; i++) out[i] = stored[i] * scale + min;
    return out;
  }
  switch (spec.dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'bool':
      return new Uint8Array(buf);
    default:
      return null;
  }
}

function describeShards(shards: { path: string; size: number }[]): string {
  return shards.map((s) => `'${s.path}' (${s.size} bytes)`).join(' + ');
}

/**
 * Reads and decodes every weight of a model.json's `weightsManifest`, with the shard files
 * resolved next to the model file. Sizes are checked against the bytes on disk before any
 * weight is decoded, so a short or missing shard is reported by name.
 */
export async function loadWeightsManifest(modelPath: string, label: string, manifest: unknown): Promise<LoadedWeights> {
  const result: LoadedWeights = { byName: new Map(), all: [], files: [], notes: [] };
  if (manifest === undefined || manifest === null) return result;
  if (!Array.isArray(manifest)) throw new ModelFormatError(modelPath, label, 'weightsManifest is not a list of groups');
  const dir = dirname(modelPath);
  let index = 0;
  for (let g = 0; g < manifest.length; g++) {
    const group = manifest[g];
    const where = `weightsManifest group ${g + 1} of ${manifest.length}`;
    if (!isRecord(group) || !Array.isArray(group.weights)) {
      throw new ModelFormatError(modelPath, label, 'group has no list of weights', where);
    }
    const paths = group.paths ?? [];
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) {
      throw new ModelFormatError(modelPath, label, 'paths is not a list of file names', where);
    }
    const specs = group.weights.map((w: unknown, i: number) => checkSpec(modelPath, label, w, `${where}, entry ${i + 1}`));

    // Byte extents first (string weights need their length prefixes, read below).
    const shards: { path: string; abs: string; size: number }[] = [];
    for (let s = 0; s < paths.length; s++) {
      const p = paths[s] as string;
      const shardWhere = `${where}, shard ${s + 1} of ${paths.length} '${p}'`;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
        throw new ModelFormatError(modelPath, label, 'weights path is a URL; only files next to the model can be read', shardWhere);
      }
      const abs = resolve(dir, p);
      let stat;
      try {
        stat = await fs.stat(abs);
      } catch {
        throw new ModelFormatError(modelPath, label, `weights file not found: ${abs}`, shardWhere);
      }
      if (!stat.isFile()) throw new ModelFormatError(modelPath, label, `weights path is not a file: ${abs}`, shardWhere);
      shards.push({ path: p, abs, size: stat.size });
    }
    const available = shards.reduce((a, s) => a + s.size, 0);
    const fixedNeed = specs.reduce((a: number, s: CheckedSpec) => a + s.size * s.bytesPerValue, 0);
    if (fixedNeed > available) {
      // Name the first weight that does not fit and the shard where the bytes run out.
      let offset = 0;
      for (const s of specs as CheckedSpec[]) {
        const end = offset + s.size * s.bytesPerValue;
        if (end > available) {
          const last = shards.length ? `'${shards[shards.length - 1].path}'` : '(no files)';
          throw new ModelFormatError(
            modelPath,
            label,
            `weight '${s.name}' [${s.shape}] needs bytes ${offset}..${end} but the group's weight files hold only ` +
              `${available} bytes (${shards.length ? describeShards(shards) : 'no paths'}); the manifest declares ` +
              `at least ${fixedNeed} bytes: shard ${last} is truncated or missing data`,
            where,
          );
        }
        offset = end;
      }
    }

    const data = new Uint8Array(available);
    let at = 0;
    for (const s of shards) {
      const bytes = await fs.readFile(s.abs);
      // The file may have changed since stat; never read past what was sized.
      data.set(bytes.subarray(0, Math.min(bytes.length, available - at)), at);
      at += Math.min(bytes.length, s.size);
      result.files.push(s.abs);
    }

    let offset = 0;
    for (const s of specs as CheckedSpec[]) {
      let byteLength = s.size * s.bytesPerValue;
      if (s.dtype === 'string' && !s.quantization) {
        byteLength = 0;
        const view = new DataView(data.buffer);
        for (let i = 0; i < s.size; i++) {
          if (offset + byteLength + 4 > available) break;
          byteLength += 4 + view.getUint32(offset + byteLength, true);
        }
      }
      if (offset + byteLength > available) {
        throw new ModelFormatError(
          modelPath,
          label,
          `weight '${s.name}' runs past the end of the group's weight files (${describeShards(shards)})`,
          where,
        );
      }
      const weight: DecodedWeight = {
        name: s.name,
        shape: s.shape,
        dtype: s.dtype,
        values: decode(s, data.subarray(offset, offset + byteLength)),
        quantized: s.quantization?.dtype,
        group: g,
        index: index++,
        role: s.group,
      };
      result.byName.set(s.name, weight);
      result.all.push(weight);
      offset += byteLength;
    }
    if (offset < available) {
      result.notes.push(
        `weightsManifest group ${g + 1} declares ${offset} bytes but its files hold ${available}; the extra bytes were ignored`,
      );
    }
  }
  const quantized = result.all.filter((w) => w.quantized);
  if (quantized.length > 0) {
    const kinds = [...new Set(quantized.map((w) => w.quantized))].join(', ');
    result.notes.push(`${quantized.length} weight(s) were stored quantized (${kinds}) and were dequantized to float32`);
  }
  return result;
}

/** A float32 weight to write. */
export interface WeightToWrite {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Lays weights out one after another as tfjs-core does and returns the manifest group for them. */
export function encodeWeights(
  weights: WeightToWrite[],
  weightsFile: string,
): { group: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }; data: Uint8Array } {
  const total = weights.reduce((a, w) => a + w.values.length * 4, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    if (w.values.length !== product(w.shape)) throw new Error(`weight ${w.name} has ${w.values.length} values for shape [${w.shape}]`);
    data.set(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength), offset);
    offset += w.values.byteLength;
  }
  return {
    group: { paths: [basename(weightsFile)], weights: weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' })) },
    data,
  };
}

/** Reads a model.json; a missing file or bad JSON becomes a ModelFormatError. */
export async function readModelJson(file: string, label: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ModelFormatError(file, label, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new ModelFormatError(file, label, `not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(json)) throw new ModelFormatError(file, label, 'the JSON is not an object');
  return json;
}

export type TfjsKind = 'layers' | 'graph';

function kindOfJson(json: unknown): TfjsKind | undefined {
  if (!isRecord(json)) return undefined;
  if (json.format === 'layers-model') return 'layers';
  if (json.format === 'graph-model') return 'graph';
  const topology = json.modelTopology;
  if (!isRecord(topology)) return undefined;
  if (Array.isArray(topology.node)) return 'graph';
  const keras = isRecord(topology.model_config) ? topology.model_config : topology;
  if ('class_name' in keras || 'config' in keras) return 'layers';
  return undefined;
}

/**
 * Tells a tfjs LayersModel from a GraphModel by the model.json's `format`, or for older files
 * without one by the shape of `modelTopology`. `head` may be cut short of the whole file,
 * in which case the keys are looked for in the text.
 */
export function detectTfjsKind(path: string, head: Uint8Array): TfjsKind | undefined {
  if (!path.toLowerCase().endsWith('.json')) return undefined;
  const text = new TextDecoder().decode(head).replace(/^\uFEFF/, '');
  if (!/^\s*\{/.test(text)) return undefined;
  try {
    return kindOfJson(JSON.parse(text));
  } catch {
    // Truncated head: fall through to a textual look.
  }
  const format = /"format"\s*:\s*"(layers-model|graph-model)"/.exec(text);
  if (format) return format[1] === 'layers-model' ? 'layers' : 'graph';
  if (/"modelTopology"\s*:/.test(text)) {
    if (/"node"\s*:\s*\[/.test(text) && /"op"\s*:/.test(text)) return 'graph';
    if (/"class_name"\s*:/.test(text)) return 'layers';
  }
  // A long weightsManifest can fill the head before either key: read the whole file.
  if (/"(weightsManifest|modelTopology)"\s*:/.test(text)) {
    try {
      if (statSync(path).size <= MAX_DETECT_BYTES) return kindOfJson(JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, '')));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const MAX_DETECT_BYTES = 256 * 1024 * 1024;

/** A model's name when the file gives none: the file's stem, or its folder for model.json. */
export function defaultModelName(file: string): string {
  const base = basename(file, extname(file));
  return base === 'model' ? basename(dirname(file)) : base;
}
