import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { after, afterEach, before, describe, test } from 'node:test';
import { DataError } from '../errors';
import { DATA_LIMIT_ENV } from '../io/inflate';
import { encodeNpy, encodeNpz, parseNpz, readNpzFile } from '../io/npy';
import { readCsvFile } from './csv';
import { readIdxFile } from './idx';
import { loadDataset } from './load';
import { deflateZeros, GiB, gzipZeros, idxHeader, MiB, npyHeader, peakGrowth, zipRaw } from '../../../test/kits/bombs';

// Decompression bombs: a megabyte of file that inflates to a gigabyte. Each must be refused with a
// DataError naming the file, without the process growing by hundreds of MB (how long it takes is
// measured by hand in docs/reliability.md, not asserted).

const LIMIT_RSS = 300 * MiB;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'prunescope-bombs-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env[DATA_LIMIT_ENV];
});

function put(name: string, data: Uint8Array): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  return p;
}

const crc32 = (d: Uint8Array) => (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32?.(d) ?? 0;

/** Runs the load, expects a DataError whose message starts with `file` and matches `pattern`, quickly and in little memory. */
async function refused(load: () => Promise<unknown>, file: string, pattern: RegExp): Promise<string> {
  const { result, grew } = await peakGrowth(load);
  assert.ok(result instanceof DataError, `expected a DataError, got ${result instanceof Error ? result.stack : 'success'}`);
  const message = result.message;
  assert.ok(message.startsWith(`${file}`), `message names ${file}: ${message}`);
  assert.match(message, pattern);
  assert.ok(grew < LIMIT_RSS, `peak RSS grew by ${(grew / MiB).toFixed(0)} MiB`);
  return message;
}

describe('npz bombs', () => {
  const header = npyHeader('<f4', [10, 784]);
  const declared = header.length + 10 * 784 * 4;

  test('an entry declaring a small size that inflates to 1 GiB is refused as soon as it passes that size', async () => {
    const p = put('small-declared.npz', zipRaw([{ name: 'x_test.npy', data: deflateZeros(header, GiB), method: 8, size: declared }]));
    const m = await refused(() => loadDataset(p), `${p}:x_test.npy`, /inflates past the 31,488 bytes its zip entry declares; refused/);
    assert.doesNotMatch(m, /\n\s+at /);
    await refused(() => readNpzFile(p), `${p}:x_test.npy`, /inflates past/);
  });

  test('an entry whose declared size disagrees with its .npy header is refused before inflating', async () => {
    // Declares (honestly) 1 GiB, but the .npy header inside says 10x784 float32.
    const p = put(
      'honest-size.npz',
      zipRaw([{ name: 'x_test.npy', data: deflateZeros(header, GiB), method: 8, size: header.length + GiB }]),
    );
    await refused(
      () => loadDataset(p),
      `${p}:x_test.npy`,
      /zip entry declares 1073741952 bytes but its \.npy header \(shape \(10, 784\) of <f4\) makes 31488; refused before inflating/,
    );
  });

  test('a consistent 1 GiB entry is refused before inflating when over the limit, and the message says how to raise it', async () => {
    const big = npyHeader('<f4', [GiB / 4]);
    const p = put('big.npz', zipRaw([{ name: 'x_test.npy', data: deflateZeros(big, GiB), method: 8, size: big.length + GiB }]));
    process.env[DATA_LIMIT_ENV] = '64M';
    await refused(
      () => loadDataset(p),
      `${p}:x_test.npy`,
      new RegExp(`declares 1 GiB uncompressed, more than the 64 MiB limit that ${DATA_LIMIT_ENV} sets; refused before inflating`),
    );
    process.env[DATA_LIMIT_ENV] = 'lots';
    await refused(() => loadDataset(p), p, new RegExp(`${DATA_LIMIT_ENV}="lots" is not a size`));
  });

  test('the cap holds for all entries together', async () => {
    const h = npyHeader('|u1', [40 * MiB]);
    const entry = (name: string) => ({ name, data: deflateZeros(h, 40 * MiB), method: 8 as const, size: h.length + 40 * MiB });
    const p = put('two.npz', zipRaw([entry('x_train.npy'), entry('x_test.npy')]));
    process.env[DATA_LIMIT_ENV] = '64MiB';
    await refused(
      () => loadDataset(p),
      p,
      /\.npz entries declare 80 MiB uncompressed in all, more than the 64 MiB limit that PRUNESCOPE_MAX_DATA_BYTES sets; refused before inflating/,
    );
  });

  test('a declared size beyond what deflate can produce (or beyond 4 GiB) is refused before inflating', async () => {
    const p = put('absurd.npz', zipRaw([{ name: 'x_test.npy', data: deflateRawSync(Buffer.alloc(5000)), method: 8, size: 0xfffffff0 }]));
    await refused(
      () => loadDataset(p),
      `${p}:x_test.npy`,
      /declares 4 GiB from \d+ bytes of deflate data, more than deflate can produce .*refused before inflating/,
    );
    const q = put(
      'absurd2.npz',
      zipRaw([{ name: 'x_test.npy', data: deflateZeros(npyHeader('<f4', [1]), 4 * GiB - 2 * MiB), method: 8, size: 0xfffffff0 }]),
    );
    process.env[DATA_LIMIT_ENV] = '1G';
    await refused(() => loadDataset(q), `${q}:x_test.npy`, /declares 4 GiB uncompressed, more than the 1 GiB limit/);
  });

  test('zip64 sizes in the central directory: read when honest, refused before inflating when absurd', async () => {
    const npy = encodeNpy({ dtype: 'float32', shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    const ok = parseNpz(
      zipRaw([{ name: 'x_test.npy', data: deflateRawSync(npy), method: 8, size: npy.length, crc: crc32(npy), zip64: true }]),
      'z64.npz',
    );
    assert.deepEqual(Array.from(ok.x_test.data as Float32Array), [1, 2, 3, 4, 5, 6]);
    const p = put(
      'z64-absurd.npz',
      zipRaw([
        { name: 'x_test.npy', data: deflateZeros(npyHeader('<f4', [2 ** 38]), 4 * MiB), method: 8, size: 2 ** 40 + 128, zip64: true },
      ]),
    );
    await refused(
      () => loadDataset(p),
      `${p}:x_test.npy`,
      /zip entry declares 1024 GiB uncompressed, more than the 4 GiB limit for decompressed data \(set PRUNESCOPE_MAX_DATA_BYTES/,
    );
  });

  test('an entry that inflates to less than it declares, or fails its CRC, is damaged', async () => {
    const arr = encodeNpy({ dtype: 'float32', shape: [10, 4], data: new Float32Array(40).fill(1) });
    const short = arr.subarray(0, arr.length - 8);
    const p = put('short.npz', zipRaw([{ name: 'x_test.npy', data: deflateRawSync(short), method: 8, size: arr.length, crc: crc32(arr) }]));
    await refused(
      () => loadDataset(p),
      `${p}:x_test.npy`,
      new RegExp(`zip entry declares ${arr.length} bytes but inflates to ${short.length} \\(truncated or damaged archive\\)`),
    );
    if (crc32(arr) !== 0) {
      const q = put(
        'crc.npz',
        zipRaw([{ name: 'x_test.npy', data: deflateRawSync(arr), method: 8, size: arr.length, crc: crc32(arr) ^ 1 }]),
      );
      await refused(() => loadDataset(q), `${q}:x_test.npy`, /fails its CRC-32 check/);
    }
    const s = put('stored.npz', zipRaw([{ name: 'x_test.npy', data: arr, method: 0, size: arr.length + 1 }]));
    await refused(() => loadDataset(s), `${s}:x_test.npy`, /stored zip entry declares \d+ bytes but holds \d+/);
    const m = put('method.npz', zipRaw([{ name: 'x_test.npy', data: arr, method: 12, size: arr.length }]));
    await refused(() => loadDataset(m), `${m}:x_test.npy`, /uses zip compression method 12/);
  });

  test('honest archives (deflated and stored, written by us and by numpy) still read', async () => {
    const arrays = {
      x_test: { dtype: 'float32' as const, shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      y_test: { dtype: 'uint8' as const, shape: [3], data: new Uint8Array([0, 1, 0]) },
    };
    for (const compress of [true, false]) {
      const z = encodeNpz(arrays, compress);
      const back = parseNpz(z, 'ok.npz');
      assert.deepEqual(Array.from(back.x_test.data as Float32Array), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(Array.from(back.y_test.data as Uint8Array), [0, 1, 0]);
    }
    // What python's zipfile writes for np.savez: zip64 extras, CRCs; deflated via the raw writer here.
    const npy = encodeNpy(arrays.x_test);
    const raw = parseNpz(
      zipRaw([{ name: 'x_test.npy', data: deflateRawSync(npy), method: 8, size: npy.length, crc: crc32(npy) }]),
      'raw.npz',
    );
    assert.deepEqual(raw.x_test.shape, [3, 2]);
  });
});

describe('gzip bombs', () => {
  test('a gz IDX whose header says 10 images but which inflates to 1 GiB', async () => {
    const p = put('bomb/t10k-images-idx3-ubyte.gz', gzipZeros(idxHeader([10, 28, 28]), GiB));
    const why = /gzip data inflates past the 7,856 bytes its IDX header declares \(10x28x28 ubyte\); refused without inflating the rest/;
    await refused(() => loadDataset(p), p, why);
    await refused(() => readIdxFile(p), p, why);
    await refused(() => loadDataset(join(dir, 'bomb')), p, why);
  });

  test('a gz IDX labels file beside good images, and a header declaring more than the limit', async () => {
    const images = Buffer.concat([idxHeader([2, 2, 2]), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7])]);
    const d = join(dir, 'labels-bomb');
    put('labels-bomb/train-images-idx3-ubyte.gz', gzipSync(images));
    const labels = put('labels-bomb/train-labels-idx1-ubyte.gz', gzipZeros(idxHeader([2]), GiB));
    await refused(() => loadDataset(d), labels, /inflates past the 10 bytes its IDX header declares \(2 ubyte\)/);
    const huge = put('huge-images-idx3-ubyte.gz', gzipZeros(idxHeader([100000, 1000, 1000]), MiB));
    await refused(
      () => loadDataset(huge),
      huge,
      /IDX header declares 100000x1000x1000 ubyte values \(93\.1 GiB\), more than the 4 GiB limit for decompressed data \(set PRUNESCOPE_MAX_DATA_BYTES, e\.g\. PRUNESCOPE_MAX_DATA_BYTES=8G, to raise it\); refused before decompressing/,
    );
  });

  test('a gz IDX named like IDX but holding zeros is refused from its first bytes', async () => {
    const p = put('zeros/train-images-idx3-ubyte.gz', gzipZeros(new Uint8Array(0), GiB));
    await refused(() => loadDataset(join(dir, 'zeros')), p, /unknown IDX data type code 0x00/);
  });

  test('a gzipped .npy bomb is bounded by its .npy header', async () => {
    const p = put('x_test.npy.gz', gzipZeros(npyHeader('<f4', [10, 784]), GiB));
    await refused(
      () => loadDataset(p),
      p,
      /gzip data inflates past the 31,488 bytes its \.npy header declares \(shape \(10, 784\) of <f4\)/,
    );
    const q = put('npyfolder/x_test.npy', gzipZeros(npyHeader('<f4', [10, 784]), GiB));
    await refused(() => loadDataset(join(dir, 'npyfolder')), q, /inflates past the 31,488 bytes/);
  });

  test('a gzipped CSV bomb is refused at the text cap (lowered here through the environment)', async () => {
    const p = put('bomb.csv.gz', gzipZeros(Buffer.from('a,b,label\n'), GiB));
    process.env[DATA_LIMIT_ENV] = '32M';
    await refused(() => loadDataset(p), p, /gzip data inflates past the 32 MiB limit that PRUNESCOPE_MAX_DATA_BYTES sets/);
    await refused(() => readCsvFile(p), p, /inflates past/);
  });

  test('gzipped zeros of no known kind, and a gzipped .npz, are refused without inflating them', async () => {
    const p = put('mystery.gz', gzipZeros(new Uint8Array(0), GiB));
    await refused(() => loadDataset(p), p, /is not a recognised dataset file/);
    const z = put('data.npz.gz', gzipSync(encodeNpz({ x: { dtype: 'uint8', shape: [2], data: new Uint8Array([1, 2]) } })));
    await refused(() => loadDataset(z), z, /is a gzipped zip archive; give the \.npz itself/);
  });

  test('honest gzipped IDX, .npy and CSV still load', async () => {
    const d = join(dir, 'honest');
    put('honest/t10k-images-idx3-ubyte.gz', gzipSync(Buffer.concat([idxHeader([2, 1, 2]), Buffer.from([0, 255, 255, 0])])));
    put('honest/t10k-labels-idx1-ubyte.gz', gzipSync(Buffer.concat([idxHeader([2]), Buffer.from([1, 0])])));
    const s = await loadDataset(d);
    assert.equal(s.test!.n, 2);
    assert.deepEqual(Array.from(s.test!.y!), [1, 0]);
    const x = put('x.npy.gz', gzipSync(encodeNpy({ dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) })));
    const n = await loadDataset(x);
    assert.deepEqual(Array.from(n.test!.x), [1, 2, 3, 4, 5, 6]);
    const c = put('honest.csv.gz', gzipSync('a,b,label\n1,2,0\n3,4,1\n'));
    const t = await readCsvFile(c);
    assert.deepEqual(Array.from(t.x), [1, 2, 3, 4]);
  });
});
