import { ModelFormatError } from '../../errors';
import { PickleError, type PyValue, unpickle } from './pickle';
import { torchGlobal } from './torch-globals';

export const LABEL = 'PyTorch';

/** What a container (zip or legacy) yields: the unpickled object, with its storages ready to be read. */
export interface Container {
  root: PyValue;
  /** Byte order of the storages' data. */
  littleEndian: boolean;
  /** How the file was written, e.g. "torch.save (zip format, version 3)". */
  producer: string;
  notes: string[];
}

/** Runs a pickle of the file with the torch allowlist, turning its errors into ModelFormatErrors that name `where`. */
export function runPickle(
  file: string,
  bytes: Uint8Array,
  start: number,
  where: string,
  persistentLoad?: (pid: PyValue) => PyValue,
): { value: PyValue; end: number } {
  try {
    const pickle = bytes.subarray(start);
    const { value, end } = unpickle(pickle, 0, { findGlobal: (m, n) => torchGlobal(m, n, pickle), persistentLoad });
    return { value, end: start + end };
  } catch (e) {
    if (e instanceof PickleError) throw new ModelFormatError(file, LABEL, e.message, `${where}, byte ${start + e.at}`);
    throw e;
  }
}
