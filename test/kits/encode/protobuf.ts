/**
 * A minimal protocol-buffers wire-format writer for the test encoder kit: varints (wire type 0),
 * length-delimited fields (2) and fixed32 floats (5), written by hand from the encoding rules
 * (https://protobuf.dev/programming-guides/encoding/). It shares no code with the product's ONNX
 * reader or writer, nor with the onnx-proto package, so a reader is not only checked against its twin.
 */

export type Bytes = Uint8Array;

/** Wire types used by ONNX. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

/** The base-128 varint of an integer; negative values are their 64-bit two's complement (10 bytes). */
export function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n;
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`varint out of range: ${value}`);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

export function concat(parts: (Bytes | number[])[]): Bytes {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function key(field: number, wire: number): number[] {
  return varint(field * 8 + wire);
}

/** A varint field (int32, int64, enum, bool). */
export function intField(field: number, value: number | bigint): Bytes {
  return concat([key(field, VARINT), varint(value)]);
}

/** A length-delimited field holding raw bytes (bytes, an embedded message, a packed array). */
export function bytesField(field: number, bytes: Bytes): Bytes {
  return concat([key(field, LEN), varint(bytes.length), bytes]);
}

export function stringField(field: number, text: string): Bytes {
  return bytesField(field, new TextEncoder().encode(text));
}

/** Little-endian IEEE-754 single precision, as fixed32 and packed floats store it. */
export function float32LE(values: ArrayLike<number>): Bytes {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return out;
}

/** Little-endian IEEE-754 double precision. */
export function float64LE(values: ArrayLike<number>): Bytes {
  const out = new Uint8Array(8 * values.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(8 * i, values[i], true);
  return out;
}

/** A float field (fixed32). */
export function floatField(field: number, value: number): Bytes {
  return concat([key(field, FIXED32), float32LE([value])]);
}

/** A packed repeated float field: one length-delimited run of fixed32 values. */
export function packedFloats(field: number, values: ArrayLike<number>): Bytes {
  return bytesField(field, float32LE(values));
}

/** A packed repeated double field. */
export function packedDoubles(field: number, values: ArrayLike<number>): Bytes {
  return bytesField(field, float64LE(values));
}

/** A packed repeated varint field (int32, int64). */
export function packedInts(field: number, values: readonly (number | bigint)[]): Bytes {
  return bytesField(field, concat(values.map((v) => varint(v))));
}

/** A message: its fields one after another, undefined ones left out. */
export function message(fields: (Bytes | undefined)[]): Bytes {
  return concat(fields.filter((f): f is Bytes => f !== undefined));
}
