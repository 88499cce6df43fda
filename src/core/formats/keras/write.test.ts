import assert from 'node:assert/strict';
import { unzipSync } from 'fflate';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../../backend';
import { PruneScopeError } from '../../errors';
import { listZip } from '../../io/inflate';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { readModel, writeModel } from '../registry';
import { readTree, values } from './testdata/kit';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-keras-write-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => {
  await initBackend();
});

/** An MLP with every kind of layer the writer has to spell: Flatten input, dropout, leaky_relu, no bias. */
function sample(): MLP {
  return {
    name: 'my model/v2',
    inputShape: [2, 3],
    inputSize: 6,
    layers: [
      { name: 'fc1', inputSize: 6, units: 5, weights: values(30, 1), bias: values(5, 2), activation: 'relu', dropout: 0.3 },
      { name: 'fc2', inputSize: 5, units: 4, weights: values(20, 3), bias: values(4, 4), activation: 'leaky_relu', alpha: 0.05 },
      { name: 'fc3', inputSize: 4, units: 4, weights: values(16, 5), bias: values(4, 6), activation: 'tanh' },
      { name: 'out', inputSize: 4, units: 3, weights: values(12, 7), bias: null, activation: 'softmax' },
    ],
  };
}

test('write then read gives the same MLP, and the same outputs', async () => {
  const mlp = sample();
  const path = join(dir, 'roundtrip.keras');
  const result = await writeModel(mlp, path);
  assert.deepEqual(result.files, [path]);
  assert.equal(result.bytes, statSync(path).size);
  const back = await readModel(path);
  assert.equal(back.source?.format, 'keras');
  assert.equal(back.name, 'my_model_v2');
  assert.deepEqual(back.inputShape, [2, 3]);
  assert.deepEqual(
    back.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.alpha, l.dropout, l.bias === null]),
    [
      ['dense', 6, 5, 'relu', undefined, 0.3, false],
      ['dense_1', 5, 4, 'leaky_relu', 0.05, undefined, false],
      ['dense_2', 4, 4, 'tanh', undefined, undefined, false],
      ['dense_3', 4, 3, 'softmax', undefined, undefined, true],
    ],
  );
  mlp.layers.forEach((l, i) => {
    const b = back.layers[i];
    l.weights.forEach((w, j) => assert.ok(Math.abs(w - b.weights[j]) <= 1e-6));
    l.bias?.forEach((w, j) => assert.ok(Math.abs(w - b.bias![j]) <= 1e-6));
  });
  const x = values(5 * 6, 9);
  const want = predict(mlp, x, 5);
  const got = predict(back, x, 5);
  want.forEach((v, i) => assert.ok(Math.abs(v - got[i]) <= 1e-6, `${v} vs ${got[i]}`));
});

/** The archive's entries, and the weights file written out for h5wasm. */
function unpack(path: string): { entries: Record<string, Uint8Array>; order: string[]; methods: number[]; h5: string } {
  const bytes = new Uint8Array(readFileSync(path));
  const listed = listZip(bytes, path);
  const entries = unzipSync(bytes);
  const h5 = join(dir, `${listed.length}-${Date.now()}-weights.h5`);
  writeFileSync(h5, entries['model.weights.h5']);
  return { entries, order: listed.map((e) => e.name), methods: listed.map((e) => e.method), h5 };
}

const DENSE_KEYS = [
  'name',
  'trainable',
  'dtype',
  'units',
  'activation',
  'use_bias',
  'kernel_initializer',
  'bias_initializer',
  'kernel_regularizer',
  'bias_regularizer',
  'kernel_constraint',
  'bias_constraint',
];

test('the archive has the layout Keras 3 writes: entries, metadata.json, config.json', async () => {
  const path = join(dir, 'layout.keras');
  await writeModel(sample(), path);
  const { entries, order, methods } = unpack(path);
  // saving_lib writes metadata.json, config.json, then model.weights.h5, stored.
  assert.deepEqual(order, ['metadata.json', 'config.json', 'model.weights.h5']);
  assert.deepEqual(methods, [0, 0, 0]);

  const metadata = JSON.parse(new TextDecoder().decode(entries['metadata.json']));
  assert.deepEqual(Object.keys(metadata), ['keras_version', 'date_saved']);
  assert.match(metadata.keras_version, /^3\.\d+\.\d+$/);
  assert.match(metadata.date_saved, /^\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}$/);

  const config = JSON.parse(new TextDecoder().decode(entries['config.json']));
  assert.deepEqual(Object.keys(config), ['module', 'class_name', 'config', 'registered_name', 'build_config']);
  assert.equal(config.module, 'keras');
  assert.equal(config.class_name, 'Sequential');
  assert.equal(config.registered_name, null);
  assert.deepEqual(config.build_config, { input_shape: [null, 2, 3] });
  assert.deepEqual(Object.keys(config.config), ['name', 'trainable', 'dtype', 'layers', 'build_input_shape']);
  assert.deepEqual(config.config.build_input_shape, [null, 2, 3]);
  const layers = config.config.layers as {
    module: string;
    class_name: string;
    config: Record<string, unknown>;
    registered_name: null;
    build_config?: unknown;
  }[];
  assert.deepEqual(
    layers.map((l) => [l.class_name, l.config.name]),
    [
      ['InputLayer', 'input_layer'],
      ['Flatten', 'flatten'],
      ['Dense', 'dense'],
      ['Dropout', 'dropout'],
      ['Dense', 'dense_1'],
      ['LeakyReLU', 'leaky_re_lu'],
      ['Dense', 'dense_2'],
      ['Dense', 'dense_3'],
    ],
  );
  for (const l of layers) {
    assert.equal(l.module, 'keras.layers');
    assert.equal(l.registered_name, null);
  }
  assert.deepEqual(layers[0].config, { batch_shape: [null, 2, 3], dtype: 'float32', sparse: false, name: 'input_layer' });
  assert.deepEqual(Object.keys(layers[0]), ['module', 'class_name', 'config', 'registered_name']);
  assert.deepEqual(layers[1].build_config, { input_shape: [null, 2, 3] });
  const denseLayers = layers.filter((l) => l.class_name === 'Dense');
  for (const l of denseLayers) {
    assert.deepEqual(Object.keys(l.config), DENSE_KEYS);
    assert.deepEqual(l.config.kernel_initializer, {
      module: 'keras.initializers',
      class_name: 'GlorotUniform',
      config: { seed: null },
      registered_name: null,
    });
  }
  assert.deepEqual(
    denseLayers.map((l) => [l.config.units, l.config.activation, l.config.use_bias, l.build_config]),
    [
      [5, 'relu', true, { input_shape: [null, 6] }],
      [4, 'linear', true, { input_shape: [null, 5] }],
      [4, 'tanh', true, { input_shape: [null, 4] }],
      [3, 'softmax', false, { input_shape: [null, 4] }],
    ],
  );
  assert.deepEqual(layers[3].config, { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.3, seed: null, noise_shape: null });
  assert.deepEqual(layers[5].config, { name: 'leaky_re_lu', trainable: true, dtype: 'float32', negative_slope: 0.05 });
});

test('model.weights.h5 has the groups, datasets and dtypes Keras 3 writes for an uncompiled Sequential', async () => {
  const mlp = sample();
  const path = join(dir, 'weights.keras');
  await writeModel(mlp, path);
  const { h5 } = unpack(path);
  // The oldest HDF5 superblock (version 0): every HDF5 library h5py ships reads it.
  assert.equal(readFileSync(h5)[8], 0);
  const tree = await readTree(h5);
  const groups = [...tree].filter(([, e]) => e.kind === 'group').map(([p]) => p);
  const datasets = [...tree].filter(([, e]) => e.kind === 'dataset').map(([p]) => p);
  assert.deepEqual(groups.sort(), [
    '/',
    '/layers',
    '/layers/dense',
    '/layers/dense/vars',
    '/layers/dense_1',
    '/layers/dense_1/vars',
    '/layers/dense_2',
    '/layers/dense_2/vars',
    '/layers/dense_3',
    '/layers/dense_3/vars',
    '/layers/dropout',
    '/layers/dropout/vars',
    '/layers/flatten',
    '/layers/flatten/vars',
    '/layers/leaky_re_lu',
    '/layers/leaky_re_lu/vars',
    '/vars',
  ]);
  assert.deepEqual(datasets.sort(), [
    '/layers/dense/vars/0',
    '/layers/dense/vars/1',
    '/layers/dense_1/vars/0',
    '/layers/dense_1/vars/1',
    '/layers/dense_2/vars/0',
    '/layers/dense_2/vars/1',
    '/layers/dense_3/vars/0',
  ]);
  for (const [p, e] of tree) assert.deepEqual(e.attrs, {}, `${p} has no attributes`);
  mlp.layers.forEach((l, i) => {
    const at = `/layers/${i === 0 ? 'dense' : `dense_${i}`}/vars`;
    const kernel = tree.get(`${at}/0`)!;
    assert.equal(kernel.dtype, '<f');
    assert.deepEqual(kernel.shape, [l.inputSize, l.units]);
    assert.deepEqual(Array.from(kernel.values!), Array.from(l.weights));
    if (l.bias) {
      const bias = tree.get(`${at}/1`)!;
      assert.equal(bias.dtype, '<f');
      assert.deepEqual(bias.shape, [l.units]);
      assert.deepEqual(Array.from(bias.values!), Array.from(l.bias));
    }
  });
});

test('a flat input needs no Flatten; relu6 and log_softmax are Keras activations too', async () => {
  const mlp: MLP = {
    name: 'flat',
    inputShape: [3],
    inputSize: 3,
    layers: [
      { name: 'a', inputSize: 3, units: 2, weights: values(6, 11), bias: values(2, 12), activation: 'relu6' },
      { name: 'b', inputSize: 2, units: 2, weights: values(4, 13), bias: values(2, 14), activation: 'log_softmax' },
    ],
  };
  const path = join(dir, 'flat.keras');
  await writeModel(mlp, path);
  const config = JSON.parse(new TextDecoder().decode(unpack(path).entries['config.json']));
  assert.deepEqual(
    config.config.layers.map((l: { class_name: string; config: { activation?: string } }) => [l.class_name, l.config.activation]),
    [
      ['InputLayer', undefined],
      ['Dense', 'relu6'],
      ['Dense', 'log_softmax'],
    ],
  );
  const back = await readModel(path);
  assert.deepEqual(
    back.layers.map((l) => l.activation),
    ['relu6', 'log_softmax'],
  );
});

test('an MLP that does not hold together is not written', async () => {
  const bad = sample();
  bad.layers[1].inputSize = 7;
  const path = join(dir, 'bad.keras');
  await assert.rejects(writeModel(bad, path), (e: unknown) => e instanceof PruneScopeError && /cannot write the model/.test(e.message));
  assert.throws(() => statSync(path));
});
