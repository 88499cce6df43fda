/**
 * Which files a model is made of, told without reading the model: from the file names, a tfjs
 * model.json's weights manifest, the HDF5 signature of a Keras file and the external data an ONNX
 * file names (onnx/external-files.ts). Nothing here imports a reader or TensorFlow.js, so the
 * extension host can use it (its bundle must not load tfjs). The readers' own list is
 * `mlp.source.files` (what registry.readModel returns) and a writer's is `ModelFormat.outputFiles`;
 * model-files.test.ts checks that this module lists at least the reader's files for every format
 * (more only where a reader may open a file it then passes over).
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { onnxExternalLocations } from './onnx/external-files';

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
 * The architecture files a weights-only Keras HDF5 file `<stem>.h5` (or .hdf5) may take beside it,
 * in the order keras/sidecar.ts looks at them: `<stem>.json`, `<name>.json` when the stem is
 * `<name>.weights` (Keras 3's `model.weights.h5`), `config.json`, `model.json`.
 */
export function sidecarNames(file: string): string[] {
  const stem = basename(file, extname(file));
  const names = [`${stem}.json`];
  if (stem.toLowerCase().endsWith('.weights') && stem.length > '.weights'.length) names.push(`${stem.slice(0, -'.weights'.length)}.json`);
  names.push('config.json', 'model.json');
  return [...new Set(names)];
}

/** What the Keras reader claims by name (keras/keras.ts), besides any file starting with HDF5's signature. */
const KERAS_EXTENSIONS = new Set(['.keras', '.h5', '.hdf5']);
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Whether the Keras reader takes `file` for HDF5 and so may read an architecture file beside it:
 * claimed (a Keras extension, or the signature at 0) and HDF5 inside (the signature at 0 or after a
 * user block of 512, 1024, ... bytes, as keras/h5.ts hdf5Offset finds it).
 */
async function mayReadSidecar(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const size = (await handle.stat()).size;
    const buf = Buffer.alloc(HDF5_SIGNATURE.length);
    const at = async (offset: number) =>
      (await handle.read(buf, 0, buf.length, offset)).bytesRead === buf.length && buf.equals(HDF5_SIGNATURE);
    if (await at(0)) return true;
    if (!KERAS_EXTENSIONS.has(extname(file).toLowerCase())) return false;
    for (let offset = 512; offset + buf.length <= size; offset *= 2) if (await at(offset)) return true;
    return false;
  } finally {
    await handle.close();
  }
}

function inside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * `name` resolved in `dir` when a reader's openContained (io/contained.ts) would open it there: a
 * plain relative name, a regular file inside the folder once symbolic links are resolved.
 */
async function containedFile(dir: string, realDir: string, name: string): Promise<string | undefined> {
  if (name === '' || name.includes('\0') || isAbsolute(name) || /^[a-zA-Z]:/.test(name) || name.startsWith('\\')) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name) || /^(data|file|https?|blob|javascript):/i.test(name)) return undefined;
  const path = resolve(dir, name);
  if (!inside(dir, path)) return undefined;
  const real = await fs.realpath(path).catch(() => undefined);
  if (!real || !inside(realDir, real)) return undefined;
  return (await fs.stat(real).catch(() => undefined))?.isFile() ? path : undefined;
}

/** Each of `names` that `containedFile` finds beside `file`, once. */
async function besideFiles(file: string, names: string[]): Promise<string[]> {
  const dir = dirname(file);
  const realDir = await fs.realpath(dir).catch(() => dir);
  const out: string[] = [];
  for (const name of names) {
    const path = await containedFile(dir, realDir, name);
    if (path && !out.includes(path)) out.push(path);
  }
  return out;
}

/** Whether the ONNX reader may take `file`: its extension, or a first byte that starts ir_version as an ONNX file does (onnx.ts looksLikeOnnx). */
async function mayBeOnnx(file: string): Promise<boolean> {
  if (extname(file).toLowerCase() === '.onnx') return true;
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const head = Buffer.alloc(1);
    return (await handle.read(head, 0, 1, 0)).bytesRead === 1 && head[0] === 0x08;
  } finally {
    await handle.close();
  }
}

/**
 * The files besides `main` its reader may open: for a Keras HDF5 file every architecture file
 * candidate that exists (not only the one it takes, since a change to any can change which one it
 * takes), for an ONNX model its external data files.
 */
async function companions(main: string): Promise<string[]> {
  if (await mayReadSidecar(main)) return besideFiles(main, sidecarNames(main));
  if (await mayBeOnnx(main)) return besideFiles(main, await onnxExternalLocations(main));
  return [];
}

/**
 * The files a model on disk consists of, main file first: a folder means its model.json, a tfjs
 * model.json brings its weight shards, an ONNX model its external data, and a Keras HDF5 file the
 * architecture files beside it that a weights-only one takes (keras/sidecar.ts). Used for sizes and for the content hash that keys
 * cached results, so a changed weights or architecture file counts as a changed model. It may list
 * more than the reader reads (the sidecars of an .h5 that holds its own config), never fewer. An
 * unreadable manifest yields the main file alone (the reader reports the problem, not this).
 */
export async function modelFiles(path: string): Promise<string[]> {
  let main = resolve(path);
  const stat = await fs.stat(main);
  if (stat.isDirectory()) main = join(main, 'model.json');
  if (!main.toLowerCase().endsWith('.json')) return [main, ...(await companions(main))];
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
