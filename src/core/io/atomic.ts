import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, promises as fs, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PruneScopeError } from '../errors';

/**
 * Every temporary this module makes starts with this prefix and carries the writer's pid, so a
 * process that finds them after the writer died (the extension, after its worker was killed) can
 * tell them from real files and from another live writer's temporaries.
 */
export const PARTIAL_PREFIX = '.prunescope-partial-';
// `t` a file being written, `b` the previous version of a file being replaced, `j` a group's journal.
const PARTIAL_NAME = /^\.prunescope-partial-(\d+)-\d+-([tbj])\./;

let counter = 0;
function partialName(dir: string, kind: 't' | 'b' | 'j', forFile?: string): string {
  // A short tail of the real name helps a person who finds one; file names stay under 255 bytes.
  const tail = forFile ? `.${basename(forFile).slice(-60)}` : '';
  return join(dir, `${PARTIAL_PREFIX}${process.pid}-${++counter}-${kind}${tail}.tmp`);
}

/** The pid of the process that made a temporary of this module, or undefined for any other name. */
export function partialOwner(name: string): number | undefined {
  const m = PARTIAL_NAME.exec(basename(name));
  return m ? Number(m[1]) : undefined;
}

export type WriteStage = 'staged' | 'journaled' | 'renamed';
type WriteHook = (stage: WriteStage, path: string) => void | Promise<void>;
let hook: WriteHook | undefined;
/**
 * Test hook: called after a temporary is complete (`staged`), when a group's journal is written
 * and its renames are about to start (`journaled`), and after each rename (`renamed`), so a test
 * can stop or kill the writer at an exact point.
 */
export function setWriteHookForTests(h: WriteHook | undefined): void {
  hook = h;
}

interface Staged {
  path: string;
  tmp: string;
  bytes: number;
}

interface JournalEntry {
  path: string;
  tmp: string;
  /** Where the file that `path` replaces is kept until the group is committed; absent when `path` is new. */
  backup?: string;
}

interface Group {
  staged: Staged[];
  signal?: AbortSignal;
}

// The group that writeFilesAtomically calls join: ambient, so that the model writers, which know
// nothing of jobs, put a job's files into one all-or-nothing group.
const currentGroup = new AsyncLocalStorage<Group>();

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** What a person can act on when a file cannot be written, in place of a bare errno. */
function writeError(path: string, e: NodeJS.ErrnoException): Error {
  const why: Record<string, string> = {
    ENOENT: `its folder ${dirname(path)} does not exist`,
    ENOTDIR: `${dirname(path)} is not a folder`,
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'the disk quota is exhausted',
  };
  const reason = e.code ? why[e.code] : undefined;
  return reason ? new PruneScopeError(`cannot write ${path}: ${reason}`) : e;
}

/**
 * Makes the folder `path` goes in, with any missing parents; returns the first folder it made
 * (to remove again if the write fails), or undefined when it existed. Errors name the file.
 */
export async function makeFolderFor(path: string): Promise<string | undefined> {
  const dir = dirname(resolve(path));
  try {
    return await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // mkdir -p reports a file in the way as EEXIST or ENOTDIR, naming the folder it wanted: name the file.
    if (err.code === 'EEXIST' || err.code === 'ENOTDIR') assertFolderPossible(path);
    throw writeError(resolve(path), err);
  }
}

/** The file standing where `dir` or one of its parents should be a folder, if any. */
function fileInTheWay(dir: string): string | undefined {
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return existsSync(p) && !statSync(p).isDirectory() ? p : undefined;
}

/**
 * Throws when `path` cannot be written because a file stands where one of its folders should be,
 * so a job can refuse before its work rather than after it. Missing folders are fine (made later).
 */
export function assertFolderPossible(path: string): void {
  const file = fileInTheWay(dirname(resolve(path)));
  if (file) throw new PruneScopeError(`cannot write ${resolve(path)}: ${file} is a file, not a folder`);
}

/** As assertFolderPossible, for an output folder (`--out DIR`). */
export function assertOutputFolder(dir: string): void {
  const file = fileInTheWay(dir);
  if (file) throw new PruneScopeError(`cannot write into ${resolve(dir)}: ${file} is a file, not a folder`);
}

async function stage(group: Group, files: { path: string; data: Uint8Array | string }[]): Promise<number> {
  let bytes = 0;
  for (const f of files) {
    group.signal?.throwIfAborted();
    const path = resolve(f.path);
    const tmp = partialName(dirname(path), 't', path);
    const size = typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.byteLength;
    try {
      await fs.writeFile(tmp, f.data);
    } catch (e) {
      // Where the folder is missing or not a folder, there is no temporary to remove either.
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw writeError(path, e as NodeJS.ErrnoException);
    }
    group.staged.push({ path, tmp, bytes: size });
    bytes += size;
    await hook?.('staged', tmp);
  }
  return bytes;
}

/**
 * Undoes a group whose commit did not finish: temporaries are removed, files already renamed into
 * place are removed (new ones) or put back to their previous version (replaced ones).
 */
async function rollBack(entries: JournalEntry[]): Promise<void> {
  for (const e of [...entries].reverse()) {
    if (await exists(e.tmp)) {
      // Not renamed yet: the target is untouched.
      await fs.rm(e.tmp, { force: true });
      if (e.backup) await fs.rm(e.backup, { force: true });
    } else if (e.backup) {
      if (await exists(e.backup)) await fs.rename(e.backup, e.path);
    } else {
      await fs.rm(e.path, { force: true });
    }
  }
}

async function keepPrevious(path: string, backup: string): Promise<void> {
  try {
    await fs.link(path, backup);
  } catch {
    await fs.copyFile(path, backup);
  }
}

/**
 * Renames a group's temporaries into place. A journal beside the first file lists them while the
 * renames run, so that a process killed midway can be undone by recoverPartialWrites; removing the
 * journal is the commit point.
 */
async function commit(group: Group): Promise<void> {
  const { staged, signal } = group;
  if (staged.length === 0) return;
  signal?.throwIfAborted();
  const entries: JournalEntry[] = [];
  for (const s of staged) {
    entries.push({ path: s.path, tmp: s.tmp, backup: (await exists(s.path)) ? partialName(dirname(s.path), 'b', s.path) : undefined });
  }
  const journal = partialName(dirname(staged[0].path), 'j');
  try {
    await fs.writeFile(journal, JSON.stringify({ pid: process.pid, entries }));
    await hook?.('journaled', journal);
    for (const e of entries) {
      if (e.backup) await keepPrevious(e.path, e.backup);
      await fs.rename(e.tmp, e.path);
      await hook?.('renamed', e.path);
    }
  } catch (err) {
    await rollBack(entries).catch(() => undefined);
    await fs.rm(journal, { force: true });
    throw err;
  }
  await fs.rm(journal, { force: true });
  for (const e of entries) if (e.backup) await fs.rm(e.backup, { force: true }).catch(() => undefined);
}

async function discard(group: Group): Promise<void> {
  await Promise.all(group.staged.map((s) => fs.rm(s.tmp, { force: true }).catch(() => undefined)));
  group.staged.length = 0;
}

/**
 * Writes files so that a reader never sees a partial one: each is written under a temporary name
 * (PARTIAL_PREFIX) in its folder and renamed into place only when every file of the group is
 * complete. If anything fails, the temporaries are removed and existing files are untouched.
 * Inside `writeGroup` the files join that group and appear only when it commits. Returns the bytes written.
 */
export async function writeFilesAtomically(files: { path: string; data: Uint8Array | string }[]): Promise<number> {
  const ambient = currentGroup.getStore();
  if (ambient) return stage(ambient, files);
  const group: Group = { staged: [] };
  try {
    const bytes = await stage(group, files);
    await commit(group);
    return bytes;
  } catch (e) {
    await discard(group);
    throw e;
  }
}

export interface WriteGroupOptions {
  /** Checked before each file and before the commit: an aborted group writes nothing. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` with every writeFilesAtomically call inside it (however deep) staged into one group
 * that is committed when `fn` returns: all of its files appear, or none (a failure, an abort, a
 * killed process). Returns fn's value and the files committed.
 */
export async function writeGroup<T>(fn: () => Promise<T>, options: WriteGroupOptions = {}): Promise<{ value: T; files: string[] }> {
  const group: Group = { staged: [], signal: options.signal };
  try {
    const value = await currentGroup.run(group, fn);
    await commit(group);
    return { value, files: group.staged.map((s) => s.path) };
  } catch (e) {
    await discard(group);
    throw e;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cleans up after writers that died in `dir`: undoes their unfinished groups (journal) and removes
 * their temporaries. `owner` picks whose: by default every writer that no longer runs; the
 * extension passes the pid of the worker it just lost. Returns what was removed or put back.
 */
export async function recoverPartialWrites(dir: string, owner: (pid: number) => boolean = (pid) => !isAlive(pid)): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const mine = names.filter((n) => {
    const pid = partialOwner(n);
    return pid !== undefined && pid !== process.pid && owner(pid);
  });
  const touched: string[] = [];
  for (const n of mine.filter((x) => PARTIAL_NAME.exec(x)?.[2] === 'j')) {
    const journal = join(dir, n);
    try {
      const parsed = JSON.parse(await fs.readFile(journal, 'utf8')) as { entries?: JournalEntry[] };
      const pid = partialOwner(n);
      // Only what that writer could have made: temporaries of its own beside their targets.
      const ours = (p: unknown, target: string) => typeof p === 'string' && partialOwner(p) === pid && dirname(p) === dirname(target);
      const entries = (Array.isArray(parsed.entries) ? parsed.entries : []).filter(
        (e) => typeof e?.path === 'string' && ours(e.tmp, e.path) && (e.backup === undefined || ours(e.backup, e.path)),
      );
      await rollBack(entries);
      touched.push(...entries.map((e) => e.path));
    } catch {
      // A journal cut short was written before any rename: the temporaries alone remain.
    }
    await fs.rm(journal, { force: true });
    touched.push(journal);
  }
  for (const n of mine) {
    const p = join(dir, n);
    if (!(await exists(p))) continue;
    await fs
      .rm(p)
      .then(() => touched.push(p))
      .catch(() => undefined); // a folder of that name is not ours
  }
  return touched;
}

/** A path a job is about to write, and whether it (or which of its parent folders) existed before. */
export interface OutputRecord {
  path: string;
  existed: boolean;
  /** The topmost folder of `path` (or `path` itself) that did not exist: what the job may create. */
  createdFrom?: string;
}

/** Notes what exists of a job's outputs before it starts (synchronous: a few stats, before the job is sent). */
export function recordOutputs(paths: string[]): OutputRecord[] {
  return paths.map((p) => {
    const path = resolve(p);
    let createdFrom: string | undefined;
    for (let q = path; !existsSync(q); q = dirname(q)) {
      createdFrom = q;
      if (dirname(q) === q) break;
    }
    return { path, existed: createdFrom === undefined, createdFrom };
  });
}

/**
 * After a job that did not succeed: undoes the unfinished writes of `owner` (the worker that ran
 * it) in each output's folder and in the output itself when it is a folder, then removes the
 * folders the job created and left empty. Complete files are never removed. Returns what it removed.
 */
export async function cleanUpOutputs(records: OutputRecord[], owner: (pid: number) => boolean): Promise<string[]> {
  const touched: string[] = [];
  for (const r of records) {
    touched.push(...(await recoverPartialWrites(dirname(r.path), owner)));
    const isDir = await fs.stat(r.path).then((s) => s.isDirectory(), () => false);
    if (isDir) touched.push(...(await recoverPartialWrites(r.path, owner)));
    if (!r.createdFrom) continue;
    for (let q = r.path; ; q = dirname(q)) {
      const removed = await fs.rmdir(q).then(() => true, () => false);
      if (removed) touched.push(q);
      else if (await exists(q)) break; // not empty: something else lives there
      if (q === r.createdFrom || dirname(q) === q) break;
    }
  }
  return touched;
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
