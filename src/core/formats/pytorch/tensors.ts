import { ModelFormatError } from '../../errors';
import { float16ToNumber } from '../../io/float16';
import { LABEL } from './container';
import { PickleError, printable } from './pickle';
import { type TorchTensor } from './torch-globals';

/** A tensor of the state dict with the key it is stored under. */
export interface NamedTensor {
  key: string;
  tensor: TorchTensor;
}

export const shapeText = (shape: number[]) => `[${shape.join(', ')}]`;

export const where = (t: NamedTensor) => `tensor "${printable(t.key)}" ${shapeText(t.tensor.shape)}`;

type Reader = (view: DataView, at: number) => number;

const scratch = new DataView(new ArrayBuffer(4));

function reader(dtype: string, le: boolean): Reader | undefined {
  switch (dtype) {
    case 'float32':
      return (v, at) => v.getFloat32(at, le);
    case 'float64':
      return (v, at) => v.getFloat64(at, le);
    case 'float16':
      return (v, at) => float16ToNumber(v.getUint16(at, le));
    case 'bfloat16':
      // bfloat16 is the top half of a float32
      return (v, at) => {
        scratch.setUint32(0, v.getUint16(at, le) << 16);
        return scratch.getFloat32(0);
      };
    default:
      return undefined;
  }
}

/** The storage's bytes, with the container's errors (a missing record) made the file's. */
function storageBytes(file: string, t: NamedTensor): Uint8Array {
  try {
    return t.tensor.storage.data();
  } catch (e) {
    if (e instanceof PickleError) throw new ModelFormatError(file, LABEL, e.message, where(t));
    throw e;
  }
}

/**
 * The values of a floating-point tensor in row-major order of its shape, whatever its strides,
 * offset, dtype (float32, float16, bfloat16, float64) and byte order. Bounds were checked when
 * the tensor was unpickled (the largest element it reaches lies inside its storage).
 */
export function tensorValues<T extends Float32Array | Float64Array>(
  file: string,
  t: NamedTensor,
  littleEndian: boolean,
  make: new (n: number) => T,
): T {
  const { shape, stride, offset, dtype } = t.tensor;
  const read = reader(dtype.name, littleEndian);
  if (!read)
    throw new ModelFormatError(
      file,
      LABEL,
      `has dtype ${dtype.name}; layer parameters must be float32, float16, bfloat16 or float64`,
      where(t),
    );
  const bytes = storageBytes(file, t);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = t.tensor.numel;
  const out = new make(n);
  if (n === 0) return out;
  const es = dtype.size;
  const nd = shape.length;
  const contiguous = stride.every((st, i) => shape[i] === 1 || st === shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous && littleEndian && dtype.name === 'float32' && out instanceof Float32Array) {
    // The common case, copied at once: float32 little endian is the layout of a Float32Array.
    new Uint8Array(out.buffer).set(bytes.subarray(offset * es, (offset + n) * es));
    return out;
  }
  const lastDim = nd ? shape[nd - 1] : 1;
  const lastStride = nd ? stride[nd - 1] : 0;
  // An odometer over all but the last dimension; the last one is the inner loop.
  const idx = new Array<number>(Math.max(0, nd - 1)).fill(0);
  let base = offset;
  for (let o = 0; o < n; o += lastDim) {
    for (let j = 0; j < lastDim; j++) out[o + j] = read(view, (base + j * lastStride) * es);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d];
      if (idx[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}
