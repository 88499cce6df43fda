import { AsyncLocalStorage } from 'node:async_hooks';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, promises as fs, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { PruneScopeError } from '../errors';
import { assertMayWrite, replacing } from './scope';
import { processAlive } from './process-alive';

/**
 * Every temporary this module makes starts with this prefix and carries the writer's pid and a
 * MAC of its name under this installation's writer key, so a process that finds them after the
 * writer died (the extension, after its worker was killed) can prove they are ours: a file planted
 * under such a name (a cloned repository can hold anything) is never removed or followed.
 */
export const PARTIAL_PREFIX = '.prunescope-partial-';
// `t` a file being written, `b` the previous version of a file being replaced, `j` a group's journal.
const PARTIAL_NAME = /^\.prunescope-partial-(\d+)-(\d+)-([tbj])-([0-9a-f]{16})(.*)\.tmp$/;

let key: Buffer | undefined;
/**
 * A secret of this installation (this user's cache folder, readable only by them), shared by the
 * CLI, the worker and the extension so that one can recognise what another wrote. Where it cannot
 * be kept, a key of this process alone: then nothing written by another process is ever recovered.
 */
function writerKey(): Buffer {
  if (key) return key;
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'prunescope');
  const file = join(dir, 'writer.key');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(file)) writeFileSync(file, randomBytes(32), { flag: 'wx', mode: 0o600 });
  } catch {
    // Made by another process in the meantime, or not writable: read below or fall back.
  }
  try {
    const k = readFileSync(file);
    key = k.length === 32 && statSync(file).isFile() ? k : randomBytes(32);
  } catch {
    key = randomBytes(32);
  }
  return key;
}

function mac(text: string): string {
  return createHmac('sha256', writerKey()).update(text).digest('hex').slice(0, 16);
}

function sameMac(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

let counter = 0;
function partialName(dir: string, kind: 't' | 'b' | 'j', forFile?: string): string {
  // A short tail of the real name helps a person who finds one; file names stay under 255 bytes.
  const tail = forFile ? `.${basename(forFile).slice(-60)}` : '';
  const stem = `${process.pid}-${++counter}-${kind}`;
  return join(dir, `${PARTIAL_PREFIX}${stem}-${mac(stem + tail)}${tail}.tmp`);
}

/** What a temporary's name says, when its MAC proves that this installation made it. */
function parsePartial(name: string): { pid: number; kind: 't' | 'b' | 'j' } | undefined {
  const m = PARTIAL_NAME.exec(basename(name));
  if (!m || !sameMac(m[4], mac(`${m[1]}-${m[2]}-${m[3]}${m[5]}`))) return undefined;
  return { pid: Number(m[1]), kind: m[3] as 't' | 'b' | 'j' };
}

/** The pid of the process that made a temporary of this module, or undefined for any other name (forged ones included). */
export function partialOwner(name: string): number | undefined {
  return parsePartial(name)?.pid;
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
      // wx: a name that exists (nothing of ours can) is never followed or overwritten.
      await fs.writeFile(tmp, f.data, { flag: 'wx' });
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

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.stat(a).catch(() => undefined), fs.stat(b).catch(() => undefined)]);
  return !!x && !!y && x.dev === y.dev && x.ino === y.ino;
}

/**
 * Undoes a group whose commit did not finish: temporaries are removed, files already put in place
 * are removed (new ones) or put back to their previous version (replaced ones).
 */
async function rollBack(entries: JournalEntry[]): Promise<void> {
  for (const e of [...entries].reverse()) {
    if (await exists(e.tmp)) {
      // A new file is linked into place before its temporary goes: a link of ours is undone too.
      if (!e.backup && (await sameFile(e.tmp, e.path))) await fs.rm(e.path, { force: true });
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
 * Puts a new file in place only if its name is still free at that moment: a hard link fails when
 * the name exists (a file made while the job ran is never replaced); where the file system has no
 * hard links, an exclusive copy does the same.
 */
async function placeNew(tmp: string, path: string): Promise<void> {
  try {
    await fs.link(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new PruneScopeError(`${path} appeared while the job ran; it was left as it is, and nothing was written`);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK') throw e;
    await fs.copyFile(tmp, path, fs.constants.COPYFILE_EXCL).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST'
        ? new PruneScopeError(`${path} appeared while the job ran; it was left as it is, and nothing was written`)
        : err;
    });
  }
  await fs.rm(tmp, { force: true });
}

/** The signed journal of one folder's part of a group: only entries in that folder, and a MAC over them. */
function journalText(journal: string, entries: JournalEntry[]): string {
  const body = JSON.stringify({ pid: process.pid, entries });
  return JSON.stringify({ body, mac: mac(`${basename(journal)}\n${body}`) });
}

async function writeJournals(entries: JournalEntry[]): Promise<string[]> {
  const byDir = new Map<string, JournalEntry[]>();
  for (const e of entries) byDir.set(dirname(e.path), [...(byDir.get(dirname(e.path)) ?? []), e]);
  const journals: string[] = [];
  for (const [dir, list] of byDir) {
    const journal = partialName(dir, 'j');
    journals.push(journal);
    await fs.writeFile(journal, journalText(journal, list), { flag: 'wx' });
  }
  return journals;
}

/**
 * Puts a group's temporaries in place. A signed journal in each folder lists them while that
 * runs, so that a process killed midway can be undone by recoverPartialWrites; removing the
 * journals is the commit point. Each target is checked against the command's write scope (may it
 * replace existing files, is it one of the command's inputs) at the moment it is replaced.
 */
async function commit(group: Group): Promise<void> {
  const { staged, signal } = group;
  if (staged.length === 0) return;
  signal?.throwIfAborted();
  const replace = replacing();
  const entries: JournalEntry[] = [];
  for (const s of staged) {
    await assertMayWrite(s.path);
    entries.push({
      path: s.path,
      tmp: s.tmp,
      backup: replace && (await exists(s.path)) ? partialName(dirname(s.path), 'b', s.path) : undefined,
    });
  }
  let journals: string[] = [];
  try {
    journals = await writeJournals(entries);
    await hook?.('journaled', journals[0]);
    for (const e of entries) {
      if (e.backup) {
        await assertMayWrite(e.path);
        await keepPrevious(e.path, e.backup);
        await fs.rename(e.tmp, e.path);
      } else if (replace) {
        // Nothing was there when the journal was written: if something is now, it is checked first.
        if (await exists(e.path)) await assertMayWrite(e.path);
        await fs.rename(e.tmp, e.path);
      } else {
        await placeNew(e.tmp, e.path);
      }
      await hook?.('renamed', e.path);
    }
  } catch (err) {
    await rollBack(entries).catch(() => undefined);
    await Promise.all(journals.map((j) => fs.rm(j, { force: true })));
    throw err;
  }
  await Promise.all(journals.map((j) => fs.rm(j, { force: true })));
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

/**
 * The entries of a journal found in `dir`, when it proves to be one this installation wrote for
 * that folder: its MAC checks, and every file it names is in `dir` (targets) or is a temporary of
 * ours in `dir` (tmp, backup). Anything else is undefined, and nothing it says is acted on.
 */
async function trustedJournal(dir: string, name: string, pid: number): Promise<JournalEntry[] | undefined> {
  try {
    const outer = JSON.parse(await fs.readFile(join(dir, name), 'utf8')) as { body?: unknown; mac?: unknown };
    if (typeof outer.body !== 'string' || typeof outer.mac !== 'string' || !sameMac(outer.mac, mac(`${name}\n${outer.body}`)))
      return undefined;
    const body = JSON.parse(outer.body) as { pid?: unknown; entries?: unknown };
    if (body.pid !== pid || !Array.isArray(body.entries)) return undefined;
    const here = (p: unknown): p is string => typeof p === 'string' && dirname(resolve(p)) === dir;
    const ours = (p: unknown) => here(p) && parsePartial(p)?.pid === pid;
    const entries = body.entries as JournalEntry[];
    return entries.every((e) => here(e?.path) && ours(e.tmp) && (e.backup === undefined || ours(e.backup))) ? entries : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Cleans up after writers that died in `dir`: undoes their unfinished groups (journal) and removes
 * their temporaries. `owner` picks whose: by default every writer that no longer runs; the
 * extension passes the pid of the worker it just lost. Only names whose MAC proves this
 * installation made them are touched; a journal that cannot be trusted is left in place and
 * reported through `report`, never followed. Returns what was removed or put back.
 */
export async function recoverPartialWrites(
  dir: string,
  owner: (pid: number) => boolean = (pid) => !processAlive(pid),
  report: (message: string) => void = () => undefined,
): Promise<string[]> {
  const folder = resolve(dir);
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    return [];
  }
  const mine = names.filter((n) => {
    if (!n.startsWith(PARTIAL_PREFIX)) return false;
    const pid = partialOwner(n);
    if (pid === undefined) report(`left ${join(folder, n)} alone: named like a PruneScope temporary, but not made by this installation`);
    return pid !== undefined && pid !== process.pid && owner(pid);
  });
  const touched: string[] = [];
  for (const n of mine.filter((x) => parsePartial(x)?.kind === 'j')) {
    const entries = await trustedJournal(folder, n, partialOwner(n)!);
    if (entries) {
      await rollBack(entries);
      touched.push(...entries.map((e) => e.path));
    } else {
      // Its name is ours, so it was cut short while being written, before any rename: the
      // temporaries alone remain. Whatever it says is not followed.
      report(`did not follow ${join(folder, n)}: a journal cut short or not written for this folder; its temporaries alone are removed`);
    }
  }
  for (const n of mine) {
    const p = join(folder, n);
    if (
      !(await fs.lstat(p).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      continue;
    await fs
      .rm(p)
      .then(() => touched.push(p))
      .catch(() => undefined);
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
    const isDir = await fs.stat(r.path).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (isDir) touched.push(...(await recoverPartialWrites(r.path, owner)));
    if (!r.createdFrom) continue;
    for (let q = r.path; ; q = dirname(q)) {
      const removed = await fs.rmdir(q).then(
        () => true,
        () => false,
      );
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
