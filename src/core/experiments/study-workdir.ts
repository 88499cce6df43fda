import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../io/process-alive';

/**
 * The study's scratch folders (its data subset and baselines), named with the process id. A job
 * thread that is ended while a study runs cannot remove its own; the next study sweeps those of
 * processes that are gone and those of this process that no study here is using (one job runs at
 * a time in a worker, one study per CLI process).
 */
const PREFIX = 'prunescope-study-';
const inUse = new Set<string>();

export function makeStudyDir(root = tmpdir()): string {
  const dir = mkdtempSync(join(root, `${PREFIX}${process.pid}-`));
  inUse.add(dir);
  return dir;
}

export async function removeStudyDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  inUse.delete(dir);
}

/** Removes left-over study folders under `root`; returns the paths removed. */
export async function sweepStudyDirs(root = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    const m = /^prunescope-study-(\d+)-[A-Za-z0-9]+$/.exec(name);
    if (!m) continue;
    const dir = join(root, name);
    const pid = Number(m[1]);
    if (pid === process.pid ? inUse.has(dir) : processAlive(pid)) continue;
    await fs.rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
