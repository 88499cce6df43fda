import { strToU8, zipSync } from 'fflate';
import { DataError } from '../errors';
import { writeFilesAtomically } from './atomic';
import { float16ArrayToFloat32 } from './float16';
import {
  assertRatio,
  checkZipEntry,
  dataLimit,
  describeLimit,
  exactBytes,
  extractZipEntry,
  formatBytes,
  inflateBounded,
  inflatePrefix,
  listZip,
  zipEntryPrefix,
} from './inflate';
import { readFileBytes } from './read';

/**
 * NumPy .npy / .npz reading and writing (format versions 1.0, 2.0 and 3.0, C order only).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */

export type NpyDtype =
  'float16' | 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One array. `data` is row-major with the typed array matching `dtype`; float16 is held as its
 * raw bits in a Uint16Array (Node has no Float16Array; `npyToFloat32` decodes it) and bool as 0/1 bytes.
 */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

interface DtypeInfo {
  dtype: NpyDtype;
  size: number;
  /** Character numpy uses for the kind in a descr string. */
  kind: string;
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  float16: { dtype: 'float16', size: 2, kind: 'f' },
  float32: { dtype: 'float32', size: 4, kind: 'f' },
  float64: { dtype: 'float64', size: 8, kind: 'f' },
  int8: { dtype: 'int8', size: 1, kind: 'i' },
  uint8: { dtype: 'uint8', size: 1, kind: 'u' },
  int16: { dtype: 'int16', size: 2, kind: 'i' },
  uint16: { dtype: 'uint16', size: 2, kind: 'u' },
  int32: { dtype: 'int32', size: 4, kind: 'i' },
  uint32: { dtype: 'uint32', size: 4, kind: 'u' },
  int64: { dtype: 'int64', size: 8, kind: 'i' },
  uint64: { dtype: 'uint64', size: 8, kind: 'u' },
  bool: { dtype: 'bool', size: 1, kind: 'b' },
};

export const NPY_DTYPES = Object.keys(DTYPES) as NpyDtype[];

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

function descrToDtype(descr: string, file: string): { info: DtypeInfo; littleEndian: boolean } {
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) {
    if (descr.startsWith('|O') || descr === 'O') {
      throw new DataError(file, 'holds an object array (dtype "O"), which cannot be read without Python; save it with a numeric dtype');
    }
    throw new DataError(file, `unsupported .npy dtype "${descr}" (expected a numeric dtype such as <f4, <f8, |u1, <i4, <i8, |b1)`);
  }
  const [, order, kind, sizeStr] = m;
  const size = Number(sizeStr);
  const info = Object.values(DTYPES).find((d) => d.kind === kind && d.size === size);
  if (!info) {
    if (kind === 'O')
      throw new DataError(file, 'holds an object array (dtype "O"), which cannot be read without Python; save it with a numeric dtype');
    throw new DataError(file, `unsupported .npy dtype "${descr}" (expected a numeric dtype such as <f4, <f8, |u1, <i4, <i8, |b1)`);
  }
  // '=' is native order; numpy writes it only for 1-byte types in practice, and Node runs little-endian.
  return { info, littleEndian: order !== '>' };
}

function dtypeToDescr(dtype: NpyDtype): string {
  const info = DTYPES[dtype];
  return `${info.size === 1 ? '|' : '<'}${info.kind}${info.size}`;
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parses the Python-literal header dict numpy writes, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. */
function parseHeader(text: string, file: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) {
      throw new DataError(file, 'holds a structured (record) array; only plain numeric arrays are supported');
    }
    throw new DataError(file, `.npy header has no "descr": ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (!fortran || !shape) throw new DataError(file, `.npy header is malformed: ${JSON.stringify(text.slice(0, 200))}`);
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+L?$/.test(s) ? parseInt(s, 10) : NaN));
  if (dims.some((d) => !Number.isSafeInteger(d))) throw new DataError(file, `.npy header has a bad shape (${shape[1]})`);
  return { descr: descr[2], fortran: fortran[1] === 'True', shape: dims };
}

function allocate(info: DtypeInfo, count: number): NpyData {
  switch (info.dtype) {
    case 'float16':
    case 'uint16':
      return new Uint16Array(count);
    case 'float32':
      return new Float32Array(count);
    case 'float64':
      return new Float64Array(count);
    case 'int8':
      return new Int8Array(count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(count);
    case 'int16':
      return new Int16Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'uint32':
      return new Uint32Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'uint64':
      return new BigUint64Array(count);
  }
}

function decodeBigEndian(info: DtypeInfo, bytes: Uint8Array, out: NpyData): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = out.length;
  const s = info.size;
  for (let i = 0; i < n; i++) {
    const o = i * s;
    switch (info.dtype) {
      case 'float16':
      case 'uint16':
        (out as Uint16Array)[i] = view.getUint16(o, false);
        break;
      case 'int16':
        (out as Int16Array)[i] = view.getInt16(o, false);
        break;
      case 'float32':
        (out as Float32Array)[i] = view.getFloat32(o, false);
        break;
      case 'float64':
        (out as Float64Array)[i] = view.getFloat64(o, false);
        break;
      case 'int32':
        (out as Int32Array)[i] = view.getInt32(o, false);
        break;
      case 'uint32':
        (out as Uint32Array)[i] = view.getUint32(o, false);
        break;
      case 'int64':
        (out as BigInt64Array)[i] = view.getBigInt64(o, false);
        break;
      case 'uint64':
        (out as BigUint64Array)[i] = view.getBigUint64(o, false);
        break;
      default:
        (out as Uint8Array | Int8Array)[i] = bytes[o];
    }
  }
}

interface NpyHeader {
  info: DtypeInfo;
  littleEndian: boolean;
  descr: string;
  shape: number[];
  count: number;
  /** Offset of the data: preamble plus header. */
  dataStart: number;
  /** Bytes of data the header declares. */
  needed: number;
}

/** Reads the preamble and header of a .npy file from its first bytes (at least the whole header). */
function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  if (!isNpy(bytes)) throw new DataError(file, 'not a .npy file (no \\x93NUMPY magic)');
  if (bytes.length < 10) throw new DataError(file, `.npy file is truncated (${bytes.length} bytes)`);
  const major = bytes[6];
  let headerLen: number;
  let headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataError(file, `.npy file is truncated (${bytes.length} bytes)`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new DataError(file, `unsupported .npy format version ${major}.${bytes[7]} (expected 1.0, 2.0 or 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw new DataError(
      file,
      `.npy header says ${headerLen} header bytes but the file has only ${bytes.length - headerStart} after the preamble (truncated?)`,
    );
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const text = major === 3 ? new TextDecoder('utf-8').decode(headerBytes) : Buffer.from(headerBytes).toString('latin1');
  const header = parseHeader(text, file);
  const { info, littleEndian } = descrToDtype(header.descr, file);
  const count = product(header.shape);
  if (header.fortran && header.shape.filter((d) => d !== 1).length > 1) {
    throw new DataError(file, `is stored in Fortran (column-major) order; save it in C order (np.ascontiguousarray) first`);
  }
  return { info, littleEndian, descr: header.descr, shape: header.shape, count, dataStart, needed: count * info.size };
}

/** Largest .npy header read from a compressed stream (numpy itself refuses headers over 10,000 bytes). */
const MAX_STREAMED_HEADER = 1 << 20;

/**
 * The total length (header and data) of the .npy file a stream holds, from its header alone:
 * `read(n)` gives the stream's first n bytes (or all, when shorter). Lets a compressed .npy be
 * inflated to exactly the size its header declares.
 */
export function npyLengthFromHeader(read: (n: number) => Uint8Array, file: string): { length: number; what: string } {
  const head = read(12);
  // The preamble says how long the header is; parseNpyHeader reports a bad or short preamble.
  let headerEnd = head.length;
  if (isNpy(head) && head.length >= 10) {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (head[6] === 1) headerEnd = 10 + view.getUint16(8, true);
    else if ((head[6] === 2 || head[6] === 3) && head.length >= 12) headerEnd = 12 + view.getUint32(8, true);
  }
  if (headerEnd > MAX_STREAMED_HEADER) {
    throw new DataError(file, `.npy preamble declares a header of ${headerEnd} bytes; numpy writes a few hundred (damaged file?)`);
  }
  const h = parseNpyHeader(headerEnd > head.length ? read(headerEnd) : head, file);
  return { length: h.dataStart + h.needed, what: `shape (${h.shape.join(', ')}) of ${h.descr}` };
}

/**
 * Gunzips a .npy file to exactly the size its header declares: the header is inflated first, then
 * the whole stream with that size as a hard bound (refused the moment it goes past).
 */
export function gunzipNpy(bytes: Uint8Array, file: string): Uint8Array {
  const { length, what } = npyLengthFromHeader((n) => inflatePrefix(bytes, file, 'gzip', n), file);
  const limit = dataLimit(file);
  if (length > limit.bytes) {
    throw new DataError(
      file,
      `.npy header declares ${what} (${formatBytes(length)}), more than ${describeLimit(limit)}; refused before decompressing`,
    );
  }
  assertRatio(file, length, bytes.length, `.npy header (${what})`);
  return inflateBounded(bytes, file, 'gzip', { max: length, why: `the ${exactBytes(length)} its .npy header declares (${what})` });
}

/** Parses the bytes of one .npy file. `file` names it in errors (for an .npz member: "archive.npz:x_train.npy"). */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const { info, littleEndian, descr, shape, count, dataStart, needed } = parseNpyHeader(bytes, file);
  const present = bytes.length - dataStart;
  if (present !== needed) {
    throw new DataError(
      file,
      `shape (${shape.join(', ')}) of ${descr} needs ${needed} data bytes but the file has ${present}${present < needed ? ' (truncated)' : ''}`,
    );
  }
  const data = allocate(info, count);
  const raw = bytes.subarray(dataStart, dataStart + needed);
  if (littleEndian || info.size === 1) {
    // Copy into the fresh, aligned buffer; the source offset need not be aligned.
    new Uint8Array(data.buffer, data.byteOffset, needed).set(raw);
  } else {
    decodeBigEndian(info, raw, data);
  }
  return { dtype: info.dtype, shape, data };
}

/** Encodes one array as .npy bytes: version 1.0 when the header fits, else 2.0; header padded to 64 bytes. */
export function encodeNpy(array: NpyArray): Uint8Array {
  const count = product(array.shape);
  if (array.data.length !== count) {
    throw new Error(`npy: shape [${array.shape}] holds ${count} values but data has ${array.data.length}`);
  }
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  const dict = `{'descr': '${dtypeToDescr(array.dtype)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let preamble = 10;
  let major = 1;
  let total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  if (total - preamble > 0xffff) {
    preamble = 12;
    major = 2;
    total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  }
  const header = dict + ' '.repeat(total - preamble - dict.length - 1) + '\n';
  const dataBytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(total + dataBytes.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(strToU8(header, true), preamble);
  out.set(dataBytes, total);
  return out;
}

/** An NPZ archive's arrays by name, without the ".npy" suffix (as np.load gives them). */
export type NpzArrays = Record<string, NpyArray>;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
}

/**
 * Parses an .npz archive. Nothing is inflated beyond what the archive declares: every entry's
 * declared size is checked first (against the total cap, deflate's largest possible ratio, and the
 * size its .npy header describes), then each entry is inflated with that size as a hard bound.
 */
export function parseNpz(bytes: Uint8Array, file: string): NpzArrays {
  if (!isZip(bytes)) throw new DataError(file, 'not an .npz file (not a zip archive)');
  const entries = listZip(bytes, file).filter((e) => !e.name.endsWith('/'));
  const limit = dataLimit(file);
  let total = 0;
  for (const entry of entries) {
    checkZipEntry(entry, `${file}:${entry.name}`, limit);
    total += entry.size;
  }
  if (total > limit.bytes) {
    throw new DataError(
      file,
      `.npz entries declare ${formatBytes(total)} uncompressed in all, more than ${describeLimit(limit)}; refused before inflating`,
    );
  }
  const out: NpzArrays = {};
  for (const entry of entries) {
    const member = `${file}:${entry.name}`;
    if (entry.method === 8) {
      // The .npy header inside must describe exactly the size the entry declares.
      const { length, what } = npyLengthFromHeader((n) => zipEntryPrefix(bytes, entry, member, n), member);
      if (length !== entry.size) {
        throw new DataError(
          member,
          `zip entry declares ${entry.size} bytes but its .npy header (${what}) makes ${length}; refused before inflating (damaged or forged archive)`,
        );
      }
    }
    // Honest headers can still describe a bomb: the whole archive's inflation is bounded by its size.
    assertRatio(file, total, bytes.length, '.npz entries');
    const key = entry.name.endsWith('.npy') ? entry.name.slice(0, -4) : entry.name;
    out[key] = parseNpy(extractZipEntry(bytes, entry, member), member);
  }
  if (Object.keys(out).length === 0) throw new DataError(file, '.npz archive holds no arrays');
  return out;
}

/** Zips arrays into .npz bytes (deflated, like np.savez_compressed; `compress: false` stores them like np.savez). */
export function encodeNpz(arrays: NpzArrays, compress = true): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [key, arr] of Object.entries(arrays)) files[`${key}.npy`] = encodeNpy(arr);
  return zipSync(files, { level: compress ? 6 : 0 });
}

export async function readNpyFile(path: string): Promise<NpyArray> {
  return parseNpy(await readFileBytes(path), path);
}

export async function readNpzFile(path: string): Promise<NpzArrays> {
  return parseNpz(await readFileBytes(path), path);
}

export async function writeNpyFile(path: string, array: NpyArray): Promise<number> {
  return writeFilesAtomically([{ path, data: encodeNpy(array) }]);
}

export async function writeNpzFile(path: string, arrays: NpzArrays, compress = true): Promise<number> {
  return writeFilesAtomically([{ path, data: encodeNpz(arrays, compress) }]);
}

/** The array's values as float32 (int64 beyond 2^24 loses precision, as any float32 would). */
export function npyToFloat32(array: NpyArray): Float32Array {
  const d = array.data;
  if (array.dtype === 'float32') return d as Float32Array;
  if (array.dtype === 'float16') return float16ArrayToFloat32(d as Uint16Array);
  const out = new Float32Array(d.length);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    out.set(d);
  }
  return out;
}

/** Wraps a Float32Array as an NpyArray, e.g. for predictions written by the CLI. */
export function float32Npy(data: Float32Array, shape: number[]): NpyArray {
  return { dtype: 'float32', shape, data };
}

/** One .npy file's values as float32 with its shape and stored dtype (for model inputs). */
export interface NpyFloat32 {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array;
}

/** Reads an .npy file of any numeric dtype as float32 (the CLI's predict and similarity inputs). */
export async function readNpy(path: string): Promise<NpyFloat32> {
  const arr = await readNpyFile(path);
  return { dtype: arr.dtype, shape: arr.shape, data: npyToFloat32(arr) };
}

/** Writes float32 values with the given shape as an .npy file, atomically; returns bytes written. */
export async function writeNpy(path: string, data: Float32Array, shape: number[]): Promise<number> {
  return writeNpyFile(path, float32Npy(data, shape));
}
