import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { DataError } from '../errors';
import { inflatePrefix } from '../io/inflate';
import { gunzipNpy, isNpy, isZip, parseNpy, parseNpz, type NpyArray } from '../io/npy';
import { arrayRole, EXPECTED_ARRAY_NAMES, rawFromArray, splitsFromNamed } from './arrays';
import { type CsvOptions, type CsvTable, labelIndices, readCsvFile } from './csv';
import { type Dataset, type DatasetSplits, type Normalization, NORMALIZATIONS, SPLIT_NAMES, type SplitName } from './dataset';
import { readFileBytes } from '../io/read';
import { gunzipIdx, type IdxArray, isGzip, isIdx, parseIdx } from './idx';
import { loadMnist } from './mnist';
import { finishSplits, type RawDataset, type RawSplits } from './normalize';

export interface LoadOptions {
  /** Default: `unit` for byte data (IDX ubyte, NPY uint8, MNIST), `none` otherwise; see normalize.ts. */
  normalize?: Normalization;
  /** CSV label column: header name or 0-based index; null for unlabelled data. See csv.ts. */
  labelColumn?: string | number | null;
  /** CSV: force (true) or rule out (false) a header row instead of detecting it. */
  header?: boolean;
}

const SPEC_HELP = `give "mnist", a folder of IDX, .npy or .csv files, or an .npz, .npy, .csv or IDX file`;

/**
 * Loads a dataset from a spec:
 * - `mnist`: the bundled MNIST, train 55,000 / validation 5,000 / test 10,000 (mnist.ts);
 * - a folder of IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-*,
 *   also names like train-images.idx3-ubyte and the Fashion-MNIST/EMNIST names): train and test
 *   splits as the files hold them (validation only when a file names it);
 * - an .npz with arrays x_train/y_train, x_val/y_val (x_valid, x_validation), x_test/y_test, or x/y
 *   (x/y alone are the test split);
 * - a folder of .npy files with those names (x_train.npy, y_train.npy, ..., or x.npy + y.npy);
 * - a folder of CSV files whose names hold a split word (train.csv, mnist_test.csv, ...);
 * - a single .npy, .csv or IDX file: it becomes the **test** split (a single file given is the
 *   data to evaluate). Beside a single x*.npy or *images* IDX file, the matching y*.npy or
 *   *labels* file is picked up when present; without it the data is unlabelled.
 * Gzipped files are recognised by their content.
 */
export async function loadDataset(spec: string, options: LoadOptions = {}): Promise<DatasetSplits> {
  if (options.normalize !== undefined && !NORMALIZATIONS.includes(options.normalize)) {
    throw new DataError(spec, `unknown normalization "${options.normalize}" (expected ${NORMALIZATIONS.join(', ')})`);
  }
  if (spec.trim().toLowerCase() === 'mnist') return loadMnist(options.normalize ?? 'unit');
  let stat;
  try {
    stat = await fs.stat(spec);
  } catch {
    throw new DataError(spec, `not found; ${SPEC_HELP}`);
  }
  const raws = stat.isDirectory() ? await loadFolder(spec, options) : await loadFile(spec, options);
  return finishSplits(spec, raws, options.normalize);
}

/** The named split, or a DataError naming the dataset and the splits it has. */
export function getSplit(splits: DatasetSplits, name: SplitName): Dataset {
  const ds = splits[name];
  if (ds) return ds;
  const have = SPLIT_NAMES.filter((s) => splits[s]);
  const hint = have.length === 1 && have[0] === 'test' ? ' (a single file is loaded as the test split)' : '';
  throw new DataError(splits.name, `has no ${name} split; it has ${have.length ? have.join(', ') : 'none'}${hint}`);
}

/**
 * Checks that a dataset fits a model: same number of features per sample and labels below the
 * number of outputs. `file` names the model in the message.
 */
export function checkFits(dataset: Dataset, inputSize: number, outputSize?: number, file = 'the model', inputShape?: number[]): void {
  if (dataset.features !== inputSize) {
    throw new DataError(
      dataset.source,
      `has ${dataset.features} features per sample ([${dataset.sampleShape.join(', ')}]) but ${file} takes ${inputSize} inputs ([${(inputShape ?? [inputSize]).join(', ')}])`,
    );
  }
  if (outputSize !== undefined && dataset.y && dataset.classes > outputSize) {
    let row = 0;
    while (dataset.y[row] < outputSize) row++;
    throw new DataError(
      dataset.source,
      `has labels up to ${dataset.classes - 1} (e.g. ${dataset.y[row]} at row ${row}) but ${file} has ${outputSize} outputs, so only labels 0..${outputSize - 1} fit`,
    );
  }
}

// ---- files ----

type Kind = 'npz' | 'npy' | 'idx' | 'csv';

function kindOf(bytes: Uint8Array, path: string): Kind | undefined {
  if (isZip(bytes)) return 'npz';
  if (isNpy(bytes)) return 'npy';
  if (isIdx(bytes)) return 'idx';
  const ext = extname(path.replace(/\.gz$/i, '')).toLowerCase();
  if (['.csv', '.tsv', '.txt'].includes(ext)) return 'csv';
  return undefined;
}

/**
 * An IDX or .npy file's bytes; a gzipped one is inflated to exactly the size its header declares
 * (see gunzipIdx, gunzipNpy), never further.
 */
async function readMaybeGzip(path: string, kind: 'idx' | 'npy'): Promise<Uint8Array> {
  const bytes = await readFileBytes(path);
  if (!isGzip(bytes)) return bytes;
  return kind === 'idx' ? gunzipIdx(bytes, path) : gunzipNpy(bytes, path);
}

async function loadFile(path: string, options: LoadOptions): Promise<RawSplits> {
  const bytes = await readFileBytes(path);
  const gzipped = isGzip(bytes);
  // A gzipped file's kind comes from its first inflated bytes; only then is it inflated, bounded
  // by what its header declares.
  const kind = kindOf(gzipped && bytes.length >= 18 ? inflatePrefix(bytes, path, 'gzip', 16) : bytes, path);
  switch (kind) {
    case 'npz':
      if (gzipped) throw new DataError(path, 'is a gzipped zip archive; give the .npz itself (it is compressed already)');
      return npzSplits(path, bytes);
    case 'npy':
      return { test: await npySingle(path, gzipped ? gunzipNpy(bytes, path) : bytes) };
    case 'idx':
      return { test: await idxSingle(path, gzipped ? gunzipIdx(bytes, path) : bytes) };
    case 'csv':
      return csvSplits({ test: path }, options);
    default:
      throw new DataError(path, `is not a recognised dataset file (not .npz, .npy, IDX or CSV); ${SPEC_HELP}`);
  }
}

function npzSplits(path: string, bytes: Uint8Array): RawSplits {
  const arrays = parseNpz(bytes, path);
  const names = Object.keys(arrays);
  const groups = splitsFromNamed(names, path);
  const out: RawSplits = {};
  for (const split of SPLIT_NAMES) {
    const g = groups[split];
    if (!g) continue;
    out[split] = rawFromArray(
      arrays[g.x],
      g.y ? arrays[g.y] : null,
      `${path}:${split}`,
      `${path}:${g.x}`,
      g.y ? `${path}:${g.y}` : undefined,
    );
  }
  if (Object.keys(out).length === 0) {
    throw new DataError(path, `holds arrays ${names.join(', ')}, none named like a dataset split (expected ${EXPECTED_ARRAY_NAMES})`);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isFile();
  } catch {
    return false;
  }
}

/** A lone .npy: samples, with labels from a sibling whose name pairs with it (x_test.npy -> y_test.npy). */
async function npySingle(path: string, bytes: Uint8Array): Promise<RawDataset> {
  const x = parseNpy(bytes, path);
  const dir = dirname(path);
  const role = arrayRole(basename(path));
  let yPath: string | undefined;
  if (role?.role === 'x') {
    for (const name of await fs.readdir(dir)) {
      const r = arrayRole(name);
      if (name.toLowerCase().endsWith('.npy') && r?.role === 'y' && r.split === role.split) {
        yPath = join(dir, name);
        break;
      }
    }
  }
  let y: NpyArray | null = null;
  if (yPath) y = parseNpy(await readMaybeGzip(yPath, 'npy'), yPath);
  return rawFromArray(x, y, `${path}:test`, path, yPath);
}

/** The labels file that goes with an IDX images file, if it is there. */
async function idxLabelsFor(imagesPath: string): Promise<string | undefined> {
  const dir = dirname(imagesPath);
  const name = basename(imagesPath);
  const swapped = name
    .replace(/images/i, (m) => (m === 'IMAGES' ? 'LABELS' : 'labels'))
    .replace(/imgs/i, 'labels')
    .replace(/idx3/i, 'idx1');
  if (swapped === name) return undefined;
  const bare = swapped.replace(/\.gz$/i, '');
  for (const candidate of [bare, `${bare}.gz`]) if (await exists(join(dir, candidate))) return join(dir, candidate);
  return undefined;
}

function idxRaw(images: IdxArray, labels: IdxArray | null, source: string, imagesPath: string, labelsPath?: string): RawDataset {
  if (images.shape.length < 2) {
    throw new DataError(imagesPath, `is a 1-D IDX array (${images.shape[0]} values, a labels file?); give the images file or the folder`);
  }
  if (labels && labels.shape.length !== 1) {
    throw new DataError(labelsPath!, `labels must be a 1-D IDX array, found ${labels.shape.join('x')}`);
  }
  return rawFromArray(images, labels, source, imagesPath, labelsPath);
}

async function idxSingle(path: string, bytes: Uint8Array): Promise<RawDataset> {
  const images = parseIdx(bytes, path);
  const labelsPath = images.shape.length >= 2 ? await idxLabelsFor(path) : undefined;
  const labels = labelsPath ? parseIdx(await readMaybeGzip(labelsPath, 'idx'), labelsPath) : null;
  return idxRaw(images, labels, `${path}:test`, path, labelsPath);
}

// ---- folders ----

const SPLIT_TOKENS: Record<SplitName, string[]> = {
  train: ['train', 'training'],
  validation: ['val', 'valid', 'validation', 'dev'],
  test: ['test', 'testing', 't10k'],
};

function splitOfName(name: string): SplitName | undefined {
  const tokens = name.toLowerCase().split(/[^a-z0-9]+/);
  return SPLIT_NAMES.find((s) => tokens.some((t) => SPLIT_TOKENS[s].includes(t)));
}

function idxRoleOfName(name: string): 'x' | 'y' | undefined {
  const tokens = name.toLowerCase().split(/[^a-z0-9]+/);
  if (tokens.some((t) => t === 'images' || t === 'imgs' || t === 'idx3')) return 'x';
  if (tokens.some((t) => t === 'labels' || t === 'idx1')) return 'y';
  return undefined;
}

/** Picks one file per slot; a plain file and its .gz twin count as one (the plain one is read). */
function pick(dir: string, names: string[], what: string): string {
  const plain = [...new Set(names.map((n) => n.replace(/\.gz$/i, '')))];
  if (plain.length > 1) throw new DataError(dir, `holds several ${what} files (${names.join(', ')}); keep one`);
  return names.includes(plain[0]) ? plain[0] : names[0];
}

async function loadFolder(dir: string, options: LoadOptions): Promise<RawSplits> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name);

  const idxFiles = files.filter((f) => /idx\d|ubyte/i.test(f));
  if (idxFiles.length > 0) return idxFolder(dir, idxFiles);

  const npyFiles = files.filter((f) => /\.npy$/i.test(f));
  if (npyFiles.length > 0) return npyFolder(dir, npyFiles);

  const npzFiles = files.filter((f) => /\.npz$/i.test(f));
  if (npzFiles.length === 1) {
    const p = join(dir, npzFiles[0]);
    return npzSplits(p, await readFileBytes(p));
  }
  if (npzFiles.length > 1) throw new DataError(dir, `holds several .npz files (${npzFiles.join(', ')}); give one of them`);

  const csvFiles = files.filter((f) => /\.(csv|tsv)(\.gz)?$/i.test(f));
  if (csvFiles.length > 0) {
    const bySplit: Partial<Record<SplitName, string>> = {};
    for (const f of csvFiles) {
      const split = splitOfName(f) ?? (csvFiles.length === 1 ? 'test' : undefined);
      if (!split) continue;
      if (bySplit[split]) throw new DataError(dir, `holds two CSV files for the ${split} split (${bySplit[split]}, ${f})`);
      bySplit[split] = f;
    }
    if (Object.keys(bySplit).length === 0) {
      throw new DataError(dir, `holds CSV files ${csvFiles.join(', ')} but none names a split (train, val, test)`);
    }
    const paths = Object.fromEntries(Object.entries(bySplit).map(([s, f]) => [s, join(dir, f)])) as Partial<Record<SplitName, string>>;
    return csvSplits(paths, options);
  }
  throw new DataError(dir, `holds no dataset files; ${SPEC_HELP}`);
}

async function idxFolder(dir: string, idxFiles: string[]): Promise<RawSplits> {
  const slots: Partial<Record<SplitName, { x: string[]; y: string[] }>> = {};
  for (const f of idxFiles) {
    const split = splitOfName(f);
    const role = idxRoleOfName(f);
    if (!split || !role) continue;
    const slot = (slots[split] ??= { x: [], y: [] });
    slot[role].push(f);
  }
  const out: RawSplits = {};
  for (const split of SPLIT_NAMES) {
    const slot = slots[split];
    if (!slot) continue;
    if (slot.x.length === 0) throw new DataError(dir, `has ${split} labels (${slot.y.join(', ')}) but no ${split} images file`);
    const xName = pick(dir, slot.x, `${split} images`);
    const yName = slot.y.length ? pick(dir, slot.y, `${split} labels`) : undefined;
    const xPath = join(dir, xName);
    const yPath = yName ? join(dir, yName) : undefined;
    const images = parseIdx(await readMaybeGzip(xPath, 'idx'), xPath);
    const labels = yPath ? parseIdx(await readMaybeGzip(yPath, 'idx'), yPath) : null;
    out[split] = idxRaw(images, labels, `${dir}:${split}`, xPath, yPath);
  }
  if (Object.keys(out).length === 0) {
    throw new DataError(
      dir,
      `holds IDX files (${idxFiles.join(', ')}) but none is named like train-images-idx3-ubyte or t10k-images-idx3-ubyte`,
    );
  }
  return out;
}

async function npyFolder(dir: string, npyFiles: string[]): Promise<RawSplits> {
  const groups = splitsFromNamed(npyFiles, dir);
  const out: RawSplits = {};
  for (const split of SPLIT_NAMES) {
    const g = groups[split];
    if (!g) continue;
    const xPath = join(dir, g.x);
    const yPath = g.y ? join(dir, g.y) : undefined;
    const x = parseNpy(await readMaybeGzip(xPath, 'npy'), xPath);
    const y = yPath ? parseNpy(await readMaybeGzip(yPath, 'npy'), yPath) : null;
    out[split] = rawFromArray(x, y, `${dir}:${split}`, xPath, yPath);
  }
  if (Object.keys(out).length === 0) {
    throw new DataError(
      dir,
      `holds .npy files (${npyFiles.join(', ')}) but none named like a dataset split (expected ${EXPECTED_ARRAY_NAMES})`,
    );
  }
  return out;
}

async function csvSplits(paths: Partial<Record<SplitName, string>>, options: CsvOptions): Promise<RawSplits> {
  const splits = SPLIT_NAMES.filter((s) => paths[s]);
  const tables: CsvTable[] = [];
  for (const s of splits) tables.push(await readCsvFile(paths[s]!, { labelColumn: options.labelColumn, header: options.header }));
  for (const t of tables.slice(1)) {
    if (t.features !== tables[0].features) {
      throw new DataError(t.file, `has ${t.features} feature columns but ${tables[0].file} has ${tables[0].features}`);
    }
  }
  const labels = labelIndices(tables);
  const out: RawSplits = {};
  splits.forEach((s, i) => {
    const t = tables[i];
    out[s] = { source: `${t.file}:${s}`, values: t.x, bytes: false, y: labels[i], n: t.n, sampleShape: [t.features] };
  });
  return out;
}
