import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { H5Error, H5Reader, hdf5Offset, hdf5Reason, looksLikeHdf5, snapshotHdf5, writeHdf5 } from './h5';
import { readKerasHdf5 } from './h5-run';
import { h5Bytes, readTree, values } from './testdata/kit';
import { KERAS_SNAPSHOT } from './weights';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-h5-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SIG = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

test('the HDF5 signature, at 0 or after a user block', () => {
  const at0 = new Uint8Array(16);
  at0.set(SIG);
  assert.equal(hdf5Offset(at0), 0);
  assert.ok(looksLikeHdf5(at0));
  const at512 = new Uint8Array(2048);
  at512.set(SIG, 512);
  assert.equal(hdf5Offset(at512), 512);
  assert.ok(!looksLikeHdf5(at512));
  const at100 = new Uint8Array(2048);
  at100.set(SIG, 100);
  assert.equal(hdf5Offset(at100), undefined);
  assert.equal(hdf5Offset(new TextEncoder().encode('<!DOCTYPE html>')), undefined);
  assert.equal(hdf5Offset(new Uint8Array(SIG.slice(0, 7))), undefined);
});

test("HDF5's error trace is reduced to its innermost cause", () => {
  const trace = new Error(`HDF5-DIAG: Error detected in HDF5 (2.0.0):
  #000: /src/H5F.c line 821 in H5Fopen(): unable to synchronously open file
    major: File accessibility
    minor: Unable to open file
  #006: /src/H5Fsuper.c line 388 in H5F__super_read(): file signature not found
    major: File accessibility
    minor: Not an HDF5 file`);
  assert.equal(hdf5Reason(trace), 'file signature not found');
  assert.equal(hdf5Reason(new Error('Error: error - name not defined!\nmore')), 'error - name not defined!');
  assert.equal(hdf5Reason('plain'), 'plain');
});

/** A file with what Keras files hold: string attributes of both kinds, an empty list, float32/float64/int datasets, optimizer state. */
async function sampleBytes(): Promise<Uint8Array> {
  return h5Bytes(join(dir, 'sample.h5'), {
    attrs: { model_config: '{"a": 1}', layer_names: { value: ['dense', 'dense_1'], fixed: true } },
    children: {
      dense: {
        attrs: { weight_names: ['dense/kernel:0', 'dense/bias:0'], empty: { value: new Float64Array(0) } },
        children: {
          dense: {
            children: {
              'kernel:0': { data: { shape: [2, 3], values: values(6, 1) } },
              'bias:0': { data: { shape: [3], values: [0.5, -1.25, 2], dtype: '<d' } },
            },
          },
        },
      },
      dense_1: {
        attrs: { weight_names: { value: ['kernel'], fixed: true } },
        children: { kernel: { data: { shape: [3, 1], values: [1, 2, 3] } } },
      },
      optimizer_weights: { children: { 'iter:0': { data: { shape: [1], values: [7] } } } },
      elsewhere: { children: { big: { data: { shape: [4], values: [1, 2, 3, 4] } } } },
    },
  });
}

test('a snapshot: structure, attributes of every kind, the float datasets asked for', async () => {
  const nodes = await snapshotHdf5(await sampleBytes(), { skip: ['/optimizer_weights'], valuesUnder: () => ['/dense', '/dense_1'] });
  const r = new H5Reader(nodes);
  assert.deepEqual(r.keys('/').sort(), ['dense', 'dense_1', 'elsewhere', 'optimizer_weights']);
  assert.equal(r.attr('/', 'model_config'), '{"a": 1}');
  assert.deepEqual(r.attr('/', 'layer_names'), ['dense', 'dense_1']);
  assert.deepEqual(r.attr('/dense', 'weight_names'), ['dense/kernel:0', 'dense/bias:0']);
  assert.equal((r.attr('/dense', 'empty') as Float64Array).length, 0);
  assert.equal(r.attr('/dense', 'absent'), undefined);
  assert.equal(r.kind('/dense/dense/kernel:0'), 'dataset');
  assert.equal(r.kind('/nope'), 'missing');

  const kernel = r.floats('/dense/dense/kernel:0');
  assert.deepEqual(kernel.shape, [2, 3]);
  assert.equal(kernel.dtype, 'float32');
  assert.deepEqual(Array.from(kernel.values), Array.from(values(6, 1)));
  const bias = r.floats('/dense/dense/bias:0');
  assert.equal(bias.dtype, 'float64 (converted to float32)');
  assert.deepEqual(Array.from(bias.values), [0.5, -1.25, 2]);

  // Optimizer state is not walked; datasets outside the weights are not read.
  assert.deepEqual(r.keys('/optimizer_weights'), []);
  assert.equal(r.kind('/optimizer_weights/iter:0'), 'missing');
  assert.throws(
    () => r.floats('/elsewhere/big'),
    (e: unknown) => e instanceof H5Error && /not read/.test(e.message),
  );
  assert.throws(() => r.keys('/dense/dense/kernel:0'), H5Error);
});

test('Keras files are read in a worker thread with the same result; bad bytes are an H5Error and leave nothing behind', async () => {
  const bytes = await sampleBytes();
  const viaWorker = await readKerasHdf5(bytes);
  const here = new H5Reader(await snapshotHdf5(bytes, KERAS_SNAPSHOT));
  // The sample has layer_names on its root: a weights-only legacy file, whose weights are everything but the optimizer's.
  for (const r of [viaWorker, here]) {
    assert.deepEqual(Array.from(r.floats('/dense_1/kernel').values), [1, 2, 3]);
    assert.deepEqual(Array.from(r.floats('/elsewhere/big').values), [1, 2, 3, 4]);
  }
  await assert.rejects(
    readKerasHdf5(new TextEncoder().encode('not hdf5 at all')),
    (e: unknown) => e instanceof H5Error && /signature/.test(e.message),
  );
  await assert.rejects(snapshotHdf5(bytes.subarray(0, 800), KERAS_SNAPSHOT), H5Error);
  const h5 = await import('h5wasm');
  const { FS } = await h5.ready;
  assert.deepEqual(
    FS.readdir('/prunescope').filter((n: string) => n !== '.' && n !== '..'),
    [],
  );
});

test('writeHdf5: groups and float32 datasets in the oldest file format, read back by h5wasm directly', async () => {
  const bytes = await writeHdf5((w) => {
    w.group('/layers');
    w.group('/layers/dense');
    w.float32('/layers/dense/k', [2, 2], Float32Array.of(1, 2, 3, 4));
  });
  const path = join(dir, 'written.h5');
  writeFileSync(path, bytes);
  assert.equal(readFileSync(path)[8], 0);
  const tree = await readTree(path);
  assert.deepEqual(tree.get('/layers')!.attrs, {});
  const k = tree.get('/layers/dense/k')!;
  assert.equal(k.dtype, '<f');
  assert.deepEqual(k.shape, [2, 2]);
  assert.deepEqual(Array.from(k.values!), [1, 2, 3, 4]);
});
