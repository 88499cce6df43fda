import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DataError } from '../errors';
import { float16ToNumber } from './float16';
import {
  encodeNpy,
  encodeNpz,
  NPY_DTYPES,
  type NpyArray,
  npyToFloat32,
  parseNpy,
  parseNpz,
  readNpyFile,
  readNpzFile,
  writeNpyFile,
  writeNpzFile,
} from './npy';

const testdata = (name: string) => join(__dirname, 'testdata', name);
const bytes = (name: string) => new Uint8Array(readFileSync(testdata(name)));
const A = Array.from({ length: 12 }, (_, i) => i / 4 - 1);

describe('npy files written by numpy', () => {
  for (const v of ['v1', 'v2', 'v3']) {
    test(`format ${v} header`, async () => {
      const arr = await readNpyFile(testdata(`${v}.npy`));
      assert.equal(arr.dtype, 'float32');
      assert.deepEqual(arr.shape, [3, 4]);
      assert.deepEqual(Array.from(arr.data as Float32Array), A);
    });
  }

  test('big-endian float64 is decoded', () => {
    const arr = parseNpy(bytes('bigendian_f8.npy'), 'bigendian_f8.npy');
    assert.equal(arr.dtype, 'float64');
    assert.deepEqual(Array.from(arr.data as Float64Array), A);
  });

  test('Fortran order and object arrays are refused with a reason', () => {
    assert.throws(
      () => parseNpy(bytes('fortran.npy'), 'fortran.npy'),
      (e: Error) => {
        assert.ok(e instanceof DataError);
        assert.match(e.message, /^fortran\.npy: .*Fortran/);
        return true;
      },
    );
    assert.throws(() => parseNpy(bytes('object.npy'), 'object.npy'), /object\.npy: holds an object array/);
  });

  for (const archive of ['numpy_dtypes.npz', 'numpy_dtypes_compressed.npz']) {
    test(`${archive}: every dtype`, async () => {
      const arrays = await readNpzFile(testdata(archive));
      const expectSigned = [0, -1, 2, 3, -100, 127];
      const expectUnsigned = [0, 1, 2, 3, 100, 127];
      for (const key of ['f2', 'f4', 'f8', 'i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8']) {
        const arr = arrays[key];
        assert.ok(arr, `missing ${key}`);
        assert.deepEqual(arr.shape, [2, 3], key);
        const expected = key[0] === 'u' ? expectUnsigned : expectSigned;
        assert.deepEqual(Array.from(npyToFloat32(arr)), expected, key);
      }
      assert.equal(arrays.i8.dtype, 'int64');
      assert.equal(arrays.u1.dtype, 'uint8');
      assert.equal(arrays.f2.dtype, 'float16');
      assert.equal(arrays.b1.dtype, 'bool');
      assert.deepEqual(Array.from(arrays.b1.data as Uint8Array), [1, 0, 1]);
      assert.deepEqual(arrays.scalar_shape.shape, [2, 0, 3]);
      assert.equal(arrays.scalar_shape.data.length, 0);
    });
  }
});

describe('npy/npz round trips', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-npy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function sample(dtype: NpyArray['dtype']): NpyArray {
    const values = [0, 1, 2, 3, 4, 5];
    const shape = [2, 3];
    switch (dtype) {
      case 'float16':
        return { dtype, shape, data: new Uint16Array([0x0000, 0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001]) };
      case 'float32':
        return { dtype, shape, data: new Float32Array([0.1, -2.5, 3e-8, 1e30, -0, 7]) };
      case 'float64':
        return { dtype, shape, data: new Float64Array([0.1, -2.5, 3e-300, 1e300, Math.PI, 7]) };
      case 'int8':
        return { dtype, shape, data: new Int8Array([-128, -1, 0, 1, 2, 127]) };
      case 'uint8':
        return { dtype, shape, data: new Uint8Array([0, 1, 2, 128, 254, 255]) };
      case 'bool':
        return { dtype, shape, data: new Uint8Array([1, 0, 0, 1, 1, 0]) };
      case 'int16':
        return { dtype, shape, data: new Int16Array([-32768, -1, 0, 1, 2, 32767]) };
      case 'uint16':
        return { dtype, shape, data: new Uint16Array([0, 1, 2, 3, 65534, 65535]) };
      case 'int32':
        return { dtype, shape, data: new Int32Array([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1]) };
      case 'uint32':
        return { dtype, shape, data: new Uint32Array([0, 1, 2, 3, 4, 2 ** 32 - 1]) };
      case 'int64':
        return { dtype, shape, data: new BigInt64Array([-(2n ** 63n), -1n, 0n, 1n, 2n, 2n ** 63n - 1n]) };
      case 'uint64':
        return { dtype, shape, data: new BigUint64Array(values.map((v) => BigInt(v) * 2n ** 60n)) };
    }
  }

  for (const dtype of NPY_DTYPES) {
    test(`${dtype} through .npy`, async () => {
      const arr = sample(dtype);
      const path = join(dir, `${dtype}.npy`);
      await writeNpyFile(path, arr);
      const back = await readNpyFile(path);
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.shape, arr.shape);
      assert.deepEqual(Array.from(back.data as ArrayLike<number | bigint>), Array.from(arr.data as ArrayLike<number | bigint>));
      // numpy pads the whole header to a multiple of 64 bytes
      const raw = readFileSync(path);
      assert.equal((raw.length - arr.data.byteLength) % 64, 0);
    });
  }

  test('all dtypes through one .npz, compressed and stored', async () => {
    const arrays = Object.fromEntries(NPY_DTYPES.map((d) => [`a_${d}`, sample(d)]));
    for (const compress of [true, false]) {
      const path = join(dir, `all-${compress}.npz`);
      await writeNpzFile(path, arrays, compress);
      const back = await readNpzFile(path);
      assert.deepEqual(Object.keys(back).sort(), Object.keys(arrays).sort());
      for (const [k, a] of Object.entries(arrays)) {
        assert.equal(back[k].dtype, a.dtype);
        assert.deepEqual(Array.from(back[k].data as ArrayLike<number>), Array.from(a.data as ArrayLike<number>), k);
      }
    }
  });

  test('1-D and 0-length shapes', () => {
    const one = parseNpy(encodeNpy({ dtype: 'float32', shape: [5], data: new Float32Array(5).fill(2) }), 'x');
    assert.deepEqual(one.shape, [5]);
    const empty = parseNpy(encodeNpy({ dtype: 'int32', shape: [0, 4], data: new Int32Array(0) }), 'x');
    assert.deepEqual(empty.shape, [0, 4]);
  });

  test('a header too long for version 1.0 is written as 2.0 and read back', () => {
    const shape = Array.from({ length: 25000 }, () => 1).concat([3]);
    const enc = encodeNpy({ dtype: 'uint8', shape, data: new Uint8Array([1, 2, 3]) });
    assert.equal(enc[6], 2);
    const back = parseNpy(enc, 'big-header.npy');
    assert.equal(back.shape.length, 25001);
    assert.deepEqual(Array.from(back.data as Uint8Array), [1, 2, 3]);
  });

  test('float16 decoding', () => {
    assert.equal(float16ToNumber(0x3c00), 1);
    assert.equal(float16ToNumber(0xc000), -2);
    assert.equal(float16ToNumber(0x7bff), 65504);
    assert.equal(float16ToNumber(0x0001), 2 ** -24);
    assert.equal(float16ToNumber(0x7c00), Infinity);
    assert.ok(Number.isNaN(float16ToNumber(0x7e00)));
  });
});

describe('damaged files', () => {
  const good = encodeNpy({ dtype: 'float32', shape: [100, 10], data: new Float32Array(1000) });

  test('truncated data names the file and the byte counts', () => {
    assert.throws(
      () => parseNpy(good.subarray(0, good.length - 4), 'cut.npy'),
      (e: Error) => {
        assert.ok(e instanceof DataError);
        assert.match(e.message, /^cut\.npy: shape \(100, 10\) of <f4 needs 4000 data bytes but the file has 3996 \(truncated\)/);
        return true;
      },
    );
  });

  test('extra bytes are refused too', () => {
    const longer = new Uint8Array(good.length + 8);
    longer.set(good);
    assert.throws(() => parseNpy(longer, 'long.npy'), /long\.npy: .*needs 4000 data bytes but the file has 4008/);
  });

  test('truncated header', () => {
    assert.throws(() => parseNpy(good.subarray(0, 40), 'h.npy'), /h\.npy: .*header.*truncated/);
  });

  test('a huge declared shape fails before allocating', () => {
    const text = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 1000), }";
    const fake = encodeNpy({ dtype: 'float64', shape: [1], data: new Float64Array(1) });
    const hdr = new TextEncoder().encode(text.padEnd(fake[8] - 1, ' ') + '\n');
    fake.set(hdr, 10);
    assert.throws(
      () => parseNpy(fake, 'huge.npy'),
      /huge\.npy: shape \(100000000000, 1000\) of <f8 needs 800000000000000 data bytes but the file has 8/,
    );
  });

  test('not npy, unsupported dtype, truncated zip', async () => {
    assert.throws(() => parseNpy(new TextEncoder().encode('hello world'), 'a.txt'), /a\.txt: not a \.npy file/);
    const c = encodeNpy({ dtype: 'float32', shape: [1], data: new Float32Array(1) });
    const s = Buffer.from(c).toString('latin1').replace("'<f4'", "'<c8'");
    assert.throws(() => parseNpy(new Uint8Array(Buffer.from(s, 'latin1')), 'c.npy'), /c\.npy: unsupported \.npy dtype "<c8"/);
    const zip = encodeNpz({ x: { dtype: 'float32', shape: [1000], data: new Float32Array(1000).map((_, i) => Math.sin(i)) } });
    assert.throws(() => parseNpz(zip.subarray(0, zip.length - 30), 'cut.npz'), /cut\.npz: /);
    const dir = mkdtempSync(join(tmpdir(), 'prunescope-npz-'));
    try {
      writeFileSync(join(dir, 'bad.npz'), zip.subarray(0, 100));
      await assert.rejects(readNpzFile(join(dir, 'bad.npz')), /bad\.npz: /);
      await assert.rejects(readNpyFile(join(dir, 'missing.npy')), /missing\.npy: file not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
