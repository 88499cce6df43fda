/**
 * The pruned models PruneScope wrote, so that "Replace it" replaces only those: a file is ours
 * while its bytes are what the job wrote (sha256 and size, every file of the model). A file the
 * person wrote, edited or put there is never ours. No vscode here (the node tests run it).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { writeFilesAtomically } from '../core/io/atomic';
import { outputFiles } from '../core/formats/model-files';
import { canonicalJson } from './cache';
import { nameTaken } from './naming';

const entrySchema = z.object({
  files: z.array(z.object({ path: z.string(), size: z.number(), sha256: z.string() })).min(1),
  /** The job's settings (compensation, fine-tuning, dataset, calibration rows, ...), to say which differ. */
  settings: z.record(z.string(), z.unknown()),
  writtenAt: z.string(),
});
const ledgerSchema = z.object({ version: z.literal(1), models: z.record(z.string(), entrySchema) });
type Ledger = z.infer<typeof ledgerSchema>;
type Entry = z.infer<typeof entrySchema>;

/** Most models remembered; the oldest are forgotten first (then they can no longer be replaced, only kept beside). */
const MAX_ENTRIES = 500;

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((done, fail) => {
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('end', done)
      .on('error', fail);
  });
  return hash.digest('hex');
}

/** Whose the model at a pruned name is: written by PruneScope and unchanged, changed since, or not known to it. */
export type Ownership = { owner: 'prunescope'; differences: string[] } | { owner: 'changed' | 'unknown' };

/** Settings as a person reads them: "finetuneEpochs 3, now 0". */
export function settingDifferences(earlier: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(earlier), ...Object.keys(now)])].sort();
  const text = (v: unknown) => (v === undefined ? 'none' : canonicalJson(v));
  return keys.filter((k) => text(earlier[k]) !== text(now[k])).map((k) => `${k} ${text(earlier[k])}, now ${text(now[k])}`);
}

export class WrittenModels {
  constructor(private readonly file: string) {}

  private async load(): Promise<Ledger> {
    try {
      return ledgerSchema.parse(JSON.parse(await fs.readFile(this.file, 'utf8')));
    } catch {
      // Missing or unreadable: nothing is known to be ours, so nothing is replaced.
      return { version: 1, models: {} };
    }
  }

  /** Remembers the files a prune job wrote (result.files), under its output path. */
  async record(out: string, files: readonly string[], settings: Record<string, unknown>, now = new Date()): Promise<void> {
    const ledger = await this.load();
    const entry: Entry = { files: [], settings, writtenAt: now.toISOString() };
    for (const f of files) entry.files.push({ path: resolve(f), size: (await fs.stat(f)).size, sha256: await sha256(f) });
    ledger.models[resolve(out)] = entry;
    const keys = Object.keys(ledger.models).sort((a, b) => ledger.models[a].writtenAt.localeCompare(ledger.models[b].writtenAt));
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) delete ledger.models[k];
    await fs.mkdir(dirname(this.file), { recursive: true });
    await writeFilesAtomically([{ path: this.file, data: JSON.stringify(ledger) }]);
  }

  /**
   * Whether the model at `out` (with the companions its writer puts beside it) is exactly what
   * PruneScope wrote there: every file it wrote is present with the same bytes, and no other file
   * sits at a companion's name.
   */
  async ownership(out: string, settings: Record<string, unknown>): Promise<Ownership> {
    const entry = (await this.load()).models[resolve(out)];
    if (!entry) return { owner: 'unknown' };
    const recorded = new Set(entry.files.map((f) => f.path));
    if (outputFiles(out).some((f) => nameTaken(f) && !recorded.has(resolve(f)))) return { owner: 'changed' };
    for (const f of entry.files) {
      const s = await fs.lstat(f.path).catch(() => undefined);
      if (!s?.isFile() || s.size !== f.size || (await sha256(f.path)) !== f.sha256) return { owner: 'changed' };
    }
    return { owner: 'prunescope', differences: settingDifferences(entry.settings, settings) };
  }

  /** The files recorded for `out` (what Replace moves aside). */
  async filesOf(out: string): Promise<string[]> {
    return (await this.load()).models[resolve(out)]?.files.map((f) => f.path) ?? [];
  }
}

/**
 * Replaces an earlier result of ours by a new one written at the same name: the earlier files
 * are renamed aside (in their folder, so nothing is copied), `write` runs with the name free,
 * and the earlier files are deleted only when it succeeded; otherwise they go back. The job
 * itself never replaces anything (replace: false), so a file that appears at the name meanwhile
 * is refused, not lost. Returns what `write` returned, undefined when it failed or was cancelled.
 */
export async function replaceEarlier<T>(
  files: readonly string[],
  write: () => Promise<T | undefined>,
  onProblem: (message: string) => void,
): Promise<T | undefined> {
  const stamp = `${process.pid}-${Date.now()}`;
  const moved: [string, string][] = [];
  try {
    for (const f of files) {
      const aside = join(dirname(f), `.${basename(f)}.prunescope-replaced-${stamp}`);
      await fs.rename(f, aside);
      moved.push([f, aside]);
    }
  } catch (e) {
    await restore(moved, onProblem);
    throw new Error(`could not move the earlier result aside to replace it: ${(e as Error).message}`, { cause: e });
  }
  let result: T | undefined;
  try {
    result = await write();
  } finally {
    if (result === undefined) await restore(moved, onProblem);
  }
  if (result === undefined) return undefined;
  for (const [, aside] of moved) await fs.rm(aside, { force: true });
  return result;
}

async function restore(moved: readonly [string, string][], onProblem: (message: string) => void): Promise<void> {
  for (const [original, aside] of moved) {
    // A file that took the name meanwhile is never replaced: the earlier one then stays aside, said.
    if (nameTaken(original)) onProblem(`${original} was taken meanwhile; the earlier result is kept as ${aside}`);
    else await fs.rename(aside, original).catch((e: Error) => onProblem(`could not put back ${original}: ${e.message}`));
  }
}

/** What a second pruning the same way may do with the earlier result. */
export type RepruneAction = 'open' | 'replace' | 'keep';

/**
 * The answers offered when the name is taken: opening it and keeping both always; replacing it
 * only when PruneScope wrote it and it is unchanged.
 */
export function repruneChoices(
  earlier: Ownership,
  name: string,
): { placeholder: string; items: { label: string; detail: string; action: RepruneAction }[] } {
  const open = { label: 'Open earlier result', detail: `show ${name} in the inspector; nothing is written`, action: 'open' as const };
  const keep = { label: 'Keep both', detail: `write the new model beside it under a numbered name`, action: 'keep' as const };
  if (earlier.owner === 'prunescope') {
    const replace = {
      label: 'Replace it',
      detail: 'write the new model under this name; the earlier one is deleted once it is written',
      action: 'replace' as const,
    };
    const how = earlier.differences.length === 0 ? 'the same way' : `with other settings (${earlier.differences.join('; ')})`;
    return { placeholder: `${name} is this model pruned earlier ${how}.`, items: [open, replace, keep] };
  }
  const why =
    earlier.owner === 'changed'
      ? 'changed since PruneScope wrote it, so it is not replaced'
      : 'not a file PruneScope wrote here, so it is not replaced';
  return { placeholder: `${name} exists: ${why}.`, items: [open, keep] };
}
