import { AsyncLocalStorage } from 'node:async_hooks';
import { promises as fs, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { PruneScopeError } from '../errors';

/**
 * What one command (a CLI run, a worker job) may write over. Files are compared by device and
 * inode, not by name, so that a symbolic link to a file or to its folder, a hard link, `..` or a
 * case variant of an input's name is still that input.
 */
interface WriteScope {
  /** The person gave up existing files at the outputs (`--force`, a confirmation). */
  replace: boolean;
  /** `dev:ino` of every file the command read as input, with the name it was read under. */
  inputs: Map<string, string>;
  /** How this front end lets a person give up an existing file (the CLI: `--force`), for messages. */
  howToReplace?: string;
}

const scopes = new AsyncLocalStorage<WriteScope>();

/** Outside any command (benchmarks, the extension's own cache) a write may replace and nothing is an input. */
const UNSCOPED: WriteScope = { replace: true, inputs: new Map() };

function identity(s: Stats): string {
  return `${s.dev}:${s.ino}`;
}

/**
 * Runs one command's work: every write inside it refuses to replace an existing file unless
 * `replace` is set, and never replaces a file the command read (noteInputs).
 */
export function withWriteScope<T>(policy: { replace?: boolean; howToReplace?: string }, fn: () => Promise<T>): Promise<T> {
  return scopes.run({ replace: policy.replace === true, inputs: new Map(), howToReplace: policy.howToReplace }, fn);
}

/** Lets the current command replace existing outputs (`--force`), never its inputs. */
export function allowReplacing(replace: boolean): void {
  const scope = scopes.getStore();
  if (scope) scope.replace = replace;
}

function current(): WriteScope {
  return scopes.getStore() ?? UNSCOPED;
}

/** Records files the current command reads, so that no write of it can replace them. Missing files are skipped. */
export async function noteInputs(paths: readonly string[]): Promise<void> {
  const scope = scopes.getStore();
  if (!scope) return;
  for (const p of paths) {
    const s = await fs.stat(p).catch(() => undefined);
    if (s?.isFile()) scope.inputs.set(identity(s), resolve(p));
  }
}

/** As noteInputs, for a file already open (its stat in hand). */
export function noteInputStat(path: string, s: Stats): void {
  scopes.getStore()?.inputs.set(identity(s), resolve(path));
}

/**
 * Throws unless the current command may write `path`: it must not exist, or the command must have
 * been allowed to replace it and it must not be one of the command's inputs. Called before the work
 * (so a long job fails at once) and again by the writer at the moment it puts the file in place.
 */
export async function assertMayWrite(path: string): Promise<void> {
  const scope = current();
  const target = await fs.stat(path).catch(() => undefined);
  if (!target) {
    // A dangling symbolic link still occupies the name.
    if (!(await fs.lstat(path).catch(() => undefined))) return;
  }
  const input = target && scope.inputs.get(identity(target));
  if (input) {
    const alias = input === resolve(path) ? '' : ` (it is the same file as ${input})`;
    throw new PruneScopeError(`refusing to replace ${resolve(path)}${alias}: it is an input of this command; choose another output name`);
  }
  if (!scope.replace) {
    const how = scope.howToReplace ? `, or allow replacing it (${scope.howToReplace})` : '';
    throw new PruneScopeError(`${resolve(path)} already exists; choose another name${how}`);
  }
}

/** True when the current command may replace existing files (the writer then renames over them). */
export function replacing(): boolean {
  return current().replace;
}

/** assertMayWrite for every file of an output. */
export async function assertMayWriteAll(paths: readonly string[]): Promise<void> {
  for (const p of paths) await assertMayWrite(p);
}
