import { basename, extname } from 'node:path';
import { ModelFormatError } from '../../errors';
import { assertNotSource, writeFilesAtomically } from '../../io/atomic';
import { type MLP, validateMLP } from '../../model/mlp';
import { crc32 } from '../../io/crc32';
import type { WriteResult } from '../format';
import { LABEL } from './container';

/**
 * Writes an MLP as torch.save writes a state dict (zip format), so that
 * `torch.load(f, weights_only=True)` reads it and `model.load_state_dict` takes it:
 *
 * data.pkl is what CPython's pickler makes of an OrderedDict of tensors at protocol 2 (torch's
 * default): each tensor `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False,
 * OrderedDict())` with the persistent id ('storage', torch.FloatStorage, key, 'cpu', numel), and
 * the dict's `_metadata` attribute ({module path: {'version': 1}}) set by BUILD. Only opcodes the
 * weights-only unpickler knows are used. Records follow torch/serialization.py `_save` and
 * PyTorchStreamWriter: data.pkl, .format_version "1", .storage_alignment "64", byteorder
 * "little", data/0, data/1, ... (float32, little endian), version "3\n"; all stored, each one's
 * data 64-byte aligned by padding its local header's extra field ("FB" id, as miniz does).
 *
 * Keys: an MLP read from PyTorch keeps its layers' key prefixes as layer names (`fc1`, `0`,
 * `model.net.0`), so `<name>.weight`/`<name>.bias` are the source's keys; any other MLP gets
 * `fc1`, `fc2`, .... What a state dict cannot say -- activations, the input shape, the name --
 * goes in `_metadata['']` under "prunescope.*" keys (JSON text), which load_state_dict ignores.
 */

export const META_LAYERS = 'prunescope.layers';
export const META_INPUT_SHAPE = 'prunescope.input_shape';
export const META_NAME = 'prunescope.name';
export const META_PRODUCER = 'prunescope.producer';

const ALIGNMENT = 64;

// ---- a protocol 2 pickler for this one shape of data ----

class Pickler {
  private readonly parts: number[] = [];
  private memoSize = 0;
  /** Objects torch's pickler meets again as the same object (and so refers to by memo): constant strings and globals. */
  private readonly shared = new Map<string, number>();

  op(...bytes: number[]): this {
    for (const b of bytes) this.parts.push(b);
    return this;
  }

  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }

  /** BINPUT / LONG_BINPUT of the value just written; returns its memo index. */
  put(): number {
    const i = this.memoSize++;
    if (i < 256) this.op(0x71, i);
    else this.op(0x72, ...this.u32(i));
    return i;
  }

  get(i: number): this {
    return i < 256 ? this.op(0x68, i) : this.op(0x6a, ...this.u32(i));
  }

  /** A value written once and referred to by memo afterwards (as the pickler does for the same object). */
  once(id: string, write: () => void): this {
    const known = this.shared.get(id);
    if (known !== undefined) return this.get(known);
    write();
    this.shared.set(id, this.put());
    return this;
  }

  str(s: string): this {
    const b = Buffer.from(s, 'utf-8');
    this.op(0x58, ...this.u32(b.length));
    for (const x of b) this.parts.push(x);
    this.put();
    return this;
  }

  sharedStr(s: string): this {
    return this.once(`s:${s}`, () => {
      const b = Buffer.from(s, 'utf-8');
      this.op(0x58, ...this.u32(b.length), ...b);
    });
  }

  global(module: string, name: string): this {
    return this.once(`g:${module}.${name}`, () => this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')));
  }

  int(n: number): this {
    if (n >= 0 && n < 0x100) return this.op(0x4b, n);
    if (n >= 0 && n < 0x10000) return this.op(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...this.u32(n));
    // LONG1: little-endian two's complement, as few bytes as hold it
    const bytes: number[] = [];
    let v = BigInt(n);
    do {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    } while (!(v === 0n && (bytes[bytes.length - 1] & 0x80) === 0) && !(v === -1n && (bytes[bytes.length - 1] & 0x80) !== 0));
    return this.op(0x8a, bytes.length, ...bytes);
  }

  /** A tuple of small ints: TUPLE1-3 or MARK ... TUPLE, then memoized. */
  intTuple(items: number[]): this {
    if (items.length === 0) return this.op(0x29);
    if (items.length > 3) this.op(0x28);
    for (const x of items) this.int(x);
    this.op(items.length > 3 ? 0x74 : 0x84 + items.length);
    this.put();
    return this;
  }

  /** OrderedDict(): GLOBAL collections.OrderedDict, EMPTY_TUPLE, REDUCE. */
  orderedDict(): this {
    this.global('collections', 'OrderedDict').op(0x29, 0x52);
    this.put();
    return this;
  }

  /** Dict items as CPython batches them: MARK k v ... SETITEMS per 1000, a lone item with SETITEM. */
  items<T>(entries: T[], write: (e: T) => void): this {
    for (let i = 0; i < entries.length; i += 1000) {
      const batch = entries.slice(i, i + 1000);
      if (batch.length > 1) this.op(0x28);
      batch.forEach(write);
      this.op(batch.length > 1 ? 0x75 : 0x73);
    }
    return this;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface StateTensor {
  key: string;
  shape: number[];
  /** Row-major float32 values. */
  data: Float32Array;
}

/** _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), 0, size, stride, False, OrderedDict()) with its REDUCE. */
function pickleTensor(p: Pickler, t: StateTensor, storageKey: string): void {
  p.global('torch._utils', '_rebuild_tensor_v2');
  p.op(0x28, 0x28).sharedStr('storage').global('torch', 'FloatStorage').str(storageKey).sharedStr('cpu').int(t.data.length).op(0x74);
  p.put();
  p.op(0x51); // BINPERSID
  p.int(0);
  p.intTuple(t.shape);
  p.intTuple(t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1)));
  p.op(0x89); // NEWFALSE
  p.orderedDict();
  p.op(0x74).put();
  p.op(0x52).put();
}

/** data.pkl: OrderedDict of the tensors, then BUILD with {'_metadata': OrderedDict({module: {'version': 1, ...}})}. */
export function pickleStateDict(tensors: StateTensor[], metadata: [string, [string, string | number][]][]): Uint8Array {
  const p = new Pickler();
  p.op(0x80, 2);
  p.orderedDict();
  p.items(
    tensors.map((t, i) => ({ t, i })),
    ({ t, i }) => {
      p.str(t.key);
      pickleTensor(p, t, String(i));
    },
  );
  p.op(0x7d).put();
  p.str('_metadata');
  p.orderedDict();
  p.items(metadata, ([module, fields]) => {
    p.str(module);
    p.op(0x7d).put();
    p.items(fields, ([k, v]) => {
      if (k === 'version') p.sharedStr(k);
      else p.str(k);
      if (typeof v === 'number') p.int(v);
      else p.str(v);
    });
  });
  p.op(0x73, 0x62, 0x2e); // SETITEM, BUILD, STOP
  return p.bytes();
}

// ---- the zip archive ----

export interface ZipRecord {
  name: string;
  data: Uint8Array;
}

/** A zip of stored records, each record's data starting at a multiple of 64 bytes (PyTorchStreamWriter's layout). */
export function zipStored(records: ZipRecord[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf-8');
    const start = pos + 30 + name.length + 4;
    const padding = (ALIGNMENT - (start % ALIGNMENT)) % ALIGNMENT;
    const crc = crc32(r.data);
    const local = Buffer.alloc(30 + name.length + 4 + padding, 'Z');
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt32LE(0, 6); // flags, method
    local.writeUInt32LE(0, 10); // time, date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(r.data.length, 18);
    local.writeUInt32LE(r.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(4 + padding, 28);
    name.copy(local, 30);
    local.write('FB', 30 + name.length, 'latin1');
    local.writeUInt16LE(padding, 32 + name.length);
    const entry = Buffer.alloc(46 + name.length);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4); // version made by
    entry.writeUInt16LE(20, 6); // version needed
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(r.data.length, 20);
    entry.writeUInt32LE(r.data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(pos, 42);
    name.copy(entry, 46);
    central.push(entry);
    chunks.push(local, r.data);
    pos += local.length + r.data.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  if (pos + cdSize > 0xffffffff || records.length > 0xffff)
    throw new Error('more than 4 GiB or 65535 records: too large for a zip without zip64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(pos, 16);
  return Buffer.concat([...chunks, ...central, end]);
}

// ---- MLP to state dict ----

const VALID_PREFIX = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

/** The key prefix of each layer: its name when the MLP came from PyTorch (and the names are usable keys), else fc1, fc2, .... */
export function keyPrefixes(mlp: MLP): string[] {
  const names = mlp.layers.map((l) => l.name);
  const usable = mlp.source?.format === 'pytorch' && names.every((n) => VALID_PREFIX.test(n)) && new Set(names).size === names.length;
  return usable ? names : names.map((_, i) => `fc${i + 1}`);
}

/** Every module path of the keys with its ancestors, in order of first appearance ('' first), as state_dict's `_metadata` lists them. */
function modulePaths(prefixes: string[]): string[] {
  const out = [''];
  for (const p of prefixes) {
    const parts = p.split('.');
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join('.');
      if (!out.includes(path)) out.push(path);
    }
  }
  return out;
}

function stateTensors(mlp: MLP, prefixes: string[]): StateTensor[] {
  const out: StateTensor[] = [];
  mlp.layers.forEach((l, i) => {
    const w = new Float32Array(l.inputSize * l.units); // [out, in]
    for (let k = 0; k < l.inputSize; k++) {
      const row = k * l.units;
      for (let o = 0; o < l.units; o++) w[o * l.inputSize + k] = l.weights[row + o];
    }
    out.push({ key: `${prefixes[i]}.weight`, shape: [l.units, l.inputSize], data: w });
    if (l.bias) out.push({ key: `${prefixes[i]}.bias`, shape: [l.units], data: l.bias });
  });
  return out;
}

function le32(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** The name of the archive's folder: the output's stem, as torch names it, when it is plain. */
export function archiveFolder(path: string): string {
  const stem = basename(path, extname(path));
  return /^[A-Za-z0-9_.-]+$/.test(stem) ? stem : 'archive';
}

/** The bytes of a torch.save zip file holding the MLP's state dict. */
export function encodePytorch(mlp: MLP, folder = 'archive'): Uint8Array {
  const prefixes = keyPrefixes(mlp);
  const tensors = stateTensors(mlp, prefixes);
  const layers = mlp.layers.map((l) => ({
    name: l.name,
    activation: l.activation,
    ...(l.alpha !== undefined ? { alpha: l.alpha } : {}),
    ...(l.dropout !== undefined ? { dropout: l.dropout } : {}),
  }));
  const root: [string, string | number][] = [
    ['version', 1],
    [META_PRODUCER, 'PruneScope'],
    [META_NAME, mlp.name],
    [META_INPUT_SHAPE, JSON.stringify(mlp.inputShape)],
    [META_LAYERS, JSON.stringify(layers)],
  ];
  const metadata = modulePaths(prefixes).map((m): [string, [string, string | number][]] => [m, m === '' ? root : [['version', 1]]]);
  const records: ZipRecord[] = [
    { name: 'data.pkl', data: pickleStateDict(tensors, metadata) },
    { name: '.format_version', data: Buffer.from('1') },
    { name: '.storage_alignment', data: Buffer.from(String(ALIGNMENT)) },
    { name: 'byteorder', data: Buffer.from('little') },
    ...tensors.map((t, i) => ({ name: `data/${i}`, data: le32(t.data) })),
    { name: 'version', data: Buffer.from('3\n') },
  ];
  return zipStored(records.map((r) => ({ name: `${folder}/${r.name}`, data: r.data })));
}

export async function writePytorch(mlp: MLP, path: string): Promise<WriteResult> {
  assertNotSource(path, [mlp.source?.path]);
  let data: Uint8Array;
  try {
    validateMLP(mlp);
    data = encodePytorch(mlp, archiveFolder(path));
  } catch (e) {
    throw new ModelFormatError(path, LABEL, `cannot write: ${(e as Error).message}`);
  }
  const bytes = await writeFilesAtomically([{ path, data }]);
  return { files: [path], bytes };
}
