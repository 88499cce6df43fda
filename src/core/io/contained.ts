import { promises as fs } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { noteInputStat } from './scope';

/**
 * Thrown when a file a model names (a weights shard, ONNX external data) may not or cannot be
 * opened. The message says what is wrong with the name but not which model named it: each reader
 * wraps it in its own ModelFormatError with the model file and the place in it.
 */
export class ContainmentError extends Error {
  override name = 'ContainmentError';
}

/** A file inside the model's folder, opened for reading, with its size when it was opened. */
export interface ContainedFile {
  /** The name as the model gave it, resolved against the model's folder (for messages). */
  path: string;
  /** Where it really is, after every symbolic link. */
  real: string;
  size: number;
  handle: fs.FileHandle;
}

function inside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** Refuses names that are not plain relative file names before touching the disk. */
function checkName(name: string): void {
  if (name === '') throw new ContainmentError('names an empty file name');
  if (name.includes('\0')) throw new ContainmentError(`"${name}" is not a file name`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name) || /^(data|file|https?|blob|javascript):/i.test(name)) {
    throw new ContainmentError(`"${name}" is a URL; only files in the model's folder can be read`);
  }
  if (isAbsolute(name) || /^[a-zA-Z]:/.test(name) || name.startsWith('\\')) {
    throw new ContainmentError(`"${name}" is an absolute path; it must be a file in the model's folder`);
  }
}

/**
 * Opens a file that a model names, relative to the model's folder, after checking that it stays
 * inside that folder: the name is relative and not a URL, and the target, once every symbolic link
 * is resolved (realpath of the target, not of the string), lies inside the folder's own realpath.
 * The handle is opened on that real path without following a final link and checked with fstat
 * to be the file that was checked (a folder swapped for a link in the instant between is the one
 * race left). Every reader goes through here for every file it opens on a model's behalf.
 */
export async function openContained(modelDir: string, name: string): Promise<ContainedFile> {
  checkName(name);
  const dir = resolve(modelDir);
  const path = resolve(dir, name);
  if (path === dir) throw new ContainmentError(`"${name}" names the model's folder itself, not a file in it`);
  if (!inside(dir, path)) throw new ContainmentError(`"${name}" points outside the model's folder ${dir}`);
  let realDir: string;
  let real: string;
  try {
    realDir = await fs.realpath(dir);
    real = await fs.realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ELOOP' ? 'is a loop of symbolic links' : code === 'EACCES' ? 'cannot be read: permission denied' : `not found in ${dir}`;
    throw new ContainmentError(`"${name}" ${why}`);
  }
  if (!inside(realDir, real)) {
    throw new ContainmentError(`"${name}" resolves (through a symbolic link) to ${real}, outside the model's folder ${dir}`);
  }
  const before = await fs.stat(real);
  if (!before.isFile()) throw new ContainmentError(`"${name}" is not a file`);
  // No link followed at the last step, and no wait on a FIFO swapped in since the stat.
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);
  const handle = await fs.open(real, flags).catch((e: NodeJS.ErrnoException) => {
    throw new ContainmentError(`"${name}" cannot be opened: ${e.code === 'ELOOP' ? 'it became a symbolic link' : e.message}`);
  });
  try {
    const after = await handle.stat();
    if (!after.isFile() || after.ino !== before.ino || after.dev !== before.dev)
      throw new ContainmentError(`"${name}" changed while it was opened`);
    noteInputStat(real, after);
    return { path, real, size: after.size, handle };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Reads `length` bytes at `offset` with positioned reads, so that a file far larger than what the
 * model declares is never loaded whole. A file that ends early is a ContainmentError.
 */
export async function readRange(file: ContainedFile, offset: number, length: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ContainmentError(`"${file.path}": cannot read ${length} bytes at offset ${offset}`);
  }
  if (offset + length > file.size) {
    throw new ContainmentError(`"${file.path}" has ${file.size} bytes; offset ${offset} + length ${length} runs past its end`);
  }
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.handle.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) throw new ContainmentError(`"${file.path}" ended early (it shrank while being read)`);
    done += bytesRead;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Opens, reads a range and closes: the usual use of openContained. */
export async function readContained(
  modelDir: string,
  name: string,
  offset: number,
  length: (size: number) => number,
): Promise<{ path: string; bytes: Uint8Array }> {
  const file = await openContained(modelDir, name);
  try {
    return { path: file.path, bytes: await readRange(file, offset, length(file.size)) };
  } finally {
    await file.handle.close();
  }
}
