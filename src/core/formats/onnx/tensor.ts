/**
 * TensorProto decoding for the ONNX reader: int64 values (protobufjs gives Long objects), the
 * several places a tensor keeps its values (raw_data, float_data, double_data, int32_data,
 * int64_data, external files), and float16/bfloat16/double widening or narrowing to float32.
 * Every declared size is checked against the bytes actually present before anything is allocated.
 */
import { onnx } from 'onnx-proto';
import { ContainmentError, openContained, readRange, type ContainedFile } from '../../io/contained';
import { HOST_LITTLE_ENDIAN } from '../../io/endian';
import { float16ToNumber } from '../../io/float16';

/** What protobufjs hands out for int64 fields when the `long` package is present. */
export interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toNumber(): number;
}

export type Int64 = number | LongLike;

/** Thrown by the helpers here; the reader turns it into a ModelFormatError with the right location. */
export class TensorError extends Error {}

export const DT = onnx.TensorProto.DataType;

const TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  16: 'BFLOAT16',
};

export function dataTypeName(t: number | null | undefined): string {
  return TYPE_NAMES[t ?? 0] ?? `data type ${t}`;
}

const ELEM_BYTES: Record<number, number> = {
  [DT.FLOAT]: 4,
  [DT.DOUBLE]: 8,
  [DT.FLOAT16]: 2,
  [DT.BFLOAT16]: 2,
  [DT.INT64]: 8,
  [DT.INT32]: 4,
  [DT.UINT8]: 1,
  [DT.INT8]: 1,
  [DT.BOOL]: 1,
};

/** An int64 as a JS number; refuses values a double cannot hold exactly. */
export function int64(v: Int64 | null | undefined, what: string): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === 'number' ? v : v.toNumber();
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a Long, whose toString gives the decimal value
  if (!Number.isSafeInteger(n)) throw new TensorError(`${what} is out of range (${String(v)})`);
  return n;
}

export function tensorDims(t: onnx.ITensorProto): number[] {
  return (t.dims ?? []).map((d, i) => {
    const n = int64(d, `dimension ${i}`);
    if (n < 0) throw new TensorError(`dimension ${i} is negative (${n})`);
    return n;
  });
}

export function elementCount(dims: number[]): number {
  let n = 1;
  for (const d of dims) {
    n *= d;
    if (!Number.isSafeInteger(n)) throw new TensorError(`shape [${dims.join(', ')}] holds too many values`);
  }
  return n;
}

export function isFloatType(t: number | null | undefined): boolean {
  return t === DT.FLOAT || t === DT.DOUBLE || t === DT.FLOAT16 || t === DT.BFLOAT16;
}

export function isIntType(t: number | null | undefined): boolean {
  return t === DT.INT64 || t === DT.INT32;
}

function checkRaw(raw: Uint8Array, count: number, bytesPer: number, type: number): void {
  if (raw.length !== count * bytesPer) {
    throw new TensorError(`declares ${count} ${dataTypeName(type)} values (${count * bytesPer} bytes) but holds ${raw.length} bytes`);
  }
}

function checkCount(have: number, count: number, field: string): void {
  if (have !== count) throw new TensorError(`declares ${count} values but ${field} holds ${have}`);
}

function bfloat16ToFloat32(h: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, h << 16);
  return v.getFloat32(0);
}

/** True when the tensor's values live in an external file that has not been loaded yet. */
export function isExternal(t: onnx.ITensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

/** The typed value fields (float_data, int64_data, ...) that hold anything, with their lengths. */
function typedFields(t: onnx.ITensorProto): string[] {
  const fields: [string, { length: number } | null | undefined][] = [
    ['float_data', t.floatData],
    ['int32_data', t.int32Data],
    ['string_data', t.stringData],
    ['int64_data', t.int64Data],
    ['double_data', t.doubleData],
    ['uint64_data', t.uint64Data],
  ];
  return fields.filter(([, v]) => (v?.length ?? 0) > 0).map(([k, v]) => `${k} (${v!.length} values)`);
}

/**
 * raw_data, or null when the values sit in a typed field. A tensor whose values are in raw_data and
 * also in a typed field is refused: the format allows one place, and which one a consumer reads
 * differs (onnxruntime takes raw_data), so guessing would silently pick weights.
 */
function rawOrTyped(t: onnx.ITensorProto): Uint8Array | null {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (raw) {
    const typed = typedFields(t);
    if (typed.length > 0) {
      throw new TensorError(
        `holds its values twice, in raw_data (${raw.length} bytes) and in ${typed.join(' and ')}; ` +
          'a tensor keeps them in one place, and PruneScope does not guess which one is meant',
      );
    }
  }
  return raw;
}

/** The tensor's values as float32 (FLOAT, DOUBLE, FLOAT16, BFLOAT16; INT32/INT64 are widened). */
export function tensorFloats(t: onnx.ITensorProto): Float32Array {
  if (isExternal(t)) throw new TensorError('external data was not loaded');
  const type = t.dataType ?? 0;
  const count = elementCount(tensorDims(t));
  const raw = rawOrTyped(t);
  switch (type) {
    case DT.FLOAT: {
      if (raw) {
        checkRaw(raw, count, 4, type);
        // Copy: raw_data is a view into the file buffer, at any alignment.
        if (HOST_LITTLE_ENDIAN) return new Float32Array(new Uint8Array(raw).buffer, 0, count);
        const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        return Float32Array.from({ length: count }, (_, i) => v.getFloat32(i * 4, true));
      }
      checkCount(t.floatData?.length ?? 0, count, 'float_data');
      return Float32Array.from(t.floatData ?? []);
    }
    case DT.DOUBLE: {
      if (raw) {
        checkRaw(raw, count, 8, type);
        const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        return Float32Array.from({ length: count }, (_, i) => v.getFloat64(i * 8, true));
      }
      checkCount(t.doubleData?.length ?? 0, count, 'double_data');
      return Float32Array.from(t.doubleData ?? []);
    }
    case DT.FLOAT16:
    case DT.BFLOAT16: {
      const conv = type === DT.FLOAT16 ? float16ToNumber : bfloat16ToFloat32;
      if (raw) {
        checkRaw(raw, count, 2, type);
        const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        return Float32Array.from({ length: count }, (_, i) => conv(v.getUint16(i * 2, true)));
      }
      // Without raw_data, 16-bit floats sit one per int32_data entry (low 16 bits).
      checkCount(t.int32Data?.length ?? 0, count, 'int32_data');
      return Float32Array.from(t.int32Data ?? [], (x) => conv(x & 0xffff));
    }
    case DT.INT32:
    case DT.INT64:
      return Float32Array.from(tensorInts(t));
    default:
      throw new TensorError(`has data type ${dataTypeName(type)}; weights must be FLOAT, DOUBLE or FLOAT16`);
  }
}

/** The tensor's values as integers (INT64, INT32; float types are accepted when integral). */
export function tensorInts(t: onnx.ITensorProto): number[] {
  if (isExternal(t)) throw new TensorError('external data was not loaded');
  const type = t.dataType ?? 0;
  const count = elementCount(tensorDims(t));
  const raw = rawOrTyped(t);
  if (type === DT.INT64) {
    if (raw) {
      checkRaw(raw, count, 8, type);
      const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return Array.from({ length: count }, (_, i) => {
        const b = v.getBigInt64(i * 8, true);
        const n = Number(b);
        if (!Number.isSafeInteger(n)) throw new TensorError(`value ${b} is out of range`);
        return n;
      });
    }
    checkCount(t.int64Data?.length ?? 0, count, 'int64_data');
    return (t.int64Data ?? []).map((x) => int64(x, 'value'));
  }
  if (type === DT.INT32) {
    if (raw) {
      checkRaw(raw, count, 4, type);
      const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return Array.from({ length: count }, (_, i) => v.getInt32(i * 4, true));
    }
    checkCount(t.int32Data?.length ?? 0, count, 'int32_data');
    return [...(t.int32Data ?? [])];
  }
  if (isFloatType(type)) {
    const f = tensorFloats(t);
    return Array.from(f, (x) => {
      if (!Number.isInteger(x)) throw new TensorError(`value ${x} is not an integer`);
      return x;
    });
  }
  throw new TensorError(`has data type ${dataTypeName(type)}; expected INT64 or INT32`);
}

function externalEntry(t: onnx.ITensorProto, key: string): string | undefined {
  return t.externalData?.find((e) => e.key === key)?.value ?? undefined;
}

function nonNegativeInt(s: string | undefined, key: string): number | undefined {
  if (s === undefined || s === '') return undefined;
  if (!/^\d+$/.test(s.trim())) throw new TensorError(`external_data ${key} "${s}" is not a non-negative integer`);
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n)) throw new TensorError(`external_data ${key} ${s} is out of range`);
  return n;
}

/**
 * Loads a tensor's external data (location/offset/length relative to the model's folder) into
 * raw_data and returns the file's path. The file is opened through openContained, so locations that
 * leave the folder — `../`, absolute paths, URLs, or symlinks that resolve outside it — are refused
 * and a model file cannot make the reader open arbitrary files; only the declared range is read.
 */
export async function loadExternalData(t: onnx.ITensorProto, modelDir: string): Promise<string> {
  const location = externalEntry(t, 'location');
  if (!location) throw new TensorError('is stored externally but names no location');
  const inline = [...(t.rawData && t.rawData.length > 0 ? [`raw_data (${t.rawData.length} bytes)`] : []), ...typedFields(t)];
  if (inline.length > 0) {
    throw new TensorError(
      `is stored externally in "${location}" but also holds ${inline.join(' and ')} in the model file; ` +
        'a tensor keeps its values in one place, and PruneScope does not guess which one is meant',
    );
  }
  const type = t.dataType ?? 0;
  const bytesPer = ELEM_BYTES[type];
  if (!bytesPer) throw new TensorError(`external data of type ${dataTypeName(type)} is not supported`);
  const dims = tensorDims(t);
  const count = elementCount(dims);
  if (count > MAX_SPARSE_DENSE_VALUES) {
    throw new TensorError(
      `is stored externally with shape [${dims.join(', ')}] (${count} values); PruneScope holds weights in memory and stops at ${MAX_SPARSE_DENSE_VALUES}`,
    );
  }
  const expected = count * bytesPer;
  const offset = nonNegativeInt(externalEntry(t, 'offset'), 'offset') ?? 0;
  const declared = nonNegativeInt(externalEntry(t, 'length'), 'length');
  let file: ContainedFile;
  try {
    file = await openContained(modelDir, location);
  } catch (e) {
    if (e instanceof ContainmentError) throw new TensorError(`external location ${e.message}`);
    throw e;
  }
  try {
    const size = file.size;
    if (offset > size) {
      throw new TensorError(`external data "${location}" has ${size} bytes; offset ${offset} lies past its end`);
    }
    const length = declared ?? size - offset;
    if (length !== expected) {
      throw new TensorError(`declares ${expected} bytes of ${dataTypeName(type)} values but external_data gives length ${length}`);
    }
    if (offset + length > size) {
      throw new TensorError(`external data "${location}" has ${size} bytes; offset ${offset} + length ${length} runs past its end`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readRange(file, offset, length);
    } catch (e) {
      if (e instanceof ContainmentError) throw new TensorError(`external data ${e.message}`);
      throw e;
    }
    t.rawData = bytes;
  } finally {
    await file.handle.close();
  }
  t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  t.externalData = [];
  return file.path;
}

/** Sparse initializers are expanded to dense weights in memory; past this many values, they are refused. */
export const MAX_SPARSE_DENSE_VALUES = 2 ** 28;

/** The dense shape of a SparseTensorProto. */
export function sparseDims(s: onnx.ISparseTensorProto): number[] {
  return tensorDims({ dims: s.dims });
}

/**
 * A SparseTensorProto as dense float32 values, zero where no value is stored. Indices are either
 * linear ([NNZ]) or one coordinate per dimension ([NNZ, rank]) and, as the ONNX spec requires,
 * strictly ascending: a repeated or out-of-order index is refused rather than guessed at.
 */
export function sparseTensorFloats(s: onnx.ISparseTensorProto): Float32Array {
  const dims = sparseDims(s);
  const count = elementCount(dims);
  if (count > MAX_SPARSE_DENSE_VALUES) {
    throw new TensorError(
      `is a sparse tensor of shape [${dims.join(', ')}] (${count} values dense); PruneScope holds weights dense in memory and stops at ${MAX_SPARSE_DENSE_VALUES}`,
    );
  }
  if (!s.values) throw new TensorError('is a sparse tensor without values');
  const valueDims = tensorDims(s.values);
  if (valueDims.length !== 1)
    throw new TensorError(`is a sparse tensor whose values have shape [${valueDims.join(', ')}]; they must be a vector [NNZ]`);
  const nnz = valueDims[0];
  const values = tensorFloats(s.values);
  const out = new Float32Array(count);
  if (nnz === 0) return out;
  if (!s.indices) throw new TensorError(`is a sparse tensor with ${nnz} values but no indices`);
  const indexDims = tensorDims(s.indices);
  const flat = tensorInts(s.indices);
  const rank = dims.length;
  let linear: (k: number) => number;
  if (indexDims.length === 1 && indexDims[0] === nnz) {
    linear = (k) => flat[k];
  } else if (indexDims.length === 2 && indexDims[0] === nnz && indexDims[1] === rank) {
    linear = (k) => {
      let at = 0;
      for (let d = 0; d < rank; d++) {
        const c = flat[k * rank + d];
        if (!(c >= 0 && c < dims[d]))
          throw new TensorError(`is a sparse tensor whose index ${k} has coordinate ${c} in dimension ${d}, outside [0, ${dims[d]})`);
        at = at * dims[d] + c;
      }
      return at;
    };
  } else {
    throw new TensorError(
      `is a sparse tensor with ${nnz} values whose indices have shape [${indexDims.join(', ')}]; expected [${nnz}] (linear) or [${nnz}, ${rank}]`,
    );
  }
  let previous = -1;
  for (let k = 0; k < nnz; k++) {
    const at = linear(k);
    if (!(at >= 0 && at < count)) throw new TensorError(`is a sparse tensor whose index ${k} is ${at}, outside its ${count} values`);
    if (at <= previous)
      throw new TensorError(`is a sparse tensor whose indices are not strictly ascending (index ${k} is ${at}, after ${previous})`);
    out[at] = values[k];
    previous = at;
  }
  return out;
}
