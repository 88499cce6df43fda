import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The files a model consists of, main file first: a tfjs model.json brings its weight shards.
 * Used for sizes and for the content hash that keys cached results, so a changed weights file
 * counts as a changed model. Unreadable manifests yield the main file alone (the reader reports
 * the problem, not this).
 */
export async function modelFiles(path: string): Promise<string[]> {
  let main = resolve(path);
  const stat = await fs.stat(main);
  if (stat.isDirectory()) main = join(main, 'model.json');
  if (!main.toLowerCase().endsWith('.json')) return [main];
  try {
    const json = JSON.parse(await fs.readFile(main, 'utf8')) as { weightsManifest?: unknown };
    const shards: string[] = [];
    if (Array.isArray(json.weightsManifest)) {
      for (const group of json.weightsManifest as { paths?: unknown }[]) {
        if (!group || !Array.isArray(group.paths)) continue;
        for (const p of group.paths) {
          if (typeof p !== 'string') continue;
          const shard = resolve(dirname(main), p);
          // Only files beside the model: a manifest must not make us read elsewhere.
          if (dirname(shard).startsWith(dirname(main)) && !shards.includes(shard)) shards.push(shard);
        }
      }
    }
    return [main, ...shards];
  } catch {
    return [main];
  }
}

/** Total size in bytes of existing files. */
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
