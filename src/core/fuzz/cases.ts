/**
 * One fuzz case: pick a seed, copy its files into a fresh case folder, mutate one of them, hand the
 * result to the format's reader and classify the outcome. Deterministic in (seed, format, index).
 */
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync, unzipSync, zipSync } from 'fflate';
import { isPruneScopeError } from '../errors';
import { readModel } from '../formats/registry';
import { loadDataset } from '../data/load';
import { readNpy } from '../io/npy';
import { parseResults } from '../results/format';
import { seededRandom } from '../random';
import { type FuzzFormat, type Seed, type SeedManifest } from './seeds';
import { mutate, randInt, type MutationName } from './mutate';

export type Outcome = 'accepted' | 'error' | 'unnamed' | 'crash';

export interface CaseResult {
  index: number;
  outcome: Outcome;
  seed: string;
  file: string;
  ops: string[];
  /** Error name and message for errors and crashes; stack head for crashes. */
  message?: string;
}

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

function mutateWrapped(rng: () => number, bytes: Uint8Array, set: Parameters<typeof mutate>[2], wrap: 'gzip' | 'zip' | undefined): { bytes: Uint8Array; ops: MutationName[] | string[] } {
  // Half the cases edit the container itself, half edit its content and re-pack it.
  if (!wrap || rng() < 0.5) return mutate(rng, bytes, wrap ? 'binary' : set);
  if (wrap === 'gzip') {
    const r = mutate(rng, gunzipSync(bytes), set);
    return { bytes: gzipSync(r.bytes), ops: r.ops.map((o) => `gz:${o}`) };
  }
  const entries = unzipSync(bytes);
  const names = Object.keys(entries);
  const name = names[randInt(rng, 0, names.length - 1)];
  const r = mutate(rng, entries[name], set);
  entries[name] = r.bytes as Uint8Array<ArrayBuffer>;
  return { bytes: zipSync(entries, { level: rng() < 0.5 ? 0 : 6 }), ops: r.ops.map((o) => `${name}:${o}`) };
}

export async function prepareCase(manifest: SeedManifest, format: FuzzFormat, seed: number, index: number, caseDir: string): Promise<{ path: string; seed: Seed; file: string; ops: string[] }> {
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

/** Runs the reader and sorts the outcome: parsed, a PruneScopeError naming the case, or a crash. */
export async function runCase(
  manifest: SeedManifest,
  format: FuzzFormat,
  seed: number,
  index: number,
  caseDir: string,
  reader: (path: string) => Promise<unknown> = READERS[format],
): Promise<CaseResult> {
  const c = await prepareCase(manifest, format, seed, index, caseDir);
  const base = { index, seed: relative(join(c.seed.dir, '..'), c.seed.dir) + '/' + (c.seed.entry || '.'), file: c.file, ops: c.ops };
  try {
    await reader(c.path);
    return { ...base, outcome: 'accepted' };
  } catch (e) {
    const err = e as Error;
    const message = `${err?.name}: ${err?.message}`;
    if (isPruneScopeError(e)) {
      return { ...base, outcome: err.message.includes(caseDir) ? 'error' : 'unnamed', message };
    }
    return { ...base, outcome: 'crash', message: `${message}\n${String(err?.stack ?? '').split('\n').slice(1, 6).join('\n')}` };
  }
}
