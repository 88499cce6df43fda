/**
 * Which files a model is made of, told without reading it: from the file names and a tfjs
 * model.json's weights manifest alone. Nothing here imports a reader or TensorFlow.js, so the
 * extension host can use it (its bundle must not load tfjs). The readers' own list is
 * `mlp.source.files` (what registry.readModel returns) and a writer's is `ModelFormat.outputFiles`;
 * model-files.test.ts checks that this module agrees with both for every format.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

/** What writing a tfjs LayersModel to `path` creates: the model.json and `<stem>.weights.bin` beside it. */
export function tfjsLayersOutputFiles(path: string): [string, string] {
  const jsonPath = resolve(path);
  return [jsonPath, join(dirname(jsonPath), `${basename(jsonPath, extname(jsonPath))}.weights.bin`)];
}

/**
 * Every file writing a model to `outPath` creates, main file first, as the writer its extension
 * picks does it (registry.outputFilesOf); a name no writer takes (a folder) is itself alone.
 */
export function outputFiles(outPath: string): string[] {
  return extname(outPath).toLowerCase() === '.json' ? tfjsLayersOutputFiles(outPath) : [resolve(outPath)];
}

/** The weight shards a parsed model.json lists, resolved beside it; names leaving its folder are left out. */
function manifestShards(main: string, json: { weightsManifest?: unknown }): string[] {
  const shards: string[] = [];
  if (!Array.isArray(json.weightsManifest)) return shards;
  for (const group of json.weightsManifest as { paths?: unknown }[]) {
    if (!group || !Array.isArray(group.paths)) continue;
    for (const p of group.paths) {
      if (typeof p !== 'string') continue;
      const shard = resolve(dirname(main), p);
      // Only files beside the model: a manifest must not make us read elsewhere.
      if (dirname(shard).startsWith(dirname(main)) && !shards.includes(shard)) shards.push(shard);
    }
  }
  return shards;
}

/**
 * The files a model on disk consists of, main file first: a folder means its model.json, and a
 * tfjs model.json brings its weight shards. Used for sizes and for the content hash that keys
 * cached results, so a changed weights file counts as a changed model. An unreadable manifest
 * yields the main file alone (the reader reports the problem, not this).
 */
export async function modelFiles(path: string): Promise<string[]> {
  let main = resolve(path);
  const stat = await fs.stat(main);
  if (stat.isDirectory()) main = join(main, 'model.json');
  if (!main.toLowerCase().endsWith('.json')) return [main];
  try {
    return [main, ...manifestShards(main, JSON.parse(await fs.readFile(main, 'utf8')) as { weightsManifest?: unknown })];
  } catch {
    return [main];
  }
}

/** Total size in bytes of the files that exist. */
export async function totalBytes(files: string[]): Promise<number> {
  let sum = 0;
  for (const f of files) {
    try {
      sum += (await fs.stat(f)).size;
    } catch {
      // A missing shard is the reader's error to report.
    }
  }
  return sum;
}
