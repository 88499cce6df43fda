import { ModelFormatError } from '../../errors';
import { type Container, LABEL, runPickle } from './container';
import { PyDict, PyList, PyTuple, type PyValue, describe, printable } from './pickle';
import { TorchGlobalError, TorchStorage, storageDtype } from './torch-globals';

/**
 * The legacy format of torch.save (PyTorch before 1.6, or `_use_new_zipfile_serialization=False`;
 * torch/serialization.py `_legacy_save` and `_legacy_load`): five things one after another --
 * a pickle of the magic number 0x1950a86a20f9469cfc6c, a pickle of the protocol version 1001, a
 * pickle of the saving machine's sys info (a dict), the pickled object itself (persistent ids
 * ('storage', torch.FloatStorage, root_key, location, numel, view_metadata)), a pickle of the list
 * of storage keys, then for each key, in that order, an 8-byte little-endian element count and
 * the raw elements. torch writes (and reads) the counts and the elements little endian whatever
 * the machine (THPStorage writeFileRaw converts), so the sys info's byte order is only reported.
 */

export const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** The magic number as protocol 2 pickles it: PROTO 2, LONG1 of 10 bytes, then the bytes little endian. */
export const LEGACY_HEAD = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

interface Storages {
  roots: Map<string, TorchStorage>;
  load: (pid: PyValue) => PyValue;
}

function viewOf(root: TorchStorage, meta: PyValue, views: Map<string, TorchStorage>): TorchStorage {
  const [viewKey, offset, size] = meta instanceof PyTuple ? meta.items : [];
  if (
    typeof viewKey !== 'string' ||
    typeof offset !== 'number' ||
    typeof size !== 'number' ||
    offset < 0 ||
    size < 0 ||
    offset + size > root.numel
  ) {
    throw new TorchGlobalError(
      `storage view ${describe(meta)} of storage "${printable(root.key)}" (${root.numel} elements) is not (key, offset, size) inside it`,
    );
  }
  const known = views.get(viewKey);
  if (known) return known;
  const es = root.dtype.size;
  const view = new TorchStorage(root.dtype, viewKey, root.location, size, () => root.data().subarray(offset * es, (offset + size) * es));
  views.set(viewKey, view);
  return view;
}

/** The legacy persistent_load: root storages by key (filled in after the pickle), views of them by view key. */
function legacyStorages(): Storages {
  const roots = new Map<string, TorchStorage>();
  const views = new Map<string, TorchStorage>();
  const load = (pid: PyValue): PyValue => {
    const items = pid instanceof PyTuple ? pid.items : [];
    if (items[0] === 'module') {
      throw new TorchGlobalError(
        'the file is a whole pickled model (torch.save(model)); save the weights with torch.save(model.state_dict(), path) and read that file',
      );
    }
    const [kind, type, key, location, numel, viewMeta] = items;
    if (
      items.length !== 6 ||
      kind !== 'storage' ||
      typeof key !== 'string' ||
      typeof location !== 'string' ||
      typeof numel !== 'number' ||
      !Number.isSafeInteger(numel) ||
      numel < 0
    ) {
      throw new TorchGlobalError(`a persistent id is ${describe(pid)}, not ('storage', type, key, location, numel, view)`);
    }
    const dtype = storageDtype(type);
    let root = roots.get(key);
    if (!root) {
      root = new TorchStorage(dtype, key, location, numel);
      roots.set(key, root);
    }
    return viewMeta === null ? root : viewOf(root, viewMeta, views);
  };
  return { roots, load };
}

/** The storages' data after the pickles: for each listed key, its count (which must match) and its bytes. */
function readStorageData(file: string, bytes: Uint8Array, start: number, keys: PyValue, roots: Map<string, TorchStorage>): number {
  if (!(keys instanceof PyList) || !keys.items.every((k) => typeof k === 'string')) {
    throw new ModelFormatError(file, LABEL, `the list of storage keys is ${describe(keys)}, not a list of strings`, `byte ${start}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  for (const key of keys.items) {
    const s = roots.get(key);
    const where = `storage "${printable(key)}" at byte ${pos}`;
    if (!s) throw new ModelFormatError(file, LABEL, 'is listed but no tensor uses it (damaged file)', where);
    if (pos + 8 > bytes.length) throw new ModelFormatError(file, LABEL, 'is missing: the file ends first (truncated?)', where);
    const count = view.getBigInt64(pos, true);
    if (count !== BigInt(s.numel))
      throw new ModelFormatError(file, LABEL, `declares ${count} elements but the pickle says ${s.numel}`, where);
    const n = s.numel * s.dtype.size;
    if (pos + 8 + n > bytes.length)
      throw new ModelFormatError(file, LABEL, `needs ${n} bytes but the file ends after ${bytes.length - pos - 8} (truncated?)`, where);
    s.setBytes(bytes.subarray(pos + 8, pos + 8 + n));
    pos += 8 + n;
  }
  return pos;
}

function checkHeader(file: string, bytes: Uint8Array, notes: string[]): number {
  const notTorch = (what: string) =>
    new ModelFormatError(
      file,
      LABEL,
      `starts with ${what}, not with torch.save's magic number: not a file of torch.save (a pickle of another program?)`,
    );
  let magic;
  try {
    magic = runPickle(file, bytes, 0, 'magic number');
  } catch (e) {
    if (e instanceof ModelFormatError) throw notTorch(`a pickle that cannot be read as data (${e.problem})`);
    throw e;
  }
  if (magic.value !== MAGIC_NUMBER) throw notTorch(`a pickle of ${describe(magic.value)}`);
  const proto = runPickle(file, bytes, magic.end, 'protocol version');
  if (proto.value !== PROTOCOL_VERSION) {
    throw new ModelFormatError(
      file,
      LABEL,
      `protocol version is ${describe(proto.value)}; torch.save's legacy format has ${PROTOCOL_VERSION}`,
    );
  }
  const info = runPickle(file, bytes, proto.end, 'sys info');
  if (info.value instanceof PyDict && info.value.get('little_endian') === false) {
    notes.push('saved on a big-endian machine; the legacy format stores storages little endian all the same');
  }
  return info.end;
}

/** Reads the legacy stream: magic, protocol version, sys info, the object, the storage keys and data. */
export function readLegacyContainer(file: string, bytes: Uint8Array): Container {
  const notes: string[] = [];
  const mainStart = checkHeader(file, bytes, notes);
  const { roots, load } = legacyStorages();
  const main = runPickle(file, bytes, mainStart, 'the pickled object', load);
  const keys = runPickle(file, bytes, main.end, 'the storage keys');
  const end = readStorageData(file, bytes, keys.end, keys.value, roots);
  if (end < bytes.length) notes.push(`${bytes.length - end} bytes after the last storage were not read`);
  return { root: main.value, littleEndian: true, producer: 'torch.save (legacy format)', notes };
}
