/**
 * Structure-aware hostile mutations for the reader fuzzer: inputs built to exhaust or mislead a
 * reader rather than merely damaged. Four classes:
 *
 * - nesting: model.json configs, safetensors headers and ONNX protobuf nested 10^3..10^6 deep,
 *   and ONNX weights reached through 10^4..10^5 Identity (or Constant + Identity) nodes;
 * - links: weight shards and ONNX external data named by absolute paths, URLs, `../` escapes or
 *   symbolic links (to a file, through a folder, through a chain) that lead to a sentinel file
 *   outside the case folder; the reader must refuse with an error naming the model file, and the
 *   sentinel's bytes must appear in no output;
 * - sizes: declared sizes that lie (shard shapes, safetensors data_offsets and header length,
 *   ONNX dims and external offset/length, .npy header shapes and header length, IDX dims, zip
 *   entry sizes) and files far larger than declared (sparse, 3 GiB, no disk cost);
 * - bombs: .npz entries, gzipped IDX, .npy and CSV that inflate to ~1 GiB from ~1 MB, with a small
 *   declared size and with an honest huge one.
 *
 * Every mutation is a function of the case's random generator, so a case replays exactly. Bombs
 * are assembled from one deflated MiB of zeros (made once per process) repeated, with their CRC-32
 * computed by combination, so making one costs milliseconds and ~1 MB of disk.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { gunzipSync, unzipSync } from 'fflate';
import { onnx } from 'onnx-proto';
import { crc32 } from '../../src/core/io/crc32';
import { randInt, type Rng } from './mutate';
import type { FuzzFormat, Seed } from './seeds';

export const HOSTILE_CLASSES = ['nesting', 'links', 'sizes', 'bombs'] as const;
export type HostileClass = (typeof HOSTILE_CLASSES)[number];

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** What a bomb inflates to. */
export const BOMB_BYTES = GiB;
/** Length of the sparse files (a shard or data file far larger than declared). */
export const SPARSE_BYTES = 3 * GiB;
/**
 * Largest deep-JSON text written. Parsing costs by size, not depth: past this a loaded 2-core
 * machine can take over the 5 s case limit to parse (and refuse) a model.json however it is nested.
 * Every wrapper still reaches 1.3 x 10^5 levels (lists 10^6), far past any recursion limit.
 */
const MAX_DEEP_JSON_BYTES = 8 * MiB;

/** Eight bytes that fill every sentinel file; no output may contain them (nor either half). */
export const SENTINEL_MARKER = Buffer.from('SeNtInEl', 'latin1');

export interface Sentinel {
  /** The file outside the case folder that the hostile model points at. */
  path: string;
  bytes: Buffer;
}

/** What a hostile mutation made of the case folder and what the reader must do with it. */
export interface HostileCase {
  cls: HostileClass;
  mutation: string;
  /** The file (relative to the case folder) the mutation wrote. */
  file: string;
  ops: string[];
  /** What the reader is given, relative to the case folder, when not the seed's entry. */
  entry?: string;
  /** Accepting the input is a failure (a link outside the folder). */
  refuse?: boolean;
  /** Absolute path the error message must contain (default: the model file, or the data file mutated). */
  mustName?: string;
  sentinel?: Sentinel;
}

interface Context {
  rng: Rng;
  format: FuzzFormat;
  seed: Seed;
  caseDir: string;
  /** A folder beside the case folder, for sentinels. */
  outside: string;
}

type Applied = Omit<HostileCase, 'cls' | 'mutation'>;

interface HostileMutation {
  name: string;
  cls: HostileClass;
  formats: readonly FuzzFormat[];
  /** Undefined when the seed does not suit the mutation (the caller then tries another seed). */
  apply(ctx: Context): Promise<Applied | undefined>;
}

// ---------------------------------------------------------------------------------------------
// small helpers

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rng() * (Math.log(hi) - Math.log(lo))));
}

function concat(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
}

/** Protobuf varint of a non-negative integer up to 2^53. */
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function varintLength(n: number): number {
  let k = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    k++;
  }
  return k;
}

function pbString(field: number, s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return concat([varint(field * 8 + 2), varint(b.length), b]);
}

function pbVarintField(field: number, v: number): Buffer {
  return concat([varint(field * 8), varint(v)]);
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(path, 'utf8')) as Record<string, unknown>;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

// ---------------------------------------------------------------------------------------------
// CRC-32 combination, so that the CRC of a gibibyte of zeros costs no pass over a gibibyte. The
// CRC itself is the core's (node:zlib's); zlib's crc32_combine has no binding in Node.

export { crc32 };

function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i];
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(mat, mat[n]);
}

/** CRC-32 of A then B from crc(A), crc(B) and B's length (zlib's crc32_combine). */
export function crc32Combine(crc1: number, crc2: number, len2: number): number {
  if (len2 <= 0) return crc1 >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row >>> 0;
  gf2Square(even, odd);
  gf2Square(odd, even);
  let c = crc1 >>> 0;
  let len = len2;
  for (;;) {
    gf2Square(even, odd);
    if (len % 2 === 1) c = gf2Times(even, c);
    len = Math.floor(len / 2);
    if (len === 0) break;
    gf2Square(odd, even);
    if (len % 2 === 1) c = gf2Times(odd, c);
    len = Math.floor(len / 2);
    if (len === 0) break;
  }
  return (c ^ crc2) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// deflate bombs: a prefix, then `repeat` copies of one deflated block, each ending on a full flush
// (byte-aligned, dictionary reset), so the copies can simply be concatenated.

const FULL_FLUSH = { finishFlush: zlibConstants.Z_FULL_FLUSH, level: 9 };
/** A final, empty fixed-Huffman block: ends a raw deflate stream. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

interface Piece {
  deflated: Buffer;
  crc: number;
  length: number;
}

const pieceCache = new Map<string, Piece>();

function piece(key: string, make: () => Uint8Array): Piece {
  let p = pieceCache.get(key);
  if (!p) {
    const raw = make();
    p = { deflated: deflateRawSync(raw, FULL_FLUSH), crc: crc32(raw), length: raw.length };
    pieceCache.set(key, p);
  }
  return p;
}

const zeroMiB = (): Piece => piece('zeros:1MiB', () => new Uint8Array(MiB));

/** A CRC of `times` copies of a piece, by doubling. */
function repeatedCrc(p: Piece, times: number): number {
  let result = 0;
  let resultLen = 0;
  let block = p.crc;
  let blockLen = p.length;
  for (let t = times; t > 0; t = Math.floor(t / 2)) {
    if (t % 2 === 1) {
      result = resultLen === 0 ? block : crc32Combine(result, block, blockLen);
      resultLen += blockLen;
    }
    if (t > 1) {
      block = crc32Combine(block, block, blockLen);
      blockLen *= 2;
    }
  }
  return result;
}

export interface Deflated {
  /** Raw deflate stream. */
  data: Buffer;
  /** Length and CRC-32 of what it inflates to. */
  size: number;
  crc: number;
}

/** `prefix` followed by `zeros` zero bytes, deflated (about 1 KB per MiB of zeros). */
export function deflateZeros(prefix: Uint8Array, zeros: number): Deflated {
  const whole = Math.floor(zeros / MiB);
  const rest = zeros - whole * MiB;
  const z = zeroMiB();
  const parts: Buffer[] = [deflateRawSync(prefix, FULL_FLUSH)];
  for (let i = 0; i < whole; i++) parts.push(z.deflated);
  let crc = crc32(prefix);
  if (whole > 0) crc = crc32Combine(crc, repeatedCrc(z, whole), whole * MiB);
  if (rest > 0) {
    const tail = new Uint8Array(rest);
    parts.push(deflateRawSync(tail, FULL_FLUSH));
    crc = crc32Combine(crc, crc32(tail), rest);
  }
  parts.push(FINAL_BLOCK);
  return { data: Buffer.concat(parts), size: prefix.length + zeros, crc };
}

/** `prefix` followed by whole copies of `unit` up to at least `total` bytes, deflated. */
function deflateRepeated(prefix: Uint8Array, key: string, unit: () => Uint8Array, total: number): Deflated {
  const u = piece(key, unit);
  const times = Math.max(1, Math.ceil(total / u.length));
  const parts: Buffer[] = [deflateRawSync(prefix, FULL_FLUSH)];
  for (let i = 0; i < times; i++) parts.push(u.deflated);
  parts.push(FINAL_BLOCK);
  const crc = crc32Combine(crc32(prefix), repeatedCrc(u, times), times * u.length);
  return { data: Buffer.concat(parts), size: prefix.length + times * u.length, crc };
}

/** Wraps a raw deflate stream as a gzip member. */
export function gzipMember(d: Deflated): Buffer {
  const head = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(d.crc >>> 0, 0);
  tail.writeUInt32LE(d.size % 2 ** 32, 4);
  return Buffer.concat([head, d.data, tail]);
}

export function gzipBytes(raw: Uint8Array): Buffer {
  return gzipMember({ data: Buffer.concat([deflateRawSync(raw, FULL_FLUSH), FINAL_BLOCK]), size: raw.length, crc: crc32(raw) });
}

// ---------------------------------------------------------------------------------------------
// zip archives with any declared sizes

export interface ZipEntrySpec {
  name: string;
  /** The bytes stored (deflated when method is 8). */
  data: Uint8Array;
  method: 0 | 8;
  crc: number;
  /** Uncompressed size as the central directory declares it. */
  size: number;
  /** Compressed size as the central directory declares it (default: data.length). */
  csize?: number;
  /** The same two as the local header declares them (default: as the central directory). */
  localSize?: number;
  localCsize?: number;
}

const u32 = (n: number): number => Math.min(Math.max(0, Math.floor(n)), 0xffffffff);

export function writeZip(entries: readonly ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const csize = e.csize ?? e.data.length;
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0);
    l.writeUInt16LE(20, 4);
    l.writeUInt16LE(0, 6);
    l.writeUInt16LE(e.method, 8);
    l.writeUInt16LE(0, 10);
    l.writeUInt16LE(0x21, 12);
    l.writeUInt32LE(e.crc >>> 0, 14);
    l.writeUInt32LE(u32(e.localCsize ?? csize), 18);
    l.writeUInt32LE(u32(e.localSize ?? e.size), 22);
    l.writeUInt16LE(name.length, 26);
    l.writeUInt16LE(0, 28);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0, 8);
    c.writeUInt16LE(e.method, 10);
    c.writeUInt16LE(0, 12);
    c.writeUInt16LE(0x21, 14);
    c.writeUInt32LE(e.crc >>> 0, 16);
    c.writeUInt32LE(u32(csize), 20);
    c.writeUInt32LE(u32(e.size), 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    locals.push(l, name, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    centrals.push(c, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A zip entry holding `raw`, deflated, with honest sizes. */
function deflatedEntry(name: string, raw: Uint8Array): ZipEntrySpec {
  return { name, data: deflateRawSync(raw), method: 8, crc: crc32(raw), size: raw.length };
}

// ---------------------------------------------------------------------------------------------
// .npy and IDX headers

/** A .npy file: header dict text (padded as numpy pads it) and data; version 2 when the header needs it. */
export function npyBytes(descr: string, shape: readonly number[], data: Uint8Array, fortran = false): Buffer {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${dims}, }`;
  let pre = 10;
  if (dict.length + 1 + 10 > 65535) pre = 12;
  const pad = (64 - ((pre + dict.length + 1) % 64)) % 64;
  const text = Buffer.from(dict + ' '.repeat(pad) + '\n', 'latin1');
  const head = Buffer.alloc(pre);
  Buffer.from('\x93NUMPY', 'latin1').copy(head, 0);
  head[6] = pre === 10 ? 1 : 2;
  head[7] = 0;
  if (pre === 10) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, text, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

interface NpyParts {
  descr: string;
  shape: number[];
  data: Buffer;
}

function splitNpy(b: Buffer): NpyParts | undefined {
  if (b.length < 12 || b.toString('latin1', 0, 6) !== '\x93NUMPY') return undefined;
  const pre = b[6] === 1 ? 10 : 12;
  const len = pre === 10 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const text = b.toString('latin1', pre, pre + len);
  const descr = /'descr':\s*'([^']*)'/.exec(text)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || shape === undefined) return undefined;
  return {
    descr,
    shape: shape
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s)
      .map(Number),
    data: b.subarray(pre + len),
  };
}

function idxHeader(code: number, dims: readonly number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = code;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(u32(d), 4 + 4 * i));
  return h;
}

// ---------------------------------------------------------------------------------------------
// deep JSON: written as text (JSON.stringify recurses), spliced into the seed's document

const PLACEHOLDER = '__PRUNESCOPE_FUZZ_DEEP__';

interface Wrapper {
  open: string;
  leaf: string;
  close: string;
}

const WRAPPERS = {
  list: { open: '[', leaf: '1', close: ']' },
  object: { open: '{"a":', leaf: '1', close: '}' },
  activation: { open: '{"class_name":"Activation","config":{"activation":', leaf: '"relu"', close: '}}' },
  sequential: {
    open: '{"class_name":"Sequential","config":{"name":"s","layers":[',
    leaf: '{"class_name":"Dense","config":{"units":1}}',
    close: ']}}',
  },
  attr: { open: '{"list":{"func":', leaf: '{}', close: '}}' },
  inbound: { open: '[["x",0,0,{"a":', leaf: '{}', close: '}]]' },
} satisfies Record<string, Wrapper>;

/** Depth drawn log-uniformly from 10^4..10^6, lowered so that the text stays under MAX_DEEP_JSON_BYTES. */
function jsonDepth(rng: Rng, w: Wrapper): number {
  const d = logUniform(rng, 1e4, 1e6);
  return Math.min(d, Math.floor(MAX_DEEP_JSON_BYTES / (w.open.length + w.close.length)));
}

function deepText(w: Wrapper, depth: number): string {
  return w.open.repeat(depth) + w.leaf + w.close.repeat(depth);
}

/** The document with the value PLACEHOLDER replaced by a value nested `depth` deep. */
function spliceDeep(doc: unknown, w: Wrapper, depth: number): string {
  const text = JSON.stringify(doc);
  const at = text.indexOf(`"${PLACEHOLDER}"`);
  if (at < 0) throw new Error('fuzz: deep-JSON placeholder missing');
  return text.slice(0, at) + deepText(w, depth) + text.slice(at + PLACEHOLDER.length + 2);
}

// ---------------------------------------------------------------------------------------------
// tfjs model folders

interface TfjsSeed {
  jsonName: string;
  json: Record<string, unknown>;
  /** Keras layer list, for LayersModels. */
  layers?: Record<string, unknown>[];
  /** Graph nodes, for GraphModels. */
  nodes?: Record<string, unknown>[];
  groups: { paths: string[]; weights: Record<string, unknown>[] }[];
}

async function tfjsSeed(ctx: Context): Promise<TfjsSeed | undefined> {
  const jsonName = ctx.seed.entry;
  if (!jsonName.endsWith('.json')) return undefined;
  const json = await readJson(join(ctx.caseDir, jsonName));
  const topo = json.modelTopology;
  let layers: Record<string, unknown>[] | undefined;
  let nodes: Record<string, unknown>[] | undefined;
  if (isRecord(topo)) {
    const cfg = isRecord(topo.model_config) ? topo.model_config.config : topo.config;
    const list = isRecord(cfg) ? cfg.layers : cfg;
    if (Array.isArray(list)) layers = list.filter(isRecord);
    if (Array.isArray(topo.node)) nodes = topo.node.filter(isRecord);
  }
  const manifest = Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
  const groups = manifest
    .filter(isRecord)
    .filter((g) => Array.isArray(g.paths) && g.paths.length > 0 && Array.isArray(g.weights))
    .map((g) => ({ paths: g.paths as string[], weights: (g.weights as unknown[]).filter(isRecord) }));
  return { jsonName, json, layers, nodes, groups };
}

type Where = 'activation' | 'layers' | 'inbound' | 'lists' | 'metadata';

/** Puts PLACEHOLDER somewhere in a tfjs document; returns where and which wrapper suits the place. */
function placeDeep(rng: Rng, t: TfjsSeed, where: Where): { at: string; wrapper: Wrapper } | undefined {
  const layer = t.layers?.length ? pick(rng, t.layers) : undefined;
  const node = t.nodes?.length ? pick(rng, t.nodes) : undefined;
  if (where === 'activation') {
    if (layer && isRecord(layer.config)) {
      layer.config.activation = PLACEHOLDER;
      return { at: `layer ${String(layer.config.name ?? layer.name)}.config.activation`, wrapper: WRAPPERS.activation };
    }
    if (node) {
      node.attr = { ...(isRecord(node.attr) ? node.attr : {}), activation: PLACEHOLDER };
      return { at: `node ${String(node.name)}.attr.activation`, wrapper: WRAPPERS.attr };
    }
  } else if (where === 'layers') {
    const list = layersList(t.json);
    if (layer && list) {
      // Replace the layer by a Sequential that holds a Sequential that holds ... a Dense.
      const i = list.indexOf(layer);
      list[i] = PLACEHOLDER;
      return { at: `layers[${i}] as nested Sequential models`, wrapper: WRAPPERS.sequential };
    }
    if (node) {
      node.attr = { ...(isRecord(node.attr) ? node.attr : {}), value: PLACEHOLDER };
      return { at: `node ${String(node.name)}.attr.value`, wrapper: WRAPPERS.attr };
    }
  } else if (where === 'inbound') {
    if (layer) {
      layer.inbound_nodes = PLACEHOLDER;
      return {
        at: `layer ${String(layer.name ?? (layer.config as Record<string, unknown>)?.name)}.inbound_nodes`,
        wrapper: pick(rng, [WRAPPERS.list, WRAPPERS.inbound]),
      };
    }
    if (node) {
      node.input = PLACEHOLDER;
      return { at: `node ${String(node.name)}.input`, wrapper: WRAPPERS.list };
    }
  } else if (where === 'lists') {
    const g = t.groups.length ? pick(rng, t.groups) : undefined;
    if (g?.weights.length && rng() < 0.5) {
      const w = pick(rng, g.weights);
      w.shape = PLACEHOLDER;
      return { at: `weightsManifest weight ${String(w.name)}.shape`, wrapper: WRAPPERS.list };
    }
    if (layer && isRecord(layer.config)) {
      layer.config.batch_input_shape = PLACEHOLDER;
      return { at: `layer ${String(layer.config.name)}.config.batch_input_shape`, wrapper: WRAPPERS.list };
    }
    if (g?.weights.length) {
      const w = pick(rng, g.weights);
      w.shape = PLACEHOLDER;
      return { at: `weightsManifest weight ${String(w.name)}.shape`, wrapper: WRAPPERS.list };
    }
  } else {
    t.json.userDefinedMetadata = { ...(isRecord(t.json.userDefinedMetadata) ? t.json.userDefinedMetadata : {}), fuzz: PLACEHOLDER };
    return { at: 'userDefinedMetadata.fuzz', wrapper: pick(rng, [WRAPPERS.object, WRAPPERS.list]) };
  }
  return undefined;
}

function layersList(json: Record<string, unknown>): unknown[] | undefined {
  const topo = json.modelTopology;
  if (!isRecord(topo)) return undefined;
  const cfg = isRecord(topo.model_config) ? topo.model_config.config : topo.config;
  const list = isRecord(cfg) ? cfg.layers : cfg;
  return Array.isArray(list) ? list : undefined;
}

function tfjsNesting(name: string, where: Where): HostileMutation {
  return {
    name,
    cls: 'nesting',
    formats: ['tfjs'],
    async apply(ctx) {
      const t = await tfjsSeed(ctx);
      if (!t) return undefined;
      const place = placeDeep(ctx.rng, t, where);
      if (!place) return undefined;
      const depth = jsonDepth(ctx.rng, place.wrapper);
      await fs.writeFile(join(ctx.caseDir, t.jsonName), spliceDeep(t.json, place.wrapper, depth));
      return { file: t.jsonName, ops: [`${place.at} nested ${depth} deep`] };
    },
  };
}

/** Fills a sentinel file of `size` bytes (at least 8) with the marker, outside the case folder. */
async function writeSentinel(outside: string, name: string, size: number): Promise<Sentinel> {
  const bytes = Buffer.alloc(Math.max(size, 8));
  for (let i = 0; i < bytes.length; i += 8) SENTINEL_MARKER.copy(bytes, i, 0, Math.min(8, bytes.length - i));
  await fs.mkdir(outside, { recursive: true });
  const path = join(outside, name);
  await fs.writeFile(path, bytes);
  return { path, bytes };
}

type LinkKind = 'absolute' | 'url' | 'dotdot' | 'symlink-file' | 'symlink-folder' | 'symlink-chain';

/**
 * Makes `name` (as the model will give it) lead to the sentinel outside the case folder, or
 * replaces the existing file `existing` by a link to it. Returns the name to put in the model.
 */
async function hostileName(
  rng: Rng,
  kind: LinkKind,
  ctx: Context,
  sentinel: Sentinel,
  existing: string | undefined,
): Promise<{ name: string; how: string }> {
  const outsideName = `${ctx.outside.split(/[\\/]/).pop()}`;
  const sentinelFile = sentinel.path.split(/[\\/]/).pop()!;
  switch (kind) {
    case 'absolute':
      return { name: sentinel.path, how: 'absolute path' };
    case 'url': {
      const u = pick(rng, [
        `file://${sentinel.path}`,
        'http://127.0.0.1:9/weights.bin',
        'https://example.invalid/weights.bin',
        `FILE://localhost${sentinel.path}`,
        'data:application/octet-stream;base64,U2VOdEluRWw=',
      ]);
      return { name: u, how: 'URL' };
    }
    case 'dotdot': {
      const n = pick(rng, [
        `../${outsideName}/${sentinelFile}`,
        `./sub/../../${outsideName}/${sentinelFile}`,
        `..//${outsideName}//${sentinelFile}`,
        `..%2F${outsideName}%2F${sentinelFile}`,
        `..\\${outsideName}\\${sentinelFile}`,
      ]);
      return { name: n, how: '../ escape' };
    }
    case 'symlink-file': {
      // The file the model names is a link (absolute or relative) to the sentinel.
      const name = existing ?? 'weights.bin';
      const target = rng() < 0.5 ? sentinel.path : `../${outsideName}/${sentinelFile}`;
      await fs.rm(join(ctx.caseDir, name), { force: true });
      await fs.mkdir(dirname(join(ctx.caseDir, name)), { recursive: true });
      await fs.symlink(target, join(ctx.caseDir, name));
      return { name, how: `symlink to ${target === sentinel.path ? 'absolute' : 'relative'} sentinel` };
    }
    case 'symlink-folder': {
      // A folder inside the case folder that is a link to the folder holding the sentinel.
      await fs.symlink(rng() < 0.5 ? ctx.outside : `../${outsideName}`, join(ctx.caseDir, 'shards'));
      return { name: `shards/${sentinelFile}`, how: 'symlinked folder' };
    }
    case 'symlink-chain': {
      // a.bin -> b.bin (inside, relative) -> sentinel (outside).
      await fs.symlink(sentinel.path, join(ctx.caseDir, 'b.bin'));
      await fs.symlink('b.bin', join(ctx.caseDir, 'a.bin'));
      return { name: 'a.bin', how: 'chain of two symlinks' };
    }
  }
}

function tfjsLink(kind: LinkKind): HostileMutation {
  return {
    name: `link-${kind}`,
    cls: 'links',
    formats: ['tfjs'],
    async apply(ctx) {
      const t = await tfjsSeed(ctx);
      if (!t?.groups.length) return undefined;
      const g = pick(ctx.rng, t.groups);
      const k = randInt(ctx.rng, 0, g.paths.length - 1);
      const original = g.paths[k];
      const size = (await fs.stat(join(ctx.caseDir, original))).size;
      const sentinel = await writeSentinel(ctx.outside, `sentinel-${k}.bin`, size);
      const { name, how } = await hostileName(ctx.rng, kind, ctx, sentinel, original);
      g.paths[k] = name;
      await fs.writeFile(join(ctx.caseDir, t.jsonName), JSON.stringify(t.json));
      return { file: t.jsonName, ops: [`shard '${original}' -> ${JSON.stringify(name)} (${how})`], refuse: true, sentinel };
    },
  };
}

/** Weights whose shapes now need far more (or fewer) bytes than the shards hold. */
const tfjsShapeLie: HostileMutation = {
  name: 'shape-lie',
  cls: 'sizes',
  formats: ['tfjs'],
  async apply(ctx) {
    const t = await tfjsSeed(ctx);
    const g = t?.groups.find((x) => x.weights.length > 0);
    if (!t || !g) return undefined;
    const w = pick(ctx.rng, g.weights);
    const shape = Array.isArray(w.shape) ? (w.shape as number[]) : [];
    const lie = pick(ctx.rng, [
      [65536, 65536],
      [2 ** 26, 2 ** 26],
      [2 ** 31, 2 ** 22],
      [...shape.map((d) => d * 1000)],
      [1],
      [0],
      shape.length ? [...shape.slice(0, -1), Math.max(0, shape[shape.length - 1] - 1)] : [1],
    ]);
    w.shape = lie;
    await fs.writeFile(join(ctx.caseDir, t.jsonName), JSON.stringify(t.json));
    return { file: t.jsonName, ops: [`weight ${String(w.name)} shape [${shape}] -> [${lie}]`] };
  },
};

/** A shard far larger than the manifest needs (sparse), or cut short. */
function tfjsShardSize(kind: 'sparse' | 'truncate'): HostileMutation {
  return {
    name: kind === 'sparse' ? 'shard-sparse-3g' : 'shard-truncated',
    cls: 'sizes',
    formats: ['tfjs'],
    async apply(ctx) {
      const t = await tfjsSeed(ctx);
      if (!t?.groups.length) return undefined;
      const g = pick(ctx.rng, t.groups);
      const shard = pick(ctx.rng, g.paths);
      const path = join(ctx.caseDir, shard);
      const size = (await fs.stat(path)).size;
      const to = kind === 'sparse' ? SPARSE_BYTES : Math.floor(size * ctx.rng());
      await fs.truncate(path, to);
      return {
        file: shard,
        ops: [`shard '${shard}' ${size} -> ${to} bytes${kind === 'sparse' ? ' (sparse)' : ''}`],
        mustName: join(ctx.caseDir, t.jsonName),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ONNX

function decodeOnnx(b: Uint8Array): onnx.ModelProto | undefined {
  try {
    return onnx.ModelProto.decode(b);
  } catch {
    return undefined;
  }
}

function encodeOnnx(m: onnx.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(m).finish();
}

/** The raw float32 bytes of a FLOAT tensor held in the model. */
function floatBytes(t: onnx.ITensorProto): Buffer | undefined {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if (t.rawData && t.rawData.length > 0) return Buffer.from(t.rawData);
  if (t.floatData && t.floatData.length > 0) return Buffer.from(Float32Array.from(t.floatData).buffer);
  return undefined;
}

/** The largest FLOAT initializer with values (an MLP's main weight). */
function mainWeight(m: onnx.ModelProto): onnx.ITensorProto | undefined {
  let best: onnx.ITensorProto | undefined;
  let bestLen = 0;
  for (const t of m.graph?.initializer ?? []) {
    const b = floatBytes(t);
    if (b && b.length >= 8 && b.length > bestLen) {
      best = t;
      bestLen = b.length;
    }
  }
  return best;
}

async function onnxSeed(ctx: Context): Promise<{ model: onnx.ModelProto; weight: onnx.ITensorProto; bytes: Buffer } | undefined> {
  const model = decodeOnnx(await fs.readFile(join(ctx.caseDir, ctx.seed.entry)));
  const weight = model && mainWeight(model);
  const bytes = weight && floatBytes(weight);
  if (!model || !weight || !bytes) return undefined;
  return { model, weight, bytes };
}

function setExternal(t: onnx.ITensorProto, entries: [string, string][]): void {
  delete (t as { rawData?: unknown }).rawData;
  t.floatData = [];
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.externalData = entries.map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
}

/** A NodeProto field (GraphProto.node) written directly: protobufjs takes seconds for 10^5 nodes. */
function nodeField(input: string[], output: string[], name: string, opType: string): Buffer {
  const body = concat([...input.map((x) => pbString(1, x)), ...output.map((x) => pbString(2, x)), pbString(3, name), pbString(4, opType)]);
  return concat([varint(1 * 8 + 2), varint(body.length), body]);
}

/** The weight reached through `n` Identity nodes (from an initializer or a Constant node). */
function onnxChain(name: string, base: 'initializer' | 'constant', order: 'forward' | 'reversed'): HostileMutation {
  return {
    name,
    cls: 'nesting',
    formats: ['onnx'],
    async apply(ctx) {
      const s = await onnxSeed(ctx);
      if (!s) return undefined;
      const g = s.model.graph!;
      const n = logUniform(ctx.rng, 1e4, 1e5);
      const orig = s.weight.name ?? 'w';
      const link = (i: number) => (i === n ? orig : `${orig}/chain_${i}`);
      const chain: Buffer[] = [];
      if (base === 'constant') {
        g.initializer = (g.initializer ?? []).filter((t) => t !== s.weight);
        const value = onnx.TensorProto.create({ ...s.weight, name: undefined });
        const node = onnx.NodeProto.encode({
          opType: 'Constant',
          output: [link(0)],
          name: 'chain_const',
          attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: value }],
        }).finish();
        chain.push(concat([varint(1 * 8 + 2), varint(node.length), node]));
      } else {
        s.weight.name = link(0);
      }
      // IR 3 models list initializers among the inputs too; the chain now makes the name.
      g.input = (g.input ?? []).filter((v) => v.name !== orig);
      for (let i = 0; i < n; i++) chain.push(nodeField([link(i)], [link(i + 1)], `chain_${i}`, 'Identity'));
      if (order === 'reversed') chain.reverse();
      // The chain's nodes come before the graph's own (repeated fields keep the order they appear in).
      const graph = onnx.GraphProto.encode(g).finish();
      const nodes = Buffer.concat(chain);
      s.model.graph = null;
      const rest = encodeOnnx(s.model);
      await fs.writeFile(
        join(ctx.caseDir, ctx.seed.entry),
        concat([rest, varint(7 * 8 + 2), varint(nodes.length + graph.length), nodes, graph]),
      );
      return {
        file: ctx.seed.entry,
        ops: [
          `weight '${orig}' behind ${n} Identity nodes from ${base === 'constant' ? 'a Constant node' : 'its initializer'}${order === 'reversed' ? ', nodes in reverse order' : ''}`,
        ],
      };
    },
  };
}

interface Level {
  /** Fields written before the nested one. */
  prefix: Buffer;
  /** Field number of the nested message. */
  field: number;
}

/** The content of levels[0]: each level's prefix, then its nested field holding the next level, `core` innermost. */
function nestMessages(levels: readonly Level[], core: Buffer): Buffer {
  const n = levels.length;
  const sizes = new Array<number>(n + 1);
  sizes[n] = core.length;
  for (let i = n - 1; i >= 0; i--) {
    const inner = sizes[i + 1];
    sizes[i] = levels[i].prefix.length + varintLength(levels[i].field * 8 + 2) + varintLength(inner) + inner;
  }
  const out = Buffer.alloc(sizes[0]);
  let at = 0;
  for (let i = 0; i < n; i++) {
    at += levels[i].prefix.copy(out, at);
    at += varint(levels[i].field * 8 + 2).copy(out, at);
    at += varint(sizes[i + 1]).copy(out, at);
  }
  core.copy(out, at);
  return out;
}

/** Re-encodes the model with `extra` appended inside its graph (repeated fields there merge). */
function withGraphExtra(m: onnx.ModelProto, extra: Buffer): Buffer {
  const graph = onnx.GraphProto.encode(m.graph!).finish();
  const g = m.graph;
  m.graph = null;
  const rest = encodeOnnx(m);
  m.graph = g;
  return concat([rest, varint(7 * 8 + 2), varint(graph.length + extra.length), graph, extra]);
}

type ProtoNesting = 'subgraph' | 'subgraphs' | 'sequence-type' | 'groups';

function onnxProtoNesting(kind: ProtoNesting): HostileMutation {
  return {
    name: `proto-${kind}`,
    cls: 'nesting',
    formats: ['onnx'],
    async apply(ctx) {
      const m = decodeOnnx(await fs.readFile(join(ctx.caseDir, ctx.seed.entry)));
      if (!m?.graph) return undefined;
      const depth = logUniform(ctx.rng, 1e3, 1e5);
      let extra: Buffer;
      let what: string;
      if (kind === 'subgraph' || kind === 'subgraphs') {
        // GraphProto.node -> NodeProto.attribute -> AttributeProto.g (or .graphs) -> GraphProto ...
        const attr = kind === 'subgraph' ? { field: 6, type: 5, name: 'then_branch' } : { field: 11, type: 10, name: 'branches' };
        const node = concat([pbString(1, 'cond'), pbString(2, 'deep_out'), pbString(4, 'If')]);
        const attribute = concat([pbString(1, attr.name), pbVarintField(20, attr.type)]);
        const levels: Level[] = [];
        for (let i = 0; i < depth; i++)
          levels.push({ prefix: Buffer.alloc(0), field: 1 }, { prefix: node, field: 5 }, { prefix: attribute, field: attr.field });
        extra = nestMessages(levels, pbString(2, 'innermost'));
        what = `${depth} subgraphs nested through AttributeProto.${kind === 'subgraph' ? 'g' : 'graphs'} (${3 * depth} messages deep)`;
      } else if (kind === 'sequence-type') {
        // GraphProto.value_info -> ValueInfoProto.type -> TypeProto.sequence_type -> .elem_type -> TypeProto ...
        const levels: Level[] = [
          { prefix: Buffer.alloc(0), field: 13 },
          { prefix: pbString(1, 'deep_value'), field: 2 },
        ];
        for (let i = 0; i < depth; i++) levels.push({ prefix: Buffer.alloc(0), field: 4 }, { prefix: Buffer.alloc(0), field: 1 });
        extra = nestMessages(levels, Buffer.alloc(0));
        what = `a value_info type of ${depth} nested sequence types (${2 * depth} messages deep)`;
      } else {
        // An unknown field holding groups inside groups (wire types 3 and 4).
        const start = varint(999 * 8 + 3);
        const end = varint(999 * 8 + 4);
        extra = Buffer.concat([Buffer.alloc(start.length * depth).fill(start), Buffer.alloc(end.length * depth).fill(end)]);
        what = `unknown field 999 holding ${depth} nested groups`;
        if (ctx.rng() < 0.5) {
          // At the top level of the ModelProto instead of inside the graph.
          await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), concat([encodeOnnx(m), extra]));
          return { file: ctx.seed.entry, ops: [`${what}, in ModelProto`] };
        }
      }
      await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), withGraphExtra(m, extra));
      return { file: ctx.seed.entry, ops: [what] };
    },
  };
}

function onnxLink(kind: LinkKind): HostileMutation {
  return {
    name: `link-${kind}`,
    cls: 'links',
    formats: ['onnx'],
    async apply(ctx) {
      const s = await onnxSeed(ctx);
      if (!s) return undefined;
      const sentinel = await writeSentinel(ctx.outside, 'sentinel.bin', s.bytes.length);
      const { name, how } = await hostileName(ctx.rng, kind, ctx, sentinel, undefined);
      setExternal(s.weight, [
        ['location', name],
        ['offset', '0'],
        ['length', String(s.bytes.length)],
      ]);
      await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), encodeOnnx(s.model));
      return {
        file: ctx.seed.entry,
        ops: [`tensor '${s.weight.name}' external location ${JSON.stringify(name)} (${how})`],
        refuse: true,
        sentinel,
      };
    },
  };
}

const BIG_NUMBERS = [
  '9007199254740991',
  '9007199254740993',
  '18446744073709551615',
  '1000000000000000000000000000000',
  '4294967296',
  '2147483648',
  '-1',
  '1e9',
  '0x10',
  ' 12',
];

/** External data whose offset or length lies, or that sits at the end of a 3 GiB sparse file. */
function onnxExternalSize(kind: 'length' | 'offset' | 'sparse'): HostileMutation {
  return {
    name: kind === 'sparse' ? 'external-sparse-3g' : `external-${kind}-lie`,
    cls: 'sizes',
    formats: ['onnx'],
    async apply(ctx) {
      const s = await onnxSeed(ctx);
      if (!s) return undefined;
      const n = s.bytes.length;
      const data = join(ctx.caseDir, 'weights.bin');
      let length = String(n);
      let off = '0';
      if (kind === 'sparse') {
        const offset = SPARSE_BYTES - n;
        await fs.writeFile(data, Buffer.alloc(0));
        await fs.truncate(data, SPARSE_BYTES);
        const h = await fs.open(data, 'r+');
        await h.write(s.bytes, 0, n, offset);
        await h.close();
        off = String(offset);
      } else {
        await fs.writeFile(data, s.bytes);
        const lie = pick(ctx.rng, [...BIG_NUMBERS, String(n * 1000), String(n + 1), String(n - 4), '0', '1']);
        if (kind === 'length') length = lie;
        else off = lie;
      }
      setExternal(s.weight, [
        ['location', 'weights.bin'],
        ['offset', off],
        ['length', length],
      ]);
      await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), encodeOnnx(s.model));
      return {
        file: ctx.seed.entry,
        ops: [
          `tensor '${s.weight.name}' (${n} bytes) external weights.bin${kind === 'sparse' ? ` at the end of a ${SPARSE_BYTES}-byte sparse file` : ''} offset ${off} length ${length}`,
        ],
      };
    },
  };
}

/** dims far larger or smaller than the raw data the tensor holds. */
const onnxDimsLie: HostileMutation = {
  name: 'dims-lie',
  cls: 'sizes',
  formats: ['onnx'],
  async apply(ctx) {
    const s = await onnxSeed(ctx);
    if (!s) return undefined;
    const before = (s.weight.dims ?? []).map(String);
    const lie = pick(ctx.rng, [[2 ** 31, 2 ** 31], [2 ** 26, 2 ** 26], [2 ** 62], [4294967296, 1], [1], [0], [2 ** 28, 1]]);
    s.weight.dims = lie;
    await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), encodeOnnx(s.model));
    return { file: ctx.seed.entry, ops: [`tensor '${s.weight.name}' dims [${before}] -> [${lie}] with ${s.bytes.length} bytes of data`] };
  },
};

/** The model file itself extended to 3 GiB (past protobuf's 2 GiB). */
const onnxModelSparse: HostileMutation = {
  name: 'model-sparse-3g',
  cls: 'sizes',
  formats: ['onnx'],
  async apply(ctx) {
    await fs.truncate(join(ctx.caseDir, ctx.seed.entry), SPARSE_BYTES);
    return { file: ctx.seed.entry, ops: [`model file extended to ${SPARSE_BYTES} bytes (sparse)`] };
  },
};

// ---------------------------------------------------------------------------------------------
// safetensors

async function safetensorsSeed(ctx: Context): Promise<{ header: Record<string, unknown>; data: Buffer; file: string } | undefined> {
  const file = ctx.seed.entry;
  const b = await fs.readFile(join(ctx.caseDir, file));
  if (b.length < 8) return undefined;
  const n = Number(b.readBigUInt64LE(0));
  if (8 + n > b.length) return undefined;
  return { header: JSON.parse(b.toString('utf8', 8, 8 + n)) as Record<string, unknown>, data: b.subarray(8 + n), file };
}

function safetensorsBytes(headerText: string, data: Buffer, declared?: bigint): Buffer {
  const h = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declared ?? BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

type StNesting = 'metadata' | 'metadata-text' | 'shape' | 'offsets';

function safetensorsNesting(kind: StNesting): HostileMutation {
  return {
    name: `header-${kind}`,
    cls: 'nesting',
    formats: ['safetensors'],
    async apply(ctx) {
      const s = await safetensorsSeed(ctx);
      if (!s) return undefined;
      const tensors = Object.keys(s.header).filter((k) => k !== '__metadata__');
      let at: string;
      let wrapper: Wrapper;
      if (kind === 'metadata') {
        s.header.__metadata__ = { ...(isRecord(s.header.__metadata__) ? s.header.__metadata__ : {}), fuzz: PLACEHOLDER };
        wrapper = pick(ctx.rng, [WRAPPERS.object, WRAPPERS.list]);
        at = '__metadata__.fuzz';
      } else if (kind === 'metadata-text') {
        // A metadata value is a string; PruneScope's own keys hold JSON text, which is parsed.
        const key = pick(ctx.rng, ['prunescope.layers', 'prunescope.input_shape']);
        const depth = logUniform(ctx.rng, 1e4, 1e6);
        s.header.__metadata__ = {
          ...(isRecord(s.header.__metadata__) ? s.header.__metadata__ : {}),
          [key]: '['.repeat(depth) + ']'.repeat(depth),
        };
        await fs.writeFile(join(ctx.caseDir, s.file), safetensorsBytes(JSON.stringify(s.header), s.data));
        return { file: s.file, ops: [`__metadata__["${key}"] is JSON text of lists nested ${depth} deep`] };
      } else {
        if (!tensors.length) return undefined;
        const name = pick(ctx.rng, tensors);
        const entry = s.header[name] as Record<string, unknown>;
        const field = kind === 'shape' ? 'shape' : pick(ctx.rng, ['data_offsets', 'dtype']);
        entry[field] = PLACEHOLDER;
        wrapper = field === 'dtype' ? pick(ctx.rng, [WRAPPERS.object, WRAPPERS.list]) : WRAPPERS.list;
        at = `tensor "${name}".${field}`;
      }
      const depth = jsonDepth(ctx.rng, wrapper);
      await fs.writeFile(join(ctx.caseDir, s.file), safetensorsBytes(spliceDeep(s.header, wrapper, depth), s.data));
      return { file: s.file, ops: [`${at} nested ${depth} deep`] };
    },
  };
}

const safetensorsOffsetsLie: HostileMutation = {
  name: 'data-offsets-lie',
  cls: 'sizes',
  formats: ['safetensors'],
  async apply(ctx) {
    const s = await safetensorsSeed(ctx);
    const tensors = s && Object.keys(s.header).filter((k) => k !== '__metadata__');
    if (!s || !tensors?.length) return undefined;
    const name = pick(ctx.rng, tensors);
    const entry = s.header[name] as { data_offsets: [number, number]; shape: number[] };
    const [b, e] = entry.data_offsets;
    const n = s.data.length;
    const lie = pick(ctx.rng, [
      [b, n * 1000],
      [b, 2 ** 53 - 1],
      [2 ** 53 - 8, 2 ** 53],
      [b, b + 1],
      [e, b],
      [0, e - b],
      [b + 4, e + 4],
      [b, e - 4],
      [n, n + (e - b)],
    ]);
    const shapeToo = ctx.rng() < 0.3;
    entry.data_offsets = lie as [number, number];
    if (shapeToo) entry.shape = [Math.max(1, (lie[1] - lie[0]) / 4)];
    await fs.writeFile(join(ctx.caseDir, s.file), safetensorsBytes(JSON.stringify(s.header), s.data));
    return {
      file: s.file,
      ops: [`tensor "${name}" data_offsets [${b}, ${e}] -> [${lie}]${shapeToo ? ` with shape [${entry.shape}]` : ''} (${n} data bytes)`],
    };
  },
};

const safetensorsShapeLie: HostileMutation = {
  name: 'shape-lie',
  cls: 'sizes',
  formats: ['safetensors'],
  async apply(ctx) {
    const s = await safetensorsSeed(ctx);
    const tensors = s && Object.keys(s.header).filter((k) => k !== '__metadata__');
    if (!s || !tensors?.length) return undefined;
    const name = pick(ctx.rng, tensors);
    const entry = s.header[name] as { shape: number[] };
    const before = entry.shape;
    entry.shape = pick(ctx.rng, [[65536, 65536], [2 ** 26, 2 ** 27], [2 ** 53 - 1], [1], [0, 0], before.map((d) => d * 1000)]);
    await fs.writeFile(join(ctx.caseDir, s.file), safetensorsBytes(JSON.stringify(s.header), s.data));
    return { file: s.file, ops: [`tensor "${name}" shape [${before}] -> [${entry.shape}]`] };
  },
};

const safetensorsHeaderLengthLie: HostileMutation = {
  name: 'header-length-lie',
  cls: 'sizes',
  formats: ['safetensors'],
  async apply(ctx) {
    const s = await safetensorsSeed(ctx);
    if (!s) return undefined;
    const text = JSON.stringify(s.header);
    const real = Buffer.byteLength(text);
    const total = 8 + real + s.data.length;
    const lie = pick(ctx.rng, [
      BigInt(total),
      BigInt(total - 7),
      100n * 1024n * 1024n - 1n,
      2n ** 63n,
      2n ** 64n - 1n,
      BigInt(real - 1),
      BigInt(real + 1),
      0n,
      2n,
    ]);
    await fs.writeFile(join(ctx.caseDir, s.file), safetensorsBytes(text, s.data, lie));
    return { file: s.file, ops: [`header length ${real} -> ${lie} (file of ${total} bytes)`] };
  },
};

const safetensorsSparse: HostileMutation = {
  name: 'file-sparse-3g',
  cls: 'sizes',
  formats: ['safetensors'],
  async apply(ctx) {
    await fs.truncate(join(ctx.caseDir, ctx.seed.entry), SPARSE_BYTES);
    return { file: ctx.seed.entry, ops: [`file extended to ${SPARSE_BYTES} bytes (sparse) after its tensors`] };
  },
};

// ---------------------------------------------------------------------------------------------
// .npy (datasets and model inputs)

function npySeedFile(ctx: Context): string | undefined {
  const names = ctx.seed.files.map((f) => f.name).filter((n) => n.endsWith('.npy'));
  return names.length ? pick(ctx.rng, names) : undefined;
}

const SHAPE_LIES = (shape: number[]): number[][] => [
  [2 ** 40, ...shape.slice(1)],
  [1e9, 1e9],
  [4294967296, 4294967296],
  [2 ** 31, 2 ** 31, 2 ** 31],
  [(shape[0] ?? 1) * 1000, ...shape.slice(1)],
  [Math.max(0, (shape[0] ?? 1) - 1), ...shape.slice(1)],
  [(shape[0] ?? 1) + 1, ...shape.slice(1)],
  [1],
  [0, ...shape.slice(1)],
  [...shape, 1e6],
];

const npyShapeLie: HostileMutation = {
  name: 'npy-shape-lie',
  cls: 'sizes',
  formats: ['npy', 'read-npy'],
  async apply(ctx) {
    const file = npySeedFile(ctx);
    if (!file) return undefined;
    const p = splitNpy(await fs.readFile(join(ctx.caseDir, file)));
    if (!p) return undefined;
    const lie = pick(ctx.rng, SHAPE_LIES(p.shape));
    await fs.writeFile(join(ctx.caseDir, file), npyBytes(p.descr, lie, p.data));
    return { file, ops: [`${file} shape (${p.shape}) -> (${lie}) over ${p.data.length} data bytes`] };
  },
};

const npyHeaderLengthLie: HostileMutation = {
  name: 'npy-header-length-lie',
  cls: 'sizes',
  formats: ['npy', 'read-npy'],
  async apply(ctx) {
    const file = npySeedFile(ctx);
    if (!file) return undefined;
    const b = Buffer.from(await fs.readFile(join(ctx.caseDir, file)));
    if (b.length < 12) return undefined;
    const v2 = ctx.rng() < 0.5;
    if (v2) {
      // As version 2: a 4-byte header length.
      const p = splitNpy(b);
      if (!p) return undefined;
      const again = npyBytes(p.descr, p.shape, p.data);
      const head = again.subarray(0, 10);
      const rest = again.subarray(10);
      const len = Buffer.alloc(4);
      const lie = pick(ctx.rng, [0xffffffff, 0x7fffffff, 0x100000, rest.length + 1, rest.length * 1000, 0]);
      len.writeUInt32LE(lie);
      head[6] = 2;
      await fs.writeFile(join(ctx.caseDir, file), Buffer.concat([head.subarray(0, 8), len, rest]));
      return { file, ops: [`${file} as version 2.0 with header length ${lie}`] };
    }
    const lie = pick(ctx.rng, [0xffff, 0, 1, b.readUInt16LE(8) + 1, b.readUInt16LE(8) - 1]);
    b.writeUInt16LE(lie, 8);
    await fs.writeFile(join(ctx.caseDir, file), b);
    return { file, ops: [`${file} header length ${lie}`] };
  },
};

const npySparse: HostileMutation = {
  name: 'npy-sparse-3g',
  cls: 'sizes',
  formats: ['npy', 'read-npy'],
  async apply(ctx) {
    const file = npySeedFile(ctx);
    if (!file) return undefined;
    await fs.truncate(join(ctx.caseDir, file), SPARSE_BYTES);
    return { file, ops: [`${file} extended to ${SPARSE_BYTES} bytes (sparse) past its data`] };
  },
};

/** A gzipped .npy whose header declares 10 rows and whose stream inflates to ~1 GiB. */
const npyGzBomb: HostileMutation = {
  name: 'npy-gz-bomb',
  cls: 'bombs',
  formats: ['npy'],
  async apply(ctx) {
    if (ctx.seed.entry !== 'x.npy') return undefined;
    const header = npyBytes('|u1', [10, 784], new Uint8Array(0));
    const gz = gzipMember(deflateZeros(header, BOMB_BYTES));
    await fs.rm(join(ctx.caseDir, 'x.npy'));
    await fs.rm(join(ctx.caseDir, 'y.npy'), { force: true });
    await fs.writeFile(join(ctx.caseDir, 'x.npy.gz'), gz);
    return {
      file: 'x.npy.gz',
      entry: 'x.npy.gz',
      ops: [`x.npy.gz: header (10, 784) uint8, inflates to ${header.length + BOMB_BYTES} bytes from ${gz.length}`],
    };
  },
};

// ---------------------------------------------------------------------------------------------
// IDX

const idxDimsLie = (gz: boolean): HostileMutation => ({
  name: 'idx-dims-lie',
  cls: 'sizes',
  formats: [gz ? 'idx-gz' : 'idx'],
  async apply(ctx) {
    const file = pick(
      ctx.rng,
      ctx.seed.files.map((f) => f.name),
    );
    let b = Buffer.from(await fs.readFile(join(ctx.caseDir, file)));
    if (gz) b = Buffer.from(unzipGz(b));
    const ndims = b[3];
    const dims = Array.from({ length: ndims }, (_, i) => b.readUInt32BE(4 + 4 * i));
    const data = b.subarray(4 + 4 * ndims);
    const r = ctx.rng();
    let lie: number[];
    if (r < 0.15) lie = Array.from({ length: 255 }, () => 0xffffffff);
    else if (r < 0.25) lie = [...dims, 1e6];
    else {
      lie = [...dims];
      const i = randInt(ctx.rng, 0, ndims - 1);
      lie[i] = pick(ctx.rng, [0xffffffff, 0x80000000, 0x10000, dims[i] * 1000, dims[i] + 1, Math.max(0, dims[i] - 1), 0]);
    }
    const out = Buffer.concat([idxHeader(b[2], lie), data]);
    await fs.writeFile(join(ctx.caseDir, file), gz ? gzipBytes(out) : out);
    return {
      file,
      ops: [
        `${file} dims ${dims.join('x')} -> ${lie.length > 8 ? `${lie.length} dims of ${lie[0]}` : lie.join('x')} over ${data.length} data bytes`,
      ],
    };
  },
});

function unzipGz(b: Uint8Array): Uint8Array {
  // Seeds are small and honest; fflate's gunzip is enough here.
  return gunzipSync(b);
}

const idxSparse: HostileMutation = {
  name: 'idx-sparse-3g',
  cls: 'sizes',
  formats: ['idx', 'idx-gz'],
  async apply(ctx) {
    const file = pick(
      ctx.rng,
      ctx.seed.files.map((f) => f.name),
    );
    await fs.truncate(join(ctx.caseDir, file), SPARSE_BYTES);
    return { file, ops: [`${file} extended to ${SPARSE_BYTES} bytes (sparse)`] };
  },
};

type IdxBomb = 'small-header' | 'honest' | 'multi-member';

/** t10k images (and labels) gzipped so that the images stream inflates to ~1 GiB. */
function idxGzBomb(kind: IdxBomb): HostileMutation {
  return {
    name: `gz-idx-bomb-${kind}`,
    cls: 'bombs',
    formats: ['idx-gz'],
    async apply(ctx) {
      const images = 't10k-images-idx3-ubyte.gz';
      const labels = 't10k-labels-idx1-ubyte.gz';
      if (ctx.seed.entry !== images) return undefined;
      let gz: Buffer;
      let rows: number;
      let what: string;
      if (kind === 'small-header') {
        rows = 10;
        gz = gzipMember(deflateZeros(idxHeader(0x08, [rows, 28, 28]), BOMB_BYTES));
        what = `header 10x28x28, inflates to ${16 + BOMB_BYTES} bytes`;
      } else if (kind === 'honest') {
        rows = Math.floor(BOMB_BYTES / 784);
        gz = gzipMember(deflateZeros(idxHeader(0x08, [rows, 28, 28]), rows * 784));
        what = `header ${rows}x28x28 (honest), inflates to ${16 + rows * 784} bytes`;
      } else {
        // An honest member, then a second member of zeros only.
        const original = Buffer.from(unzipGz(await fs.readFile(join(ctx.caseDir, images))));
        rows = original.readUInt32BE(4);
        gz = Buffer.concat([gzipBytes(original), gzipMember(deflateZeros(new Uint8Array(0), BOMB_BYTES))]);
        what = `an honest gzip member (${rows}x28x28) followed by one inflating to ${BOMB_BYTES} bytes`;
      }
      await fs.writeFile(join(ctx.caseDir, images), gz);
      const labelBytes =
        kind === 'honest'
          ? gzipMember(deflateZeros(idxHeader(0x08, [rows]), rows))
          : gzipBytes(Buffer.concat([idxHeader(0x08, [rows]), Buffer.alloc(rows)]));
      await fs.writeFile(join(ctx.caseDir, labels), labelBytes);
      return { file: images, ops: [`${images}: ${what} from ${gz.length} bytes`] };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// .npz

async function npzSeed(ctx: Context): Promise<Record<string, Uint8Array> | undefined> {
  if (!ctx.seed.entry.endsWith('.npz')) return undefined;
  return unzipSync(await fs.readFile(join(ctx.caseDir, ctx.seed.entry)));
}

/** One entry's declared sizes (central, local or both) far larger or smaller than its data. */
const npzEntrySizeLie: HostileMutation = {
  name: 'zip-entry-size-lie',
  cls: 'sizes',
  formats: ['npz'],
  async apply(ctx) {
    const files = await npzSeed(ctx);
    if (!files) return undefined;
    const names = Object.keys(files);
    const victim = pick(ctx.rng, names);
    const stored = ctx.rng() < 0.3;
    const entries: ZipEntrySpec[] = names.map((n) =>
      stored ? { name: n, data: files[n], method: 0 as const, crc: crc32(files[n]), size: files[n].length } : deflatedEntry(n, files[n]),
    );
    const e = entries[names.indexOf(victim)];
    const real = e.size;
    const lie = pick(ctx.rng, [real * 1000, 0xffffffff, 0xfffffffe, GiB, real + 1, real - 1, 0, 1]);
    const field = pick(ctx.rng, ['size', 'csize', 'local', 'both']);
    if (field === 'size') e.size = lie;
    else if (field === 'csize') e.csize = pick(ctx.rng, [e.data.length * 1000, 0xffffffff, e.data.length + 1, e.data.length - 1, 0]);
    else if (field === 'local') e.localSize = lie;
    else {
      e.size = lie;
      e.localSize = lie;
    }
    await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), writeZip(entries));
    const shown =
      field === 'csize'
        ? `compressed size ${e.data.length} -> ${e.csize}`
        : `${field === 'local' ? 'local ' : field === 'both' ? 'central and local ' : ''}size ${real} -> ${lie}`;
    return { file: ctx.seed.entry, ops: [`${victim} (${stored ? 'stored' : 'deflated'}): ${shown}`] };
  },
};

/** An entry whose .npy header declares another shape than its data (zip sizes honest). */
const npzNpyShapeLie: HostileMutation = {
  name: 'npz-npy-shape-lie',
  cls: 'sizes',
  formats: ['npz'],
  async apply(ctx) {
    const files = await npzSeed(ctx);
    if (!files) return undefined;
    const names = Object.keys(files);
    const victim = pick(ctx.rng, names);
    const p = splitNpy(Buffer.from(files[victim]));
    if (!p) return undefined;
    const lie = pick(ctx.rng, SHAPE_LIES(p.shape));
    files[victim] = npyBytes(p.descr, lie, p.data);
    await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), writeZip(names.map((n) => deflatedEntry(n, files[n]))));
    return { file: ctx.seed.entry, ops: [`${victim}: .npy shape (${p.shape}) -> (${lie}) over ${p.data.length} bytes`] };
  },
};

/** x_test.npy deflated to ~1 MB but inflating to ~1 GiB; declared small (zip and .npy agree) or honestly huge. */
function npzBomb(kind: 'small-declared' | 'honest'): HostileMutation {
  return {
    name: `npz-bomb-${kind}`,
    cls: 'bombs',
    formats: ['npz'],
    async apply(ctx) {
      if (!ctx.seed.entry.endsWith('.npz')) return undefined;
      const rows = kind === 'honest' ? BOMB_BYTES / 1024 : 10;
      const header = npyBytes('|u1', [rows, 1024], new Uint8Array(0));
      const bomb = deflateZeros(header, BOMB_BYTES);
      const declared = kind === 'honest' ? bomb.size : header.length + rows * 1024;
      const yHeader = npyBytes('|u1', [rows], new Uint8Array(0));
      const y = deflateZeros(yHeader, rows);
      const entries: ZipEntrySpec[] = [
        { name: 'x_test.npy', data: bomb.data, method: 8, crc: bomb.crc, size: declared },
        { name: 'y_test.npy', data: y.data, method: 8, crc: y.crc, size: y.size },
      ];
      const zip = writeZip(entries);
      await fs.writeFile(join(ctx.caseDir, ctx.seed.entry), zip);
      return {
        file: ctx.seed.entry,
        ops: [
          `x_test.npy: ${bomb.data.length} deflated bytes inflate to ${bomb.size}; zip and .npy header declare ${declared} (${rows}x1024 uint8)`,
        ],
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CSV

/** A gzipped CSV of MNIST-shaped rows of zeros, ~1 GiB inflated from ~1 MB; nothing declares a size. */
const csvGzBomb: HostileMutation = {
  name: 'csv-gz-bomb',
  cls: 'bombs',
  formats: ['csv'],
  async apply(ctx) {
    if (ctx.seed.entry !== 'test.csv') return undefined;
    const row = `0${',0'.repeat(784)}\n`;
    const header = `label,${Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',')}\n`;
    const d = deflateRepeated(Buffer.from(header), 'csv-rows', () => Buffer.from(row.repeat(Math.floor(MiB / row.length))), BOMB_BYTES);
    const gz = gzipMember(d);
    await fs.rm(join(ctx.caseDir, 'test.csv'));
    await fs.writeFile(join(ctx.caseDir, 'test.csv.gz'), gz);
    return { file: 'test.csv.gz', entry: 'test.csv.gz', ops: [`test.csv.gz: ${d.size} bytes of rows from ${gz.length}`] };
  },
};

// ---------------------------------------------------------------------------------------------

const LINK_KINDS: LinkKind[] = ['absolute', 'url', 'dotdot', 'symlink-file', 'symlink-folder', 'symlink-chain'];

export const HOSTILE_MUTATIONS: readonly HostileMutation[] = [
  tfjsNesting('json-activation', 'activation'),
  tfjsNesting('json-layers', 'layers'),
  tfjsNesting('json-inbound-nodes', 'inbound'),
  tfjsNesting('json-lists', 'lists'),
  tfjsNesting('json-metadata', 'metadata'),
  ...LINK_KINDS.map(tfjsLink),
  tfjsShapeLie,
  tfjsShardSize('sparse'),
  tfjsShardSize('truncate'),

  onnxChain('identity-chain', 'initializer', 'forward'),
  onnxChain('constant-identity-chain', 'constant', 'forward'),
  onnxChain('identity-chain-reversed', 'initializer', 'reversed'),
  onnxProtoNesting('subgraph'),
  onnxProtoNesting('subgraphs'),
  onnxProtoNesting('sequence-type'),
  onnxProtoNesting('groups'),
  ...LINK_KINDS.map(onnxLink),
  onnxExternalSize('length'),
  onnxExternalSize('offset'),
  onnxExternalSize('sparse'),
  onnxDimsLie,
  onnxModelSparse,

  safetensorsNesting('metadata'),
  safetensorsNesting('metadata-text'),
  safetensorsNesting('shape'),
  safetensorsNesting('offsets'),
  safetensorsOffsetsLie,
  safetensorsShapeLie,
  safetensorsHeaderLengthLie,
  safetensorsSparse,

  npyShapeLie,
  npyHeaderLengthLie,
  npySparse,
  npyGzBomb,

  idxDimsLie(false),
  idxDimsLie(true),
  idxSparse,
  idxGzBomb('small-header'),
  idxGzBomb('honest'),
  idxGzBomb('multi-member'),

  npzEntrySizeLie,
  npzNpyShapeLie,
  npzBomb('small-declared'),
  npzBomb('honest'),

  csvGzBomb,
];

/** The hostile mutations that apply to a format, in a fixed order (optionally only some classes). */
export function hostileMutationsFor(format: FuzzFormat, classes?: readonly HostileClass[]): HostileMutation[] {
  return HOSTILE_MUTATIONS.filter((m) => m.formats.includes(format) && (!classes || classes.includes(m.cls)));
}

/** Key of a mutation in reports: class/name. */
export function mutationKey(m: { cls: HostileClass; name: string }): string {
  return `${m.cls}/${m.name}`;
}

/** The mutation of a format by its key (names repeat across formats: links/link-absolute is tfjs's and ONNX's). */
export function findMutation(key: string, format: FuzzFormat): HostileMutation | undefined {
  return HOSTILE_MUTATIONS.find((m) => mutationKey(m) === key && m.formats.includes(format));
}

/**
 * Prepares one hostile case: copies a seed that suits the mutation into `caseDir` (seeds tried in
 * an order drawn from `rng`) and applies the mutation.
 */
export async function prepareHostile(
  mutation: HostileMutation,
  rng: Rng,
  format: FuzzFormat,
  seeds: readonly Seed[],
  caseDir: string,
): Promise<{ seed: Seed; hostile: HostileCase }> {
  const outside = join(dirname(caseDir), `outside-${caseDir.split(/[\\/]/).pop()}`);
  // Seeds the reader takes as they are, so that it reaches the part the mutation aims at.
  const usable = seeds.filter((s) => s.supported !== false);
  const order = (usable.length ? usable : seeds)
    .map((s) => ({ s, k: rng() }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.s);
  for (const seed of order) {
    await fs.rm(caseDir, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
    await fs.cp(seed.dir, caseDir, { recursive: true });
    const applied = await mutation.apply({ rng, format, seed, caseDir, outside });
    if (applied) return { seed, hostile: { ...applied, cls: mutation.cls, mutation: mutation.name } };
  }
  throw new Error(`fuzz: no ${format} seed suits the hostile mutation ${mutationKey(mutation)}`);
}

/** Whether any typed array or string reachable from `value` holds (half of) the sentinel marker. */
export function holdsSentinel(value: unknown): boolean {
  const halves = [SENTINEL_MARKER.subarray(0, 4), SENTINEL_MARKER.subarray(4)];
  const text = SENTINEL_MARKER.toString('latin1');
  const seen = new Set<unknown>();
  const stack: unknown[] = [value];
  let visited = 0;
  while (stack.length > 0 && visited++ < 1_000_000) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes(text) || v.includes(text.slice(0, 4)) || v.includes(text.slice(4))) return true;
      continue;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (halves.some((h) => b.includes(h))) return true;
      continue;
    }
    if (v instanceof ArrayBuffer) {
      if (halves.some((h) => Buffer.from(v).includes(h))) return true;
      continue;
    }
    if (v instanceof Map) {
      for (const [k, x] of v) stack.push(k, x);
      continue;
    }
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return false;
}
