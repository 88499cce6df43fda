import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { Gunzip, Inflate } from 'fflate';
import { DataError } from '../errors';
import { crc32 } from './crc32';

/**
 * Bounded decompression for data files (gzip, and the deflated or stored entries of zip/.npz
 * archives). Every inflate here knows beforehand the most bytes it may produce -- what a header
 * declares (an IDX or .npy header, a zip entry's size) or a total cap -- and stops the moment the
 * stream goes past it: Node's zlib with `maxOutputLength` checks after every 16 KiB it writes, so
 * a few MB of file can never take gigabytes of memory or minutes of work. Reading a header first
 * uses fflate's streaming inflate, fed a little input at a time and stopped once enough is out.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Default cap on the bytes one data file may decompress to (all .npz entries together, or one gzip stream). */
export const DEFAULT_DATA_LIMIT = 4 * GiB;

/** Environment variable that sets that cap, in bytes or with a K/M/G suffix (e.g. 8G). */
export const DATA_LIMIT_ENV = 'PRUNESCOPE_MAX_DATA_BYTES';

/** The largest Buffer Node can make (4 GiB on Node 20 64-bit), so also a hard cap on one inflated stream. */
const MAX_BUFFER = bufferConstants.MAX_LENGTH;

/** Deflate cannot expand data more than about 1032:1; a header declaring more than this is forged or damaged. */
const MAX_DEFLATE_RATIO = 1100;

/** Compressed bytes fed per step when only a stream's first bytes are wanted (at most ~0.5 MB out per step). */
const PREFIX_STEP = 512;

export function formatBytes(n: number): string {
  if (n < 10 * KiB) return `${n.toLocaleString('en-US')} bytes`;
  const units: [number, string][] = [
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      return `${(n / size).toFixed(1).replace(/\.0$/, '')} ${unit}`;
    }
  }
  return `${n} bytes`;
}

/** An exact count, e.g. "31,488 bytes". */
export function exactBytes(n: number): string {
  return `${n.toLocaleString('en-US')} bytes`;
}

export interface DataLimit {
  bytes: number;
  /** True when DATA_LIMIT_ENV set it. */
  fromEnv: boolean;
  /** True when the compressed size bounded it (MAX_DEFAULT_RATIO). */
  fromRatio?: boolean;
}

/**
 * Real datasets compress a few times (MNIST's gzipped IDX about 4x, sparse arrays a few tens); a
 * file that would inflate more than this many times its size is a bomb unless the person says
 * otherwise (DATA_LIMIT_ENV), even when its headers declare that size honestly.
 */
export const MAX_DEFAULT_RATIO = 100;
/** Below this, the ratio does not bound the default limit (small files of zeros are harmless). */
const RATIO_FLOOR = 64 * MiB;

/**
 * The cap on decompressed bytes: DATA_LIMIT_ENV when set, else DEFAULT_DATA_LIMIT, lowered to
 * MAX_DEFAULT_RATIO times the compressed size (but not below RATIO_FLOOR); never above what one
 * Buffer holds.
 */
export function dataLimit(file: string, compressedBytes?: number): DataLimit {
  const raw = process.env[DATA_LIMIT_ENV];
  if (raw === undefined || raw.trim() === '') {
    const byRatio = compressedBytes === undefined ? Infinity : Math.max(RATIO_FLOOR, compressedBytes * MAX_DEFAULT_RATIO);
    const bytes = Math.min(DEFAULT_DATA_LIMIT, MAX_BUFFER, byRatio);
    return { bytes, fromEnv: false, fromRatio: bytes === byRatio };
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(raw);
  if (!m) {
    throw new DataError(file, `${DATA_LIMIT_ENV}="${raw}" is not a size (give bytes, or a number with K, M or G, e.g. 8G)`);
  }
  const scale = { '': 1, k: KiB, m: MiB, g: GiB, t: 1024 * GiB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * scale);
  return { bytes: Math.min(bytes, MAX_BUFFER), fromEnv: true };
}

/**
 * After a header's declared size passed the other checks: refuses it when it is more than the
 * default ratio allows for a file of `compressedBytes` (a bomb whose headers are honest).
 */
export function assertRatio(file: string, declared: number, compressedBytes: number, what: string): void {
  const limit = dataLimit(file, compressedBytes);
  if (limit.fromRatio && declared > limit.bytes) {
    throw new DataError(
      file,
      `${what} declares ${formatBytes(declared)} from ${formatBytes(compressedBytes)} of file: more than ${describeLimit(limit)}; refused before decompressing`,
    );
  }
}

/** Says what the limit is and how to change it, for messages. */
export function describeLimit(limit: DataLimit): string {
  if (limit.fromEnv) return `the ${formatBytes(limit.bytes)} limit that ${DATA_LIMIT_ENV} sets`;
  if (limit.fromRatio) {
    return `${formatBytes(limit.bytes)}, ${MAX_DEFAULT_RATIO} times the file's compressed size (a decompression bomb, or set ${DATA_LIMIT_ENV}, e.g. ${DATA_LIMIT_ENV}=8G, to allow it)`;
  }
  if (limit.bytes < DEFAULT_DATA_LIMIT) return `${formatBytes(limit.bytes)}, the most one buffer can hold`;
  return `the ${formatBytes(limit.bytes)} limit for decompressed data (set ${DATA_LIMIT_ENV}, e.g. ${DATA_LIMIT_ENV}=8G, to raise it)`;
}

export type Container = 'gzip' | 'deflate';

const LABEL: Record<Container, string> = { gzip: 'gzip data', deflate: 'deflate data' };

export interface Bound {
  /** The most bytes the stream may inflate to. */
  max: number;
  /** Where the bound comes from, completing "inflates past ...", e.g. "the 7,856 bytes its IDX header declares (10x28x28 ubyte)". */
  why: string;
}

/**
 * Inflates a whole stream, refusing it (DataError naming `file`) the moment it goes past
 * `bound.max` bytes; the output is never larger than that. A stream that is damaged or ends early
 * is a DataError too.
 */
export function inflateBounded(data: Uint8Array, file: string, container: Container, bound: Bound): Uint8Array {
  const label = LABEL[container];
  if (bound.max > MAX_BUFFER) {
    throw new DataError(
      file,
      `${label} would inflate to ${formatBytes(bound.max)} (${bound.why}), more than one buffer can hold (${formatBytes(MAX_BUFFER)})`,
    );
  }
  const tooLong = () =>
    new DataError(file, `${label} inflates past ${bound.why}; refused without inflating the rest (a damaged file or a decompression bomb)`);
  let out: Buffer;
  try {
    const options = { maxOutputLength: Math.max(1, bound.max) };
    out = container === 'gzip' ? zlib.gunzipSync(data, options) : zlib.inflateRawSync(data, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLong();
    throw new DataError(file, `cannot decompress ${label}: ${(e as Error).message} (truncated or damaged?)`);
  }
  if (out.length > bound.max) throw tooLong();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * The first bytes a stream inflates to: at least `n` of them (a few hundred KB more at most), or
 * all of them when the stream holds fewer. For reading a header before deciding how much to inflate.
 */
export function inflatePrefix(data: Uint8Array, file: string, container: Container, n: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let got = 0;
  const onData = (chunk: Uint8Array) => {
    if (chunk.length > 0) {
      chunks.push(chunk);
      got += chunk.length;
    }
  };
  const stream = container === 'gzip' ? new Gunzip(onData) : new Inflate(onData);
  try {
    // `final` is never passed: a stream that ends early simply gives fewer bytes, and the full,
    // bounded inflate that follows reports it.
    for (let off = 0; off < data.length && got < n; off += PREFIX_STEP) {
      stream.push(data.subarray(off, Math.min(data.length, off + PREFIX_STEP)));
    }
  } catch (e) {
    throw new DataError(file, `cannot decompress ${LABEL[container]}: ${(e as Error).message} (damaged?)`);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Gunzips a file whose content has no header that declares its size, capped at `cap` (default: the data limit). */
export function gunzipCapped(data: Uint8Array, file: string, cap?: { bytes: number; why: string }): Uint8Array {
  const limit = dataLimit(file, data.length);
  const bound = cap && cap.bytes < limit.bytes ? { max: cap.bytes, why: cap.why } : { max: limit.bytes, why: describeLimit(limit) };
  return inflateBounded(data, file, 'gzip', bound);
}

// ---- zip archives (.npz) ----

/** One file in a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  /** Uncompressed size the archive declares. */
  size: number;
  /** Offset of the entry's (compressed) data in the archive. */
  dataOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

class ZipProblem extends Error {}

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipProblem(`${what} is ${v}, far beyond any real archive`);
  return Number(v);
}

/**
 * Lists a zip archive's entries from its central directory (zip64 included), checking every
 * offset and size against the archive's length. Problems are DataErrors naming `file`.
 */
export function listZip(bytes: Uint8Array, file: string): ZipEntry[] {
  try {
    return readCentralDirectory(bytes);
  } catch (e) {
    if (e instanceof ZipProblem || e instanceof RangeError) {
      throw new DataError(file, `cannot unzip .npz archive: ${e.message} (truncated or damaged?)`);
    }
    throw e;
  }
}

function readCentralDirectory(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { count, cdSize, cdOffset } = centralDirectoryExtent(view, bytes.length);
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || view.getUint32(p, true) !== SIG_CENTRAL)
      throw new ZipProblem(`central directory record ${i + 1} of ${count} is missing`);
    const { entry, next } = readCentralRecord(bytes, view, p, i, cdOffset + cdSize);
    entries.push(entry);
    p = next;
  }
  return entries;
}

/** Where the central directory lies and how many entries it lists, from the end record (zip64 included), checked against the archive's length. */
function centralDirectoryExtent(view: DataView, len: number): { count: number; cdSize: number; cdOffset: number } {
  let eocd = -1;
  for (let p = len - 22; p >= 0 && p >= len - 22 - 0xffff; p--) {
    if (view.getUint32(p, true) === SIG_EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new ZipProblem('no end-of-central-directory record');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) throw new ZipProblem('zip64 end-of-central-directory locator missing');
    const at = u64(view, loc + 8, 'zip64 end record offset');
    if (at + 56 > len || view.getUint32(at, true) !== SIG_EOCD64) throw new ZipProblem('zip64 end-of-central-directory record missing');
    count = u64(view, at + 32, 'entry count');
    cdSize = u64(view, at + 40, 'central directory size');
    cdOffset = u64(view, at + 48, 'central directory offset');
  }
  if (cdOffset + cdSize > len)
    throw new ZipProblem(`central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the ${len}-byte file`);
  // Each central record takes at least 46 bytes, so the count cannot exceed what the directory holds.
  if (count * 46 > cdSize) throw new ZipProblem(`declares ${count} entries but its central directory has only ${cdSize} bytes`);
  return { count, cdSize, cdOffset };
}

/** Central directory record `i` at `p` (its signature checked), with its local header and data checked against the archive; `next` is where the following record starts. */
function readCentralRecord(bytes: Uint8Array, view: DataView, p: number, i: number, cdEnd: number): { entry: ZipEntry; next: number } {
  const len = bytes.length;
  const flags = view.getUint16(p + 8, true);
  const method = view.getUint16(p + 10, true);
  const crc = view.getUint32(p + 16, true);
  const nameLen = view.getUint16(p + 28, true);
  const extraLen = view.getUint16(p + 30, true);
  const commentLen = view.getUint16(p + 32, true);
  const nameStart = p + 46;
  const extraStart = nameStart + nameLen;
  const next = extraStart + extraLen + commentLen;
  if (next > cdEnd) throw new ZipProblem(`central directory record ${i + 1} runs past the directory`);
  const name = new TextDecoder('utf-8').decode(bytes.subarray(nameStart, extraStart));
  const { compressedSize, size, localOffset } = zip64Sizes(view, extraStart, extraLen, name, {
    compressedSize: view.getUint32(p + 20, true),
    size: view.getUint32(p + 24, true),
    localOffset: view.getUint32(p + 42, true),
  });
  if (localOffset + 30 > len || view.getUint32(localOffset, true) !== SIG_LOCAL)
    throw new ZipProblem(`local header of "${name}" is missing`);
  const dataOffset = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
  if (dataOffset + compressedSize > len) {
    throw new ZipProblem(`"${name}" has ${compressedSize} compressed bytes at ${dataOffset}, past the end of the ${len}-byte file`);
  }
  return { entry: { name, method, flags, crc, compressedSize, size, dataOffset }, next };
}

interface ZipSizes {
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The sizes and offset of an entry, with those set to 0xffffffff taken from its zip64 extra field (8-byte values, in this order). */
function zip64Sizes(view: DataView, extraStart: number, extraLen: number, name: string, declared: ZipSizes): ZipSizes {
  let { compressedSize, size, localOffset } = declared;
  for (let e = extraStart; e + 4 <= extraStart + extraLen;) {
    const id = view.getUint16(e, true);
    const sz = view.getUint16(e + 2, true);
    if (id === 0x0001) {
      let q = e + 4;
      const end = q + sz;
      const take = (what: string) => {
        if (q + 8 > end) throw new ZipProblem(`zip64 field of "${name}" is too short`);
        const v = u64(view, q, what);
        q += 8;
        return v;
      };
      if (size === 0xffffffff) size = take(`declared size of "${name}"`);
      if (compressedSize === 0xffffffff) compressedSize = take(`compressed size of "${name}"`);
      if (localOffset === 0xffffffff) localOffset = take(`offset of "${name}"`);
    }
    e += 4 + sz;
  }
  return { compressedSize, size, localOffset };
}

/**
 * Checks an entry before anything is inflated: not encrypted, stored or deflated, a declared size
 * that deflate could produce from its compressed bytes, and within `limit`. `file` names the member.
 */
export function checkZipEntry(entry: ZipEntry, file: string, limit: DataLimit): void {
  if (entry.flags & 1) throw new DataError(file, 'is encrypted; save the archive without a password');
  if (entry.method !== 0 && entry.method !== 8) {
    throw new DataError(
      file,
      `uses zip compression method ${entry.method}; only stored and deflated entries (what numpy writes) can be read`,
    );
  }
  if (entry.size > limit.bytes) {
    throw new DataError(
      file,
      `zip entry declares ${formatBytes(entry.size)} uncompressed, more than ${describeLimit(limit)}; refused before inflating`,
    );
  }
  if (entry.method === 0 && entry.size !== entry.compressedSize) {
    throw new DataError(file, `stored zip entry declares ${entry.size} bytes but holds ${entry.compressedSize} (damaged archive)`);
  }
  if (entry.method === 8 && entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw new DataError(
      file,
      `zip entry declares ${formatBytes(entry.size)} from ${formatBytes(entry.compressedSize)} of deflate data, more than deflate can produce (damaged or forged archive); refused before inflating`,
    );
  }
}

function compressed(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  return bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
}

/** The first (at least `n`) bytes of an entry, for reading the header of what it holds. */
export function zipEntryPrefix(bytes: Uint8Array, entry: ZipEntry, file: string, n: number): Uint8Array {
  const data = compressed(bytes, entry);
  if (entry.method === 0) return data.subarray(0, Math.min(n, data.length));
  return inflatePrefix(data, file, 'deflate', Math.min(n, entry.size));
}

/**
 * An entry's bytes, inflated to exactly the size the archive declares: a stream that goes past it
 * is refused the moment it does; one that falls short, or whose CRC-32 differs, is damaged.
 * Call checkZipEntry first.
 */
export function extractZipEntry(bytes: Uint8Array, entry: ZipEntry, file: string): Uint8Array {
  const data = compressed(bytes, entry);
  const out =
    entry.method === 0
      ? data
      : inflateBounded(data, file, 'deflate', { max: entry.size, why: `the ${exactBytes(entry.size)} its zip entry declares` });
  if (out.length !== entry.size) {
    throw new DataError(file, `zip entry declares ${entry.size} bytes but inflates to ${out.length} (truncated or damaged archive)`);
  }
  if (crc32(out) !== entry.crc >>> 0) {
    throw new DataError(file, `zip entry ${entry.name} fails its CRC-32 check (damaged archive)`);
  }
  return out;
}
