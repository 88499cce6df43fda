import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PruneScopeError } from '../errors';

/**
 * Writes files so that a reader never sees a partial one: each is written under a temporary
 * name in the same folder and renamed into place only when every file of the group is complete.
 * If anything fails, the temporaries are removed and existing files are untouched.
 */
export async function writeFilesAtomically(files: { path: string; data: Uint8Array | string }[]): Promise<number> {
  const staged: { tmp: string; path: string }[] = [];
  let bytes = 0;
  try {
    for (const f of files) {
      const tmp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}.${Date.now()}.tmp`);
      await fs.writeFile(tmp, f.data);
      staged.push({ tmp, path: f.path });
      bytes += typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.byteLength;
    }
    for (const s of staged) await fs.rename(s.tmp, s.path);
    return bytes;
  } catch (e) {
    await Promise.all(staged.map((s) => fs.rm(s.tmp, { force: true })));
    throw e;
  }
}

/** Refuses to write over the model a job read from. */
export function assertNotSource(outPath: string, sourcePaths: (string | undefined)[]): void {
  const out = resolve(outPath);
  for (const src of sourcePaths) {
    if (src && resolve(src) === out) {
      throw new PruneScopeError(`${outPath}: refusing to overwrite the source model; choose another output name`);
    }
  }
}
