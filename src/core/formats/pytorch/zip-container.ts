import { DataError, ModelFormatError } from '../../errors';
import { checkZipEntry, dataLimit, extractZipEntry, listZip, type ZipEntry } from '../../io/inflate';
import { crc32 } from '../../io/crc32';
import { type Container, LABEL, runPickle } from './container';
import { PyTuple, type PyValue, describe, printable } from './pickle';
import { TorchGlobalError, TorchStorage, storageDtype } from './torch-globals';

/**
 * The zip format of torch.save (PyTorch 1.6 and later; torch/serialization.py `_save`,
 * caffe2/serialize/inline_container.cc): every record lies in one folder named after the file
 * (`model/`, `archive/`, any name): `data.pkl` (the pickled object, whose persistent ids
 * ('storage', torch.FloatStorage, key, location, numel) name the storages), `data/<key>` (each
 * storage's raw bytes, 64-byte aligned, stored), `byteorder` ("little" or "big"; absent means
 * little), `version`, and in newer files `.format_version`, `.storage_alignment` and
 * `.data/serialization_id`. As PyTorchStreamReader does, the folder is that of the first record.
 */

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** A problem of the shared zip reader (worded for .npz), reworded for this format. */
function zipProblem(file: string, e: unknown): unknown {
  if (e instanceof DataError) {
    return new ModelFormatError(file, LABEL, e.problem.replace('cannot unzip .npz archive', 'cannot read the zip archive'));
  }
  return e;
}

class Records {
  private readonly byName = new Map<string, ZipEntry>();
  readonly folder: string;

  constructor(
    private readonly file: string,
    private readonly bytes: Uint8Array,
    entries: ZipEntry[],
  ) {
    if (entries.length === 0) throw new ModelFormatError(file, LABEL, 'is an empty zip archive');
    const first = entries[0].name;
    const slash = first.indexOf('/');
    if (slash <= 0) {
      throw new ModelFormatError(
        file,
        LABEL,
        `the archive's first file "${printable(first)}" is not in a folder, as torch.save puts every record (not a torch.save archive)`,
      );
    }
    this.folder = first.slice(0, slash);
    for (const e of entries) if (e.name.startsWith(`${this.folder}/`)) this.byName.set(e.name.slice(slash + 1), e);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A record's bytes, after checking them against the CRC-32 the archive records for them. */
  get(name: string): Uint8Array | undefined {
    const entry = this.byName.get(name);
    if (!entry) return undefined;
    const member = `${this.file} (${printable(`${this.folder}/${name}`)})`;
    try {
      checkZipEntry(entry, member, dataLimit(this.file, this.bytes.length));
      // Deflated (an archive zipped again by another tool): the shared inflater checks the CRC.
      if (entry.method !== 0) return extractZipEntry(this.bytes, entry, member);
    } catch (e) {
      if (e instanceof DataError && /CRC/.test(e.problem)) throw this.crcMismatch(name);
      throw zipProblem(this.file, e);
    }
    // Stored, as torch.save writes every record: the bytes in place (checkZipEntry and listZip
    // checked their extent).
    const out = this.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.size);
    if (crc32(out) !== entry.crc >>> 0) throw this.crcMismatch(name);
    return out;
  }

  private crcMismatch(name: string): ModelFormatError {
    return new ModelFormatError(
      this.file,
      LABEL,
      "CRC mismatch (corrupted file?): the record's bytes do not give the CRC-32 the archive records for them",
      `zip entry ${printable(`${this.folder}/${name}`)}`,
    );
  }

  text(name: string): string | undefined {
    const b = this.has(name) ? this.get(name) : undefined;
    return b && b.length <= 256 ? new TextDecoder('latin1').decode(b).trim() : undefined;
  }
}

/** Storages by key, each loading its record on first use, as `_load`'s persistent_load does. */
function storageLoader(file: string, records: Records) {
  const storages = new Map<string, TorchStorage>();
  return (pid: PyValue): PyValue => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [kind, type, key, location, numel] = items;
    if (items.length !== 5 || kind !== 'storage') {
      throw new TorchGlobalError(`a persistent id is ${describe(pid)}, not ('storage', type, key, location, numel)`);
    }
    if (typeof key !== 'string' || typeof location !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new TorchGlobalError(`a storage's persistent id (${items.map(describe).join(', ')}) is not (type, key, location, numel)`);
    }
    const dtype = storageDtype(type);
    const known = storages.get(key);
    if (known) return known;
    const name = `data/${key}`;
    const s = new TorchStorage(dtype, key, location, numel, () => {
      const b = records.get(name);
      const need = numel * dtype.size;
      if (!b)
        throw new ModelFormatError(
          file,
          LABEL,
          `storage "${printable(key)}" has no record ${printable(`${records.folder}/${name}`)} (truncated archive?)`,
        );
      if (b.length < need) {
        throw new ModelFormatError(
          file,
          LABEL,
          `record ${printable(`${records.folder}/${name}`)} holds ${b.length} bytes but its storage of ${numel} ${dtype.name} needs ${need}`,
        );
      }
      return b.subarray(0, need);
    });
    storages.set(key, s);
    return s;
  };
}

function byteOrder(file: string, records: Records, notes: string[]): boolean {
  if (!records.has('byteorder')) {
    notes.push('no byteorder record (written by an older PyTorch): storages read as little endian, as torch.load does');
    return true;
  }
  const order = records.text('byteorder');
  if (order !== 'little' && order !== 'big') {
    throw new ModelFormatError(
      file,
      LABEL,
      `byteorder record says "${printable(order ?? '(unreadable)', 40)}"; expected "little" or "big"`,
    );
  }
  if (order === 'big') notes.push('storages are big endian (written on a big-endian machine)');
  return order === 'little';
}

/** Reads the archive's records and unpickles data.pkl; storages are read when a tensor is. */
export function readZipContainer(file: string, bytes: Uint8Array): Container {
  let entries: ZipEntry[];
  try {
    entries = listZip(bytes, file);
  } catch (e) {
    throw zipProblem(file, e);
  }
  const records = new Records(file, bytes, entries);
  if (records.has('constants.pkl')) {
    throw new ModelFormatError(
      file,
      LABEL,
      'is a TorchScript archive (torch.jit.save); save the weights with torch.save(model.state_dict(), path) and read that file',
    );
  }
  const pkl = records.get('data.pkl');
  if (!pkl) {
    throw new ModelFormatError(
      file,
      LABEL,
      `the archive has no ${printable(records.folder)}/data.pkl: not a file of torch.save (a zip of another tool?)`,
    );
  }
  const notes: string[] = [];
  const littleEndian = byteOrder(file, records, notes);
  const version = records.text('.data/version') ?? records.text('version');
  const root = runPickle(file, pkl, 0, `${printable(records.folder)}/data.pkl`, storageLoader(file, records)).value;
  return {
    root,
    littleEndian,
    producer: `torch.save (zip format${version ? `, version ${printable(version, 20)}` : ''})`,
    notes,
  };
}
