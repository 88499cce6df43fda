import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DataError } from '../errors';
import { encodeNpy, encodeNpz, type NpyArray } from '../io/npy';
import { makeDataset } from './dataset';
import { checkFits, getSplit, loadDataset } from './load';
import { mnistDir } from './mnist';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const npTestdata = (name: string) => join(__dirname, '..', 'io', 'testdata', name);

function message(e: unknown): string {
  assert.ok(e instanceof DataError, String(e));
  return e.message;
}

describe('mnist', () => {
  test('splits 55,000 / 5,000 / 10,000 with labels 0..9, unit pixels, first test label 7', async () => {
    const s = await loadDataset('mnist');
    assert.equal(s.name, 'mnist');
    assert.equal(s.normalization, 'unit');
    assert.deepEqual([s.train!.n, s.validation!.n, s.test!.n], [55000, 5000, 10000]);
    for (const ds of [s.train!, s.validation!, s.test!]) {
      assert.deepEqual(ds.sampleShape, [28, 28]);
      assert.equal(ds.features, 784);
      assert.equal(ds.x.length, ds.n * 784);
      assert.equal(ds.classes, 10);
      let min = Infinity;
      let max = -Infinity;
      for (const v of ds.x) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      assert.equal(min, 0, ds.source);
      assert.equal(max, 1, ds.source);
      const counts = new Array<number>(10).fill(0);
      for (const l of ds.y!) counts[l]++;
      assert.ok(
        counts.every((c) => c > ds.n / 20),
        `${ds.source}: every digit present (${counts})`,
      );
    }
    assert.deepEqual([s.train!.source, s.validation!.source, s.test!.source], ['mnist:train', 'mnist:validation', 'mnist:test']);
    assert.equal(s.test!.y![0], 7);
    assert.equal(s.train!.y![0], 5);
  });

  test('validation is the last 5,000 training images, byte for byte', async () => {
    const s = await loadDataset('mnist', { normalize: 'none' });
    const images = readFileSync(join(mnistDir(), 'train-images-idx3-ubyte'));
    const labels = readFileSync(join(mnistDir(), 'train-labels-idx1-ubyte'));
    for (const row of [0, 1234, 4999]) {
      const start = 16 + (55000 + row) * 784;
      assert.deepEqual(Array.from(s.validation!.x.subarray(row * 784, (row + 1) * 784)), Array.from(images.subarray(start, start + 784)));
      assert.equal(s.validation!.y![row], labels[8 + 55000 + row]);
    }
    assert.equal(s.train!.y![54999], labels[8 + 54999]);
  });

  test('parsed once per process', async () => {
    const a = await loadDataset('mnist');
    const b = await loadDataset('MNIST');
    assert.equal(a, b);
  });

  test('zscore: train features get mean 0 and std 1 (constant pixels stay 0)', async () => {
    const s = await loadDataset('mnist', { normalize: 'zscore' });
    const t = s.train!;
    for (const j of [0, 300, 406]) {
      let sum = 0;
      let sq = 0;
      for (let r = 0; r < t.n; r++) sum += t.x[r * 784 + j];
      const mean = sum / t.n;
      for (let r = 0; r < t.n; r++) sq += (t.x[r * 784 + j] - mean) ** 2;
      const std = Math.sqrt(sq / t.n);
      assert.ok(Math.abs(mean) < 1e-4, `feature ${j} mean ${mean}`);
      // pixel 0 is 0 in every training image: std 0 -> 1, so it stays 0
      if (j === 0) assert.equal(std, 0);
      else assert.ok(Math.abs(std - 1) < 1e-3, `feature ${j} std ${std}`);
    }
  });
});

describe('npz and npy', () => {
  test('a Keras-style npz written by numpy', async () => {
    const s = await loadDataset(npTestdata('keras_style.npz'));
    assert.equal(s.normalization, 'unit');
    assert.equal(s.train!.n, 5);
    assert.equal(s.test!.n, 3);
    assert.equal(s.validation, undefined);
    assert.deepEqual(s.train!.sampleShape, [28, 28]);
    assert.deepEqual(Array.from(s.train!.y!), [5, 0, 4, 1, 9]);
    assert.deepEqual(Array.from(s.test!.y!), [7, 2, 1]);
    assert.ok(s.train!.x.every((v) => v >= 0 && v <= 1));
    const raw = await loadDataset(npTestdata('keras_style.npz'), { normalize: 'none' });
    assert.ok(raw.train!.x.some((v) => v > 1));
    assert.ok(raw.train!.x.every((v) => Number.isInteger(v) && v <= 255));
  });

  test('x/y, x_valid and one-hot labels in an npz we write', async () => {
    const x: NpyArray = { dtype: 'float32', shape: [3, 2], data: new Float32Array([0.5, -1, 2, 3, 4, 5]) };
    const oneHot: NpyArray = { dtype: 'float32', shape: [3, 3], data: new Float32Array([0, 1, 0, 0, 0, 1, 1, 0, 0]) };
    const y64: NpyArray = { dtype: 'int64', shape: [3], data: new BigInt64Array([2n, 0n, 1n]) };
    const p = join(dir, 'mixed.npz');
    writeFileSync(p, encodeNpz({ x_train: x, y_train: oneHot, x_valid: x, y_valid: y64, notes: y64 }));
    const s = await loadDataset(p);
    assert.equal(s.normalization, 'none');
    assert.deepEqual(Array.from(s.train!.y!), [1, 2, 0]);
    assert.deepEqual(Array.from(s.validation!.y!), [2, 0, 1]);
    assert.deepEqual(Array.from(s.train!.x), [0.5, -1, 2, 3, 4, 5]);
    assert.equal(s.validation!.source, `${p}:validation`);
    assert.throws(
      () => getSplit(s, 'test'),
      (e: Error) => message(e) === `${p}: has no test split; it has train, validation`,
    );

    const q = join(dir, 'xy.npz');
    writeFileSync(q, encodeNpz({ x, y: y64 }));
    assert.deepEqual(Array.from((await loadDataset(q)).test!.y!), [2, 0, 1]);
  });

  test('an npz with no split names lists what it holds', async () => {
    const p = join(dir, 'odd.npz');
    writeFileSync(p, encodeNpz({ arr_0: { dtype: 'uint8', shape: [1], data: new Uint8Array(1) } }));
    await assert.rejects(loadDataset(p), (e) => {
      assert.equal(
        message(e),
        `${p}: holds arrays arr_0, none named like a dataset split (expected x_train/y_train, x_val/y_val (or x_valid), x_test/y_test, or x/y)`,
      );
      return true;
    });
  });

  test('a folder of .npy files, and a lone x_test.npy that finds its y_test.npy', async () => {
    const d = join(dir, 'npys');
    mkdirSync(d);
    writeFileSync(join(d, 'x_train.npy'), encodeNpy({ dtype: 'uint8', shape: [2, 2], data: new Uint8Array([0, 255, 51, 0]) }));
    writeFileSync(join(d, 'y_train.npy'), encodeNpy({ dtype: 'int32', shape: [2], data: new Int32Array([1, 0]) }));
    writeFileSync(join(d, 'x_test.npy'), encodeNpy({ dtype: 'uint8', shape: [1, 2], data: new Uint8Array([102, 0]) }));
    writeFileSync(join(d, 'y_test.npy'), encodeNpy({ dtype: 'uint8', shape: [1, 1], data: new Uint8Array([1]) }));
    const s = await loadDataset(d);
    assert.deepEqual(Array.from(s.train!.x), [0, 1, 0.2, 0].map(Math.fround));
    assert.deepEqual(Array.from(s.test!.y!), [1]);
    const lone = await loadDataset(join(d, 'x_test.npy'));
    assert.deepEqual([lone.train, lone.validation], [undefined, undefined]);
    assert.deepEqual(Array.from(lone.test!.y!), [1]);

    const pair = join(dir, 'pair');
    mkdirSync(pair);
    copyFileSync(join(d, 'x_train.npy'), join(pair, 'x.npy'));
    copyFileSync(join(d, 'y_train.npy'), join(pair, 'y.npy'));
    const p = await loadDataset(pair);
    assert.deepEqual(Array.from(p.test!.y!), [1, 0]);
  });

  test('an unlabelled .npy; bad labels; truncated .npy', async () => {
    const p = join(dir, 'inputs.npy');
    writeFileSync(p, encodeNpy({ dtype: 'float64', shape: [2, 3], data: new Float64Array([1, 2, 3, 4, 5, 6]) }));
    const s = await loadDataset(p);
    assert.equal(s.test!.y, null);
    assert.equal(s.test!.classes, 0);

    const d = join(dir, 'badlabels');
    mkdirSync(d);
    writeFileSync(join(d, 'x.npy'), encodeNpy({ dtype: 'float32', shape: [2, 1], data: new Float32Array([1, 2]) }));
    writeFileSync(join(d, 'y.npy'), encodeNpy({ dtype: 'float32', shape: [2], data: new Float32Array([1, -1]) }));
    await assert.rejects(
      loadDataset(d),
      (e) => message(e) === `${join(d, 'y.npy')}: label -1 at row 1 is not a class index (an integer >= 0)`,
    );
    writeFileSync(join(d, 'y.npy'), encodeNpy({ dtype: 'int32', shape: [3], data: new Int32Array([1, 0, 1]) }));
    await assert.rejects(loadDataset(d), (e) => message(e) === `${join(d, 'y.npy')}: has 3 labels but ${join(d, 'x.npy')} has 2 samples`);

    const full = encodeNpy({ dtype: 'float32', shape: [10, 4], data: new Float32Array(40) });
    const cut = join(dir, 'cut.npy');
    writeFileSync(cut, full.subarray(0, full.length - 10));
    await assert.rejects(
      loadDataset(cut),
      (e) => message(e) === `${cut}: shape (10, 4) of <f4 needs 160 data bytes but the file has 150 (truncated)`,
    );
  });

  test('NaN in float data is refused', async () => {
    const p = join(dir, 'nan.npy');
    writeFileSync(p, encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array([0, 1, NaN, 3]) }));
    await assert.rejects(loadDataset(p), (e) => message(e) === `${p}:test: holds NaN at row 1, feature 0; the data must be finite numbers`);
  });
});

describe('normalization choices', () => {
  const write = (name: string, values: number[]) => {
    const p = join(dir, name);
    writeFileSync(p, encodeNpy({ dtype: 'float32', shape: [values.length / 2, 2], data: new Float32Array(values) }));
    return p;
  };

  test("'unit' on float data: identity inside [0, 1], /255 for integer pixels, refused otherwise", async () => {
    const inside = write('inside.npy', [0, 0.5, 1, 0.25]);
    assert.deepEqual(Array.from((await loadDataset(inside, { normalize: 'unit' })).test!.x), [0, 0.5, 1, 0.25]);
    const px = write('px.npy', [0, 255, 51, 102]);
    assert.deepEqual(Array.from((await loadDataset(px, { normalize: 'unit' })).test!.x), [0, 1, 0.2, 0.4].map(Math.fround));
    const other = write('other.npy', [-1, 2.5, 0, 1]);
    await assert.rejects(loadDataset(other, { normalize: 'unit' }), (e) => {
      assert.match(message(e), /other\.npy: values run from -1 to 2\.5: 'unit' normalization is for pixel data .*use 'zscore' or 'none'/);
      return true;
    });
    assert.equal((await loadDataset(other)).normalization, 'none');
  });

  test('zscore without a train split uses the data itself', async () => {
    const p = write('z.npy', [1, 7, 3, 7]);
    const s = await loadDataset(p, { normalize: 'zscore' });
    assert.equal(s.normalization, 'zscore');
    assert.deepEqual(Array.from(s.test!.x), [-1, 0, 1, 0]);
  });

  test('unknown normalization', async () => {
    await assert.rejects(loadDataset('mnist', { normalize: 'minmax' as never }), /unknown normalization "minmax"/);
  });
});

describe('checkFits and bad specs', () => {
  test('shape mismatch names both shapes', async () => {
    const test = (await loadDataset('mnist')).test!;
    assert.throws(
      () => checkFits(test, 10, 10, 'model.onnx', [10]),
      (e) => {
        assert.equal(message(e), 'mnist:test: has 784 features per sample ([28, 28]) but model.onnx takes 10 inputs ([10])');
        return true;
      },
    );
    assert.doesNotThrow(() => checkFits(test, 784, 10, 'm.onnx', [1, 28, 28]));
  });

  test('labels beyond the outputs', async () => {
    const test = (await loadDataset('mnist')).test!;
    assert.throws(
      () => checkFits(test, 784, 5, 'five.onnx'),
      (e) => {
        assert.equal(message(e), 'mnist:test: has labels up to 9 (e.g. 7 at row 0) but five.onnx has 5 outputs, so only labels 0..4 fit');
        return true;
      },
    );
    const unlabelled = makeDataset('u', new Float32Array(4), null, [2]);
    assert.doesNotThrow(() => checkFits(unlabelled, 2, 1));
  });

  test('missing path, unknown file, empty folder', async () => {
    const missing = join(dir, 'nothing-here');
    await assert.rejects(loadDataset(missing), (e) => message(e).startsWith(`${missing}: not found; give "mnist"`));
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'hello');
    await assert.rejects(loadDataset(junk), (e) => message(e).startsWith(`${junk}: is not a recognised dataset file`));
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await assert.rejects(loadDataset(empty), (e) => message(e).startsWith(`${empty}: holds no dataset files`));
  });
});
