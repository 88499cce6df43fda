import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { DataError } from '../errors';
import { encodeIdx, parseIdx, readIdxFile } from './idx';
import { loadDataset } from './load';
import { mnistDir } from './mnist';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-idx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** IDX bytes written by hand (big-endian), independent of encodeIdx. */
function idxBytes(code: number, shape: number[], values: number[]): Buffer {
  const size = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[code]!;
  const b = Buffer.alloc(4 + 4 * shape.length + size * values.length);
  b[2] = code;
  b[3] = shape.length;
  shape.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  const o = 4 + 4 * shape.length;
  values.forEach((v, i) => {
    if (code === 0x08) b.writeUInt8(v, o + i);
    else if (code === 0x09) b.writeInt8(v, o + i);
    else if (code === 0x0b) b.writeInt16BE(v, o + 2 * i);
    else if (code === 0x0c) b.writeInt32BE(v, o + 4 * i);
    else if (code === 0x0d) b.writeFloatBE(v, o + 4 * i);
    else b.writeDoubleBE(v, o + 8 * i);
  });
  return b;
}

const pixels = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 37 + seed * 11) % 256);

describe('IDX parsing', () => {
  test('every IDX dtype', () => {
    const vals = [0, -3, 100, -128, 127, 5];
    const cases: [number, string, number[]][] = [
      [0x08, 'ubyte', [0, 3, 100, 128, 255, 5]],
      [0x09, 'byte', vals],
      [0x0b, 'short', [0, -300, 32767, -32768, 1, 2]],
      [0x0c, 'int', [0, -70000, 2147483647, -2147483648, 1, 2]],
      [0x0d, 'float', [0, -1.5, 0.25, 1e-3, 3, 2]],
      [0x0e, 'double', [0, -1.5, Math.PI, 1e-300, 3, 2]],
    ];
    for (const [code, dtype, values] of cases) {
      const arr = parseIdx(new Uint8Array(idxBytes(code, [2, 3], values)), `${dtype}.idx`);
      assert.equal(arr.dtype, dtype);
      assert.deepEqual(arr.shape, [2, 3]);
      const expected = dtype === 'float' ? Array.from(Float32Array.from(values)) : values;
      assert.deepEqual(Array.from(arr.data), expected, dtype);
      // and our encoder writes the same bytes
      assert.deepEqual(Buffer.from(encodeIdx(arr)), idxBytes(code, [2, 3], values), dtype);
    }
  });

  test('gzipped or not, detected by content', async () => {
    const raw = idxBytes(0x08, [2, 2, 2], pixels(8, 1));
    writeFileSync(join(dir, 'plain-name.gz'), raw); // a misleading name: not gzipped
    writeFileSync(join(dir, 'zipped'), gzipSync(raw));
    const a = await readIdxFile(join(dir, 'plain-name.gz'));
    const b = await readIdxFile(join(dir, 'zipped'));
    assert.deepEqual(Array.from(a.data), pixels(8, 1));
    assert.deepEqual(Array.from(b.data), pixels(8, 1));
  });

  test('the real MNIST test labels', async () => {
    const labels = await readIdxFile(join(mnistDir(), 't10k-labels-idx1-ubyte'));
    assert.deepEqual(labels.shape, [10000]);
    assert.deepEqual(Array.from(labels.data.subarray(0, 5)), [7, 2, 1, 0, 4]);
  });

  test('truncated, oversized and damaged files name the file and the byte counts', async () => {
    const raw = idxBytes(0x08, [3, 2, 2], pixels(12, 2));
    assert.throws(
      () => parseIdx(new Uint8Array(raw.subarray(0, raw.length - 5)), 'cut-idx3-ubyte'),
      (e: Error) => {
        assert.ok(e instanceof DataError);
        assert.equal(
          e.message,
          'cut-idx3-ubyte: IDX header declares 3x2x2 ubyte values (12 bytes) but the file holds 7 bytes of data (truncated)',
        );
        return true;
      },
    );
    assert.throws(
      () => parseIdx(new Uint8Array(Buffer.concat([raw, Buffer.alloc(3)])), 'long'),
      /long: IDX header declares 3x2x2 ubyte values \(12 bytes\) but the file holds 15 bytes/,
    );
    // a header that claims 4 billion images fails on the count, before any allocation
    const huge = idxBytes(0x0e, [4000000000, 28, 28], []);
    assert.throws(
      () => parseIdx(new Uint8Array(huge), 'huge'),
      /huge: IDX header declares 4000000000x28x28 double values \(25088000000000 bytes\) but the file holds 0 bytes/,
    );
    assert.throws(() => parseIdx(new Uint8Array([0, 0, 8]), 'short'), /short: IDX file is truncated \(3 bytes\)/);
    assert.throws(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), 'hdr'), /hdr: IDX header for 3 dimensions is truncated/);
    assert.throws(() => parseIdx(new Uint8Array([0, 0, 0x0a, 1, 0, 0, 0, 0]), 'code'), /code: unknown IDX data type code 0x0a/);
    assert.throws(() => parseIdx(new Uint8Array([1, 2, 8, 1]), 'magic'), /magic: not an IDX file/);

    const gz = gzipSync(raw);
    writeFileSync(join(dir, 'cut.gz'), gz.subarray(0, gz.length - 6));
    await assert.rejects(readIdxFile(join(dir, 'cut.gz')), /cut\.gz: cannot decompress gzip data: .*truncated or damaged/);
  });
});

describe('IDX folders through loadDataset', () => {
  function folder(name: string, files: Record<string, Buffer>): string {
    const d = join(dir, name);
    mkdirSync(d);
    for (const [f, b] of Object.entries(files)) writeFileSync(join(d, f), b);
    return d;
  }

  test('gzipped MNIST-style files written with zlib round-trip', async () => {
    const trainPx = pixels(4 * 3 * 3, 3);
    const testPx = pixels(2 * 3 * 3, 4);
    const d = folder('gz', {
      'train-images-idx3-ubyte.gz': gzipSync(idxBytes(0x08, [4, 3, 3], trainPx)),
      'train-labels-idx1-ubyte.gz': gzipSync(idxBytes(0x08, [4], [1, 0, 2, 1])),
      't10k-images-idx3-ubyte.gz': gzipSync(idxBytes(0x08, [2, 3, 3], testPx)),
      't10k-labels-idx1-ubyte.gz': gzipSync(idxBytes(0x08, [2], [2, 0])),
    });
    const s = await loadDataset(d);
    assert.equal(s.normalization, 'unit');
    assert.equal(s.validation, undefined);
    assert.equal(s.train!.n, 4);
    assert.equal(s.test!.n, 2);
    assert.deepEqual(s.train!.sampleShape, [3, 3]);
    assert.equal(s.train!.source, `${d}:train`);
    assert.deepEqual(Array.from(s.train!.y!), [1, 0, 2, 1]);
    assert.deepEqual(Array.from(s.test!.y!), [2, 0]);
    assert.equal(s.train!.classes, 3);
    assert.deepEqual(
      Array.from(s.test!.x),
      testPx.map((v) => Math.fround(v / 255)),
    );
    const none = await loadDataset(d, { normalize: 'none' });
    assert.deepEqual(Array.from(none.train!.x), trainPx);
  });

  test('Fashion-MNIST style names (train-images.idx3-ubyte), plain and .gz twins', async () => {
    const d = folder('dots', {
      'train-images.idx3-ubyte': idxBytes(0x08, [1, 2, 2], [0, 255, 0, 255]),
      'train-images.idx3-ubyte.gz': gzipSync(idxBytes(0x08, [1, 2, 2], [0, 255, 0, 255])),
      'train-labels.idx1-ubyte': idxBytes(0x08, [1], [9]),
      'test-images.idx3-ubyte': idxBytes(0x08, [1, 2, 2], [255, 0, 0, 0]),
      'test-labels.idx1-ubyte': idxBytes(0x08, [1], [3]),
    });
    const s = await loadDataset(d);
    assert.deepEqual(Array.from(s.train!.x), [0, 1, 0, 1]);
    assert.deepEqual(Array.from(s.test!.y!), [3]);
  });

  test('a single images file is the test split, with its labels file found beside it', async () => {
    const d = folder('single', {
      'emnist-digits-test-images-idx3-ubyte': idxBytes(0x08, [2, 2, 2], pixels(8, 5)),
      'emnist-digits-test-labels-idx1-ubyte': idxBytes(0x08, [2], [4, 6]),
    });
    const s = await loadDataset(join(d, 'emnist-digits-test-images-idx3-ubyte'));
    assert.deepEqual(
      Object.keys(s).filter((k) => ['train', 'validation', 'test'].includes(k)),
      ['test'],
    );
    assert.deepEqual(Array.from(s.test!.y!), [4, 6]);
    await assert.rejects(loadDataset(join(d, 'emnist-digits-test-labels-idx1-ubyte')), /is a 1-D IDX array .* a labels file\?/);
  });

  test('float IDX data is not scaled by default', async () => {
    const d = folder('float', {
      'train-images-idx3-ubyte': idxBytes(0x0d, [2, 1, 2], [0.5, -1, 2, 3]),
      'train-labels-idx1-ubyte': idxBytes(0x08, [2], [0, 1]),
    });
    const s = await loadDataset(d);
    assert.equal(s.normalization, 'none');
    assert.deepEqual(Array.from(s.train!.x), [0.5, -1, 2, 3]);
  });

  test('images and labels that disagree in count, truncated file in a folder', async () => {
    const d = folder('mismatch', {
      'train-images-idx3-ubyte': idxBytes(0x08, [3, 2, 2], pixels(12, 6)),
      'train-labels-idx1-ubyte': idxBytes(0x08, [2], [0, 1]),
    });
    await assert.rejects(loadDataset(d), (e: Error) => {
      assert.ok(e instanceof DataError);
      assert.equal(
        e.message,
        `${join(d, 'train-labels-idx1-ubyte')}: has 2 labels but ${join(d, 'train-images-idx3-ubyte')} has 3 samples`,
      );
      return true;
    });
    const raw = idxBytes(0x08, [3, 2, 2], pixels(12, 6));
    const t = folder('truncated', {
      'train-images-idx3-ubyte': raw.subarray(0, raw.length - 1),
      'train-labels-idx1-ubyte': idxBytes(0x08, [3], [0, 1, 2]),
    });
    await assert.rejects(loadDataset(t), (e: Error) => {
      assert.equal(
        e.message,
        `${join(t, 'train-images-idx3-ubyte')}: IDX header declares 3x2x2 ubyte values (12 bytes) but the file holds 11 bytes of data (truncated)`,
      );
      return true;
    });
  });

  test('the real MNIST files copied to a folder load like "mnist" (without the validation carve-out)', async () => {
    const d = folder('real', {
      't10k-images-idx3-ubyte.gz': gzipSync(readFileSync(join(mnistDir(), 't10k-images-idx3-ubyte')), { level: 1 }),
      't10k-labels-idx1-ubyte': readFileSync(join(mnistDir(), 't10k-labels-idx1-ubyte')),
    });
    const folderSplits = await loadDataset(d);
    const mnist = await loadDataset('mnist');
    assert.equal(folderSplits.test!.n, 10000);
    assert.deepEqual(folderSplits.test!.y, mnist.test!.y);
    assert.deepEqual(folderSplits.test!.x, mnist.test!.x);
  });
});
