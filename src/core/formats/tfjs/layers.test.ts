import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compat, fixture } from '../../../../test/fixtures';
import { built } from '../../../../test/kits/encode/models';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { tfjsLayersFormat } from './layers';
import { tfjsGraphFormat } from './graph';
import {
  f32Bytes,
  fileIOHandler,
  maxAbsDiff,
  randomArray,
  seededRandom,
  tempDir,
  writeSyntheticModel,
  type SynthWeight,
} from '../../../../test/kits/tfjs';
import { float32ToFloat16 } from './weights';

const TOL = 1e-5;

function head(path: string, bytes = 64 * 1024): Uint8Array {
  return new Uint8Array(readFileSync(path)).subarray(0, bytes);
}

/** Our predict against tfjs's own LayersModel on the same random input. */
async function assertMatchesTfjs(mlp: MLP, jsonPath: string, seed = 1): Promise<number> {
  const n = 16;
  const x = randomArray(n * mlp.inputSize, seededRandom(seed), 2);
  const ours = predict(mlp, x, n);
  const model = await tf.loadLayersModel(fileIOHandler(jsonPath));
  const input = tf.tensor(x, [n, ...mlp.inputShape]);
  const y = model.predict(input) as tf.Tensor;
  const theirs = y.dataSync();
  tf.dispose([input, y]);
  model.dispose();
  assert.equal(ours.length, theirs.length);
  const diff = maxAbsDiff(ours, theirs);
  assert.ok(diff <= TOL, `max |ours - tfjs| = ${diff}`);
  return diff;
}

async function rejects(path: string, ...needles: (string | RegExp)[]): Promise<ModelFormatError> {
  let error: unknown;
  try {
    await tfjsLayersFormat.read(path);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ModelFormatError, `expected a ModelFormatError, got ${String(error)}`);
  for (const n of needles) {
    if (typeof n === 'string') assert.ok(error.message.includes(n), `"${error.message}" should mention ${n}`);
    else assert.match(error.message, n);
  }
  return error;
}

function assertSameMLP(a: MLP, b: MLP): void {
  assert.deepEqual(a.inputShape, b.inputShape);
  assert.equal(a.inputSize, b.inputSize);
  assert.equal(a.layers.length, b.layers.length);
  a.layers.forEach((l, i) => {
    const m = b.layers[i];
    assert.equal(l.name, m.name);
    assert.equal(l.inputSize, m.inputSize);
    assert.equal(l.units, m.units);
    assert.equal(l.activation, m.activation);
    assert.equal(l.alpha, m.alpha);
    assert.equal(l.dropout, m.dropout);
    assert.deepEqual(Buffer.from(f32Bytes(l.weights)), Buffer.from(f32Bytes(m.weights)), `${l.name} weights differ`);
    assert.equal(l.bias === null, m.bias === null);
    if (l.bias && m.bias) assert.deepEqual(Buffer.from(f32Bytes(l.bias)), Buffer.from(f32Bytes(m.bias)), `${l.name} bias differs`);
  });
}

const denseConfig = (name: string, units: number, activation: string, extra: Record<string, unknown> = {}) => ({
  name,
  trainable: true,
  units,
  activation,
  use_bias: true,
  kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
  bias_initializer: { class_name: 'Zeros', config: {} },
  kernel_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  bias_constraint: null,
  ...extra,
});

/** Weights for a chain of Dense layers [in, ...units], named `<layer>/kernel` and `<layer>/bias`. */
function denseWeights(names: string[], sizes: number[], seed: number): { weights: SynthWeight[]; values: Float32Array[] } {
  const rand = seededRandom(seed);
  const weights: SynthWeight[] = [];
  const values: Float32Array[] = [];
  names.forEach((name, i) => {
    const k = randomArray(sizes[i] * sizes[i + 1], rand, 0.8);
    const b = randomArray(sizes[i + 1], rand, 0.3);
    weights.push({ name: `${name}/kernel`, shape: [sizes[i], sizes[i + 1]], bytes: f32Bytes(k) });
    weights.push({ name: `${name}/bias`, shape: [sizes[i + 1]], bytes: f32Bytes(b) });
    values.push(k, b);
  });
  return { weights, values };
}

describe('tfjs LayersModel reader', () => {
  let dir: string;
  before(async () => {
    await initBackend();
    dir = await tempDir();
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  /** `source` is fixture (the third-party files) or built (their twins from the test encoder). */
  function detectsLayersModels(source: (...parts: string[]) => string): void {
    const layers = [
      source('tfjs/abalone-node/model.json'),
      source('tfjs/rn59-layers/bundle_model_test.json'),
      source('unsupported/keras-lenet-layers/model.json'),
    ];
    for (const p of layers) {
      assert.equal(tfjsLayersFormat.detect(p, head(p)), true, p);
      assert.equal(tfjsLayersFormat.detect(p, head(p, 300)), true, `${p} (300 bytes)`);
      assert.equal(tfjsGraphFormat.detect(p, head(p)), false, p);
    }
    for (const p of [source('tfjs/rn59-graph/model.json'), source('tfjs/matmul-graph/model.json')]) {
      assert.equal(tfjsLayersFormat.detect(p, head(p)), false, p);
      assert.equal(tfjsLayersFormat.detect(p, head(p, 300)), false, `${p} (300 bytes)`);
    }
    assert.equal(tfjsLayersFormat.detect('/x/weights.bin', new Uint8Array([1, 2, 3])), false);
  }

  it('detects layers models by content, also from a cut-short head, and leaves graph models alone', compat(), () => {
    detectsLayersModels(fixture);
  });

  it('detects the same layouts written by the test encoder, also from a cut-short head', () => {
    detectsLayersModels(built);
  });

  async function readsAbalone(path: string): Promise<void> {
    const mlp = await tfjsLayersFormat.read(path);
    assert.deepEqual(mlp.inputShape, [8]);
    assert.equal(mlp.inputSize, 8);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.bias?.length]),
      [
        ['dense_Dense1', 8, 50, 'sigmoid', 50],
        ['dense_Dense2', 50, 50, 'sigmoid', 50],
        ['dense_Dense3', 50, 1, 'linear', 1],
      ],
    );
    assert.equal(mlp.source?.format, 'tfjs-layers');
    assert.match(mlp.source?.producer ?? '', /tfjs-layers v1\.3\.2/);
    await assertMatchesTfjs(mlp, path);
  }

  async function readsRn59Layers(path: string): Promise<void> {
    const mlp = await tfjsLayersFormat.read(path);
    assert.deepEqual(mlp.inputShape, [10]);
    assert.deepEqual(
      mlp.layers.map((l) => [l.inputSize, l.units, l.activation]),
      [[10, 1, 'linear']],
    );
    await assertMatchesTfjs(mlp, path);
  }

  it('reads abalone-node (tfjs-layers 1.3.2): 8 -> 50 sigmoid -> 50 sigmoid -> 1 linear, same outputs as tfjs', compat(), async () => {
    await readsAbalone(fixture('tfjs/abalone-node/model.json'));
  });

  it('reads the tfjs-layers 1.3.2 layout written by the test encoder: 8 -> 50 sigmoid -> 50 sigmoid -> 1 linear, same outputs as tfjs', async () => {
    await readsAbalone(built('tfjs/abalone-node/model.json'));
  });

  it('reads rn59-layers (Sequential config as a list, ./ weights path): one Dense 10 -> 1, same outputs as tfjs', compat(), async () => {
    await readsRn59Layers(fixture('tfjs/rn59-layers/bundle_model_test.json'));
  });

  it('reads the rn59-layers layout written by the test encoder (config as a list, ./ weights path): one Dense 10 -> 1, same outputs as tfjs', async () => {
    await readsRn59Layers(built('tfjs/rn59-layers/bundle_model_test.json'));
  });

  it('refuses the Embedding + GRU model naming the layer', compat(), async () => {
    const path = fixture('unsupported/gru-layers/model.json');
    await rejects(path, path, "layer 1 of 2 'embedding_Embedding2' (Embedding)");
  });

  it('refuses the Keras LeNet naming its first convolution', compat(), async () => {
    const path = fixture('unsupported/keras-lenet-layers/model.json');
    await rejects(path, path, "layer 3 of 10 'Conv2D_1' (Conv2D)", 'not part of an MLP');
  });

  it('refuses a converted Keras Functional model written by the test encoder naming its first convolution', async () => {
    const path = built('unsupported/keras-lenet-layers/model.json');
    await rejects(path, path, "layer 3 of 5 'Conv2D_1' (Conv2D)", 'not part of an MLP');
  });

  it('reads a Keras 2 Functional chain under model_config: Dropout rate and a folded Activation, like tfjs', async () => {
    const { weights } = denseWeights(['dense_1', 'dense_2'], [6, 5, 3], 11);
    const path = await writeSyntheticModel(
      dir,
      'k2-functional.json',
      {
        format: 'layers-model',
        generatedBy: 'keras v2.2.4',
        convertedBy: 'TensorFlow.js Converter v1.0.0',
        modelTopology: {
          keras_version: '2.2.4',
          backend: 'tensorflow',
          model_config: {
            class_name: 'Model',
            config: {
              name: 'model_1',
              layers: [
                {
                  name: 'input_1',
                  class_name: 'InputLayer',
                  config: { batch_input_shape: [null, 6], dtype: 'float32', sparse: false, name: 'input_1' },
                  inbound_nodes: [],
                },
                {
                  name: 'dense_1',
                  class_name: 'Dense',
                  config: denseConfig('dense_1', 5, 'relu'),
                  inbound_nodes: [[['input_1', 0, 0, {}]]],
                },
                {
                  name: 'dropout_1',
                  class_name: 'Dropout',
                  config: { name: 'dropout_1', trainable: true, rate: 0.3, noise_shape: null, seed: null },
                  inbound_nodes: [[['dense_1', 0, 0, {}]]],
                },
                {
                  name: 'dense_2',
                  class_name: 'Dense',
                  config: denseConfig('dense_2', 3, 'linear'),
                  inbound_nodes: [[['dropout_1', 0, 0, {}]]],
                },
                {
                  name: 'softmax',
                  class_name: 'Activation',
                  config: { name: 'softmax', trainable: true, activation: 'softmax' },
                  inbound_nodes: [[['dense_2', 0, 0, {}]]],
                },
              ],
              input_layers: [['input_1', 0, 0]],
              output_layers: [['softmax', 0, 0]],
            },
          },
        },
      },
      [{ paths: ['group1-shard1of1.bin'], weights }],
    );
    const mlp = await tfjsLayersFormat.read(path);
    assert.equal(mlp.name, 'model_1');
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.dropout]),
      [
        ['dense_1', 6, 5, 'relu', 0.3],
        ['dense_2', 5, 3, 'softmax', undefined],
      ],
    );
    await assertMatchesTfjs(mlp, path);
  });

  it('reads Keras 3 configs (batch_shape, DTypePolicy, __keras_tensor__ inbound nodes, no model_config) as their Keras 2 twin', async () => {
    const { weights } = denseWeights(['dense', 'dense_1'], [7, 4, 2], 12);
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const kt = (from: string, shape: unknown[]) => ({
      class_name: '__keras_tensor__',
      config: { shape, dtype: 'float32', keras_history: [from, 0, 0] },
    });
    const functional3 = await writeSyntheticModel(
      dir,
      'k3-functional.json',
      {
        format: 'layers-model',
        generatedBy: 'keras v3.3.3',
        convertedBy: 'TensorFlow.js Converter v4.20.0',
        modelTopology: {
          class_name: 'Functional',
          config: {
            name: 'functional',
            trainable: true,
            layers: [
              {
                module: 'keras.layers',
                class_name: 'InputLayer',
                config: { batch_shape: [null, 7], dtype: 'float32', sparse: false, name: 'input_layer' },
                registered_name: null,
                name: 'input_layer',
                inbound_nodes: [],
              },
              {
                module: 'keras.layers',
                class_name: 'Dense',
                config: denseConfig('dense', 4, 'tanh', { dtype: policy }),
                registered_name: null,
                build_config: { input_shape: [null, 7] },
                name: 'dense',
                inbound_nodes: [{ args: [kt('input_layer', [null, 7])], kwargs: {} }],
              },
              {
                module: 'keras.layers',
                class_name: 'Dense',
                config: denseConfig('dense_1', 2, 'linear', { dtype: policy }),
                registered_name: null,
                build_config: { input_shape: [null, 4] },
                name: 'dense_1',
                inbound_nodes: [{ args: [kt('dense', [null, 4])], kwargs: {} }],
              },
              {
                module: 'keras.layers',
                class_name: 'ReLU',
                config: { name: 're_lu', trainable: true, dtype: policy, max_value: 6, negative_slope: 0, threshold: 0 },
                registered_name: null,
                name: 're_lu',
                inbound_nodes: [{ args: [kt('dense_1', [null, 2])], kwargs: {} }],
              },
            ],
            input_layers: ['input_layer', 0, 0],
            output_layers: [['re_lu', 0, 0]],
          },
        },
        keras_version: '3.3.3',
      },
      [{ paths: ['k3.bin'], weights }],
    );
    // The same network in the forms tfjs 4.22 itself reads.
    const twin2 = await writeSyntheticModel(
      dir,
      'k3-twin.json',
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Sequential',
          config: {
            name: 'functional',
            layers: [
              { class_name: 'Dense', config: denseConfig('dense', 4, 'tanh', { batch_input_shape: [null, 7], dtype: 'float32' }) },
              { class_name: 'Dense', config: denseConfig('dense_1', 2, 'linear') },
              { class_name: 'ReLU', config: { name: 're_lu', max_value: 6 } },
            ],
          },
        },
      },
      [{ paths: ['k3-twin.bin'], weights }],
    );
    const mlp3 = await tfjsLayersFormat.read(functional3);
    const mlp2 = await tfjsLayersFormat.read(twin2);
    assert.deepEqual(
      mlp3.layers.map((l) => [l.inputSize, l.units, l.activation]),
      [
        [7, 4, 'tanh'],
        [4, 2, 'relu6'],
      ],
    );
    assertSameMLP(mlp3, mlp2);
    await assertMatchesTfjs(mlp2, twin2);

    // Keras 3 Sequential: config {name, layers} with an InputLayer carrying batch_shape.
    const seq3 = await writeSyntheticModel(
      dir,
      'k3-sequential.json',
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Sequential',
          config: {
            name: 'sequential',
            trainable: true,
            dtype: policy,
            layers: [
              {
                module: 'keras.layers',
                class_name: 'InputLayer',
                config: { batch_shape: [null, 7], dtype: 'float32', sparse: false, name: 'input_layer' },
                registered_name: null,
              },
              {
                module: 'keras.layers',
                class_name: 'Dense',
                config: denseConfig('dense', 4, 'tanh', { dtype: policy }),
                registered_name: null,
                build_config: { input_shape: [null, 7] },
              },
              {
                module: 'keras.layers',
                class_name: 'Dense',
                config: denseConfig('dense_1', 2, 'linear', { dtype: policy }),
                registered_name: null,
                build_config: { input_shape: [null, 4] },
              },
              {
                module: 'keras.layers',
                class_name: 'ReLU',
                config: { name: 're_lu', dtype: policy, max_value: 6, negative_slope: 0, threshold: 0 },
                registered_name: null,
              },
            ],
            build_input_shape: [null, 7],
          },
        },
      },
      [{ paths: ['k3s.bin'], weights }],
    );
    assertSameMLP(await tfjsLayersFormat.read(seq3), mlp2);
  });

  it('folds ReLU(negative_slope) and LeakyReLU into a linear Dense as leaky_relu', async () => {
    const { weights } = denseWeights(['a', 'b'], [3, 4, 2], 13);
    const path = await writeSyntheticModel(
      dir,
      'leaky.json',
      {
        modelTopology: {
          class_name: 'Sequential',
          config: [
            { class_name: 'Dense', config: denseConfig('a', 4, 'linear', { batch_input_shape: [null, 3] }) },
            { class_name: 'LeakyReLU', config: { name: 'lr', alpha: 0.1 } },
            { class_name: 'Dense', config: denseConfig('b', 2, 'linear') },
          ],
        },
      },
      [{ paths: ['leaky.bin'], weights }],
    );
    const mlp = await tfjsLayersFormat.read(path);
    assert.deepEqual(
      mlp.layers.map((l) => [l.activation, l.alpha]),
      [
        ['leaky_relu', 0.1],
        ['linear', undefined],
      ],
    );
    await assertMatchesTfjs(mlp, path);

    const slope = await writeSyntheticModel(
      dir,
      'relu-slope.json',
      {
        modelTopology: {
          class_name: 'Sequential',
          config: [
            { class_name: 'Dense', config: denseConfig('a', 4, 'linear', { batch_input_shape: [null, 3] }) },
            { class_name: 'ReLU', config: { name: 'r', max_value: null, negative_slope: 0.1, threshold: 0 } },
            { class_name: 'Dense', config: denseConfig('b', 2, 'linear') },
          ],
        },
      },
      [{ paths: ['relu-slope.bin'], weights }],
    );
    assertSameMLP(await tfjsLayersFormat.read(slope), mlp);
  });

  it('keeps a multi-dimensional input shape through Flatten: [28, 28] gives inputSize 784', async () => {
    const { weights } = denseWeights(['d1', 'd2'], [784, 6, 3], 14);
    const path = await writeSyntheticModel(
      dir,
      'flatten.json',
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Sequential',
          config: {
            name: 'flat',
            layers: [
              { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 28, 28], dtype: 'float32' } },
              { class_name: 'Dense', config: denseConfig('d1', 6, 'relu') },
              { class_name: 'Dense', config: denseConfig('d2', 3, 'sigmoid') },
            ],
          },
        },
      },
      [{ paths: ['flatten.bin'], weights }],
    );
    const mlp = await tfjsLayersFormat.read(path);
    assert.deepEqual(mlp.inputShape, [28, 28]);
    assert.equal(mlp.inputSize, 784);
    assert.equal(mlp.layers[0].inputSize, 784);
    await assertMatchesTfjs(mlp, path);
  });

  it('reads several shards with ./ prefixes and no .bin, and a manifest in another order than the layers', async () => {
    const { weights, values } = denseWeights(['first', 'second', 'third'], [5, 6, 4, 2], 15);
    const topology = {
      class_name: 'Sequential',
      config: {
        name: 'order',
        layers: [
          { class_name: 'Dense', config: denseConfig('first', 6, 'relu', { batch_input_shape: [null, 5] }) },
          { class_name: 'Dense', config: denseConfig('second', 4, 'tanh') },
          { class_name: 'Dense', config: denseConfig('third', 2, 'linear') },
        ],
      },
    };
    const plain = await writeSyntheticModel(dir, 'plain.json', { format: 'layers-model', modelTopology: topology }, [
      { paths: ['plain.bin'], weights },
    ]);
    // Three shards that cut through weights, written as the converter names them.
    const sharded = await writeSyntheticModel(dir, 'sharded.json', { format: 'layers-model', modelTopology: topology }, [
      { paths: ['./group1-shard1of3', './group1-shard2of3', 'group1-shard3of3'], weights },
    ]);
    // Two groups, each listing its weights in reverse layer order.
    const shuffled = await writeSyntheticModel(dir, 'shuffled.json', { format: 'layers-model', modelTopology: topology }, [
      { paths: ['./shuffled-g1'], weights: [weights[5], weights[4], weights[1]] },
      { paths: ['shuffled-g2-a.bin', 'shuffled-g2-b.bin'], weights: [weights[3], weights[0], weights[2]] },
    ]);
    const reference = await tfjsLayersFormat.read(plain);
    assert.deepEqual(Array.from(reference.layers[0].weights), Array.from(values[0]));
    assertSameMLP(await tfjsLayersFormat.read(sharded), reference);
    assertSameMLP(await tfjsLayersFormat.read(shuffled), reference);
    await assertMatchesTfjs(await tfjsLayersFormat.read(sharded), sharded);
    await assertMatchesTfjs(await tfjsLayersFormat.read(shuffled), shuffled);
  });

  it('dequantizes uint8, uint16 (with original_dtype) and float16 weights as tfjs does', async () => {
    const rand = seededRandom(16);
    const sizes = [5, 8, 3];
    const quantize = (v: Float32Array, bits: 8 | 16) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of v) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      const levels = bits === 8 ? 255 : 65535;
      const scale = (hi - lo) / levels;
      const q = bits === 8 ? new Uint8Array(v.length) : new Uint16Array(v.length);
      for (let i = 0; i < v.length; i++) q[i] = Math.round((v[i] - lo) / scale);
      const expected = new Float32Array(v.length);
      for (let i = 0; i < v.length; i++) expected[i] = q[i] * scale + lo;
      return { bytes: new Uint8Array(q.buffer), min: lo, scale, expected };
    };
    const k1 = quantize(randomArray(sizes[0] * sizes[1], rand), 8);
    const k2 = quantize(randomArray(sizes[1] * sizes[2], rand), 16);
    const half = (v: Float32Array) => {
      const h = new Uint16Array(v.length);
      for (let i = 0; i < v.length; i++) h[i] = float32ToFloat16(v[i]);
      return new Uint8Array(h.buffer);
    };
    const b1 = randomArray(sizes[1], rand, 0.3);
    const b2 = randomArray(sizes[2], rand, 0.3);
    const path = await writeSyntheticModel(
      dir,
      'quantized.json',
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Sequential',
          config: {
            name: 'q',
            layers: [
              { class_name: 'Dense', config: denseConfig('d1', 8, 'relu', { batch_input_shape: [null, 5] }) },
              { class_name: 'Dense', config: denseConfig('d2', 3, 'linear') },
            ],
          },
        },
      },
      [
        {
          paths: ['quantized.bin'],
          weights: [
            { name: 'd1/kernel', shape: [5, 8], bytes: k1.bytes, quantization: { dtype: 'uint8', min: k1.min, scale: k1.scale } },
            { name: 'd1/bias', shape: [8], bytes: half(b1), quantization: { dtype: 'float16' } },
            {
              name: 'd2/kernel',
              shape: [8, 3],
              bytes: k2.bytes,
              quantization: { dtype: 'uint16', original_dtype: 'float32', min: k2.min, scale: k2.scale },
            },
            { name: 'd2/bias', shape: [3], bytes: half(b2), quantization: { dtype: 'float16', original_dtype: 'float32' } },
          ],
        },
      ],
    );
    const mlp = await tfjsLayersFormat.read(path);
    assert.deepEqual(Array.from(mlp.layers[0].weights), Array.from(k1.expected));
    assert.deepEqual(Array.from(mlp.layers[1].weights), Array.from(k2.expected));
    for (const [bias, raw] of [
      [mlp.layers[0].bias!, b1],
      [mlp.layers[1].bias!, b2],
    ] as const) {
      // float16 keeps 11 significant bits.
      assert.ok(maxAbsDiff(bias, raw) <= 2 ** -11, `float16 bias error ${maxAbsDiff(bias, raw)}`);
    }
    assert.ok(mlp.source?.notes.some((n) => /quantized/.test(n)));
    await assertMatchesTfjs(mlp, path);
  });

  it('reports a truncated weights file by shard name, not with a RangeError', async () => {
    const { weights } = denseWeights(['d'], [40, 30], 17);
    const path = await writeSyntheticModel(
      dir,
      'truncated.json',
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Sequential',
          config: [{ class_name: 'Dense', config: denseConfig('d', 30, 'relu', { batch_input_shape: [null, 40] }) }],
        },
      },
      [{ paths: ['truncated.bin'], weights }],
    );
    const bin = join(dir, 'truncated.bin');
    const full = await fs.readFile(bin);
    await fs.writeFile(bin, full.subarray(0, 1000));
    await rejects(path, "'truncated.bin' (1000 bytes)", "'d/kernel'", /4920/);
    await fs.rm(bin);
    await rejects(path, 'truncated.bin', 'not found');
  });

  it('refuses non-MLP structure with the layer and its position', async () => {
    const { weights } = denseWeights(['a', 'b'], [3, 4, 2], 18);
    const write = (name: string, config: unknown) =>
      writeSyntheticModel(dir, `${name}.json`, { format: 'layers-model', modelTopology: { class_name: 'Sequential', config } }, [
        { paths: [`${name}.bin`], weights },
      ]);
    await rejects(
      await write('act-after-relu', [
        { class_name: 'Dense', config: denseConfig('a', 4, 'relu', { batch_input_shape: [null, 3] }) },
        { class_name: 'Activation', config: { name: 'act', activation: 'sigmoid' } },
        { class_name: 'Dense', config: denseConfig('b', 2, 'linear') },
      ]),
      "layer 2 of 3 'act' (Activation)",
      'cannot be folded',
    );
    await rejects(
      await write('no-flatten', [{ class_name: 'Dense', config: denseConfig('a', 4, 'relu', { batch_input_shape: [null, 2, 3] }) }]),
      "layer 1 of 1 'a' (Dense)",
      'Flatten',
    );
    await rejects(
      await write('maxpool', [
        { class_name: 'Dense', config: denseConfig('a', 4, 'relu', { batch_input_shape: [null, 3] }) },
        { class_name: 'MaxPooling1D', config: { name: 'pool' } },
      ]),
      "layer 2 of 2 'pool' (MaxPooling1D)",
    );
    await rejects(
      await write('lstm', [
        { class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 5, 3] } },
        { class_name: 'LSTM', config: { name: 'lstm_1', units: 4 } },
        { class_name: 'Dense', config: denseConfig('a', 4, 'relu') },
      ]),
      "layer 2 of 3 'lstm_1' (LSTM)",
      'recurrent',
    );
    await rejects(
      await write('elu', [{ class_name: 'Dense', config: denseConfig('a', 4, 'elu', { batch_input_shape: [null, 3] }) }]),
      "'a' (Dense)",
      "activation 'elu'",
    );

    const functional = (name: string, layers: unknown[], outputs: unknown) =>
      writeSyntheticModel(
        dir,
        `${name}.json`,
        {
          format: 'layers-model',
          modelTopology: { class_name: 'Functional', config: { name, layers, input_layers: [['in', 0, 0]], output_layers: outputs } },
        },
        [{ paths: [`${name}.bin`], weights }],
      );
    const input = { name: 'in', class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 3] }, inbound_nodes: [] };
    const a = { name: 'a', class_name: 'Dense', config: denseConfig('a', 4, 'relu'), inbound_nodes: [[['in', 0, 0, {}]]] };
    await rejects(
      await functional(
        'two-outputs',
        [input, a, { name: 'b', class_name: 'Dense', config: denseConfig('b', 2, 'linear'), inbound_nodes: [[['in', 0, 0, {}]]] }],
        [
          ['a', 0, 0],
          ['b', 0, 0],
        ],
      ),
      "2 outputs ('a', 'b')",
    );
    const twoInputs = await writeSyntheticModel(
      dir,
      'two-inputs.json',
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Functional',
          config: {
            name: 'two-inputs',
            layers: [input, { ...input, name: 'in2', config: { name: 'in2', batch_input_shape: [null, 3] } }, a],
            input_layers: [
              ['in', 0, 0],
              ['in2', 0, 0],
            ],
            output_layers: [['a', 0, 0]],
          },
        },
      },
      [{ paths: ['two-inputs.bin'], weights }],
    );
    await rejects(twoInputs, "2 inputs ('in', 'in2')");
    await rejects(
      await functional(
        'branch',
        [
          input,
          a,
          { name: 'b', class_name: 'Dense', config: denseConfig('b', 4, 'linear'), inbound_nodes: [[['in', 0, 0, {}]]] },
          {
            name: 'add',
            class_name: 'Add',
            config: { name: 'add' },
            inbound_nodes: [
              [
                ['a', 0, 0, {}],
                ['b', 0, 0, {}],
              ],
            ],
          },
        ],
        [['add', 0, 0]],
      ),
      "layer 4 of 4 'add' (Add)",
    );
    await rejects(
      await functional(
        'dead-branch',
        [
          input,
          a,
          { name: 'b', class_name: 'Dense', config: denseConfig('b', 2, 'linear'), inbound_nodes: [[['a', 0, 0, {}]]] },
          { name: 'side', class_name: 'Dense', config: denseConfig('side', 2, 'linear'), inbound_nodes: [[['a', 0, 0, {}]]] },
        ],
        [['b', 0, 0]],
      ),
      "layer 4 of 4 'side' (Dense)",
      'branching',
    );
  });
});

describe('tfjs LayersModel writer', () => {
  let dir: string;
  before(async () => {
    await initBackend();
    dir = await tempDir();
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('writes abalone-node so that tf.loadLayersModel gives our outputs, and reads it back exactly', async () => {
    const source = await tfjsLayersFormat.read(built('tfjs/abalone-node/model.json'));
    const out = join(dir, 'abalone-pruned.json');
    const result = await tfjsLayersFormat.write!(source, out);
    assert.deepEqual(result.files, [out, join(dir, 'abalone-pruned.weights.bin')]);
    assert.equal(result.bytes, (await fs.stat(result.files[0])).size + (await fs.stat(result.files[1])).size);
    const json = JSON.parse(await fs.readFile(out, 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.equal(json.generatedBy, 'PruneScope');
    assert.deepEqual(json.weightsManifest[0].paths, ['abalone-pruned.weights.bin']);
    assert.deepEqual(json.modelTopology.config.layers[0].config.batch_input_shape, [null, 8]);
    assert.deepEqual(
      (await fs.readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );

    const back = await tfjsLayersFormat.read(out);
    assertSameMLP(back, source);
    await assertMatchesTfjs(back, out, 5);
  });

  it('writes Flatten, Dropout, leaky_relu, no-bias and softmax layers that tfjs loads and that read back exactly', async () => {
    const rand = seededRandom(21);
    const mlp: MLP = {
      name: 'synthetic',
      inputShape: [2, 3],
      inputSize: 6,
      layers: [
        {
          name: 'fc1',
          inputSize: 6,
          units: 5,
          weights: randomArray(30, rand),
          bias: randomArray(5, rand),
          activation: 'leaky_relu',
          alpha: 0.05,
          dropout: 0.25,
        },
        { name: 'fc 2/odd', inputSize: 5, units: 4, weights: randomArray(20, rand), bias: null, activation: 'relu6' },
        {
          name: 'fc1',
          inputSize: 4,
          units: 3,
          weights: randomArray(12, rand),
          bias: randomArray(3, rand),
          activation: 'log_softmax',
          dropout: 0.1,
        },
      ],
    };
    const out = join(dir, 'synthetic.json');
    await tfjsLayersFormat.write!(mlp, out);
    const json = JSON.parse(await fs.readFile(out, 'utf8'));
    assert.deepEqual(
      json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name),
      ['Flatten', 'Dense', 'LeakyReLU', 'Dropout', 'Dense', 'Dense', 'Dropout'],
    );
    assert.deepEqual(json.modelTopology.config.layers[0].config.batch_input_shape, [null, 2, 3]);
    const back = await tfjsLayersFormat.read(out);
    assert.deepEqual(back.inputShape, [2, 3]);
    assert.deepEqual(
      back.layers.map((l) => l.name),
      ['fc1', 'fc_2_odd', 'fc1_2'],
    );
    assertSameMLP(back, { ...mlp, layers: mlp.layers.map((l, i) => ({ ...l, name: back.layers[i].name })) });
    await assertMatchesTfjs(back, out, 6);
    // Predictions of the written model equal those of the model we wrote.
    const x = randomArray(10 * 6, seededRandom(3));
    assert.deepEqual(Array.from(predict(back, x, 10)), Array.from(predict(mlp, x, 10)));
  });

  it('replaces an existing output whole and leaves nothing behind when it cannot write', async () => {
    const source = await tfjsLayersFormat.read(built('tfjs/rn59-layers/bundle_model_test.json'));
    await assert.rejects(tfjsLayersFormat.write!(source, join(dir, 'missing-folder', 'm.json')));
    assert.equal(existsSync(join(dir, 'missing-folder')), false);
    const out = join(dir, 'twice.json');
    await tfjsLayersFormat.write!(source, out);
    const changed: MLP = { ...source, layers: source.layers.map((l) => ({ ...l, weights: l.weights.map((w) => w * 2) })) };
    await tfjsLayersFormat.write!(changed, out);
    assertSameMLP(await tfjsLayersFormat.read(out), changed);
    assert.deepEqual(
      (await fs.readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});
