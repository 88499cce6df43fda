import * as zlib from 'node:zlib';

/**
 * Decompression bombs for tests (not used by the product): real deflate/gzip streams of a header
 * followed by up to gigabytes of zeros, built in milliseconds without ever holding the zeros. A
 * 1 MiB block of zeros is deflated once with a full flush (which leaves the stream byte-aligned
 * and lets nothing refer back past it), so the block can be repeated as often as wanted; an empty
 * final stored block ends the stream.
 */

export const MiB = 1 << 20;
export const GiB = 1 << 30;

const ZERO_BLOCK = Buffer.alloc(MiB);
const FULL_FLUSH = { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH };
let zeroBlock: Buffer | undefined;
/** BFINAL=1, stored, LEN=0, NLEN=0xffff. */
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

/** Raw deflate of `prefix` followed by `zeros` zero bytes (a multiple of 1 MiB). */
export function deflateZeros(prefix: Uint8Array, zeros: number): Buffer {
  if (zeros % MiB !== 0) throw new Error('zeros must be a multiple of 1 MiB');
  zeroBlock ??= zlib.deflateRawSync(ZERO_BLOCK, FULL_FLUSH);
  const parts: Buffer[] = [];
  if (prefix.length > 0) parts.push(zlib.deflateRawSync(prefix, FULL_FLUSH));
  for (let i = 0; i < zeros / MiB; i++) parts.push(zeroBlock);
  parts.push(FINAL_BLOCK);
  return Buffer.concat(parts);
}

/** CRC-32 of `prefix` followed by `zeros` zero bytes. */
function crcZeros(prefix: Uint8Array, zeros: number): number {
  const crc32 = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (!crc32) return 0;
  let c = crc32(prefix);
  for (let i = 0; i < zeros / MiB; i++) c = crc32(ZERO_BLOCK, c);
  return c >>> 0;
}

/** A gzip file of `prefix` followed by `zeros` zero bytes (valid to the last byte: CRC and size included). */
export function gzipZeros(prefix: Uint8Array, zeros: number): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crcZeros(prefix, zeros), 0);
  trailer.writeUInt32LE((prefix.length + zeros) % 2 ** 32, 4);
  return Buffer.concat([header, deflateZeros(prefix, zeros), trailer]);
}

export interface RawZipEntry {
  name: string;
  /** The entry's bytes as stored (already deflated for method 8). */
  data: Uint8Array;
  method: number;
  /** Declared uncompressed size (may lie). */
  size: number;
  crc?: number;
  /** Write the sizes in the central directory's zip64 extra field (as 0xffffffff in the record). */
  zip64?: boolean;
}

/** A zip archive whose headers say exactly what the entries give, true or not. */
export function zipRaw(entries: RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(e.method, 8);
    lh.writeUInt32LE((e.crc ?? 0) >>> 0, 14);
    lh.writeUInt32LE(e.data.length, 18);
    lh.writeUInt32LE(Math.min(e.size, 0xffffffff), 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(e.method, 10);
    ch.writeUInt32LE((e.crc ?? 0) >>> 0, 16);
    ch.writeUInt32LE(e.zip64 ? 0xffffffff : e.data.length, 20);
    ch.writeUInt32LE(e.zip64 ? 0xffffffff : e.size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    const extra = Buffer.alloc(e.zip64 ? 20 : 0);
    if (e.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(e.size), 4);
      extra.writeBigUInt64LE(BigInt(e.data.length), 12);
      ch.writeUInt16LE(extra.length, 30);
    }
    locals.push(lh, name, Buffer.from(e.data));
    centrals.push(ch, name, extra);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** A .npy preamble and header (version 1.0, padded to 64 bytes) for a C-order array. */
export function npyHeader(descr: string, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const out = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(out, 0);
  out.writeUInt16LE(total - 10, 8);
  out.write(dict, 10, 'latin1');
  out[total - 1] = 0x0a;
  return out;
}

/** An IDX header for ubyte data of the given shape. */
export function idxHeader(shape: number[]): Buffer {
  const out = Buffer.alloc(4 + 4 * shape.length);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  return out;
}

/** Growth of the process's peak resident memory (bytes) while `f` runs. */
export async function peakGrowth<T>(f: () => Promise<T>): Promise<{ result: T | Error; grew: number; ms: number }> {
  const before = process.resourceUsage().maxRSS * 1024;
  const t = performance.now();
  let result: T | Error;
  try {
    result = await f();
  } catch (e) {
    result = e as Error;
  }
  return { result, grew: process.resourceUsage().maxRSS * 1024 - before, ms: performance.now() - t };
}
