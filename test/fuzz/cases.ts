/**
 * One fuzz case: pick a seed, copy its files into a fresh case folder, mutate one of them, hand the
 * result to the format's reader and classify the outcome. Deterministic in (seed, format, index).
 */
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync, unzipSync, zipSync } from 'fflate';
import { isPruneScopeError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats/registry';
import { loadDataset } from '../../src/core/data/load';
import { readNpy } from '../../src/core/io/npy';
import { parseResults } from '../../src/core/results/format';
import { seededRandom } from '../../src/core/random';
import { FIXED_TIME, type FuzzFormat, type Seed, type SeedManifest } from './seeds';
import { mutate, randInt, type MutationName } from './mutate';
import {
  findMutation,
  holdsSentinel,
  hostileMutationsFor,
  mutationKey,
  prepareHostile,
  type HostileCase,
  type HostileClass,
} from './hostile';

/** `escape`: a hostile link was followed (the model was accepted, or the sentinel's bytes showed). */
export type Outcome = 'accepted' | 'error' | 'unnamed' | 'crash' | 'escape';

export interface CaseResult {
  index: number;
  outcome: Outcome;
  seed: string;
  file: string;
  ops: string[];
  /** Error name and message for errors and crashes; stack head for crashes. */
  message?: string;
  /** class/name of the hostile mutation, for hostile cases. */
  hostile?: string;
}

/** Which cases are hostile (structure-aware, see hostile.ts) and of which classes. */
export interface HostilePlan {
  /** Share of the cases that are hostile: every round(1 / share)-th case; 0 for none. */
  share: number;
  /** Only these classes (default: all). */
  classes?: readonly HostileClass[];
}

/** Every 8th case: in the CI share (150 cases) 18 slots, enough for every format's mutations to run once. */
export const DEFAULT_HOSTILE: HostilePlan = { share: 0.125 };

const MODEL_FORMATS: readonly FuzzFormat[] = ['tfjs', 'onnx', 'safetensors'];

const READERS: Record<FuzzFormat, (path: string) => Promise<unknown>> = {
  tfjs: (p) => readModel(p),
  onnx: (p) => readModel(p),
  safetensors: (p) => readModel(p),
  idx: (p) => loadDataset(p),
  'idx-gz': (p) => loadDataset(p),
  npy: (p) => loadDataset(p),
  npz: (p) => loadDataset(p),
  csv: (p) => loadDataset(p),
  'read-npy': (p) => readNpy(p),
  results: async (p) => parseResults(await fs.readFile(p, 'utf8'), p),
};

/** A per-case generator, so any case can be replayed alone. */
export function caseRng(seed: number, format: FuzzFormat, index: number): () => number {
  let h = 2166136261;
  for (const c of format) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return seededRandom((Math.imul(seed, 0x9e3779b1) ^ h ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

function mutateWrapped(
  rng: () => number,
  bytes: Uint8Array,
  set: Parameters<typeof mutate>[2],
  wrap: 'gzip' | 'zip' | undefined,
): { bytes: Uint8Array; ops: MutationName[] | string[] } {
  // Half the cases edit the container itself, half edit its content and re-pack it.
  if (!wrap || rng() < 0.5) return mutate(rng, bytes, wrap ? 'binary' : set);
  if (wrap === 'gzip') {
    const r = mutate(rng, gunzipSync(bytes), set);
    return { bytes: gzipSync(r.bytes, FIXED_TIME.gzip), ops: r.ops.map((o) => `gz:${o}`) };
  }
  const entries = unzipSync(bytes);
  const names = Object.keys(entries);
  const name = names[randInt(rng, 0, names.length - 1)];
  const r = mutate(rng, entries[name], set);
  entries[name] = r.bytes as Uint8Array<ArrayBuffer>;
  return { bytes: zipSync(entries, { level: rng() < 0.5 ? 0 : 6, ...FIXED_TIME.zip }), ops: r.ops.map((o) => `${name}:${o}`) };
}

function formatHash(format: string): number {
  let h = 2166136261;
  for (const c of format) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** Hostile slots go round a cycle of at least this many; a format with fewer mutations leaves the rest generic. */
const MIN_ROUND = 16;

/**
 * The hostile mutation (class/name) case `index` runs, or undefined for a generic case. Every
 * round(1 / share)-th case is a hostile slot; the slots go round the format's hostile mutations in
 * turn (from a place that depends on the seed), so that a short run (the CI share: 18 slots per
 * format) reaches every one of them. The round has at least MIN_ROUND slots, the ones past the
 * format's mutations being generic cases, so that a format with few mutations does not repeat
 * them (its decompression bombs, say) several times over in a short run. With share 1 every case
 * is hostile. Generic cases keep the random stream they had before hostile cases existed.
 */
export function planCase(seed: number, format: FuzzFormat, index: number, plan: HostilePlan = DEFAULT_HOSTILE): string | undefined {
  if (!(plan.share > 0)) return undefined;
  const period = Math.max(1, Math.round(1 / Math.min(1, plan.share)));
  if (index % period !== period - 1) return undefined;
  const muts = hostileMutationsFor(format, plan.classes);
  if (muts.length === 0) return undefined;
  const round = period === 1 ? muts.length : Math.max(MIN_ROUND, muts.length);
  const slot = (Math.floor(index / period) + ((Math.imul(seed, 0x27d4eb2d) ^ formatHash(format)) >>> 0)) % round;
  return slot < muts.length ? mutationKey(muts[slot]) : undefined;
}

export interface PreparedCase {
  path: string;
  seed: Seed;
  file: string;
  ops: string[];
  hostile?: HostileCase;
}

export async function prepareCase(
  manifest: SeedManifest,
  format: FuzzFormat,
  seed: number,
  index: number,
  caseDir: string,
  plan: HostilePlan = DEFAULT_HOSTILE,
): Promise<PreparedCase> {
  const key = planCase(seed, format, index, plan);
  if (key) {
    // Its own random stream, so that adding or changing hostile mutations leaves generic cases be.
    const rng = caseRng((seed ^ 0x686f7374) >>> 0, format, index);
    const m = findMutation(key, format)!;
    const { seed: s, hostile } = await prepareHostile(m, rng, format, manifest[format], caseDir);
    const entry = hostile.entry ?? s.entry;
    return { path: entry ? join(caseDir, entry) : caseDir, seed: s, file: hostile.file, ops: [key, ...hostile.ops], hostile };
  }
  const rng = caseRng(seed, format, index);
  const seeds = manifest[format];
  const s = seeds[randInt(rng, 0, seeds.length - 1)];
  const f = s.files[randInt(rng, 0, s.files.length - 1)];
  await fs.rm(caseDir, { recursive: true, force: true });
  await fs.cp(s.dir, caseDir, { recursive: true });
  const original = new Uint8Array(await fs.readFile(join(s.dir, f.name)));
  const { bytes, ops } = mutateWrapped(rng, original, f.set, f.wrap);
  await fs.writeFile(join(caseDir, f.name), bytes);
  return { path: s.entry ? join(caseDir, s.entry) : caseDir, seed: s, file: f.name, ops: ops as string[] };
}

/** What a hostile case's error must name: the model file for models, else the data file it changed. */
function mustName(format: FuzzFormat, c: PreparedCase, caseDir: string): string {
  if (c.hostile?.mustName) return c.hostile.mustName;
  return MODEL_FORMATS.includes(format) ? c.path : join(caseDir, c.file);
}

async function sentinelIntact(c: PreparedCase): Promise<boolean> {
  const s = c.hostile?.sentinel;
  if (!s) return true;
  const now = await fs.readFile(s.path).catch(() => undefined);
  return now !== undefined && now.equals(s.bytes);
}

/** What a case's verdict adds to the case: the outcome and, for all but accepted cases, a message. */
type Verdict = Pick<CaseResult, 'outcome' | 'message'>;

/** What every result of a case says: which case, from which seed (and where that came from), what was changed. */
function caseBase(c: PreparedCase, index: number): Omit<CaseResult, 'outcome' | 'message'> {
  const h = c.hostile;
  return {
    index,
    seed: relative(join(c.seed.dir, '..'), c.seed.dir) + '/' + (c.seed.entry || '.') + (c.seed.from ? ` (${c.seed.from})` : ''),
    file: c.file,
    ops: c.ops,
    ...(h ? { hostile: `${h.cls}/${h.mutation}` } : {}),
  };
}

/** A PruneScopeError must name the case folder; a hostile case's, the very file (mustName). */
function judgeNamedError(err: Error, message: string, format: FuzzFormat, c: PreparedCase, caseDir: string): Verdict {
  if (!c.hostile) return { outcome: err.message.includes(caseDir) ? 'error' : 'unnamed', message };
  const name = mustName(format, c, caseDir);
  return {
    outcome: err.message.includes(name) ? 'error' : 'unnamed',
    message: err.message.includes(name) ? message : `${message} [does not name ${name}]`,
  };
}

/** The verdict on a reader that threw: an escape if the error shows the sentinel's bytes, else named, unnamed or a crash. */
function judgeError(e: unknown, format: FuzzFormat, c: PreparedCase, caseDir: string): Verdict {
  const h = c.hostile;
  const err = e as Error;
  const message = `${err?.name}: ${err?.message}`;
  if (h?.sentinel && (holdsSentinel(message) || holdsSentinel(String(err?.stack ?? '')))) {
    return {
      outcome: 'escape',
      message: `the error shows bytes of the sentinel file ${h.sentinel.path}: ${message.slice(0, 500)}`,
    };
  }
  if (isPruneScopeError(e)) return judgeNamedError(err, message, format, c, caseDir);
  return {
    outcome: 'crash',
    message: `${message}\n${String(err?.stack ?? '')
      .split('\n')
      .slice(1, 6)
      .join('\n')}`,
  };
}

/** The verdict on a reader that returned: accepted, unless a hostile case's sentinel leaked or its model should have been refused. */
async function judgeResult(result: unknown, format: FuzzFormat, c: PreparedCase, caseDir: string): Promise<Verdict> {
  const h = c.hostile;
  if (h?.sentinel && (holdsSentinel(result) || !(await sentinelIntact(c)))) {
    return {
      outcome: 'escape',
      message: `the result holds bytes of the sentinel file ${h.sentinel.path}, outside the case folder`,
    };
  }
  if (h?.refuse) {
    return {
      outcome: 'escape',
      message: `accepted a model whose weights are named ${h.ops.join('; ')}; expected a refusal naming ${mustName(format, c, caseDir)}`,
    };
  }
  return { outcome: 'accepted' };
}

/**
 * Runs the reader and sorts the outcome: parsed, a PruneScopeError naming the case, or a crash.
 * Hostile cases are held to more: the error must name the model file (models) or the data file
 * changed (datasets), a case whose model points outside its folder must be refused, and no output
 * (the result, the message) may hold the bytes of the sentinel file outside the folder.
 * `onPrepared` is called between preparing the case and reading it.
 */
export async function runCase(
  manifest: SeedManifest,
  format: FuzzFormat,
  seed: number,
  index: number,
  caseDir: string,
  reader: (path: string) => Promise<unknown> = READERS[format],
  plan: HostilePlan = DEFAULT_HOSTILE,
  onPrepared?: (c: PreparedCase) => Promise<void>,
): Promise<CaseResult> {
  const c = await prepareCase(manifest, format, seed, index, caseDir, plan);
  const base = caseBase(c, index);
  await onPrepared?.(c);
  let result: unknown;
  try {
    result = await reader(c.path);
  } catch (e) {
    return { ...base, ...judgeError(e, format, c, caseDir) };
  }
  return { ...base, ...(await judgeResult(result, format, c, caseDir)) };
}
