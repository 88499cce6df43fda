/**
 * The fuzzer's seed corpus, copied into a temp folder so the originals are never touched: the
 * models the test suite builds itself with the independent encoder kit (test/kits/encode, twins of
 * the third-party files laid out as their exporters lay them out), the same MLP written by our own
 * writers, cut-down MNIST IDX, a results file written by `prunescope analyze`, and, when
 * ../shared/fixtures (or PRUNESCOPE_FIXTURES) is present, the third-party files themselves as
 * extra seeds. Every seed is a folder; one or more of its files get mutated.
 */
import { createHash } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, zipSync } from 'fflate';
import { mnistDir } from '../../src/core/data/mnist';
import { encodeIdx } from '../../src/core/data/idx';
import { encodeNpy, type NpyArray } from '../../src/core/io/npy';
import { readModel, writeModel } from '../../src/core/formats/registry';
import { COMPAT_SKIP_REASON, fixturesDir, fixturesPresent } from '../fixtures';
import { built, builtRoot } from '../kits/encode/models';
import type { MutationSet } from './mutate';

export const FUZZ_FORMATS = ['tfjs', 'onnx', 'safetensors', 'idx', 'idx-gz', 'npy', 'npz', 'csv', 'read-npy', 'results'] as const;
export type FuzzFormat = (typeof FUZZ_FORMATS)[number];

export interface SeedFile {
  /** Path inside the seed folder. */
  name: string;
  set: MutationSet;
  /** Container to open, mutate inside and close again (half the time) instead of mutating raw bytes. */
  wrap?: 'gzip' | 'zip';
}

export interface Seed {
  /** Folder (absolute) whose files make one case. */
  dir: string;
  files: SeedFile[];
  /** What the reader is given, relative to the case folder ('' for the folder itself). */
  entry: string;
  /** False for fixtures the reader refuses as they are (not MLPs); hostile cases use the others. */
  supported?: boolean;
  /** Where the seed came from: 'built <path>' (encoder kit), 'third-party <path>', or the writer that wrote it. */
  from?: string;
}

export type SeedManifest = Record<FuzzFormat, Seed[]>;

const RESULTS_SEED = join(__dirname, 'seeds', 'results.json');

/** The tfjs model folders, by their path under ../shared/fixtures; the encoder kit builds a twin of each. */
const TFJS_MODELS = ['tfjs/abalone-node', 'tfjs/matmul-graph', 'tfjs/rn59-graph', 'tfjs/rn59-layers', 'unsupported/keras-lenet-layers'];
/** Third-party tfjs folders the kit has no twin of: seeds only when the fixtures are present. */
const TFJS_THIRD_PARTY_ONLY = ['unsupported/gru-layers'];
/** The ONNX files the kit builds twins of (the third-party seeds are every .onnx of the fixtures). */
const ONNX_MODELS = [
  'onnx/mnist2x10.onnx',
  'onnx/mnist2x5_sigmoid.onnx',
  'onnx/fc1.onnx',
  'onnx/fc_2-2-3.onnx',
  'unsupported/cnn_max_mninst2.onnx',
];
const SAFETENSORS_MODEL = 'safetensors/dfdx-mnist/mnist.safetensors';
/** The model the writer seeds start from. */
const WRITER_SOURCE = 'tfjs/abalone-node/model.json';

/**
 * Whether the third-party files join the corpus: 'used' with the folder they come from, or
 * 'skipped' with the reason (the same one the compatibility suite gives).
 */
export function thirdPartySeeds(): { state: 'used'; dir: string } | { state: 'skipped'; reason: string } {
  return fixturesPresent ? { state: 'used', dir: fixturesDir } : { state: 'skipped', reason: COMPAT_SKIP_REASON };
}

/** Builds the encoder kit's twins (once per process) and returns the files they are made of. */
function builtModelFiles(): string[] {
  for (const rel of [...TFJS_MODELS, ...ONNX_MODELS, SAFETENSORS_MODEL]) built(rel);
  return listFiles(builtRoot());
}

/** Every original file the corpus is made from, for the unchanged-afterwards check. */
export function originalFiles(): string[] {
  const out: string[] = [RESULTS_SEED, ...builtModelFiles(), ...(fixturesPresent ? listFiles(fixturesDir) : [])];
  for (const n of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte']) {
    out.push(join(mnistDir(), n));
  }
  return out.sort();
}

/** sha256 and size of each file (a missing file shows as "missing"). */
export function fingerprint(files: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) {
    try {
      const b = readFileSync(f);
      out[f] = `${b.length}:${createHash('sha256').update(b).digest('hex')}`;
    } catch {
      out[f] = 'missing';
    }
  }
  return out;
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

async function copyFolder(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
  // Fixtures are read-only; writable copies let case folders be overwritten and removed.
  for (const f of listFiles(to)) await fs.chmod(f, 0o644);
}

/** The first `rows` records of an MNIST IDX file, as an IDX file of its own. */
function mnistCut(file: string, rows: number, rank: 1 | 3): Uint8Array {
  const bytes = readFileSync(join(mnistDir(), file));
  const start = rank === 3 ? 16 : 8;
  const per = rank === 3 ? 784 : 1;
  const data = bytes.subarray(start, start + rows * per);
  return encodeIdx({ dtype: 'ubyte', shape: rank === 3 ? [rows, 28, 28] : [rows], data: Uint8Array.from(data) });
}

function npy(dtype: NpyArray['dtype'], shape: number[], data: NpyArray['data']): Uint8Array {
  return encodeNpy({ dtype, shape, data });
}

function csvText(images: Uint8Array, labels: Uint8Array, rows: number, header: boolean): string {
  const lines: string[] = [];
  if (header) lines.push(['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)].join(','));
  for (let r = 0; r < rows; r++) lines.push([labels[8 + r], ...images.subarray(16 + r * 784, 16 + (r + 1) * 784)].join(','));
  return lines.join('\n') + '\n';
}

async function put(dir: string, name: string, data: Uint8Array | string): Promise<void> {
  await fs.mkdir(join(dir, name, '..'), { recursive: true });
  await fs.writeFile(join(dir, name), data);
}

type Folder = () => Promise<string>;

/**
 * Timestamps for the archives the fuzzer writes (seeds, and cases re-packed in cases.ts): fflate
 * stamps gzip and zip headers with the current time unless told, and a case must be the same bytes
 * in every run.
 */
export const FIXED_TIME = { gzip: { mtime: 0 }, zip: { mtime: new Date(1980, 0, 1) } };

/** As io/npy's encodeNpz (np.savez_compressed / np.savez), with a fixed timestamp. */
function npzBytes(arrays: Record<string, NpyArray>, compress: boolean): Uint8Array {
  const files = Object.fromEntries(Object.entries(arrays).map(([key, a]) => [`${key}.npy`, encodeNpy(a)]));
  return zipSync(files, { level: compress ? 6 : 0, ...FIXED_TIME.zip });
}

/** The MNIST cuts several formats' seeds are made of. */
interface MnistCuts {
  images50: Uint8Array;
  labels50: Uint8Array;
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
}

/** A model file or folder, by its path under ../shared/fixtures, from the kit or the third-party files. */
interface ModelSource {
  from: 'built' | 'third-party';
  path: (rel: string) => string;
}

/** The kit's twins always; the third-party files too when they are present. */
function modelSources(): ModelSource[] {
  const kit: ModelSource = { from: 'built', path: (rel) => built(rel) };
  if (!fixturesPresent) return [kit];
  return [kit, { from: 'third-party', path: (rel) => join(fixturesDir, rel) }];
}

/** A seed of one model file, copied in as `name`. */
async function modelFileSeed(folder: Folder, file: string, name: string, set: MutationSet, from: string, supported = true): Promise<Seed> {
  const d = await folder();
  await fs.copyFile(file, join(d, name));
  // Fixtures are read-only; a writable copy lets case folders be overwritten and removed.
  await fs.chmod(join(d, name), 0o644);
  return { dir: d, entry: name, files: [{ name, set }], supported, from };
}

async function tfjsSeeds(m: SeedManifest, folder: Folder): Promise<void> {
  // tfjs: every tfjs model folder, supported or not.
  for (const src of modelSources()) {
    const rels = src.from === 'built' ? TFJS_MODELS : [...TFJS_MODELS, ...TFJS_THIRD_PARTY_ONLY];
    for (const rel of rels) {
      const d = await folder();
      await copyFolder(src.path(rel), d);
      const names = listFiles(d).map((f) => relative(d, f));
      const json = names.find((n) => n.endsWith('.json'))!;
      m.tfjs.push({
        dir: d,
        entry: json,
        files: names.map((n) => ({ name: n, set: n.endsWith('.json') ? 'json' : 'binary' })),
        supported: !rel.startsWith('unsupported/'),
        from: `${src.from} ${rel}`,
      });
    }
  }
}

/** ONNX and safetensors files as they are: the kit's twins, and every third-party .onnx when present. */
async function modelFileSeeds(m: SeedManifest, folder: Folder): Promise<void> {
  for (const src of modelSources()) {
    const rels =
      src.from === 'built'
        ? ONNX_MODELS
        : listFiles(fixturesDir)
            .filter((f) => f.endsWith('.onnx'))
            .map((f) => relative(fixturesDir, f));
    for (const rel of rels) {
      const supported = !rel.startsWith('unsupported');
      m.onnx.push(await modelFileSeed(folder, src.path(rel), 'model.onnx', 'protobuf', `${src.from} ${rel}`, supported));
    }
    const st = await modelFileSeed(
      folder,
      src.path(SAFETENSORS_MODEL),
      'model.safetensors',
      'safetensors',
      `${src.from} ${SAFETENSORS_MODEL}`,
    );
    m.safetensors.push(st);
  }
}

/** The kit's abalone twin written by our own ONNX and safetensors writers, and as a mostly-zero (sparse) ONNX. */
async function writerSeeds(m: SeedManifest, folder: Folder): Promise<void> {
  const abalone = await readModel(built(WRITER_SOURCE));
  const from = `our writer, from built ${WRITER_SOURCE}`;
  const d = await folder();
  await writeModel(abalone, join(d, 'model.onnx'));
  m.onnx.push({ dir: d, entry: 'model.onnx', files: [{ name: 'model.onnx', set: 'protobuf' }], from });
  // Mostly-zero kernels, as after magnitude pruning: the writer stores them as sparse initializers.
  const sparse = { ...abalone, layers: abalone.layers.map((l) => ({ ...l, weights: l.weights.map((w, k) => (k % 10 === 3 ? w : 0)) })) };
  const d2 = await folder();
  await writeModel(sparse, join(d2, 'model.onnx'));
  m.onnx.push({ dir: d2, entry: 'model.onnx', files: [{ name: 'model.onnx', set: 'protobuf' }], from: `${from}, sparse` });
  const d3 = await folder();
  await writeModel(abalone, join(d3, 'model.safetensors'));
  m.safetensors.push({ dir: d3, entry: 'model.safetensors', files: [{ name: 'model.safetensors', set: 'safetensors' }], from });
}

async function idxSeeds(m: SeedManifest, folder: Folder, mn: MnistCuts): Promise<void> {
  // IDX: 50 test images with labels beside them, and a train/test folder.
  const { images50, labels50, trainImages, trainLabels } = mn;
  for (const gz of [false, true]) {
    const fmt: FuzzFormat = gz ? 'idx-gz' : 'idx';
    const enc = (b: Uint8Array): Uint8Array => (gz ? gzipSync(b, FIXED_TIME.gzip) : b);
    const sfx = gz ? '.gz' : '';
    const wrap = gz ? ('gzip' as const) : undefined;
    const d = await folder();
    await put(d, `t10k-images-idx3-ubyte${sfx}`, enc(images50));
    await put(d, `t10k-labels-idx1-ubyte${sfx}`, enc(labels50));
    m[fmt].push({
      dir: d,
      entry: `t10k-images-idx3-ubyte${sfx}`,
      files: [`t10k-images-idx3-ubyte${sfx}`, `t10k-labels-idx1-ubyte${sfx}`].map((name) => ({ name, set: 'binary' as const, wrap })),
    });
    const d2 = await folder();
    const names = [
      `train-images-idx3-ubyte${sfx}`,
      `train-labels-idx1-ubyte${sfx}`,
      `t10k-images-idx3-ubyte${sfx}`,
      `t10k-labels-idx1-ubyte${sfx}`,
    ];
    await put(d2, names[0], enc(trainImages));
    await put(d2, names[1], enc(trainLabels));
    await put(d2, names[2], enc(images50));
    await put(d2, names[3], enc(labels50));
    m[fmt].push({ dir: d2, entry: '', files: names.map((name) => ({ name, set: 'binary' as const, wrap })) });
  }
}

async function npySeeds(m: SeedManifest, folder: Folder, mn: MnistCuts): Promise<{ img: Uint8Array; xF32: Uint8Array; yI64: Uint8Array }> {
  // NPY / NPZ written by our encoders.
  const { images50, labels50 } = mn;
  const img = images50.subarray(16);
  const lab = labels50.subarray(8);
  const xU8 = npy('uint8', [50, 28, 28], Uint8Array.from(img));
  const yI64 = npy(
    'int64',
    [50],
    BigInt64Array.from(lab, (v) => BigInt(v)),
  );
  const xF32 = npy(
    'float32',
    [50, 784],
    Float32Array.from(img, (v) => v / 255),
  );
  const yI32 = npy('int32', [50], Int32Array.from(lab));
  {
    const d = await folder();
    await put(d, 'x.npy', xU8);
    await put(d, 'y.npy', yI64);
    m.npy.push({
      dir: d,
      entry: 'x.npy',
      files: [
        { name: 'x.npy', set: 'text' },
        { name: 'y.npy', set: 'text' },
      ],
    });
    const d2 = await folder();
    await put(d2, 'x_train.npy', xF32);
    await put(d2, 'y_train.npy', yI32);
    await put(d2, 'x_test.npy', xU8);
    await put(d2, 'y_test.npy', yI64);
    m.npy.push({
      dir: d2,
      entry: '',
      files: ['x_train.npy', 'y_train.npy', 'x_test.npy', 'y_test.npy'].map((name) => ({ name, set: 'text' as const })),
    });
  }
  for (const compress of [true, false]) {
    const d = await folder();
    const arrays: Record<string, NpyArray> = {
      x_train: { dtype: 'float32', shape: [50, 784], data: Float32Array.from(img, (v) => v / 255) },
      y_train: { dtype: 'int32', shape: [50], data: Int32Array.from(lab) },
      x_test: { dtype: 'uint8', shape: [50, 28, 28], data: Uint8Array.from(img) },
      y_test: { dtype: 'int64', shape: [50], data: BigInt64Array.from(lab, (v) => BigInt(v)) },
    };
    await put(d, 'data.npz', npzBytes(arrays, compress));
    m.npz.push({ dir: d, entry: 'data.npz', files: [{ name: 'data.npz', set: 'text', wrap: 'zip' }] });
  }
  return { img, xF32, yI64 };
}

async function csvSeeds(m: SeedManifest, folder: Folder, mn: MnistCuts): Promise<void> {
  // CSV: MNIST rows with a header, without one, and a train/test folder.
  const { images50: imgs, labels50: labs, trainImages, trainLabels } = mn;
  for (const header of [true, false]) {
    const d = await folder();
    await put(d, 'test.csv', csvText(imgs, labs, 20, header));
    m.csv.push({ dir: d, entry: 'test.csv', files: [{ name: 'test.csv', set: 'text' }] });
  }
  {
    const d = await folder();
    await put(d, 'mnist_train.csv', csvText(trainImages, trainLabels, 20, true));
    await put(d, 'mnist_test.csv', csvText(imgs, labs, 10, true));
    m.csv.push({
      dir: d,
      entry: '',
      files: [
        { name: 'mnist_train.csv', set: 'text' },
        { name: 'mnist_test.csv', set: 'text' },
      ],
    });
  }
}

async function readNpySeeds(
  m: SeedManifest,
  folder: Folder,
  { img, xF32, yI64 }: { img: Uint8Array; xF32: Uint8Array; yI64: Uint8Array },
): Promise<void> {
  // readNpy: model inputs of several dtypes.
  const inputs: [string, Uint8Array][] = [
    ['input.npy', xF32],
    ['f64.npy', npy('float64', [4, 784], Float64Array.from(img.subarray(0, 4 * 784)))],
    [
      'f16.npy',
      npy(
        'float16',
        [2, 8],
        Uint16Array.from({ length: 16 }, (_, i) => 0x3c00 + i),
      ),
    ],
    ['i64.npy', yI64],
  ];
  for (const [name, bytes] of inputs) {
    const d = await folder();
    await put(d, name, bytes);
    m['read-npy'].push({ dir: d, entry: name, files: [{ name, set: 'text' }] });
  }
}

/** Builds the corpus under `root` and returns where each format's seeds are. */
export async function buildSeeds(root: string): Promise<SeedManifest> {
  const m = Object.fromEntries(FUZZ_FORMATS.map((f) => [f, [] as Seed[]])) as SeedManifest;
  let k = 0;
  const folder = async (): Promise<string> => {
    const d = join(root, `seed-${k++}`);
    await fs.mkdir(d, { recursive: true });
    return d;
  };
  await tfjsSeeds(m, folder);
  await modelFileSeeds(m, folder);
  await writerSeeds(m, folder);
  const mn: MnistCuts = {
    images50: mnistCut('t10k-images-idx3-ubyte', 50, 3),
    labels50: mnistCut('t10k-labels-idx1-ubyte', 50, 1),
    trainImages: mnistCut('train-images-idx3-ubyte', 40, 3),
    trainLabels: mnistCut('train-labels-idx1-ubyte', 40, 1),
  };
  await idxSeeds(m, folder, mn);
  const inputs = await npySeeds(m, folder, mn);
  await csvSeeds(m, folder, mn);
  await readNpySeeds(m, folder, inputs);
  {
    const d = await folder();
    await fs.copyFile(RESULTS_SEED, join(d, 'results.json'));
    m.results.push({ dir: d, entry: 'results.json', files: [{ name: 'results.json', set: 'json' }] });
  }
  return m;
}
