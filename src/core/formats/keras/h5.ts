/**
 * The small part of HDF5 the Keras format needs, over h5wasm (the HDF5 C library compiled to
 * WebAssembly). h5wasm is loaded on first use, never at import: it is 4 MB of code that only
 * Keras files need.
 *
 * The build used is h5wasm's plain one, whose only file system is in memory (Emscripten MEMFS),
 * not `h5wasm/node`, which reaches the host's files (NODERAWFS). Every file is handed to it as
 * bytes, so nothing an HDF5 file names (external links, external raw data, virtual datasets) can
 * make the library open a file on disk. HDF5 errors are turned into exceptions (h5wasm's throwing
 * error handler) instead of being printed to stderr, and every file is closed and deleted from
 * memory afterwards, also on error.
 */
import type * as H5wasmModule from 'h5wasm' with { 'resolution-mode': 'import' };
import type { Dataset as H5Dataset, File as H5File, Group as H5Group } from 'h5wasm' with { 'resolution-mode': 'import' };

/** An HDF5 file starts with this signature, at offset 0 or at 512, 1024, 2048, ... (after a user block). */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether an HDF5 signature sits at `offset` of `bytes`. */
function signatureAt(bytes: Uint8Array, offset: number): boolean {
  if (offset + SIGNATURE.length > bytes.length) return false;
  return SIGNATURE.every((b, i) => bytes[offset + i] === b);
}

/** Where the HDF5 signature is (0, or a user block's size), or undefined when the bytes are not HDF5. */
export function hdf5Offset(bytes: Uint8Array): number | undefined {
  if (signatureAt(bytes, 0)) return 0;
  for (let at = 512; at + SIGNATURE.length <= bytes.length; at *= 2) if (signatureAt(bytes, at)) return at;
  return undefined;
}

/** Whether the first bytes of a file are HDF5's (at offset 0: what h5py and Keras write). */
export function looksLikeHdf5(head: Uint8Array): boolean {
  return signatureAt(head, 0);
}

/** A problem HDF5 (or h5wasm) reported; readers turn it into a ModelFormatError naming the file. */
export class H5Error extends Error {
  override name = 'H5Error';
}

type H5wasm = typeof H5wasmModule;
type H5Module = Awaited<H5wasm['ready']>;

interface Lib {
  h5: H5wasm;
  module: H5Module;
}

/** Where the files handed to h5wasm live, inside its in-memory file system. */
const MEM_DIR = '/prunescope';
let lib: Promise<Lib> | undefined;
let serial = 0;

/** Loads h5wasm once (the WebAssembly module is instantiated on first use). */
function loadLib(): Promise<Lib> {
  lib ??= (async () => {
    const h5 = await import('h5wasm');
    const module = await h5.ready;
    // HDF5 reports errors by printing a trace to stderr and returning -1, which h5wasm's reads
    // ignore (a damaged chunk would read as uninitialised memory); its throwing handler makes
    // each error an exception with that trace instead.
    module.activate_throwing_error_handler();
    module.FS.mkdir(MEM_DIR);
    return { h5, module };
  })();
  return lib;
}

/** A fresh name in h5wasm's memory file system. */
function memPath(): string {
  serial += 1;
  return `${MEM_DIR}/${serial}.h5`;
}

/** The cause HDF5 gives, from the innermost line of its error trace ("file signature not found"). */
export function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const causes = [...text.matchAll(/#\d+: .* in [\w]+\(\): (.*)$/gm)].map((m) => m[1].trim());
  if (causes.length > 0) return causes[causes.length - 1];
  const first = text.split('\n').find((line) => line.trim() !== '') ?? 'unknown error';
  return first.replace(/^Error: /, '').trim();
}

/** A trap in the WebAssembly code (e.g. an access out of bounds): its memory may be corrupt from then on. */
function isTrap(e: unknown): boolean {
  return e instanceof Error && e.name === 'RuntimeError';
}

/** Runs `fn`, turning whatever h5wasm or the WebAssembly code throws into an H5Error. */
function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof H5Error || isTrap(e)) throw e;
    throw new H5Error(`${what}: ${hdf5Reason(e)}`);
  }
}

export type H5Kind = 'group' | 'dataset' | 'missing' | 'other';

/** A value an attribute holds: a string, a number, or a list of them (fixed- and variable-length strings alike). */
export type H5AttrValue = string | number | bigint | boolean | null | H5AttrValue[] | ArrayLike<number>;

/** One group or dataset of a file, as read once. */
export interface H5Node {
  kind: 'group' | 'dataset' | 'other';
  attrs: Record<string, H5AttrValue>;
  /** Attributes that could not be read, with why. */
  attrProblems?: Record<string, string>;
  /** A group's members (none for groups not walked). */
  keys?: string[];
  /** A dataset's shape, and its values when it is a float dataset that was asked for. */
  shape?: number[];
  dtype?: string;
  values?: Float32Array;
  /** Why a dataset's values are absent (not floats, not asked for, unreadable). */
  problem?: string;
}

/** Everything read from one HDF5 file, by absolute path ('/', '/model_weights', ...). */
export type H5Snapshot = Record<string, H5Node>;

/** A float dataset read whole. */
export interface H5Array {
  path: string;
  shape: number[];
  values: Float32Array;
  /** What the file stores, e.g. "float32", "float64 (converted to float32)". */
  dtype: string;
}

/** Read access to a file's snapshot. Paths are absolute inside the file ("/model_weights/dense"). */
export class H5Reader {
  constructor(private readonly nodes: H5Snapshot) {}

  private node(path: string): H5Node {
    const n = this.nodes[path];
    if (!n) throw new H5Error(`${path} does not exist`);
    return n;
  }

  kind(path: string): H5Kind {
    return this.nodes[path]?.kind ?? 'missing';
  }

  /** Names of a group's members. */
  keys(path: string): string[] {
    const n = this.node(path);
    if (n.kind !== 'group') throw new H5Error(`${path} is not a group`);
    return n.keys ?? [];
  }

  attrNames(path: string): string[] {
    const n = this.node(path);
    return [...Object.keys(n.attrs), ...Object.keys(n.attrProblems ?? {})];
  }

  /** An attribute's value, or undefined when there is none of that name. */
  attr(path: string, name: string): H5AttrValue | undefined {
    const n = this.node(path);
    const problem = n.attrProblems?.[name];
    if (problem !== undefined) throw new H5Error(`cannot read attribute ${name} of ${path}: ${problem}`);
    return Object.prototype.hasOwnProperty.call(n.attrs, name) ? n.attrs[name] : undefined;
  }

  /** A float dataset (float32 or float64, any byte order) as float32. */
  floats(path: string): H5Array {
    const n = this.node(path);
    if (n.kind !== 'dataset') throw new H5Error(`${path} is not a dataset`);
    if (!n.values) throw new H5Error(`cannot read ${path}: ${n.problem ?? 'its values were not read'}`);
    return { path, shape: n.shape ?? [], values: n.values, dtype: n.dtype ?? 'float32' };
  }
}

/** Limits on what a file may make the walk do (the structure comes from the file). */
const MAX_NODES = 200_000;
const MAX_DEPTH = 64;

function join(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function readAttrs(target: H5Group | H5Dataset, node: H5Node): void {
  const attrs = target.attrs;
  for (const name of Object.keys(attrs)) {
    try {
      node.attrs[name] = attrs[name].value as H5AttrValue;
    } catch (e) {
      if (isTrap(e)) throw e;
      node.attrProblems ??= {};
      node.attrProblems[name] = hdf5Reason(e);
    }
  }
}

/** A float dataset's values as float32 (float64 converted), or why not (h5wasm cannot read float16). */
function readFloats(l: Lib, ds: H5Dataset): { values?: Float32Array; dtype: string; problem?: string } {
  const meta = ds.metadata;
  if (meta.virtual_sources) return { dtype: 'virtual', problem: 'it is a virtual dataset (its data lives in other files)' };
  if (meta.type !== l.module.H5T_class_t.H5T_FLOAT.value)
    return { dtype: describeType(ds), problem: `it holds ${describeType(ds)}, not floats` };
  const raw = ds.value;
  if (raw instanceof Float32Array) return { values: raw, dtype: 'float32' };
  if (raw instanceof Float64Array) return { values: Float32Array.from(raw), dtype: 'float64 (converted to float32)' };
  if (typeof raw === 'number')
    return { values: Float32Array.of(raw), dtype: meta.size === 8 ? 'float64 (converted to float32)' : 'float32' };
  return { dtype: `float${meta.size * 8}`, problem: `it holds ${meta.size * 8}-bit floats, which cannot be read` };
}

function describeType(ds: H5Dataset): string {
  try {
    return `dtype ${JSON.stringify(ds.dtype)}`;
  } catch {
    return 'an unknown type';
  }
}

/** Walks the groups and attributes of an open file (not below `skip`), breadth first. */
function walkStructure(l: Lib, file: H5File, skip: Set<string>): H5Snapshot {
  const nodes: H5Snapshot = {};
  const queue: [string, number][] = [['/', 0]];
  for (let next = 0; next < queue.length; next++) {
    const [path, depth] = queue[next];
    if (next >= MAX_NODES) throw new H5Error(`the file has more than ${MAX_NODES} groups and datasets`);
    const entity = file.get(path);
    if (entity instanceof l.h5.Group) {
      const node: H5Node = { kind: 'group', attrs: {} };
      readAttrs(entity, node);
      nodes[path] = node;
      if (skip.has(path)) continue;
      if (depth >= MAX_DEPTH) throw new H5Error(`groups nest more than ${MAX_DEPTH} deep at ${path}`);
      node.keys = entity.keys();
      for (const k of node.keys) queue.push([join(path, k), depth + 1]);
    } else if (entity instanceof l.h5.Dataset) {
      const node: H5Node = { kind: 'dataset', attrs: {}, shape: entity.metadata.shape ?? [] };
      readAttrs(entity, node);
      nodes[path] = node;
    } else if (entity !== null) {
      nodes[path] = { kind: 'other', attrs: {} };
    }
  }
  return nodes;
}

/** Fills in the values of the float datasets under `roots`. */
function readValues(l: Lib, file: H5File, nodes: H5Snapshot, roots: string[]): void {
  for (const [path, node] of Object.entries(nodes)) {
    if (node.kind !== 'dataset') continue;
    if (!roots.some((r) => r === '/' || path === r || path.startsWith(`${r}/`))) {
      node.problem = "its values were not read (not part of the model's weights)";
      continue;
    }
    try {
      const entity = file.get(path) as H5Dataset;
      Object.assign(node, readFloats(l, entity));
    } catch (e) {
      if (isTrap(e)) throw e;
      node.problem = hdf5Reason(e);
    }
  }
}

export interface SnapshotOptions {
  /** Groups whose members are not walked (optimizer state). */
  skip: string[];
  /** Given the structure, the groups whose float datasets to read. */
  valuesUnder: (structure: H5Snapshot) => string[];
}

/**
 * Reads HDF5 `bytes` in this thread: the structure and attributes, then the values of the float
 * datasets that `options.valuesUnder` picks. Problems with the file are H5Errors.
 */
export async function snapshotHdf5(bytes: Uint8Array, options: SnapshotOptions): Promise<H5Snapshot> {
  const l = await loadLib();
  const path = memPath();
  const fs = l.module.FS;
  fs.writeFile(path, bytes);
  let file: H5File | undefined;
  try {
    file = guarded('cannot open the HDF5 file', () => new l.h5.File(path, 'r'));
    if (file.file_id < 0n) throw new H5Error('cannot open the HDF5 file');
    const open = file;
    const nodes = guarded('cannot read the structure', () => walkStructure(l, open, new Set(options.skip)));
    readValues(l, open, nodes, options.valuesUnder(nodes));
    return nodes;
  } catch (e) {
    // A trap in the WebAssembly code (e.g. an access out of bounds) on a damaged file.
    if (!isTrap(e)) throw e;
    throw new H5Error(`the HDF5 library failed on this file: ${(e as Error).message}`);
  } finally {
    if (file && file.file_id >= 0n) {
      try {
        file.close();
      } catch {
        // Closing a file HDF5 found damaged can fail too; the memory copy goes regardless.
      }
    }
    fs.unlink(path);
  }
}

/** Write access to a new HDF5 file, for the Keras writer. */
export class H5Writer {
  constructor(private readonly file: H5File) {}

  group(path: string): void {
    this.file.create_group(path);
  }

  /** A float32 dataset, contiguous and uncompressed (as h5py writes by default). */
  float32(path: string, shape: number[], values: Float32Array): void {
    this.file.create_dataset({ name: path, data: values, shape, dtype: '<f' });
  }
}

/**
 * Builds a new HDF5 file with `fn` and returns its bytes. Objects use the oldest file format that
 * can hold them, readable by every HDF5 since 1.8 (h5py's default too).
 */
export async function writeHdf5(fn: (writer: H5Writer) => void): Promise<Uint8Array> {
  const l = await loadLib();
  const path = memPath();
  try {
    const file = guarded('cannot create an HDF5 file', () => new l.h5.File(path, 'w', { libver: ['earliest', 'v110'] }));
    try {
      guarded('cannot write the HDF5 file', () => fn(new H5Writer(file)));
    } finally {
      file.close();
    }
    return l.module.FS.readFile(path);
  } finally {
    try {
      l.module.FS.unlink(path);
    } catch {
      // Not created: nothing to drop.
    }
  }
}
