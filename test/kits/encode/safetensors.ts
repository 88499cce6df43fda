/**
 * safetensors files written by hand for the tests: an 8-byte little-endian header length, the
 * JSON header (padded with spaces to a multiple of 8, as the Rust crate does) and the tensors'
 * little-endian bytes in header order. Independent of src/core/formats/safetensors.
 */
import { float32LE, float64LE } from './protobuf';

export interface StTensor {
  name: string;
  shape: readonly number[];
  values: ArrayLike<number>;
  /** F32 (default) or F64. */
  dtype?: 'F32' | 'F64';
}

export function encodeSafetensors(tensors: readonly StTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.values.length)
      throw new Error(`${t.name}: shape [${t.shape.join(', ')}] holds ${count} values, given ${t.values.length}`);
    const bytes = t.dtype === 'F64' ? float64LE(t.values) : float32LE(t.values);
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    blobs.push(bytes);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  head.set(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
