import assert from 'node:assert/strict';
import { test } from 'node:test';
import { H5Reader } from './h5';
import { sidecarNames } from '../model-files';
import { chunkedStrings, containerPaths, detectLayout, stringList, toSnakeCase } from './weights';

test('class names in snake case, as keras.src.utils.naming.to_snake_case writes them', () => {
  const cases: [string, string][] = [
    ['Dense', 'dense'],
    ['BatchNormalization', 'batch_normalization'],
    ['InputLayer', 'input_layer'],
    ['LeakyReLU', 'leaky_re_lu'],
    ['ReLU', 're_lu'],
    ['Conv2D', 'conv2d'],
    ['MultiHeadAttention', 'multi_head_attention'],
    ['GRU', 'gru'],
    ['Sequential', 'sequential'],
  ];
  for (const [cls, snake] of cases) assert.equal(toSnakeCase(cls), snake, cls);
});

test('layer paths in a Keras 3 weights file: by class, numbered per class in model order', () => {
  assert.deepEqual(
    containerPaths('/layers', ['InputLayer', 'Dense', 'BatchNormalization', 'Dense', 'Dropout', 'Dense', 'BatchNormalization']),
    [
      '/layers/input_layer',
      '/layers/dense',
      '/layers/batch_normalization',
      '/layers/dense_1',
      '/layers/dropout',
      '/layers/dense_2',
      '/layers/batch_normalization_1',
    ],
  );
  assert.deepEqual(containerPaths('/layers/sequential/layers', ['Dense']), ['/layers/sequential/layers/dense']);
});

test('string lists from attributes, whole or split in chunks as Keras splits long ones', () => {
  assert.deepEqual(stringList('a'), ['a']);
  assert.deepEqual(stringList(['a', 'b']), ['a', 'b']);
  assert.deepEqual(stringList(new Float64Array(0)), []);
  assert.equal(stringList([1, 2]), undefined);
  assert.equal(stringList(undefined), undefined);
  const r = new H5Reader({
    '/': { kind: 'group', attrs: { layer_names0: ['a', 'b'], layer_names1: ['c'], other: ['x'] }, keys: [] },
  });
  assert.deepEqual(chunkedStrings(r, '/', 'layer_names'), ['a', 'b', 'c']);
  assert.deepEqual(chunkedStrings(r, '/', 'other'), ['x']);
  assert.equal(chunkedStrings(r, '/', 'missing'), undefined);
});

test('the layout of a weights file, from its structure', () => {
  const group = (attrs: Record<string, string[]> = {}) => ({ kind: 'group' as const, attrs, keys: [] });
  assert.deepEqual(detectLayout(new H5Reader({ '/': group(), '/model_weights': group() })), { kind: 'legacy', root: '/model_weights' });
  assert.deepEqual(detectLayout(new H5Reader({ '/': group({ layer_names: ['dense'] }) })), { kind: 'legacy', root: '/' });
  assert.deepEqual(detectLayout(new H5Reader({ '/': group({ layer_names0: ['dense'] }) })), { kind: 'legacy', root: '/' });
  assert.deepEqual(detectLayout(new H5Reader({ '/': group(), '/layers': group() })), { kind: 'vars' });
  assert.deepEqual(detectLayout(new H5Reader({ '/': group(), '/_layer_checkpoint_dependencies': group() })), { kind: 'vars' });
  assert.equal(detectLayout(new H5Reader({ '/': group(), '/data': group() })), undefined);
});

test('the architecture files looked for beside a weights-only file, in order', () => {
  assert.deepEqual(sidecarNames('/m/weights.h5'), ['weights.json', 'config.json', 'model.json']);
  assert.deepEqual(sidecarNames('/m/model.weights.h5'), ['model.weights.json', 'model.json', 'config.json']);
  assert.deepEqual(sidecarNames('/m/net.weights.hdf5'), ['net.weights.json', 'net.json', 'config.json', 'model.json']);
  assert.deepEqual(sidecarNames('/m/config.h5'), ['config.json', 'model.json']);
  assert.deepEqual(sidecarNames('/m/.weights.h5'), ['.weights.json', 'config.json', 'model.json']);
});
