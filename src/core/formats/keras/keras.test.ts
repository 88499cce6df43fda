import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compat, fixture } from '../../../../test/fixtures';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { readModel } from '../registry';
import { setHdf5TimeoutForTests } from './h5-run';
import { kerasFormat } from './keras';
import { activate, batchNorm, dense, readTree, values, writeH5, writeZip, type NodeSpec } from './testdata/kit';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-keras-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => {
  await initBackend();
});

let serial = 0;
/** A fresh folder for one model (sidecar lookups see only its own files). */
function folder(): string {
  const d = join(dir, `m${++serial}`);
  mkdirSync(d);
  return d;
}

// ---- Keras configs as Keras writes them ----

const init = (cls: string, config: object) => ({ module: 'keras.initializers', class_name: cls, config, registered_name: null });

function denseConfig(name: string, units: number, activation: string, useBias = true): Record<string, unknown> {
  return {
    name,
    trainable: true,
    dtype: 'float32',
    units,
    activation,
    use_bias: useBias,
    kernel_initializer: init('GlorotUniform', { seed: null }),
    bias_initializer: init('Zeros', {}),
    kernel_regularizer: null,
    bias_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
  };
}

/** A Keras 3 layer entry (module, class_name, config, registered_name, and extra keys such as inbound_nodes). */
function k3(cls: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { module: 'keras.layers', class_name: cls, config, registered_name: null, ...extra };
}

function bnConfig(name: string, opts: { epsilon?: number; center?: boolean; scale?: boolean } = {}): Record<string, unknown> {
  return {
    name,
    trainable: true,
    dtype: 'float32',
    axis: -1,
    momentum: 0.99,
    epsilon: opts.epsilon ?? 0.001,
    center: opts.center ?? true,
    scale: opts.scale ?? true,
    beta_initializer: init('Zeros', {}),
    gamma_initializer: init('Ones', {}),
    moving_mean_initializer: init('Zeros', {}),
    moving_variance_initializer: init('Ones', {}),
    beta_regularizer: null,
    gamma_regularizer: null,
    beta_constraint: null,
    gamma_constraint: null,
    synchronized: false,
  };
}

function sequential3(name: string, layers: unknown[]): Record<string, unknown> {
  return { module: 'keras', class_name: 'Sequential', config: { name, trainable: true, dtype: 'float32', layers }, registered_name: null };
}

const input3 = (shape: number[]) =>
  k3('InputLayer', { batch_shape: [null, ...shape], dtype: 'float32', sparse: false, name: 'input_layer' });

/** A Keras 3 tensor reference in inbound_nodes. */
const tensor = (layer: string, shape: (number | null)[]) => ({
  class_name: '__keras_tensor__',
  config: { shape, dtype: 'float32', keras_history: [layer, 0, 0] },
});

interface Arr {
  shape: number[];
  values: Float32Array;
  dtype?: '<f' | '<d';
}

const arr = (shape: number[], seed: number): Arr => ({
  shape,
  values: values(
    shape.reduce((a, b) => a * b, 1),
    seed,
  ),
});
/** Positive values (variances). */
const pos = (n: number, seed: number): Arr => ({ shape: [n], values: values(n, seed).map((v) => 0.5 + Math.abs(v)) });

/** A layer's vars group: `vars/0`, `vars/1`, ... */
function vars(...arrays: Arr[]): NodeSpec {
  return { children: { vars: { children: Object.fromEntries(arrays.map((a, i) => [String(i), { data: a }])) } } };
}

async function kerasFile(d: string, name: string, config: unknown, layers: Record<string, NodeSpec>): Promise<string> {
  const h5 = join(d, `${name}.weights-scratch.h5`);
  await writeH5(h5, { children: { layers: { children: layers }, vars: { children: {} } } });
  const path = join(d, `${name}.keras`);
  writeZip(path, {
    'metadata.json': JSON.stringify({ keras_version: '3.4.1', date_saved: '2024-08-01@10:00:00' }),
    'config.json': JSON.stringify(config),
    'model.weights.h5': readFileSync(h5),
  });
  rmSync(h5);
  return path;
}

/** The MLP's outputs for `n` rows against `expected(row)`, computed by hand. */
function assertForward(mlp: MLP, n: number, expected: (x: number[]) => number[], tol = 1e-5): void {
  const x = values(n * mlp.inputSize, 99);
  const got = predict(mlp, x, n);
  const out = got.length / n;
  for (let r = 0; r < n; r++) {
    const want = expected(Array.from(x.subarray(r * mlp.inputSize, (r + 1) * mlp.inputSize)));
    assert.equal(want.length, out);
    for (let j = 0; j < out; j++) {
      const g = got[r * out + j];
      assert.ok(Math.abs(g - want[j]) <= tol * Math.max(1, Math.abs(want[j])), `row ${r} output ${j}: ${g} vs ${want[j]}`);
    }
  }
}

async function refused(path: string, ...patterns: (RegExp | string)[]): Promise<string> {
  let message = '';
  await assert.rejects(readModel(path), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected a ModelFormatError, got ${String(e)}`);
    message = e.message;
    return true;
  });
  assert.ok(message.includes(path), `"${message}" should name the file`);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(message.includes(p), `"${message}" should mention ${p}`);
    else assert.match(message, p);
  }
  return message;
}

/** Runs `fn` with everything written to stderr captured. */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn().catch(() => undefined);
  } finally {
    process.stderr.write = write;
  }
  return text;
}

describe('Keras 3 .keras', () => {
  test('Dense, BatchNormalization (folded both ways), Activation, Dropout: outputs match the layers applied one by one', async () => {
    const d = folder();
    const w = {
      k0: arr([4, 5], 1),
      b0: arr([5], 2),
      g0: arr([5], 3),
      be0: arr([5], 4),
      m0: arr([5], 5),
      v0: pos(5, 6),
      k1: arr([5, 3], 7),
      b1: arr([3], 8),
      g1: arr([3], 9),
      m1: arr([3], 10),
      v1: pos(3, 11),
      k2: arr([3, 2], 12),
      b2: arr([2], 13),
    };
    const config = sequential3('bn_net', [
      input3([4]),
      k3('Dense', denseConfig('dense', 5, 'linear'), { build_config: { input_shape: [null, 4] } }),
      k3('BatchNormalization', bnConfig('batch_normalization')),
      k3('Activation', { name: 'activation', trainable: true, dtype: 'float32', activation: 'relu' }),
      k3('Dropout', { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.25, seed: null, noise_shape: null }),
      k3('Dense', denseConfig('dense_1', 3, 'relu')),
      // Named unlike its class: the weights file addresses it by class (batch_normalization_1).
      k3('BatchNormalization', bnConfig('bn_after', { center: false, epsilon: 0.01 })),
      k3('Dense', denseConfig('out', 2, 'softmax')),
    ]);
    const path = await kerasFile(d, 'bn', config, {
      dense: vars(w.k0, w.b0),
      batch_normalization: vars(w.g0, w.be0, w.m0, w.v0),
      activation: { children: { vars: { children: {} } } },
      dropout: { children: { vars: { children: {} } } },
      dense_1: vars(w.k1, w.b1),
      batch_normalization_1: vars(w.g1, w.m1, w.v1),
      dense_2: vars(w.k2, w.b2),
    });
    const mlp = await readModel(path);
    assert.equal(mlp.source?.format, 'keras');
    assert.equal(mlp.source?.producer, 'keras 3.4.1');
    assert.equal(mlp.name, 'bn_net');
    assert.deepEqual(mlp.inputShape, [4]);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.dropout]),
      [
        ['dense', 4, 5, 'relu', 0.25],
        ['dense_1', 5, 3, 'relu', undefined],
        ['out', 3, 2, 'softmax', undefined],
      ],
    );
    assert.ok(mlp.source?.notes.some((n) => n.includes("'batch_normalization' was folded into Dense 'dense'")));
    assert.ok(mlp.source?.notes.some((n) => n.includes("'bn_after' was folded into the inputs of Dense 'out'")));
    assertForward(mlp, 6, (x) => {
      let h = dense(x, w.k0.values, w.b0.values, 5);
      h = batchNorm(h, { gamma: w.g0.values, beta: w.be0.values, mean: w.m0.values, variance: w.v0.values, eps: 0.001 });
      h = activate('relu', h);
      h = activate('relu', dense(h, w.k1.values, w.b1.values, 3));
      h = batchNorm(h, { gamma: w.g1.values, mean: w.m1.values, variance: w.v1.values, eps: 0.01 });
      return activate('softmax', dense(h, w.k2.values, w.b2.values, 2));
    });
  });

  test('a single-chain Functional model with a Flatten, and a Sequential nested in a Sequential', async () => {
    const d = folder();
    const k0 = arr([6, 4], 21);
    const b0 = arr([4], 22);
    const k1 = arr([4, 2], 23);
    const functional = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'chain',
        trainable: true,
        layers: [
          { ...input3([2, 3]), name: 'input_layer', inbound_nodes: [] },
          k3(
            'Flatten',
            { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' },
            {
              name: 'flatten',
              inbound_nodes: [{ args: [tensor('input_layer', [null, 2, 3])], kwargs: {} }],
            },
          ),
          k3('Dense', denseConfig('hidden', 4, 'tanh'), {
            name: 'hidden',
            inbound_nodes: [{ args: [tensor('flatten', [null, 6])], kwargs: {} }],
          }),
          k3('Dense', denseConfig('logits', 2, 'linear', false), {
            name: 'logits',
            inbound_nodes: [{ args: [tensor('hidden', [null, 4])], kwargs: {} }],
          }),
        ],
        input_layers: [['input_layer', 0, 0]],
        output_layers: [['logits', 0, 0]],
      },
      registered_name: 'Functional',
    };
    const path = await kerasFile(d, 'functional', functional, {
      flatten: { children: { vars: { children: {} } } },
      dense: vars(k0, b0),
      dense_1: vars(k1),
    });
    const mlp = await readModel(path);
    assert.deepEqual(mlp.inputShape, [2, 3]);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.bias === null]),
      [
        ['hidden', 6, 4, 'tanh', false],
        ['logits', 4, 2, 'linear', true],
      ],
    );
    assertForward(mlp, 4, (x) => dense(activate('tanh', dense(x, k0.values, b0.values, 4)), k1.values, null, 2));

    // keras.Sequential([keras.Input((6,)), inner]) with inner = Sequential([Dense, Dense]): weights under layers/sequential/layers/.
    const inner = {
      ...sequential3('inner', [
        input3([6]),
        k3('Dense', denseConfig('dense', 4, 'tanh')),
        k3('Dense', denseConfig('dense_1', 2, 'linear', false)),
      ]),
    };
    const outer = sequential3('outer', [input3([6]), inner]);
    const nested = await kerasFile(d, 'nested', outer, {
      sequential: { children: { layers: { children: { dense: vars(k0, b0), dense_1: vars(k1) } } } },
    });
    const m2 = await readModel(nested);
    assert.deepEqual(
      m2.layers.map((l) => l.name),
      ['dense', 'dense_1'],
    );
    assertForward(m2, 3, (x) => dense(activate('tanh', dense(x, k0.values, b0.values, 4)), k1.values, null, 2));
  });

  test('tf.keras 2.13 files keep their variables under _layer_checkpoint_dependencies; Reshape to flat', async () => {
    const d = folder();
    const k = arr([3, 2], 31);
    const b = arr([2], 32);
    const h5 = join(d, 'w.h5');
    await writeH5(h5, { children: { _layer_checkpoint_dependencies: { children: { dense: vars(k, b) } }, vars: { children: {} } } });
    const path = join(d, 'old.keras');
    writeZip(path, {
      'metadata.json': JSON.stringify({ keras_version: '2.13.1', date_saved: '2023-08-01@10:00:00' }),
      'config.json': JSON.stringify(
        sequential3('old', [
          input3([1, 3]),
          k3('Reshape', { name: 'reshape', trainable: true, dtype: 'float32', target_shape: [3] }),
          k3('Dense', denseConfig('dense', 2, 'sigmoid')),
        ]),
      ),
      'model.weights.h5': readFileSync(h5),
    });
    const mlp = await readModel(path);
    assert.deepEqual(mlp.inputShape, [1, 3]);
    assertForward(mlp, 3, (x) => activate('sigmoid', dense(x, k.values, b.values, 2)));
  });

  test('branching Functional models are refused, naming the layer', async () => {
    const d = folder();
    const branchLayers = [
      { ...input3([3]), name: 'input_layer', inbound_nodes: [] },
      k3('Dense', denseConfig('left', 2, 'relu'), {
        name: 'left',
        inbound_nodes: [{ args: [tensor('input_layer', [null, 3])], kwargs: {} }],
      }),
      k3('Dense', denseConfig('right', 2, 'relu'), {
        name: 'right',
        inbound_nodes: [{ args: [tensor('input_layer', [null, 3])], kwargs: {} }],
      }),
      k3(
        'Add',
        { name: 'merge', trainable: true, dtype: 'float32' },
        {
          name: 'merge',
          inbound_nodes: [{ args: [[tensor('left', [null, 2]), tensor('right', [null, 2])]], kwargs: {} }],
        },
      ),
    ];
    const merged = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'branchy',
        trainable: true,
        layers: branchLayers,
        input_layers: [['input_layer', 0, 0]],
        output_layers: [['merge', 0, 0]],
      },
      registered_name: 'Functional',
    };
    const path = await kerasFile(d, 'merge', merged, {});
    await refused(path, "'merge' (Add)", 'Add is not supported', 'branching');

    const twoOutputs = {
      ...merged,
      config: {
        ...merged.config,
        layers: branchLayers.slice(0, 3),
        output_layers: [
          ['left', 0, 0],
          ['right', 0, 0],
        ],
      },
    };
    await refused(await kerasFile(d, 'two-out', twoOutputs, {}), 'the model has 2 outputs');

    const offPath = { ...merged, config: { ...merged.config, layers: branchLayers.slice(0, 3), output_layers: [['left', 0, 0]] } };
    await refused(await kerasFile(d, 'off-path', offPath, {}), "'right' (Dense)", 'branching models are not MLPs');
  });

  test('what cannot be folded or found is refused with the place', async () => {
    const d = folder();
    const k = arr([3, 2], 41);
    const b = arr([2], 42);
    const bnLast = sequential3('bn_last', [
      input3([3]),
      k3('Dense', denseConfig('dense', 2, 'relu')),
      k3('BatchNormalization', bnConfig('bn')),
    ]);
    const path = await kerasFile(d, 'bn-last', bnLast, {
      dense: vars(k, b),
      batch_normalization: vars(arr([2], 1), arr([2], 2), arr([2], 3), pos(2, 4)),
    });
    await refused(path, "BatchNormalization 'bn' comes after the last Dense layer's activation");

    const missing = await kerasFile(d, 'missing', sequential3('m', [input3([3]), k3('Dense', denseConfig('my_dense', 2, 'relu'))]), {
      my_dense: vars(k, b),
    });
    await refused(missing, "'my_dense' (Dense)", '/layers/dense/vars', 'my_dense');

    const count = await kerasFile(d, 'count', sequential3('m', [input3([3]), k3('Dense', denseConfig('dense', 2, 'relu'))]), {
      dense: vars(k),
    });
    await refused(count, 'holds 1 variable(s)', 'expected 2: kernel, bias');

    const shape = await kerasFile(d, 'shape', sequential3('m', [input3([4]), k3('Dense', denseConfig('dense', 2, 'relu'))]), {
      dense: vars(k, b),
    });
    await refused(shape, 'has shape [3,2]; expected [4,2]');
  });

  test('archives that are not Keras models', async () => {
    const d = folder();
    const noConfig = join(d, 'noconfig.keras');
    writeZip(noConfig, { 'metadata.json': '{}', 'weights.bin': new Uint8Array(8) });
    await refused(noConfig, 'without config.json', 'not a Keras 3 .keras file', 'weights.bin');

    const badWeights = join(d, 'badweights.keras');
    writeZip(badWeights, { 'config.json': JSON.stringify(sequential3('s', [input3([3])])), 'model.weights.h5': 'not hdf5 at all' });
    await refused(badWeights, 'model.weights.h5 is not an HDF5 file');

    const npz = join(d, 'npz.keras');
    writeZip(npz, { 'config.json': '{}', 'model.weights.npz': new Uint8Array(4) });
    await refused(npz, 'model.weights.npz');

    const text = join(d, 'text.keras');
    writeFileSync(text, 'just some text');
    await refused(text, 'not a Keras file', 'neither zip nor HDF5');

    const truncated = join(d, 'truncated.keras');
    const good = readFileSync(
      await kerasFile(d, 'good', sequential3('s', [input3([3]), k3('Dense', denseConfig('dense', 2, 'relu'))]), {
        dense: vars(arr([3, 2], 1), arr([2], 2)),
      }),
    );
    writeFileSync(truncated, good.subarray(0, good.length - 40));
    await refused(truncated, /zip|damaged|truncated/);
  });
});

// ---- Legacy HDF5 ----

/** A Keras 2 / Keras 3 legacy full model: model_config on the root, layer groups under model_weights. */
interface LegacyLayer {
  name: string;
  weights: { name: string; arr: Arr }[];
}

function legacyWeightsGroup(layers: LegacyLayer[], opts: { fixed?: boolean; keras?: string; chunked?: boolean }): NodeSpec {
  const str = (v: string[]) => (opts.fixed ? { value: v, fixed: true } : { value: v });
  const children: Record<string, NodeSpec> = {};
  for (const l of layers) {
    const g: NodeSpec = {
      attrs: { weight_names: l.weights.length ? str(l.weights.map((w) => w.name)) : { value: new Float64Array(0) } },
      children: {},
    };
    // Weight names are paths inside the layer group ('dense_4/kernel:0', 'sequential/dense/kernel').
    for (const w of l.weights) {
      const parts = w.name.split('/');
      let node = g;
      for (const p of parts.slice(0, -1)) {
        node.children![p] ??= { children: {} };
        node = node.children![p];
      }
      node.children![parts[parts.length - 1]] = { data: w.arr };
    }
    children[l.name] = g;
  }
  const names = layers.map((l) => l.name);
  const attrs: NodeSpec['attrs'] = { backend: 'tensorflow', keras_version: opts.keras ?? '2.4.0' };
  if (opts.chunked) {
    attrs.layer_names0 = str(names.slice(0, 1));
    attrs.layer_names1 = str(names.slice(1));
  } else attrs.layer_names = str(names);
  return { attrs, children };
}

async function legacyH5(
  path: string,
  modelConfig: unknown,
  layers: LegacyLayer[],
  opts: { fixed?: boolean; keras?: string; chunked?: boolean } = {},
): Promise<string> {
  await writeH5(path, {
    attrs: { backend: 'tensorflow', keras_version: opts.keras ?? '2.4.0', model_config: JSON.stringify(modelConfig) },
    children: { model_weights: legacyWeightsGroup(layers, opts) },
  });
  return path;
}

function keras2Sequential(name: string, inputs: number, dense: [string, number, string][]): unknown {
  return {
    class_name: 'Sequential',
    config: {
      name,
      layers: [
        {
          class_name: 'InputLayer',
          config: { batch_input_shape: [null, inputs], dtype: 'float32', sparse: false, ragged: false, name: `${dense[0][0]}_input` },
        },
        ...dense.map(([n, units, act]) => ({ class_name: 'Dense', config: denseConfig(n, units, act) })),
      ],
    },
  };
}

describe('legacy HDF5', () => {
  const k0 = arr([3, 4], 51);
  const b0 = arr([4], 52);
  const k1 = arr([4, 2], 53);
  const b1 = arr([2], 54);
  const expected = (x: number[]) => dense(activate('tanh', dense(x, k0.values, b0.values, 4)), k1.values, b1.values, 2);

  test('Keras 2: weight_names as fixed-length and as variable-length strings, layer_names split in chunks, inner names unlike the layer names', async () => {
    const d = folder();
    const config = keras2Sequential('k2', 3, [
      ['dense', 4, 'tanh'],
      ['dense_1', 2, 'linear'],
    ]);
    const layers: LegacyLayer[] = [
      {
        name: 'dense',
        weights: [
          { name: 'dense_7/kernel:0', arr: k0 },
          { name: 'dense_7/bias:0', arr: b0 },
        ],
      },
      {
        name: 'dense_1',
        weights: [
          { name: 'dense_1_3/kernel:0', arr: k1 },
          { name: 'dense_1_3/bias:0', arr: b1 },
        ],
      },
    ];
    for (const opts of [{ fixed: true }, { fixed: false }, { fixed: true, chunked: true }]) {
      const path = await legacyH5(join(d, `k2-${opts.fixed ? 'fixed' : 'vlen'}${opts.chunked ? '-chunked' : ''}.h5`), config, layers, opts);
      const tree = await readTree(path);
      // The file really holds the kind of strings the test means.
      const attr = (tree.get('/model_weights/dense')!.attrs.weight_names as string[])[0];
      assert.equal(attr, 'dense_7/kernel:0');
      const mlp = await readModel(path);
      assert.equal(mlp.source?.producer, 'keras 2.4.0 (tensorflow)');
      assert.deepEqual(mlp.inputShape, [3]);
      assertForward(mlp, 5, expected);
    }
  });

  test('Keras 3 legacy writer: model_weights/dense/sequential/dense/kernel, top_level_model_weights, a Dense without bias', async () => {
    const d = folder();
    const config = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        trainable: true,
        dtype: 'float32',
        layers: [
          { class_name: 'InputLayer', config: { batch_shape: [null, 3], dtype: 'float32', sparse: false, name: 'input_layer' } },
          { class_name: 'Dense', config: denseConfig('dense', 4, 'tanh') },
          {
            class_name: 'Dropout',
            config: { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.1, seed: null, noise_shape: null },
          },
          { class_name: 'Dense', config: denseConfig('dense_1', 2, 'linear', false) },
        ],
      },
    };
    const layers: LegacyLayer[] = [
      {
        name: 'dense',
        weights: [
          { name: 'sequential/dense/kernel', arr: k0 },
          { name: 'sequential/dense/bias', arr: b0 },
        ],
      },
      // Stored as float64: read as float32, with a note.
      { name: 'dense_1', weights: [{ name: 'sequential/dense_1/kernel', arr: { ...k1, dtype: '<d' } }] },
      { name: 'dropout', weights: [] },
    ];
    const path = join(d, 'k3-legacy.h5');
    await writeH5(path, {
      attrs: { backend: 'tensorflow', keras_version: '3.3.3', model_config: JSON.stringify(config) },
      children: {
        model_weights: {
          ...legacyWeightsGroup(layers, { keras: '3.3.3' }),
          children: {
            ...legacyWeightsGroup(layers, { keras: '3.3.3' }).children,
            top_level_model_weights: { attrs: { weight_names: { value: new Float64Array(0) } } },
          },
        },
      },
    });
    const mlp = await readModel(path);
    assert.equal(mlp.source?.producer, 'keras 3.3.3 (tensorflow)');
    assert.deepEqual(mlp.source?.notes, ['some weights are stored as float64 (converted to float32)']);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.bias === null, l.dropout]),
      [
        ['dense', false, 0.1],
        ['dense_1', true, undefined],
      ],
    );
    assertForward(mlp, 4, (x) => dense(activate('tanh', dense(x, k0.values, b0.values, 4)), k1.values, null, 2));
  });

  test('a Keras 2 Functional model, BatchNormalization with axis [1], and groups paired by position when the names differ', async () => {
    const d = folder();
    const g = arr([4], 61);
    const be = arr([4], 62);
    const m = arr([4], 63);
    const v = pos(4, 64);
    const config = {
      class_name: 'Functional',
      config: {
        name: 'model',
        layers: [
          {
            class_name: 'InputLayer',
            name: 'input_1',
            config: { batch_input_shape: [null, 3], dtype: 'float32', name: 'input_1' },
            inbound_nodes: [],
          },
          { class_name: 'Dense', name: 'hidden', config: denseConfig('hidden', 4, 'linear'), inbound_nodes: [[['input_1', 0, 0, {}]]] },
          {
            class_name: 'BatchNormalization',
            name: 'norm',
            config: { ...bnConfig('norm', { epsilon: 0.002 }), axis: [1] },
            inbound_nodes: [[['hidden', 0, 0, {}]]],
          },
          { class_name: 'Activation', name: 'act', config: { name: 'act', activation: 'tanh' }, inbound_nodes: [[['norm', 0, 0, {}]]] },
          { class_name: 'Dense', name: 'out', config: denseConfig('out', 2, 'linear'), inbound_nodes: [[['act', 0, 0, {}]]] },
        ],
        input_layers: [['input_1', 0, 0]],
        output_layers: [['out', 0, 0]],
      },
    };
    // Saved by another instance of the model: layer groups named dense_3, batch_normalization_2, dense_4.
    const layers: LegacyLayer[] = [
      { name: 'input_1', weights: [] },
      {
        name: 'dense_3',
        weights: [
          { name: 'dense_3/kernel:0', arr: k0 },
          { name: 'dense_3/bias:0', arr: b0 },
        ],
      },
      {
        name: 'batch_normalization_2',
        weights: [
          { name: 'batch_normalization_2/gamma:0', arr: g },
          { name: 'batch_normalization_2/beta:0', arr: be },
          { name: 'batch_normalization_2/moving_mean:0', arr: m },
          { name: 'batch_normalization_2/moving_variance:0', arr: v },
        ],
      },
      { name: 'act', weights: [] },
      {
        name: 'dense_4',
        weights: [
          { name: 'dense_4/kernel:0', arr: k1 },
          { name: 'dense_4/bias:0', arr: b1 },
        ],
      },
    ];
    const path = await legacyH5(join(d, 'functional.h5'), config, layers);
    const mlp = await readModel(path);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.activation]),
      [
        ['hidden', 'tanh'],
        ['out', 'linear'],
      ],
    );
    assertForward(mlp, 5, (x) => {
      const h = batchNorm(dense(x, k0.values, b0.values, 4), {
        gamma: g.values,
        beta: be.values,
        mean: m.values,
        variance: v.values,
        eps: 0.002,
      });
      return dense(activate('tanh', h), k1.values, b1.values, 2);
    });
  });

  test('a weights-only file is refused until its architecture sits beside it', async () => {
    const d = folder();
    const layers: LegacyLayer[] = [
      {
        name: 'dense',
        weights: [
          { name: 'dense/kernel:0', arr: k0 },
          { name: 'dense/bias:0', arr: b0 },
        ],
      },
      {
        name: 'dense_1',
        weights: [
          { name: 'dense_1/kernel:0', arr: k1 },
          { name: 'dense_1/bias:0', arr: b1 },
        ],
      },
    ];
    // Keras 2 save_weights: the layer groups and layer_names on the root.
    const path = join(d, 'weights.h5');
    await writeH5(path, legacyWeightsGroup(layers, { fixed: true }));
    const message = await refused(path, 'holds only weights', 'weights.json, config.json, model.json');
    assert.ok(!message.includes('passed'), message);

    // A model.json that is something else is passed over (and said so while nothing fits).
    writeFileSync(join(d, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: {} }));
    await refused(path, 'model.json does not hold a Keras model config');

    // model.to_json() as Keras 2 writes it.
    const json = {
      ...(keras2Sequential('from_json', 3, [
        ['dense', 4, 'tanh'],
        ['dense_1', 2, 'linear'],
      ]) as object),
      keras_version: '2.4.0',
      backend: 'tensorflow',
    };
    writeFileSync(join(d, 'weights.json'), JSON.stringify(json));
    const mlp = await readModel(path);
    assert.equal(mlp.name, 'from_json');
    assert.deepEqual(mlp.source?.files, [path, join(d, 'weights.json')]);
    assertForward(mlp, 5, expected);
  });

  test('Keras 3 weights-only model.weights.h5 finds model.json (the stem without .weights)', async () => {
    const d = folder();
    const path = join(d, 'model.weights.h5');
    await writeH5(path, { children: { layers: { children: { dense: vars(k0, b0), dense_1: vars(k1, b1) } }, vars: { children: {} } } });
    await refused(path, 'holds only weights', 'model.weights.json, model.json, config.json');
    writeFileSync(
      join(d, 'model.json'),
      JSON.stringify(
        sequential3('k3w', [input3([3]), k3('Dense', denseConfig('dense', 4, 'tanh')), k3('Dense', denseConfig('dense_1', 2, 'linear'))]),
      ),
    );
    const mlp = await readModel(path);
    assert.equal(mlp.name, 'k3w');
    assertForward(mlp, 3, expected);
  });

  test('files that are not Keras HDF5 are refused clearly, without a word on stderr', async () => {
    const d = folder();
    const text = join(d, 'text.h5');
    writeFileSync(text, '<!DOCTYPE html><html><body>not a model</body></html>');
    await refused(text, 'not an HDF5 file', 'HTML page');

    const other = join(d, 'other.h5');
    await writeH5(other, { children: { data: { data: { shape: [2], values: [1, 2] } } } });
    await refused(other, 'not a Keras model', 'data');

    const config = keras2Sequential('k2', 3, [
      ['dense', 4, 'tanh'],
      ['dense_1', 2, 'linear'],
    ]);
    const good = await legacyH5(join(d, 'good.h5'), config, [
      {
        name: 'dense',
        weights: [
          { name: 'dense/kernel:0', arr: k0 },
          { name: 'dense/bias:0', arr: b0 },
        ],
      },
      {
        name: 'dense_1',
        weights: [
          { name: 'dense_1/kernel:0', arr: k1 },
          { name: 'dense_1/bias:0', arr: b1 },
        ],
      },
    ]);
    const bytes = readFileSync(good);
    const truncated = join(d, 'truncated.h5');
    writeFileSync(truncated, bytes.subarray(0, 1500));
    const printed = await stderrOf(() => refused(truncated, 'cannot read the HDF5 data'));
    assert.equal(printed, '');

    // Damaged copies: each either reads or is refused with a ModelFormatError; nothing is printed, nothing crashes.
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const damaged = join(d, 'damaged.h5');
    const outcome = { read: 0, refused: 0, timedOut: 0 };
    // HDF5 loops forever on some damaged files: the reader gives up after the limit.
    setHdf5TimeoutForTests(4000);
    after(() => setHdf5TimeoutForTests(undefined));
    const err = await stderrOf(async () => {
      for (let i = 0; i < 40; i++) {
        const copy = Buffer.from(bytes);
        for (let j = 0; j < 4; j++) copy[8 + Math.floor(rnd() * Math.min(copy.length - 8, 4000))] = Math.floor(rnd() * 256);
        writeFileSync(damaged, copy);
        try {
          await readModel(damaged);
          outcome.read++;
        } catch (e) {
          assert.ok(e instanceof ModelFormatError, `damaged copy ${i}: ${String(e)}`);
          if (/did not finish reading it/.test(e.message)) outcome.timedOut++;
          outcome.refused++;
        }
      }
    });
    assert.equal(err, '');
    assert.equal(outcome.read + outcome.refused, 40);
    // The library still reads good files afterwards.
    assertForward(await readModel(good), 2, expected);
  });
});

describe('detection', () => {
  test('by extension, and HDF5 content under any name', () => {
    const hdf5 = new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0]);
    assert.ok(kerasFormat.detect('/m/a.keras', new Uint8Array()));
    assert.ok(kerasFormat.detect('/m/a.H5', new Uint8Array()));
    assert.ok(kerasFormat.detect('/m/a.hdf5', new Uint8Array()));
    assert.ok(kerasFormat.detect('/m/weights.bin', hdf5));
    assert.ok(!kerasFormat.detect('/m/a.onnx', new Uint8Array([0x08, 0x07])));
    assert.deepEqual(kerasFormat.writeExtensions, ['.keras']);
  });
});

// ---- Real files (compatibility suite) ----

/** The model's outputs computed from the raw datasets of a Keras 2 full-model .h5, read here with h5wasm directly. */
async function rawForward(path: string): Promise<{ inputSize: number; run: (x: number[]) => number[] }> {
  const tree = await readTree(path);
  const config = JSON.parse(tree.get('/')!.attrs.model_config as string);
  const denseLayers = (
    config.config.layers as { class_name: string; config: { name: string; activation: string; units: number } }[]
  ).filter((l) => l.class_name === 'Dense');
  const groups = (tree.get('/model_weights')!.attrs.layer_names as string[]).filter((n) => {
    const names = tree.get(`/model_weights/${n}`)!.attrs.weight_names;
    return Array.isArray(names) && names.length > 0;
  });
  assert.equal(groups.length, denseLayers.length);
  const params = groups.map((g, i) => {
    const [kernelName, biasName] = tree.get(`/model_weights/${g}`)!.attrs.weight_names as string[];
    const kernel = tree.get(`/model_weights/${g}/${kernelName}`)!;
    const bias = tree.get(`/model_weights/${g}/${biasName}`)!;
    assert.equal(kernel.shape![1], denseLayers[i].config.units);
    return {
      kernel: kernel.values!,
      bias: bias.values!,
      units: denseLayers[i].config.units,
      activation: denseLayers[i].config.activation,
      inputs: kernel.shape![0],
    };
  });
  return {
    inputSize: params[0].inputs,
    run: (x) => params.reduce((h, p) => activate(p.activation, dense(h, p.kernel, p.bias, p.units)), x),
  };
}

describe('Keras files from the wild', () => {
  const cases: [string, string, number[], number][] = [
    ['marabou-mnist-sigmoid-mlp', 'robust_mnist_sigmoid_linear.h5', [28, 28], 3],
    ['marabou-fc-2-2sigmoids-3', 'fc_2-2sigmoids-3.h5', [2], 2],
    ['hddm-lan-ddm-tanh-h5', 'model_final_ddm.h5', [6], 4],
  ];
  for (const [folderName, file, shape, count] of cases) {
    test(`${folderName}: outputs match a forward pass over its raw datasets`, compat(), async () => {
      const path = fixture('keras', folderName, file);
      const mlp = await readModel(path);
      assert.equal(mlp.source?.format, 'keras');
      assert.deepEqual(mlp.inputShape, shape);
      assert.equal(mlp.layers.length, count);
      const raw = await rawForward(path);
      assert.equal(raw.inputSize, mlp.inputSize);
      assertForward(mlp, 8, raw.run, 1e-4);
    });
  }

  test('a copy in a folder of its own reads the same (nothing else is looked at)', compat(), async () => {
    const d = folder();
    const copy = join(d, 'copy.h5');
    copyFileSync(fixture('keras', 'marabou-fc-2-2sigmoids-3', 'fc_2-2sigmoids-3.h5'), copy);
    const mlp = await readModel(copy);
    assert.deepEqual(mlp.source?.files, [copy]);
  });

  const refusals: [string, string, (string | RegExp)[]][] = [
    ['refuse-marabou-cnn', 'cnn_max_mnist2.h5', ["'conv2d_14' (Conv2D)", 'Conv2D is not supported']],
    ['refuse-moonflower-cnn-k3.1-h5', 'mnist_model.h5', ["'conv2d' (Conv2D)", 'Conv2D is not supported']],
    ['refuse-moonflower-cnn-k3.1', 'mnist_model.keras', ["'conv2d' (Conv2D)", 'Conv2D is not supported']],
    ['refuse-html-saved-as-keras', 'mnist_mlp.keras', ['not a Keras file', 'neither zip nor HDF5', 'HTML page']],
  ];
  for (const [folderName, file, patterns] of refusals) {
    test(`${folderName} is refused`, compat(), async () => {
      await refused(fixture('unsupported', 'keras', folderName, file), ...patterns);
    });
  }
});
