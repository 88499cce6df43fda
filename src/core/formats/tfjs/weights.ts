/**
 * The TensorFlow.js weights manifest, shared by LayersModel and GraphModel files:
 * `weightsManifest` is a list of groups, each with the shard files (`paths`, concatenated in
 * order) and the weights stored one after another in them. Decoding follows tfjs-core's
 * `io.decodeWeights`, including quantization (uint8/uint16: value = q * scale + min; float16).
 */
import { constants as bufferConstants } from 'node:buffer';
import { constants as fsConstants, promises as fs, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { ModelFormatError } from '../../errors';
import { ContainmentError, openContained, readRange, type ContainedFile } from '../../io/contained';
import { float16ArrayToFloat32 } from '../../io/float16';

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
  /** By manifest name; names are unique (a manifest that repeats one is refused). */
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

/**
 * How deep a model.json may nest, the document itself being level 1. Files written by tfjs and
 * the converter nest about 15 levels (a Keras 3 inbound node: modelTopology, model_config, config,
 * layers, [i], inbound_nodes, [0], args, [0], config, keras_history, ...).
 */
export const MAX_JSON_DEPTH = 64;

/** model.json files larger than this are not read (tfjs keeps weights in the shards). */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

/**
 * A short rendering of a value from a model file, for messages. JSON.stringify (and a template
 * string of an array) walks the whole value recursively, so a deep or huge value from the file
 * would overflow the stack or flood the message; this looks at most 3 levels and 8 items deep.
 */
export function preview(value: unknown, max = 80): string {
  const text = render(value, 3);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function render(value: unknown, depth: number): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (depth === 0) return '[...]';
    const items = value.slice(0, 8).map((v) => render(v, depth - 1));
    if (value.length > 8) items.push('...');
    return `[${items.join(',')}]`;
  }
  const items: string[] = [];
  for (const key in value) {
    if (depth === 0 || items.length === 8) {
      items.push('...');
      break;
    }
    items.push(`${render(key, 0)}:${render((value as Record<string, unknown>)[key], depth - 1)}`);
  }
  return `{${items.join(',')}}`;
}

/**
 * Where `json` nests deeper than `limit` levels, as a path (modelTopology.config.layers[0]...),
 * or undefined. Iterative, so any depth the input has costs no stack.
 */
export function tooDeep(json: unknown, limit = MAX_JSON_DEPTH): string | undefined {
  interface Frame {
    value: object;
    depth: number;
    key: string | number | undefined;
    parent: Frame | undefined;
  }
  if (json === null || typeof json !== 'object') return undefined;
  const stack: Frame[] = [{ value: json, depth: 1, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > limit) return pathOf(frame);
    // Pushed in reverse so the first deep place in document order is the one reported.
    if (Array.isArray(frame.value)) {
      for (let i = frame.value.length - 1; i >= 0; i--) {
        const v: unknown = frame.value[i];
        if (v !== null && typeof v === 'object') stack.push({ value: v, depth: frame.depth + 1, key: i, parent: frame });
      }
    } else {
      const keys = Object.keys(frame.value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const v: unknown = (frame.value as Record<string, unknown>)[keys[i]];
        if (v !== null && typeof v === 'object') stack.push({ value: v, depth: frame.depth + 1, key: keys[i], parent: frame });
      }
    }
  }
  return undefined;

  function pathOf(frame: Frame): string {
    const keys: (string | number)[] = [];
    for (let f: Frame | undefined = frame; f && f.key !== undefined; f = f.parent) keys.push(f.key);
    keys.reverse();
    const shown = keys.slice(0, 12).map((k, i) => {
      if (typeof k === 'number') return `[${k}]`;
      const name = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}...` : k);
      return i === 0 ? name : `.${name}`;
    });
    return `${shown.join('')}${keys.length > 12 ? '...' : ''}`;
  }
}

/**
 * The text of a JSON file. JSON is UTF-8 (a byte order mark is skipped), but Windows tools also
 * write UTF-16 with a BOM; without one, the zero bytes among the first four tell UTF-16 and UTF-32
 * apart (RFC 4627: the text starts with an ASCII character). UTF-32 is not decoded: `text` is
 * undefined and `encoding` says which it is.
 */
export function decodeJsonText(bytes: Uint8Array): { text: string | undefined; encoding: string } {
  const b = bytes;
  const n = b.length;
  if (n >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)
    return { text: new TextDecoder('utf-8').decode(b.subarray(3)), encoding: 'UTF-8' };
  if (n >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) return { text: undefined, encoding: 'UTF-32LE' };
  if (n >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return { text: undefined, encoding: 'UTF-32BE' };
  if (n >= 2 && b[0] === 0xff && b[1] === 0xfe) return { text: utf16(b.subarray(2), 'le'), encoding: 'UTF-16LE' };
  if (n >= 2 && b[0] === 0xfe && b[1] === 0xff) return { text: utf16(b.subarray(2), 'be'), encoding: 'UTF-16BE' };
  if (n >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] !== 0) return { text: undefined, encoding: 'UTF-32BE' };
  if (n >= 4 && b[0] !== 0 && b[1] === 0 && b[2] === 0 && b[3] === 0) return { text: undefined, encoding: 'UTF-32LE' };
  if (n >= 2 && b[0] === 0 && b[1] !== 0) return { text: utf16(b, 'be'), encoding: 'UTF-16BE' };
  if (n >= 2 && b[0] !== 0 && b[1] === 0) return { text: utf16(b, 'le'), encoding: 'UTF-16LE' };
  return { text: new TextDecoder('utf-8').decode(b), encoding: 'UTF-8' };
}

function utf16(bytes: Uint8Array, endian: 'le' | 'be'): string {
  try {
    return new TextDecoder(endian === 'le' ? 'utf-16le' : 'utf-16be', { ignoreBOM: true }).decode(bytes);
  } catch {
    // A Node built without full ICU knows only utf-16le: swap the bytes of a copy for big-endian.
    const copy = Buffer.from(bytes.subarray(0, bytes.length & ~1));
    if (endian === 'be') copy.swap16();
    return copy.toString('utf16le');
  }
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
    throw new ModelFormatError(file, label, `shape ${preview(shape)} is not a list of non-negative integers`, at);
  }
  const size = product(shape as number[]);
  if (!Number.isSafeInteger(size)) throw new ModelFormatError(file, label, `shape [${shape}] is too large`, at);
  const dtype = raw.dtype === undefined ? 'float32' : raw.dtype;
  if (typeof dtype !== 'string' || !['float32', 'int32', 'bool', 'string', 'complex64', 'float16'].includes(dtype)) {
    throw new ModelFormatError(file, label, `unknown dtype ${preview(dtype)}`, at);
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
        `unknown quantization ${preview(isRecord(q) ? q.dtype : q)} (expected uint8, uint16 or float16)`,
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
  // Typed-array views need aligned memory of their own: the bytes read for this weight alone are
  // used as they are, anything else (a view into a larger buffer) is copied first.
  const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  const q = spec.quantization;
  if (q) {
    const stored = q.dtype === 'uint8' ? new Uint8Array(buf) : new Uint16Array(buf);
    if (q.dtype === 'float16') return float16ArrayToFloat32(stored);
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

/** Whether decode gives values for the weight (string and complex64 weights are skipped). */
function hasValues(spec: CheckedSpec): boolean {
  return spec.quantization !== undefined || (spec.dtype !== 'string' && spec.dtype !== 'complex64');
}

function describeShards(shards: { path: string; size: number }[]): string {
  return shards.map((s) => `'${s.path}' (${s.size} bytes)`).join(' + ');
}

interface Shard {
  /** The name as the manifest gives it. */
  path: string;
  /** Where the manifest names it, for messages. */
  where: string;
  size: number;
  /** Offset of its first byte in the group's concatenated bytes. */
  start: number;
}

/** Opens a shard through openContained; a name that leaves the model's folder is a ModelFormatError there. */
async function openShard(modelPath: string, label: string, name: string, where: string): Promise<ContainedFile> {
  try {
    return await openContained(dirname(modelPath), name);
  } catch (e) {
    throw shardError(modelPath, label, where, e);
  }
}

function shardError(modelPath: string, label: string, where: string, e: unknown): Error {
  if (e instanceof ModelFormatError) return e;
  if (e instanceof ContainmentError) return new ModelFormatError(modelPath, label, e.message, where);
  const code = (e as NodeJS.ErrnoException)?.code;
  return new ModelFormatError(modelPath, label, `cannot read the weights file (${code ?? (e as Error)?.message ?? String(e)})`, where);
}

/**
 * The bytes of one manifest group (its shards one after another, as tfjs concatenates them), read
 * by range with positioned reads: only what a weight needs is ever in memory, and one shard is
 * open at a time (the weights are read in order, so each is opened once).
 */
class GroupBytes {
  private open: { index: number; file: ContainedFile } | undefined;

  constructor(
    private readonly modelPath: string,
    private readonly label: string,
    private readonly where: string,
    private readonly shards: Shard[],
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    // The last shard starting at or before offset, past any empty ones.
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.shards[mid].start <= offset) lo = mid;
      else hi = mid - 1;
    }
    const pieces: Uint8Array[] = [];
    for (let i = lo, pos = offset, left = length; left > 0; i++) {
      if (i >= this.shards.length)
        throw new ModelFormatError(
          this.modelPath,
          this.label,
          `bytes ${offset}..${offset + length} run past the group's weight files`,
          this.where,
        );
      const s = this.shards[i];
      const n = Math.min(left, s.start + s.size - pos);
      if (n <= 0) continue;
      pieces.push(await this.readShard(i, pos - s.start, n));
      pos += n;
      left -= n;
    }
    if (pieces.length === 1) return pieces[0];
    let out: Uint8Array;
    try {
      out = new Uint8Array(length);
    } catch (e) {
      throw new ModelFormatError(this.modelPath, this.label, `cannot hold ${length} bytes in memory (${(e as Error).message})`, this.where);
    }
    let at = 0;
    for (const p of pieces) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  private async readShard(index: number, offset: number, length: number): Promise<Uint8Array> {
    const s = this.shards[index];
    if (this.open?.index !== index) {
      await this.close();
      const file = await openShard(this.modelPath, this.label, s.path, s.where);
      if (file.size !== s.size) {
        await file.handle.close();
        throw new ModelFormatError(
          this.modelPath,
          this.label,
          `the file changed while the model was read (${s.size} bytes, then ${file.size})`,
          s.where,
        );
      }
      this.open = { index, file };
    }
    try {
      return await readRange(this.open.file, offset, length);
    } catch (e) {
      if (e instanceof RangeError) {
        throw new ModelFormatError(this.modelPath, this.label, `cannot hold ${length} bytes in memory (${e.message})`, s.where);
      }
      throw shardError(this.modelPath, this.label, s.where, e);
    }
  }

  async close(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    if (open) await open.file.handle.close().catch(() => undefined);
  }
}

/** Reading window for the length prefixes of string weights. */
const STRING_WINDOW = 64 * 1024;

/**
 * Bytes taken by a string weight at `offset`: each of its values is a uint32 length and that many
 * bytes. Only the prefixes are read, through a window; a result past `available` means the
 * weight runs past the end of the group's files.
 */
async function stringWeightBytes(bytes: GroupBytes, spec: CheckedSpec, offset: number, available: number): Promise<number> {
  if (spec.size * 4 > available - offset) return spec.size * 4;
  let pos = offset;
  let window: Uint8Array = new Uint8Array(0);
  let windowStart = 0;
  for (let i = 0; i < spec.size; i++) {
    if (pos + 4 > available) return pos + 4 - offset;
    if (pos < windowStart || pos + 4 > windowStart + window.length) {
      windowStart = pos;
      window = await bytes.read(pos, Math.min(STRING_WINDOW, available - pos));
    }
    pos += 4 + new DataView(window.buffer, window.byteOffset, window.byteLength).getUint32(pos - windowStart, true);
  }
  return pos - offset;
}

/**
 * Reads and decodes every weight of a model.json's `weightsManifest`. Shard names must be files
 * inside the model file's folder (relative, no URL, not leaving the folder through `..` or a
 * symbolic link: see io/contained). Every entry is checked first (a name given twice is refused:
 * which one the model means would be a guess), then sizes are checked against the bytes on disk
 * before any weight is decoded, so a short or missing shard is reported by name; then each
 * weight's bytes are read by range, never a whole shard.
 */
export async function loadWeightsManifest(modelPath: string, label: string, manifest: unknown): Promise<LoadedWeights> {
  const result: LoadedWeights = { byName: new Map(), all: [], files: [], notes: [] };
  if (manifest === undefined || manifest === null) return result;
  if (!Array.isArray(manifest)) throw new ModelFormatError(modelPath, label, 'weightsManifest is not a list of groups');
  const groups = checkManifestGroups(modelPath, label, manifest);
  for (let g = 0; g < groups.length; g++) await loadGroup(modelPath, label, groups[g], g, result);
  const quantized = result.all.filter((w) => w.quantized);
  if (quantized.length > 0) {
    const kinds = [...new Set(quantized.map((w) => w.quantized))].join(', ');
    result.notes.push(`${quantized.length} weight(s) were stored quantized (${kinds}) and were dequantized to float32`);
  }
  return result;
}

/** A weightsManifest group whose entries have been checked. */
interface ManifestGroup {
  where: string;
  paths: string[];
  specs: CheckedSpec[];
}

/** Checks every group and entry of the manifest; a weight name given twice is refused. */
function checkManifestGroups(modelPath: string, label: string, manifest: unknown[]): ManifestGroup[] {
  const groups: ManifestGroup[] = [];
  const firstAt = new Map<string, string>();
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
    specs.forEach((spec, i) => {
      const at = `${where}, entry ${i + 1}`;
      const first = firstAt.get(spec.name);
      if (first !== undefined) {
        throw new ModelFormatError(
          modelPath,
          label,
          `weight '${spec.name}' appears more than once in the weights manifest (first at ${first}); which one the model uses would be a guess`,
          at,
        );
      }
      firstAt.set(spec.name, at);
    });
    groups.push({ where, paths: paths, specs });
  }
  return groups;
}

/** Group `g`: its shards' sizes, a check that its fixed-size weights fit, then each weight read and decoded into `result`. */
async function loadGroup(modelPath: string, label: string, group: ManifestGroup, g: number, result: LoadedWeights): Promise<void> {
  const { where, paths, specs } = group;
  // Byte extents first (string weights need their length prefixes, read below).
  const shards: Shard[] = [];
  let available = 0;
  for (let s = 0; s < paths.length; s++) {
    const shardWhere = `${where}, shard ${s + 1} of ${paths.length} '${paths[s]}'`;
    const file = await openShard(modelPath, label, paths[s], shardWhere);
    await file.handle.close();
    shards.push({ path: paths[s], where: shardWhere, size: file.size, start: available });
    result.files.push(file.path);
    available += file.size;
  }
  checkGroupFits(modelPath, label, where, specs, shards, available);
  const bytes = new GroupBytes(modelPath, label, where, shards);
  let offset: number;
  try {
    offset = await decodeGroup({ modelPath, label, where, shards, available, bytes, g }, specs, result);
  } finally {
    await bytes.close();
  }
  if (offset < available) {
    result.notes.push(
      `weightsManifest group ${g + 1} declares ${offset} bytes but its files hold ${available}; the extra bytes were ignored`,
    );
  }
}

/** When the group's fixed-size weights need more bytes than its files hold, names the first weight that does not fit and the shard where the bytes run out. */
function checkGroupFits(modelPath: string, label: string, where: string, specs: CheckedSpec[], shards: Shard[], available: number): void {
  const fixedNeed = specs.reduce((a: number, s: CheckedSpec) => a + s.size * s.bytesPerValue, 0);
  if (fixedNeed <= available) return;
  let offset = 0;
  for (const s of specs) {
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

/** One group's files as its weights are decoded: where it sits in the manifest, its shards and their bytes. */
interface GroupContext {
  modelPath: string;
  label: string;
  where: string;
  shards: Shard[];
  available: number;
  bytes: GroupBytes;
  /** The group's position in the manifest. */
  g: number;
}

/** Decodes the group's weights one after another into `result`; returns the bytes they took. */
async function decodeGroup(ctx: GroupContext, specs: CheckedSpec[], result: LoadedWeights): Promise<number> {
  const { modelPath, label, where, shards, available, bytes } = ctx;
  let offset = 0;
  for (const s of specs) {
    let byteLength = s.size * s.bytesPerValue;
    if (s.dtype === 'string' && !s.quantization) byteLength = await stringWeightBytes(bytes, s, offset, available);
    if (offset + byteLength > available) {
      throw new ModelFormatError(
        modelPath,
        label,
        `weight '${s.name}' runs past the end of the group's weight files (${describeShards(shards)})`,
        where,
      );
    }
    let values: DecodedWeight['values'] = null;
    if (hasValues(s)) {
      if (byteLength > bufferConstants.MAX_LENGTH) {
        throw new ModelFormatError(
          modelPath,
          label,
          `weight '${s.name}' [${s.shape}] takes ${byteLength} bytes; one weight can hold at most ${bufferConstants.MAX_LENGTH}`,
          where,
        );
      }
      values = decode(s, await bytes.read(offset, byteLength));
    }
    const weight: DecodedWeight = {
      name: s.name,
      shape: s.shape,
      dtype: s.dtype,
      values,
      quantized: s.quantization?.dtype,
      group: ctx.g,
      // Numbered across groups in manifest order: every weight decoded so far is in result.all.
      index: result.all.length,
      role: s.group,
    };
    result.byName.set(s.name, weight);
    result.all.push(weight);
    offset += byteLength;
  }
  return offset;
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

/**
 * Reads a model.json; a missing file, bad JSON, an encoding other than UTF-8 or UTF-16, or
 * nesting deeper than MAX_JSON_DEPTH becomes a ModelFormatError.
 */
export async function readModelJson(file: string, label: string): Promise<Record<string, unknown>> {
  let bytes: Buffer;
  let handle: fs.FileHandle | undefined;
  try {
    // Non-blocking, so that a FIFO in place of the file cannot stall the open.
    handle = await fs.open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ModelFormatError(file, label, 'not a regular file');
    if (stat.size > MAX_JSON_BYTES) {
      throw new ModelFormatError(
        file,
        label,
        `the file has ${stat.size} bytes; a model.json of more than ${MAX_JSON_BYTES} bytes is not read`,
      );
    }
    bytes = Buffer.alloc(stat.size);
    let done = 0;
    while (done < stat.size) {
      const { bytesRead } = await handle.read(bytes, done, stat.size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    bytes = bytes.subarray(0, done);
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(file, label, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    await handle?.close().catch(() => undefined);
  }
  const { text, encoding } = decodeJsonText(bytes);
  if (text === undefined) throw new ModelFormatError(file, label, `the text is ${encoding}; a model.json must be UTF-8 or UTF-16`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8's JSON.parse does not recurse, but should one overflow, it is the file's nesting.
    if (e instanceof RangeError) throw new ModelFormatError(file, label, `the JSON nests too deeply to parse (${e.message})`);
    throw new ModelFormatError(
      file,
      label,
      `not valid JSON${encoding === 'UTF-8' ? '' : ` (read as ${encoding})`} (${(e as Error).message})`,
    );
  }
  const deep = tooDeep(json);
  if (deep !== undefined) {
    throw new ModelFormatError(file, label, `nesting deeper than ${MAX_JSON_DEPTH} levels; a model.json nests about 15`, deep);
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
  const { text } = decodeJsonText(head);
  if (text === undefined || !/^\s*\{/.test(text)) return undefined;
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
      if (statSync(path).size <= MAX_DETECT_BYTES) return kindOfJson(JSON.parse(decodeJsonText(readFileSync(path)).text ?? ''));
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
