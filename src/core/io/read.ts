import { promises as fs } from 'node:fs';
import { DataError } from '../errors';
import { noteInputs } from './scope';

/** A whole file's bytes; a missing or unreadable file is a DataError naming it. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await fs.readFile(path);
    // Data a command reads is one of its inputs: none of its writes may replace it.
    await noteInputs([path]);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(path, code === 'ENOENT' ? 'file not found' : `cannot read: ${(e as Error).message}`);
  }
}
