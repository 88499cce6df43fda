import { promises as fs } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { ModelFormatError } from '../../errors';
import { assertNotSource, writeFilesAtomically } from '../../io/atomic';
import { ContainmentError, readRange, type ContainedFile } from '../../io/contained';
import { float16ToNumber } from '../../io/float16';
import { ACTIVATIONS, type Activation, type DenseLayer, type MLP, validateMLP } from '../../model/mlp';
import type { ModelFormat, ReadOptions, WriteResult } from '../format';
import { chainOrders, chains } from '../chain-order';

/**
 * safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
 * then the raw little-endian tensor bytes. We read state dicts of Linear layers (PyTorch
 * `nn.Linear`, dfdx, candle): weight [out, in] and optional bias [out] per layer.
 *
 * A state dict stores no activations, so they come from ReadOptions, unless the file was written
 * by PruneScope, which records them in `__metadata__` under these keys (values are JSON text,
 * since safetensors metadata values must be strings):
 *   - "prunescope.layers":      [{"name": string, "activation": Activation, "alpha"?: number, "dropout"?: number}, ...]
 *                               one entry per layer, in order (tensor prefixes 0, 1, 2, ...)
 *   - "prunescope.input_shape": number[], the model's input shape (its product is the first layer's input size)
 *   - "prunescope.name":        the model's name
 * The metadata also holds "format": "pt" (so PyTorch's safetensors loader accepts the file) and
 * "producer": "PruneScope". Recorded activations win over ReadOptions.
 */

const LABEL = 'safetensors';
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Weights are held dense as float32 in memory; a Linear tensor of more values than this is refused before it is read. */
const MAX_TENSOR_VALUES = 2 ** 28;

const DTYPE_SIZES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'];

const META_LAYERS = 'prunescope.layers';
const META_INPUT_SHAPE = 'prunescope.input_shape';
const META_NAME = 'prunescope.name';

interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Byte length of the JSON header (after the 8-byte length). */
  headerLength: number;
  metadata: Record<string, string>;
  tensors: TensorInfo[];
}

const shapeText = (shape: number[]) => `[${shape.join(', ')}]`;

/** A name from the file, cut to a length a message can carry. */
function shorten(name: string, max = 200): string {
  return name.length > max ? `${name.slice(0, max)}... (${name.length} characters)` : name;
}

/** A header value for a message: JSON for short flat values, a summary otherwise (never a deep JSON.stringify). */
function brief(v: unknown): string {
  const flat = (x: unknown): string => {
    if (Array.isArray(x)) return '[...]';
    if (x !== null && typeof x === 'object') return '{...}';
    const t = JSON.stringify(x) ?? String(x);
    return t.length > 40 ? `${t.slice(0, 37)}...` : t;
  };
  if (Array.isArray(v)) return `[${v.slice(0, 8).map(flat).join(',')}${v.length > 8 ? `,... (${v.length} entries)` : ''}]`;
  if (v !== null && typeof v === 'object') return `an object with ${Object.keys(v).length} keys`;
  return flat(v);
}

/**
 * The first key that appears twice in one object of the (already parsed, so well-formed) JSON text,
 * with the keys of the objects around it. JSON.parse keeps the last of two equal keys without a
 * word; a safetensors header that names a tensor twice is ambiguous. One pass, with a stack.
 */
export function duplicateJsonKey(text: string): { key: string; path: string[] } | null {
  type Frame = { keys: Set<string> | null; expectKey: boolean; lastKey: string };
  const stack: Frame[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: find its closing quote, skipping escaped ones
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return null;
        let slashes = 0;
        for (let k = q - 1; k > i && text.charCodeAt(k) === 0x5c; k--) slashes++;
        j = q + 1;
        if (slashes % 2 === 0) break;
      }
      const top = stack[stack.length - 1];
      if (top && top.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j)) as string;
        if (top.keys.has(key)) return { key, path: stack.slice(0, -1).map((f) => f.lastKey) };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
      continue;
    }
    if (c === 0x7b) stack.push({ keys: new Set(), expectKey: true, lastKey: '' });
    else if (c === 0x5b) stack.push({ keys: null, expectKey: false, lastKey: '' });
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
    i++;
  }
  return null;
}

type Fail = (problem: string, location?: string) => ModelFormatError;

/** The "__metadata__" entry: an object of strings. */
function readMetadata(fail: Fail, value: unknown, metadata: Record<string, string>): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('"__metadata__" is not an object');
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw fail(`"__metadata__" value for "${shorten(k)}" is not a string`);
    metadata[k] = v;
  }
}

/** The dtype, the shape and the offsets of one tensor entry, each checked on its own before they are compared. */
function tensorFields(fail: Fail, value: unknown, where: string): { dtype: string; shape: number[]; begin: number; end: number } {
  if (typeof value !== 'object' || value === null) throw fail('entry is not an object', where);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZES)) {
    throw fail(`unknown dtype ${brief(dtype)} (expected one of ${Object.keys(DTYPE_SIZES).join(', ')})`, where);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`shape ${brief(shape)} is not a list of non-negative integers`, where);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw fail(`data_offsets ${brief(offsets)} are not [begin, end] with 0 <= begin <= end`, where);
  }
  const [begin, end] = offsets as number[];
  return { dtype, shape: shape as number[], begin, end };
}

/** One tensor entry: well-formed fields, inside the data, and as many bytes as its shape and dtype need. */
function checkTensor(fail: Fail, name: string, value: unknown, dataSize: number): TensorInfo {
  const where = `tensor "${shorten(name)}"`;
  const { dtype, shape, begin, end } = tensorFields(fail, value, where);
  if (end > dataSize) {
    throw fail(`data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes after the header; truncated file?)`, where);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * DTYPE_SIZES[dtype];
  if (end - begin !== expected) {
    throw fail(
      `shape ${shapeText(shape)} of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      where,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** No two tensors share bytes: sorted by where they begin, each must start at or after the end of the one before. */
function checkOverlaps(fail: Fail, tensors: TensorInfo[]): void {
  const byOffset = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (cur.begin < prev.end) {
      throw fail(
        `data [${cur.begin}, ${cur.end}] overlaps tensor "${shorten(prev.name)}" [${prev.begin}, ${prev.end}]`,
        `tensor "${shorten(cur.name)}"`,
      );
    }
  }
}

/**
 * Validates a parsed header against the data size; throws ModelFormatError naming the tensor. The
 * entries are checked in the header's order (the first bad one is the one reported), overlaps last.
 */
function checkHeader(file: string, json: unknown, dataSize: number, headerLength: number): SafetensorsHeader {
  const fail: Fail = (problem, location) => new ModelFormatError(file, LABEL, problem, location);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('header is not a JSON object');
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') readMetadata(fail, value, metadata);
    else tensors.push(checkTensor(fail, name, value, dataSize));
  }
  checkOverlaps(fail, tensors);
  return { headerLength, metadata, tensors };
}

/** The model file itself as readRange reads it: positioned reads of exactly the bytes asked for. */
function asRangeFile(handle: fs.FileHandle, path: string, size: number): ContainedFile {
  return { path, real: path, size, handle };
}

async function readAt(file: ContainedFile, offset: number, length: number, where?: string): Promise<Buffer> {
  try {
    const bytes = await readRange(file, offset, length);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    if (e instanceof ContainmentError) {
      throw new ModelFormatError(
        file.path,
        LABEL,
        `cannot read ${length} bytes at offset ${offset} (${e.message}; did the file change while being read?)`,
        where,
      );
    }
    throw e;
  }
}

/** Names the text encoding a header starts with when it is not plain UTF-8 JSON, from its first bytes. */
function foreignEncoding(head: Uint8Array): string | undefined {
  const [a, b, c, d] = head;
  if (a === 0xef && b === 0xbb && c === 0xbf) return 'UTF-8 with a byte order mark';
  if (a === 0xff && b === 0xfe && c === 0 && d === 0) return 'UTF-32LE (byte order mark FF FE 00 00)';
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return 'UTF-32BE (byte order mark 00 00 FE FF)';
  if (a === 0xff && b === 0xfe) return 'UTF-16LE (byte order mark FF FE)';
  if (a === 0xfe && b === 0xff) return 'UTF-16BE (byte order mark FE FF)';
  if (a !== 0 && b === 0 && head.length >= 2) return 'UTF-16LE (every other byte is 0)';
  if (a === 0 && b !== 0 && head.length >= 2) return 'UTF-16BE (every other byte is 0)';
  return undefined;
}

interface HeaderRead {
  header: SafetensorsHeader;
  size: number;
}

/**
 * Reads and validates the header only, without loading tensor data. Only the 8-byte length and
 * the declared header are read, with positioned reads, and the header only once its first bytes
 * show a UTF-8 JSON object: a file whose length lies (a huge declared header, a multi-GB file of
 * zeros) costs a few bytes of reading before it is refused.
 */
async function readHeaderAndSize(handle: fs.FileHandle, file: string): Promise<HeaderRead> {
  const { size } = await handle.stat();
  if (size < 8) throw new ModelFormatError(file, LABEL, `file is ${size} bytes, too short for the 8-byte header length`);
  const whole = asRangeFile(handle, file, size);
  const lenBuf = await readAt(whole, 0, 8);
  const declared = lenBuf.readBigUInt64LE(0);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFormatError(
      file,
      LABEL,
      `header length ${declared} bytes is over the 100 MB limit (not a safetensors file, or damaged)`,
    );
  }
  const headerLength = Number(declared);
  if (8 + headerLength > size) {
    throw new ModelFormatError(file, LABEL, `header length ${headerLength} bytes runs past the end of the ${size}-byte file (truncated?)`);
  }
  if (headerLength < 2) throw new ModelFormatError(file, LABEL, `header length is ${headerLength} bytes, too short for a JSON object`);
  const head = await readAt(whole, 8, Math.min(4, headerLength));
  const encoding = foreignEncoding(head);
  if (encoding) {
    throw new ModelFormatError(file, LABEL, `header is encoded as ${encoding}; the format requires UTF-8 JSON without a byte order mark`);
  }
  if (head[0] !== 0x7b) {
    throw new ModelFormatError(
      file,
      LABEL,
      `header does not start with "{" (its first byte is 0x${head[0].toString(16).padStart(2, '0')}); the format requires a JSON object (not a safetensors file, or damaged)`,
    );
  }
  const headerBuf = await readAt(whole, 8, headerLength);
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBuf);
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(file, LABEL, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const dup = duplicateJsonKey(text);
  if (dup) {
    const [first, ...rest] = dup.path;
    let what: string;
    if (first === undefined) {
      what =
        dup.key === '__metadata__'
          ? '"__metadata__" appears twice in the header'
          : `tensor "${shorten(dup.key)}" appears twice in the header`;
    } else if (first === '__metadata__' && rest.length === 0) {
      what = `metadata key "${shorten(dup.key)}" appears twice in "__metadata__"`;
    } else {
      what = `key "${shorten(dup.key)}" appears twice in the entry of ${first === '__metadata__' ? '"__metadata__"' : `tensor "${shorten(first)}"`}${rest.length ? ` (inside ${rest.map((k) => `"${shorten(k, 40)}"`).join(' > ')})` : ''}`;
    }
    throw new ModelFormatError(file, LABEL, `${what}; JSON readers keep one of the two silently, so which is meant is ambiguous`);
  }
  return { header: checkHeader(file, json, size - 8 - headerLength, headerLength), size };
}

async function readHeader(handle: fs.FileHandle, file: string): Promise<SafetensorsHeader> {
  return (await readHeaderAndSize(handle, file)).header;
}

/** The header of a safetensors file (tensor names, dtypes, shapes, metadata), validated. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await openFile(path);
  try {
    return await readHeader(handle, path);
  } finally {
    await handle.close();
  }
}

async function openFile(path: string): Promise<fs.FileHandle> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFormatError(path, LABEL, code === 'ENOENT' ? 'file not found' : `cannot open: ${(e as Error).message}`);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new ModelFormatError(path, LABEL, 'is not a regular file');
  }
  return handle;
}

function decodeFloats(bytes: Buffer, dtype: string): Float32Array {
  const n = bytes.length / DTYPE_SIZES[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    new Uint8Array(out.buffer).set(bytes);
  } else if (dtype === 'F64') {
    for (let i = 0; i < n; i++) out[i] = bytes.readDoubleLE(i * 8);
  } else if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = float16ToNumber(bytes.readUInt16LE(i * 2));
  } else {
    // bfloat16 is the top half of a float32
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = bytes.readUInt16LE(i * 2) << 16;
  }
  return out;
}

/** Splits into digit and non-digit runs so that "layers.10" sorts after "layers.9". */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}

const EMBEDDING_NAME = /(^|[._])(w?embed\w*|wte|wpe|tok_embeddings|word_embeddings|position_embeddings|lookup)([._]|$)/i;

interface LinearGroup {
  prefix: string;
  weight: TensorInfo;
  bias: TensorInfo | null;
  inputSize: number;
  units: number;
}

/** Groups the tensors into Linear layers, refusing anything that is not one. */
function groupLinear(file: string, tensors: TensorInfo[]): LinearGroup[] {
  const fail = (t: TensorInfo, problem: string) =>
    new ModelFormatError(file, LABEL, problem, `tensor "${shorten(t.name)}" ${shapeText(t.shape)}`);
  if (tensors.length === 0) throw new ModelFormatError(file, LABEL, 'holds no tensors');
  const groups = new Map<string, { weight?: TensorInfo; bias?: TensorInfo }>();
  for (const t of tensors) {
    const m = /^(?:(.*)\.)?(weight|bias)$/.exec(t.name);
    if (!m) {
      throw fail(t, 'is not the weight or bias of a Linear layer; only state dicts of Linear layers (MLPs) are supported');
    }
    const prefix = m[1] ?? '';
    if (EMBEDDING_NAME.test(prefix)) {
      throw fail(t, 'looks like an embedding table, not a Linear layer; only MLPs of Linear layers are supported');
    }
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw fail(t, `has dtype ${t.dtype}; Linear parameters must be ${FLOAT_DTYPES.join(', ')}`);
    }
    const g = groups.get(prefix) ?? {};
    if (m[2] === 'weight') {
      if (t.shape.length !== 2) {
        const kind =
          t.shape.length === 4
            ? ' (a 2-D convolution kernel?)'
            : t.shape.length === 3
              ? ' (a 1-D convolution kernel?)'
              : t.shape.length === 1
                ? ' (a normalisation scale?)'
                : '';
        throw fail(t, `is a ${t.shape.length}-D weight${kind}; only 2-D Linear weights [out, in] are supported`);
      }
      g.weight = t;
    } else {
      if (t.shape.length !== 1) throw fail(t, `is a ${t.shape.length}-D bias; a Linear bias is 1-D [out]`);
      g.bias = t;
    }
    groups.set(prefix, g);
  }
  const layers: LinearGroup[] = [];
  for (const [prefix, g] of groups) {
    if (!g.weight) throw fail(g.bias!, 'is a bias without a matching weight');
    const [units, inputSize] = g.weight.shape;
    if (units === 0)
      throw fail(g.weight, 'has 0 outputs: a Linear layer of 0 units, which computes nothing (every layer needs at least one unit)');
    if (inputSize === 0) throw fail(g.weight, 'takes 0 inputs: a Linear layer needs at least one input');
    if (units * inputSize > MAX_TENSOR_VALUES) {
      throw fail(
        g.weight,
        `holds ${units * inputSize} values; PruneScope holds weights in memory as float32 and stops at ${MAX_TENSOR_VALUES}`,
      );
    }
    if (g.bias && g.bias.shape[0] !== units) {
      throw fail(g.bias, `has ${g.bias.shape[0]} values but "${g.weight.name}" ${shapeText(g.weight.shape)} has ${units} outputs`);
    }
    layers.push({ prefix, weight: g.weight, bias: g.bias ?? null, inputSize, units });
  }
  layers.sort((a, b) => naturalCompare(a.prefix, b.prefix));
  return layers;
}

function orderLayers(file: string, layers: LinearGroup[], notes: string[]): LinearGroup[] {
  if (chains(layers)) return layers;
  // Names like "input"/"hidden"/"output" do not sort into order; the shapes may still tell it.
  if (layers.length <= 10) {
    const orders = chainOrders(layers);
    if (orders.length === 1) {
      notes.push(
        `layer order taken from the shapes, since the tensor names do not sort into a chain: ${orders[0].map((l) => l.prefix).join(' -> ')}`,
      );
      return orders[0];
    }
  }
  const i = layers.findIndex((l, k) => k > 0 && l.inputSize !== layers[k - 1].units);
  const prev = layers[i - 1];
  const cur = layers[i];
  throw new ModelFormatError(
    file,
    LABEL,
    `takes ${cur.inputSize} inputs but the layer before it by name, "${prev.weight.name}" ${shapeText(prev.weight.shape)}, gives ${prev.units}; the tensors do not form an MLP`,
    `tensor "${cur.weight.name}" ${shapeText(cur.weight.shape)}`,
  );
}

interface RecordedLayer {
  name: string;
  activation: Activation;
  alpha?: number;
  dropout?: number;
}

function parseRecorded(metadata: Record<string, string>, count: number, notes: string[]): RecordedLayer[] | undefined {
  const text = metadata[META_LAYERS];
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value) || value.length !== count) throw new Error(`expected ${count} entries`);
    return value.map((v: unknown, i) => {
      const e = v as Partial<RecordedLayer>;
      if (typeof e !== 'object' || e === null || !ACTIVATIONS.includes(e.activation as Activation)) {
        throw new Error(`entry ${i} has no known activation`);
      }
      return {
        name: typeof e.name === 'string' && e.name ? e.name : String(i),
        activation: e.activation as Activation,
        ...(typeof e.alpha === 'number' ? { alpha: e.alpha } : {}),
        ...(typeof e.dropout === 'number' ? { dropout: e.dropout } : {}),
      };
    });
  } catch (e) {
    notes.push(`ignored metadata "${META_LAYERS}" (${(e as Error).message}); activations come from the reader options`);
    return undefined;
  }
}

function parseInputShape(metadata: Record<string, string>, inputSize: number): number[] | undefined {
  try {
    const v = JSON.parse(metadata[META_INPUT_SHAPE] ?? 'null') as unknown;
    if (
      Array.isArray(v) &&
      v.every((d) => Number.isSafeInteger(d) && d > 0) &&
      v.reduce((a: number, b: number) => a * b, 1) === inputSize
    ) {
      return v as number[];
    }
  } catch {
    // fall back to the flat shape
  }
  return undefined;
}

async function readSafetensors(path: string, options: ReadOptions = {}): Promise<MLP> {
  const handle = await openFile(path);
  try {
    const { header, size } = await readHeaderAndSize(handle, path);
    const notes: string[] = [];
    const layers = orderLayers(path, groupLinear(path, header.tensors), notes);
    const recorded = parseRecorded(header.metadata, layers.length, notes);
    const hidden = options.activation ?? 'relu';
    const last = options.outputActivation ?? 'linear';
    if (!recorded) {
      notes.push(`safetensors stores no activations: ${hidden} after hidden layers, ${last} after the output layer (reader options)`);
    }
    noteUnreadHeaderParts(header, size, notes);

    const dataStart = 8 + header.headerLength;
    const whole = asRangeFile(handle, path, size);
    const readTensor = async (t: TensorInfo): Promise<Float32Array> =>
      decodeFloats(await readAt(whole, dataStart + t.begin, t.end - t.begin, `tensor "${shorten(t.name)}"`), t.dtype);

    const dense: DenseLayer[] = [];
    for (let i = 0; i < layers.length; i++) {
      dense.push(await readDenseLayer(layers[i], recorded?.[i], i === layers.length - 1 ? last : hidden, readTensor));
    }
    return safetensorsMLP(path, header, layers[0].inputSize, dense, notes);
  } finally {
    await handle.close();
  }
}

/** Notes the metadata PruneScope does not use and any bytes after the last tensor's data. */
function noteUnreadHeaderParts(header: SafetensorsHeader, size: number, notes: string[]): void {
  const otherMeta = Object.entries(header.metadata).filter(([k]) => !k.startsWith('prunescope.'));
  if (otherMeta.length > 0) {
    notes.push(`metadata: ${otherMeta.map(([k, v]) => `${k}=${v.length > 80 ? `${v.slice(0, 77)}...` : v}`).join(', ')}`);
  }
  const dataStart = 8 + header.headerLength;
  const dataSize = size - dataStart;
  const used = header.tensors.reduce((a, t) => Math.max(a, t.end), 0);
  if (dataSize > used) {
    notes.push(
      `the file has ${dataSize - used} bytes after the last tensor's data that the header does not account for; they were not read`,
    );
  }
}

/** One Linear layer as a dense layer: its [out, in] weight transposed to [in, out], its bias, and its recorded name and activation if any. */
async function readDenseLayer(
  g: LinearGroup,
  rec: RecordedLayer | undefined,
  defaultActivation: Activation,
  readTensor: (t: TensorInfo) => Promise<Float32Array>,
): Promise<DenseLayer> {
  const w = await readTensor(g.weight); // [out, in]
  const weights = new Float32Array(g.inputSize * g.units); // [in, out]
  for (let o = 0; o < g.units; o++) {
    const row = o * g.inputSize;
    for (let k = 0; k < g.inputSize; k++) weights[k * g.units + o] = w[row + k];
  }
  const layer: DenseLayer = {
    name: rec?.name ?? (g.prefix || 'linear'),
    inputSize: g.inputSize,
    units: g.units,
    weights,
    bias: g.bias ? await readTensor(g.bias) : null,
    activation: rec?.activation ?? defaultActivation,
  };
  if (rec?.alpha !== undefined) layer.alpha = rec.alpha;
  if (rec?.dropout !== undefined) layer.dropout = rec.dropout;
  return layer;
}

/** The MLP read from the file, once validated. */
function safetensorsMLP(path: string, header: SafetensorsHeader, inputSize: number, dense: DenseLayer[], notes: string[]): MLP {
  const mlp: MLP = {
    name: header.metadata[META_NAME] || basename(path, extname(path)),
    inputShape: parseInputShape(header.metadata, inputSize) ?? [inputSize],
    inputSize,
    layers: dense,
    source: {
      format: 'safetensors',
      path: resolve(path),
      ...(header.metadata.producer ? { producer: header.metadata.producer } : {}),
      notes,
    },
  };
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(path, LABEL, (e as Error).message);
  }
  return mlp;
}

/** Encodes an MLP as safetensors bytes: F32, `<i>.weight` [out, in] and `<i>.bias` [out]. */
export function encodeSafetensors(mlp: MLP): Uint8Array {
  const metadata: Record<string, string> = {
    format: 'pt',
    producer: 'PruneScope',
    [META_NAME]: mlp.name,
    [META_INPUT_SHAPE]: JSON.stringify(mlp.inputShape),
    [META_LAYERS]: JSON.stringify(
      mlp.layers.map((l) => ({
        name: l.name,
        activation: l.activation,
        ...(l.alpha !== undefined ? { alpha: l.alpha } : {}),
        ...(l.dropout !== undefined ? { dropout: l.dropout } : {}),
      })),
    ),
  };
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], data: Float32Array) => {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    chunks.push(data);
  };
  mlp.layers.forEach((l, i) => {
    const t = new Float32Array(l.inputSize * l.units);
    for (let k = 0; k < l.inputSize; k++) {
      const row = k * l.units;
      for (let o = 0; o < l.units; o++) t[o * l.inputSize + k] = l.weights[row + o];
    }
    add(`${i}.weight`, [l.units, l.inputSize], t);
    if (l.bias) add(`${i}.bias`, [l.units], l.bias);
  });
  let json = JSON.stringify(header);
  // The format pads the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf-8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), pos);
    pos += c.byteLength;
  }
  return out;
}

async function writeSafetensors(mlp: MLP, path: string): Promise<WriteResult> {
  assertNotSource(path, [mlp.source?.path]);
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(path, LABEL, `cannot write: ${(e as Error).message}`);
  }
  const bytes = await writeFilesAtomically([{ path, data: encodeSafetensors(mlp) }]);
  return { files: [path], bytes };
}

function looksLikeSafetensors(head: Uint8Array): boolean {
  if (head.length < 10) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const len = view.getBigUint64(0, true);
  return len >= 2n && len <= BigInt(MAX_HEADER_BYTES) && head[8] === 0x7b && (head[9] === 0x22 || head[9] === 0x7d || head[9] === 0x20);
}

export const safetensorsFormat: ModelFormat = {
  id: 'safetensors',
  label: LABEL,
  detect: (path, head) => extname(path).toLowerCase() === '.safetensors' || looksLikeSafetensors(head),
  read: readSafetensors,
  writeExtensions: ['.safetensors'],
  write: writeSafetensors,
};
