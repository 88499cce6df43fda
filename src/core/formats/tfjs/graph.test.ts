import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compat, fixture } from '../../../../test/fixtures';
import { built } from '../../../../test/kits/encode/models';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { tfjsGraphFormat } from './graph';
import { tfjsLayersFormat } from './layers';
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

const TOL = 1e-5;

/**
 * Our predict against tfjs's own GraphModel.predict on the same input. tfjs runs on its plain
 * JS cpu backend here: in tfjs-backend-wasm 4.22, fused.matMul with transposeB and a bias
 * (what a _FusedMatMul node with transpose_b executes as) returns wrong values.
 */
async function assertMatchesTfjs(mlp: MLP, jsonPath: string, n = 16, seed = 1): Promise<void> {
  const x = randomArray(n * mlp.inputSize, seededRandom(seed), 2);
  const ours = predict(mlp, x, n);
  const active = tf.getBackend();
  await tf.setBackend('cpu');
  let theirs: Float32Array;
  try {
    const model = await tf.loadGraphModel(fileIOHandler(jsonPath));
    const input = tf.tensor(x, [n, ...mlp.inputShape]);
    const y = model.predict(input) as tf.Tensor;
    theirs = y.dataSync() as Float32Array;
    tf.dispose([input, y]);
    model.dispose();
  } finally {
    await tf.setBackend(active);
  }
  assert.equal(ours.length, theirs.length);
  const diff = maxAbsDiff(ours, theirs);
  assert.ok(diff <= TOL, `max |ours - tfjs| = ${diff}`);
}

async function rejects(path: string, ...needles: string[]): Promise<void> {
  let error: unknown;
  try {
    await tfjsGraphFormat.read(path);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ModelFormatError, `expected a ModelFormatError, got ${String(error)}`);
  for (const n of needles) assert.ok(error.message.includes(n), `"${error.message}" should mention ${n}`);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const placeholder = (name: string, shape: number[]) => ({
  name,
  op: 'Placeholder',
  attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims(shape) } },
});
const constant = (name: string, shape: number[], dtype = 'DT_FLOAT') => ({
  name,
  op: 'Const',
  attr: { value: { tensor: { dtype, tensorShape: dims(shape) } }, dtype: { type: dtype } },
});
const op = (name: string, type: string, input: string[], attr: Record<string, unknown> = {}) => ({
  name,
  op: type,
  input,
  attr: { T: { type: 'DT_FLOAT' }, ...attr },
});
const matmul = (name: string, a: string, b: string, transposeB = false) =>
  op(name, 'MatMul', [a, b], { transpose_a: { b: false }, transpose_b: { b: transposeB } });
const fused = (name: string, inputs: string[], ops: string[], transposeB = false) =>
  op(name, '_FusedMatMul', inputs, {
    transpose_a: { b: false },
    transpose_b: { b: transposeB },
    num_args: { i: String(inputs.length - 2) },
    fused_ops: { list: { s: ops.map(b64) } },
    epsilon: { f: 0 },
  });

function graphModel(nodes: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'test',
    modelTopology: { node: nodes, versions: { producer: 1 } },
    ...extra,
  };
}

const floats = (name: string, shape: number[], values: Float32Array): SynthWeight => ({ name, shape, bytes: f32Bytes(values) });

describe('tfjs GraphModel reader', () => {
  let dir: string;
  before(async () => {
    await initBackend();
    dir = await tempDir('prunescope-tfjs-graph-');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  /** `source` is fixture (the third-party files) or built (their twins from the test encoder). */
  function detectsGraphModels(source: (...parts: string[]) => string): void {
    for (const p of [source('tfjs/rn59-graph/model.json'), source('tfjs/matmul-graph/model.json')]) {
      const bytes = new Uint8Array(readFileSync(p));
      assert.equal(tfjsGraphFormat.detect(p, bytes), true, p);
      // rn59-graph starts with its weightsManifest: a head that holds only part of it.
      assert.equal(tfjsGraphFormat.detect(p, bytes.subarray(0, 120)), true, `${p} (120 bytes)`);
      assert.equal(tfjsLayersFormat.detect(p, bytes), false, p);
      assert.equal(tfjsLayersFormat.detect(p, bytes.subarray(0, 120)), false, `${p} (120 bytes)`);
    }
    const layers = source('tfjs/abalone-node/model.json');
    assert.equal(tfjsGraphFormat.detect(layers, new Uint8Array(readFileSync(layers))), false);
  }

  it('detects graph models by content, also from a cut-short head', compat(), () => {
    detectsGraphModels(fixture);
  });

  it('detects the same layouts written by the test encoder, also from a cut-short head', () => {
    detectsGraphModels(built);
  });

  async function readsRn59Graph(source: (...parts: string[]) => string): Promise<void> {
    const path = source('tfjs/rn59-graph/model.json');
    const graph = await tfjsGraphFormat.read(path);
    const layers = await tfjsLayersFormat.read(source('tfjs/rn59-layers/bundle_model_test.json'));
    assert.deepEqual(graph.inputShape, [10]);
    assert.deepEqual(
      graph.layers.map((l) => [l.name, l.inputSize, l.units, l.activation]),
      [['dense_Dense2', 10, 1, 'linear']],
    );
    assert.equal(graph.source?.format, 'tfjs-graph');
    assert.deepEqual(Array.from(graph.layers[0].weights), Array.from(layers.layers[0].weights));
    assert.deepEqual(Array.from(graph.layers[0].bias!), Array.from(layers.layers[0].bias!));
    await assertMatchesTfjs(graph, path);
  }

  async function readsMatmulGraph(path: string): Promise<void> {
    const mlp = await tfjsGraphFormat.read(path);
    assert.deepEqual(mlp.inputShape, [2]);
    assert.deepEqual(
      mlp.layers.map((l) => [l.inputSize, l.units, l.activation, l.bias]),
      [[2, 2, 'linear', null]],
    );
    assert.ok(mlp.source?.notes.some((n) => n.includes('fixed batch size of 2')));
    // The placeholder's batch is fixed at 2, so tfjs is given exactly the [2, 2] it declares.
    await assertMatchesTfjs(mlp, path, 2);
  }

  it('reads rn59-graph (MatMul + BiasAdd + Identity) with the same weights as rn59-layers and the outputs of tfjs', compat(), async () => {
    await readsRn59Graph(fixture);
  });

  it('reads the rn59-graph layout written by the test encoder (MatMul + BiasAdd + Identity) with the weights of its rn59-layers twin and the outputs of tfjs', async () => {
    await readsRn59Graph(built);
  });

  it('reads matmul-graph (a single MatMul on a [2, 2] placeholder) as 2 -> 2 without bias, like tfjs', compat(), async () => {
    await readsMatmulGraph(fixture('tfjs/matmul-graph/model.json'));
  });

  it('reads the matmul-graph layout written by the test encoder (a single MatMul on a [2, 2] placeholder) as 2 -> 2 without bias, like tfjs', async () => {
    await readsMatmulGraph(built('tfjs/matmul-graph/model.json'));
  });

  it('reads Reshape, _FusedMatMul (BiasAdd, BiasAdd+Relu, transpose_b), MatMul + Add / BiasAdd and activations, for every signature placement', async () => {
    const rand = seededRandom(31);
    const w1 = randomArray(6 * 12, rand); // stored [units, in] for transpose_b
    const b1 = randomArray(6, rand, 0.2);
    const w2 = randomArray(6 * 5, rand);
    const b2 = randomArray(5, rand, 0.2);
    const w3 = randomArray(5 * 4, rand);
    const b3 = randomArray(4, rand, 0.2);
    const w4 = randomArray(4 * 3, rand);
    const b4 = randomArray(3, rand, 0.2);
    const nodes = [
      placeholder('x', [-1, 4, 3]),
      constant('flat/shape', [2], 'DT_INT32'),
      constant('d1/w', [6, 12]),
      constant('d1/b', [6]),
      constant('d2/w', [6, 5]),
      constant('d2/b', [1, 5]),
      constant('d3/w', [5, 4]),
      constant('d3/b', [4]),
      constant('d4/w', [4, 3]),
      constant('d4/b', [3]),
      op('flat', 'Reshape', ['x', 'flat/shape'], { Tshape: { type: 'DT_INT32' } }),
      fused('d1/Relu', ['flat', 'd1/w', 'd1/b'], ['BiasAdd', 'Relu'], true),
      matmul('d2/MatMul', 'd1/Relu', 'd2/w'),
      op('d2/add', 'AddV2', ['d2/b', 'd2/MatMul']),
      op('d2/Relu6', 'Relu6', ['d2/add']),
      matmul('d3/MatMul', 'd2/Relu6', 'd3/w'),
      op('d3/BiasAdd', 'BiasAdd', ['d3/MatMul', 'd3/b'], { data_format: { s: b64('NHWC') } }),
      op('d3/Tanh', 'Tanh', ['d3/BiasAdd']),
      fused('d4/BiasAdd', ['d3/Tanh:0', 'd4/w', 'd4/b'], ['BiasAdd']),
      op('Identity', 'Identity', ['d4/BiasAdd']),
      op('out', 'Softmax', ['Identity']),
    ];
    const groups = [
      {
        paths: ['./mlp-graph-shard1', './mlp-graph-shard2'],
        weights: [
          // Manifest order differs from node order; Consts are found by name.
          floats('d4/b', [3], b4),
          { name: 'flat/shape', shape: [2], dtype: 'int32', bytes: new Uint8Array(new Int32Array([-1, 12]).buffer) },
          floats('d1/w', [6, 12], w1),
          floats('d1/b', [6], b1),
          floats('d2/w', [6, 5], w2),
          floats('d2/b', [1, 5], b2),
          floats('d3/w', [5, 4], w3),
          floats('d3/b', [4], b3),
          floats('d4/w', [4, 3], w4),
        ],
      },
    ];
    const signature = {
      inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims([-1, 4, 3]) } },
      outputs: { 'out:0': { name: 'out:0', dtype: 'DT_FLOAT', tensorShape: dims([-1, 3]) } },
    };
    const variants = {
      top: graphModel(nodes, { signature }),
      udm: graphModel(nodes, { userDefinedMetadata: { signature } }),
      none: graphModel(nodes),
    };
    let first: MLP | undefined;
    for (const [name, model] of Object.entries(variants)) {
      const path = await writeSyntheticModel(dir, `mlp-${name}.json`, model, groups);
      const mlp = await tfjsGraphFormat.read(path);
      assert.deepEqual(mlp.inputShape, [4, 3], name);
      assert.equal(mlp.inputSize, 12);
      assert.deepEqual(
        mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation]),
        [
          ['d1', 12, 6, 'relu'],
          ['d2', 6, 5, 'relu6'],
          ['d3', 5, 4, 'tanh'],
          ['d4', 4, 3, 'softmax'],
        ],
        name,
      );
      // transpose_b: the stored [6, 12] becomes the Keras [12, 6] layout.
      assert.equal(mlp.layers[0].weights[1 * 6 + 2], w1[2 * 12 + 1]);
      assert.deepEqual(Array.from(mlp.layers[1].bias!), Array.from(b2));
      await assertMatchesTfjs(mlp, path);
      first ??= mlp;
      assert.deepEqual(
        mlp.layers.map((l) => Array.from(l.weights)),
        first.layers.map((l) => Array.from(l.weights)),
      );
    }
  });

  it('applies the ops a _FusedMatMul lists in order, also Relu without BiasAdd, and Sigmoid after a MatMul', async () => {
    const rand = seededRandom(34);
    const w1 = randomArray(3 * 4, rand);
    const w2 = randomArray(4 * 2, rand);
    const path = await writeSyntheticModel(
      dir,
      'fused-relu.json',
      graphModel([
        placeholder('x', [-1, 3]),
        constant('w1', [3, 4]),
        constant('w2', [4, 2]),
        fused('h', ['x', 'w1'], ['Relu']),
        matmul('o', 'h', 'w2'),
        op('y', 'Sigmoid', ['o']),
      ]),
      [{ paths: ['fused-relu.bin'], weights: [floats('w1', [3, 4], w1), floats('w2', [4, 2], w2)] }],
    );
    const mlp = await tfjsGraphFormat.read(path);
    assert.deepEqual(
      mlp.layers.map((l) => [l.inputSize, l.units, l.activation, l.bias]),
      [
        [3, 4, 'relu', null],
        [4, 2, 'sigmoid', null],
      ],
    );
    // TensorFlow's meaning (relu(x·W1)); tfjs 4.22 reads a lone fused op as an "extra op" and skips it.
    const x = new Float32Array([1, -2, 0.5]);
    const h = [0, 1, 2, 3].map((u) => Math.max(0, x[0] * w1[u] + x[1] * w1[4 + u] + x[2] * w1[8 + u]));
    const expected = [0, 1].map((u) => 1 / (1 + Math.exp(-(h[0] * w2[u] + h[1] * w2[2 + u] + h[2] * w2[4 + u] + h[3] * w2[6 + u]))));
    const ours = predict(mlp, x, 1);
    assert.ok(maxAbsDiff(ours, expected) <= TOL, `${Array.from(ours)} vs ${expected}`);
  });

  it('refuses graphs that are not MLPs, naming the operator and where it sits', async () => {
    const rand = seededRandom(32);
    const w = floats('w', [4, 4], randomArray(16, rand));
    const w2 = floats('w2', [4, 4], randomArray(16, rand));
    const write = (name: string, nodes: unknown[], weights: SynthWeight[] = [w, w2], extra: Record<string, unknown> = {}) =>
      writeSyntheticModel(dir, `${name}.json`, graphModel(nodes, extra), [{ paths: [`${name}.bin`], weights }]);

    await rejects(
      await write('conv', [
        placeholder('x', [-1, 2, 2, 1]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        op('conv/Conv2D', 'Conv2D', ['x', 'w'], { strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('SAME') } }),
      ]),
      "node 4 of 4 'conv/Conv2D' (Conv2D)",
      'not supported',
    );
    await rejects(
      await write('erf', [
        placeholder('x', [-1, 4]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        matmul('m', 'x', 'w'),
        op('gelu/Erf', 'Erf', ['m']),
      ]),
      "node 5 of 5 'gelu/Erf' (Erf)",
    );
    await rejects(
      await write('two-outputs', [
        placeholder('x', [-1, 4]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        matmul('a', 'x', 'w'),
        matmul('b', 'x', 'w2'),
      ]),
      "2 outputs ('a', 'b')",
    );
    await rejects(
      await write(
        'two-outputs-signature',
        [placeholder('x', [-1, 4]), constant('w', [4, 4]), constant('w2', [4, 4]), matmul('a', 'x', 'w'), matmul('b', 'x', 'w2')],
        [w, w2],
        {
          signature: { inputs: { 'x:0': { name: 'x:0' } }, outputs: { 'a:0': { name: 'a:0' }, 'b:0': { name: 'b:0' } } },
        },
      ),
      "2 outputs ('a', 'b')",
    );
    await rejects(
      await write('two-inputs', [
        placeholder('x', [-1, 4]),
        placeholder('y', [-1, 4]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        matmul('a', 'x', 'w'),
        op('s', 'AddV2', ['a', 'y']),
      ]),
      "2 inputs ('x', 'y')",
    );
    await rejects(
      await write('branch', [
        placeholder('x', [-1, 4]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        matmul('a', 'x', 'w'),
        matmul('b', 'x', 'w2'),
        op('sum', 'AddV2', ['a', 'b']),
      ]),
      "node 6 of 6 'sum' (AddV2)",
      "'a' and 'b'",
      'branching',
    );
    await rejects(
      await write('relu-first', [
        placeholder('x', [-1, 4]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        op('r', 'Relu', ['x']),
        matmul('a', 'r', 'w'),
      ]),
      "node 4 of 5 'r' (Relu)",
      'before any MatMul',
    );
    await rejects(
      await write('transpose-a', [
        placeholder('x', [-1, 4]),
        constant('w', [4, 4]),
        constant('w2', [4, 4]),
        op('a', 'MatMul', ['x', 'w'], { transpose_a: { b: true } }),
      ]),
      "'a' (MatMul)",
      'transpose_a',
    );
    await rejects(
      await write(
        'batch-reshape',
        [
          placeholder('x', [-1, 4]),
          constant('s', [2], 'DT_INT32'),
          constant('w', [4, 4]),
          op('r', 'Reshape', ['x', 's']),
          matmul('a', 'r', 'w'),
        ],
        [{ name: 's', shape: [2], dtype: 'int32', bytes: new Uint8Array(new Int32Array([1, -1]).buffer) }, w],
      ),
      "'r' (Reshape)",
      'batch',
    );
  });

  it('reports a weights file shorter than the manifest by shard name', async () => {
    const path = await writeSyntheticModel(
      dir,
      'short.json',
      graphModel([placeholder('x', [-1, 4]), constant('w', [4, 4]), matmul('a', 'x', 'w')]),
      [{ paths: ['short.bin'], weights: [floats('w', [4, 4], randomArray(16, seededRandom(33)))] }],
    );
    await fs.writeFile(join(dir, 'short.bin'), new Uint8Array(10));
    await rejects(path, "'short.bin' (10 bytes)", "weight 'w'");
  });
});
