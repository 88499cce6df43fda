import { DataError } from '../errors';
import { assertRatio, dataLimit, describeLimit, exactBytes, formatBytes, gunzipCapped, inflateBounded, inflatePrefix } from '../io/inflate';
import { readFileBytes } from '../io/read';

/**
 * IDX files (the MNIST family: http://yann.lecun.com/exdb/mnist/): two zero bytes, a dtype
 * code, the number of dimensions, each dimension as a big-endian uint32, then big-endian data.
 * Files may be gzipped; that is detected by the gzip magic, not by the name.
 */

export type IdxDtype = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  /** Uint8Array for ubyte (a view of the file's bytes), Int8Array for byte, else the decoded values. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const CODES: Record<number, { dtype: IdxDtype; size: number }> = {
  0x08: { dtype: 'ubyte', size: 1 },
  0x09: { dtype: 'byte', size: 1 },
  0x0b: { dtype: 'short', size: 2 },
  0x0c: { dtype: 'int', size: 4 },
  0x0d: { dtype: 'float', size: 4 },
  0x0e: { dtype: 'double', size: 8 },
};

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** True when the bytes start like an (uncompressed) IDX file. */
export function isIdx(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] in CODES && bytes[3] >= 1 && bytes[3] <= 8;
}

/**
 * Gunzips a file whose content declares no size (CSV, or something not yet recognised), bounded
 * by the data limit (see io/inflate.ts) or by `cap` when that is smaller.
 */
export function gunzipData(bytes: Uint8Array, file: string, cap?: { bytes: number; why: string }): Uint8Array {
  if (bytes.length < 18) throw new DataError(file, `gzip file is truncated (${bytes.length} bytes)`);
  return gunzipCapped(bytes, file, cap);
}

interface IdxHeader {
  code: { dtype: IdxDtype; size: number };
  shape: number[];
  count: number;
  dataStart: number;
  /** Data bytes the header declares. */
  needed: number;
}

/** Reads an IDX header from the file's first bytes (at least 4 + 4 * dimensions of them). */
function parseIdxHeader(bytes: Uint8Array, file: string): IdxHeader {
  if (bytes.length < 4) throw new DataError(file, `IDX file is truncated (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(file, `not an IDX file (magic starts ${bytes[0]}, ${bytes[1]}; expected 0, 0)`);
  }
  const code = CODES[bytes[2]];
  if (!code)
    throw new DataError(
      file,
      `unknown IDX data type code 0x${bytes[2].toString(16).padStart(2, '0')} (expected 08 ubyte, 09 byte, 0B short, 0C int, 0D float, 0E double)`,
    );
  const ndims = bytes[3];
  if (ndims === 0) throw new DataError(file, 'IDX header declares 0 dimensions');
  const dataStart = 4 + 4 * ndims;
  if (bytes.length < dataStart) throw new DataError(file, `IDX header for ${ndims} dimensions is truncated (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  return { code, shape, count, dataStart, needed: count * code.size };
}

/**
 * Gunzips an IDX file to exactly the size its header declares: the header (the first bytes of
 * the decompressed stream) is inflated first, then the whole stream with that size as a hard
 * bound, so a stream that inflates further is refused as soon as it does. A stream that falls
 * short is reported by parseIdx as truncated.
 */
export function gunzipIdx(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 18) throw new DataError(file, `gzip file is truncated (${bytes.length} bytes)`);
  const h = parseIdxHeader(inflatePrefix(bytes, file, 'gzip', 4 + 4 * 255), file);
  const total = h.dataStart + h.needed;
  const what = `${h.shape.join('x')} ${h.code.dtype}`;
  const limit = dataLimit(file);
  if (total > limit.bytes) {
    throw new DataError(
      file,
      `IDX header declares ${what} values (${formatBytes(total)}), more than ${describeLimit(limit)}; refused before decompressing`,
    );
  }
  // Honest headers can still describe a bomb: bounded by the file's own size too.
  assertRatio(file, total, bytes.length, `IDX header (${what} values)`);
  return inflateBounded(bytes, file, 'gzip', { max: total, why: `the ${exactBytes(total)} its IDX header declares (${what})` });
}

/** Parses IDX bytes (already decompressed). Checks the declared size against the bytes present before allocating. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const { code, shape, count, dataStart, needed } = parseIdxHeader(bytes, file);
  const present = bytes.length - dataStart;
  if (needed !== present) {
    throw new DataError(
      file,
      `IDX header declares ${shape.join('x')} ${code.dtype} values (${needed} bytes) but the file holds ${present} bytes of data${present < needed ? ' (truncated)' : ''}`,
    );
  }
  const raw = bytes.subarray(dataStart);
  switch (code.dtype) {
    case 'ubyte':
      return { dtype: 'ubyte', shape, data: raw };
    case 'byte':
      return { dtype: 'byte', shape, data: new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
    default: {
      const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const s = code.size;
      if (code.dtype === 'short') {
        const out = new Int16Array(count);
        for (let i = 0; i < count; i++) out[i] = rv.getInt16(i * s, false);
        return { dtype: 'short', shape, data: out };
      }
      if (code.dtype === 'int') {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = rv.getInt32(i * s, false);
        return { dtype: 'int', shape, data: out };
      }
      if (code.dtype === 'float') {
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = rv.getFloat32(i * s, false);
        return { dtype: 'float', shape, data: out };
      }
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = rv.getFloat64(i * s, false);
      return { dtype: 'double', shape, data: out };
    }
  }
}

/** Reads an IDX file, gzipped or not. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes = await readFileBytes(path);
  if (isGzip(bytes)) bytes = gunzipIdx(bytes, path);
  return parseIdx(bytes, path);
}

/** Encodes an array as IDX bytes (big-endian), e.g. to save a dataset for other tools. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const code = Number(Object.entries(CODES).find(([, c]) => c.dtype === array.dtype)![0]);
  const size = CODES[code].size;
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) throw new Error(`idx: shape [${array.shape}] holds ${count} values but data has ${array.data.length}`);
  const start = 4 + 4 * array.shape.length;
  const out = new Uint8Array(start + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = array.data[i];
    const o = start + i * size;
    switch (array.dtype) {
      case 'ubyte':
        view.setUint8(o, v);
        break;
      case 'byte':
        view.setInt8(o, v);
        break;
      case 'short':
        view.setInt16(o, v, false);
        break;
      case 'int':
        view.setInt32(o, v, false);
        break;
      case 'float':
        view.setFloat32(o, v, false);
        break;
      case 'double':
        view.setFloat64(o, v, false);
        break;
    }
  }
  return out;
}
