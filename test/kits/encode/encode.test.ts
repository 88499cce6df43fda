// The encoder kit checked on its own, without the product's readers: its protobuf bytes decode
// with onnx-proto to the fields it meant, onnxruntime and TensorFlow.js run its files like its
// reference forward pass, its safetensors and tfjs bytes are where their headers say, and the
// built MNIST models have the properties the other tests rely on.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { loadDataset } from '../../../src/core/data/load';
import { runOrt } from '../onnx';
import { fileIOHandler } from '../tfjs';
import { mnistRows } from './mnist';
import { built, builtNet, PRODUCER } from './models';
import { encodeModel, encodeTensor, DataType, floatData, node, rawFloats, rawInt64s } from './onnx';
import { float32LE, intField, varint } from './protobuf';
import { accuracyAndLoss, forward, forwardLayers, kernelOf, layerRow, type Net } from './reference';
import { encodeSafetensors } from './safetensors';
import { writeTfjsFolder } from './tfjs';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-encode-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (values: ArrayLike<number>) => Array.from(Float32Array.from(values));

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths`);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < actual.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol * scale, `${what} [${i}]: ${actual[i]} vs ${expected[i]}`);
}

describe('protobuf wire format', () => {
  test("varints as the encoding guide gives them, negatives as 10-byte two's complement", () => {
    assert.deepEqual(varint(0), [0]);
    assert.deepEqual(varint(1), [1]);
    assert.deepEqual(varint(150), [0x96, 0x01]);
    assert.deepEqual(varint(300), [0xac, 0x02]);
    assert.deepEqual(varint(-1), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual(varint(2n ** 63n - 1n), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert.deepEqual(Array.from(intField(1, 150)), [0x08, 0x96, 0x01]);
    assert.deepEqual(Array.from(float32LE([1, -2])), [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
  });
});

describe('ONNX encoder', () => {
  test('a model decodes with onnx-proto to the fields it was given', () => {
    const bytes = encodeModel({
      irVersion: 6,
      opsets: [{ version: 11 }, { domain: 'ai.onnx.ml', version: 2 }],
      producerName: 'p',
      producerVersion: 'v',
      domain: 'd',
      modelVersion: 3,
      docString: 'doc',
      graph: {
        name: 'g',
        nodes: [
          node('Constant', [], ['s'], 'c', [{ name: 'value', t: rawInt64s(undefined, [2], [-1, 784]) }]),
          node('Reshape', ['x', 's'], ['r'], 'rs'),
          node('Gemm', ['r', 'W', 'b'], ['y'], 'fc', [
            { name: 'alpha', f: 0.5 },
            { name: 'transB', i: 1 },
            { name: 'perm', ints: [1, 0, -1] },
            { name: 'scales', floats: [0.25, 2] },
            { name: 'mode', s: 'constant' },
          ]),
        ],
        initializers: [
          rawFloats('W', [3, 784], new Float32Array(3 * 784).fill(0.5)),
          floatData('b', [3], [1, -2, 3.5]),
          { name: 'i', dims: [2], dataType: DataType.INT64, int64Data: [-3, 2n ** 40n] },
        ],
        inputs: [{ name: 'x', dims: ['batch', 1, 28, 28] }],
        outputs: [{ name: 'y', dims: ['batch', 3] }],
        valueInfo: [{ name: 'r', dims: ['batch', 784] }],
      },
    });
    const m = onnx.ModelProto.decode(bytes);
    assert.equal(Number(m.irVersion), 6);
    assert.deepEqual(
      m.opsetImport.map((o) => [o.domain, Number(o.version)]),
      [
        ['', 11],
        ['ai.onnx.ml', 2],
      ],
    );
    assert.deepEqual([m.producerName, m.producerVersion, m.domain, Number(m.modelVersion), m.docString], ['p', 'v', 'd', 3, 'doc']);
    const g = m.graph as onnx.GraphProto;
    assert.equal(g.name, 'g');
    assert.deepEqual(
      g.node.map((n) => [n.name, n.opType, n.input, n.output]),
      [
        ['c', 'Constant', [], ['s']],
        ['rs', 'Reshape', ['x', 's'], ['r']],
        ['fc', 'Gemm', ['r', 'W', 'b'], ['y']],
      ],
    );
    const nodes = g.node as onnx.NodeProto[];
    const shape = nodes[0].attribute[0].t as onnx.TensorProto;
    assert.equal(nodes[0].attribute[0].type, onnx.AttributeProto.AttributeType.TENSOR);
    assert.deepEqual(shape.dims.map(Number), [2]);
    assert.equal(shape.name, '');
    assert.deepEqual(Array.from(new BigInt64Array(new Uint8Array(shape.rawData).slice().buffer)), [-1n, 784n]);
    const [alpha, transB, perm, scales, mode] = nodes[2].attribute as onnx.AttributeProto[];
    const T = onnx.AttributeProto.AttributeType;
    assert.deepEqual([alpha.name, alpha.type, alpha.f], ['alpha', T.FLOAT, 0.5]);
    assert.deepEqual([transB.name, transB.type, Number(transB.i)], ['transB', T.INT, 1]);
    assert.deepEqual([perm.type, perm.ints.map(Number)], [T.INTS, [1, 0, -1]]);
    assert.deepEqual([scales.type, scales.floats], [T.FLOATS, [0.25, 2]]);
    assert.deepEqual([mode.type, new TextDecoder().decode(mode.s)], [T.STRING, 'constant']);
    const [w, b, i] = g.initializer as onnx.TensorProto[];
    assert.deepEqual(
      [w.name, w.dims.map(Number), w.dataType, w.rawData.length, w.floatData.length],
      ['W', [3, 784], DataType.FLOAT, 4 * 3 * 784, 0],
    );
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(w.rawData).slice().buffer)).slice(0, 3), [0.5, 0.5, 0.5]);
    assert.deepEqual([b.name, b.floatData, b.rawData.length], ['b', [1, -2, 3.5], 0]);
    assert.deepEqual(
      i.int64Data.map((v: number | { toString(): string }) => BigInt(v.toString())),
      [-3n, 2n ** 40n],
    );
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    assert.deepEqual(
      [g.input[0].name, g.input[0].type!.tensorType!.elemType, dims(g.input[0])],
      ['x', DataType.FLOAT, ['batch', 1, 28, 28]],
    );
    assert.deepEqual(dims(g.output[0]), ['batch', 3]);
    assert.deepEqual([g.valueInfo[0].name, dims(g.valueInfo[0])], ['r', ['batch', 784]]);
  });

  test('a tensor file (test_data_set) decodes to its dims and values', () => {
    const t = onnx.TensorProto.decode(encodeTensor({ dims: [2, 2], dataType: DataType.DOUBLE, doubleData: [1.5, -2, 3, 4] }));
    assert.deepEqual([t.dims.map(Number), t.dataType, t.doubleData], [[2, 2], DataType.DOUBLE, [1.5, -2, 3, 4]]);
  });

  test('the built mnist2x10 twin has the PyTorch 1.11 layout, and onnxruntime computes what the reference pass computes', async () => {
    const path = built('onnx', 'mnist2x10.onnx');
    const m = onnx.ModelProto.decode(readFileSync(path));
    const g = m.graph as onnx.GraphProto;
    assert.equal(m.producerName, PRODUCER);
    assert.deepEqual(
      g.node.map((n) => `${n.name}:${n.opType}`),
      ['Constant_0:Constant', 'Reshape_1:Reshape', 'Gemm_2:Gemm', 'Relu_3:Relu', 'Gemm_4:Gemm', 'Relu_5:Relu', 'Gemm_6:Gemm'],
    );
    const gemm = (g.node as onnx.NodeProto[])[2].attribute;
    assert.deepEqual(
      gemm.map((a) => [a.name, a.type === onnx.AttributeProto.AttributeType.INT ? Number(a.i) : a.f]),
      [
        ['alpha', 1],
        ['beta', 1],
        ['transB', 1],
      ],
    );
    const net = builtNet('onnx', 'mnist2x10.onnx');
    const w1 = (g.initializer as onnx.TensorProto[]).find((t) => t.name === 'fc1.weight')!;
    assert.deepEqual(w1.dims.map(Number), [10, 784]);
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(w1.rawData).slice().buffer)), Array.from(net.layers[0].w));
    const rows = mnistRows('test', 0, 16);
    close(await runOrt(path, rows.x, [16, 1, 28, 28]), forward(net, rows.x, 16), 1e-5, 'onnxruntime vs reference');
  });

  for (const name of ['mnist2x5_sigmoid.onnx', 'fc1.onnx', 'fc_2-2-3.onnx']) {
    test(`the built ${name} runs in onnxruntime like the reference pass`, async () => {
      const net = builtNet('onnx', name);
      const n = 12;
      const x = Float32Array.from({ length: n * net.inputSize }, (_, i) => Math.sin(i) * 2);
      close(await runOrt(built('onnx', name), x, [n, ...net.inputShape]), forward(net, x, n), 1e-5, name);
    });
  }
});

describe('safetensors encoder', () => {
  test('8-byte length, JSON header padded to 8 bytes, data where the offsets say', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a.weight', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] },
        { name: 'a.bias', shape: [2], values: [0.5, -0.5], dtype: 'F64' },
      ],
      { format: 'pt' },
    );
    const view = new DataView(bytes.buffer);
    const hlen = Number(view.getBigUint64(0, true));
    assert.equal(hlen % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
    assert.deepEqual(header, {
      __metadata__: { format: 'pt' },
      'a.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      'a.bias': { dtype: 'F64', shape: [2], data_offsets: [24, 40] },
    });
    assert.equal(bytes.length, 8 + hlen + 40);
    const data = 8 + hlen;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((k) => view.getFloat32(data + 4 * k, true)),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      [0, 1].map((k) => view.getFloat64(data + 24 + 8 * k, true)),
      [0.5, -0.5],
    );
  });

  test('the built dfdx twin names, shapes and orders its tensors like dfdx', () => {
    const buf = readFileSync(built('safetensors', 'dfdx-mnist', 'mnist.safetensors'));
    const hlen = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    assert.deepEqual(
      Object.entries(header).map(([k, v]) => [k, (v as { shape: number[] }).shape]),
      [
        ['0.0.bias', [512]],
        ['0.0.weight', [512, 784]],
        ['1.0.bias', [128]],
        ['1.0.weight', [128, 512]],
        ['2.0.bias', [32]],
        ['2.0.weight', [32, 128]],
        ['3.bias', [10]],
        ['3.weight', [10, 32]],
      ],
    );
    assert.deepEqual(header['3.weight'].data_offsets, [1886888, 1888168]);
    const net = builtNet('safetensors', 'dfdx-mnist', 'mnist.safetensors');
    const at = 8 + hlen + header['1.0.weight'].data_offsets[0];
    assert.equal(buf.readFloatLE(at + 4 * 515), net.layers[1].w[515]);
  });
});

describe('tfjs encoder', () => {
  test('the manifest lists the shard and its weights in order; the shard holds them as little-endian float32', () => {
    const path = writeTfjsFolder({
      dir: join(dir, 'm'),
      json: { format: 'layers-model', weightsManifest: null, modelTopology: {} },
      weights: [
        { name: 'k', shape: [2, 2], values: [1, 2, 3, 4] },
        { name: 'b', shape: [2], values: [-1, 0.5] },
      ],
      shardName: 's.bin',
      manifestPath: './s.bin',
    });
    const json = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual(Object.keys(json), ['format', 'weightsManifest', 'modelTopology']);
    assert.deepEqual(json.weightsManifest, [
      {
        paths: ['./s.bin'],
        weights: [
          { name: 'k', shape: [2, 2], dtype: 'float32' },
          { name: 'b', shape: [2], dtype: 'float32' },
        ],
      },
    ]);
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(readFileSync(join(dir, 'm', 's.bin'))).buffer)), [1, 2, 3, 4, -1, 0.5]);
  });

  async function tfjsOutputs(model: tf.LayersModel | tf.GraphModel, x: Float32Array, shape: number[]): Promise<Float32Array> {
    const input = tf.tensor(x, shape);
    const y = model.predict(input) as tf.Tensor;
    const out = (await y.data()) as Float32Array;
    tf.dispose([input, y]);
    return out;
  }

  for (const [name, json, kind] of [
    ['abalone-node', 'model.json', 'layers'],
    ['rn59-layers', 'bundle_model_test.json', 'layers'],
    ['rn59-graph', 'model.json', 'graph'],
    ['matmul-graph', 'model.json', 'graph'],
  ] as const) {
    test(`TensorFlow.js loads the built ${name} and computes what the reference pass computes`, async () => {
      const net: Net = builtNet('tfjs', name);
      const n = name === 'matmul-graph' ? 2 : 8;
      const x = Float32Array.from({ length: n * net.inputSize }, (_, i) => Math.cos(i) * 1.5);
      const handler = fileIOHandler(built('tfjs', name, json));
      const model = kind === 'layers' ? await tf.loadLayersModel(handler) : await tf.loadGraphModel(handler);
      close(await tfjsOutputs(model, x, [n, ...net.inputShape]), forward(net, x, n), 1e-5, name);
      model.dispose();
    });
  }

  test('rn59-graph and rn59-layers hold the same weights', () => {
    assert.equal(builtNet('tfjs', 'rn59-graph'), builtNet('tfjs', 'rn59-layers'));
  });
});

describe('reference forward pass', () => {
  test('by hand: relu, then softmax', () => {
    const net: Net = {
      inputShape: [2],
      inputSize: 2,
      layers: [
        { name: 'a', inputSize: 2, units: 2, w: Float32Array.of(1, 2, -1, 1), bias: Float32Array.of(0, -5), activation: 'relu' },
        { name: 'b', inputSize: 2, units: 2, w: Float32Array.of(1, 0, 0, 1), bias: null, activation: 'softmax' },
      ],
    };
    // x = [1, 1]: a = relu([3, -5]) = [3, 0]; softmax([3, 0]) = [e^3, 1] / (e^3 + 1).
    const [h, y] = forwardLayers(net, [1, 1], 1);
    assert.deepEqual(Array.from(h), [3, 0]);
    close(y, [Math.exp(3) / (Math.exp(3) + 1), 1 / (Math.exp(3) + 1)], 1e-15, 'softmax');
    assert.deepEqual(Array.from(layerRow(net.layers[0], [1, 1], true)), [3, -5]);
    assert.deepEqual(Array.from(kernelOf(net.layers[0])), [1, -1, 2, 1]);
    const { accuracy, loss } = accuracyAndLoss(net, [1, 1, 0, 0], [0, 1], 2);
    // Row 2: a = [0, 0], softmax = [0.5, 0.5], argmax 0 (first of a tie) != 1.
    assert.equal(accuracy, 0.5);
    close([loss], [(-Math.log(Math.exp(3) / (Math.exp(3) + 1)) - Math.log(0.5)) / 2], 1e-15, 'loss');
  });

  test('the kit reads the same MNIST rows as the product', async () => {
    const splits = await loadDataset('mnist');
    for (const [split, start] of [
      ['test', 9990],
      ['validation', 0],
      ['train', 123],
    ] as const) {
      const kit = mnistRows(split, start, 10);
      const ds = splits[split]!;
      assert.deepEqual(f32(kit.x), f32(ds.x.subarray(start * 784, (start + 10) * 784)), split);
      assert.deepEqual(Array.from(kit.y), Array.from(ds.y!.subarray(start, start + 10)), split);
    }
  });
});

describe('the built MNIST models have what the tests rely on', () => {
  test('mnist2x10: three first-layer units and one second-layer unit never fire on MNIST, the others do; it classifies', () => {
    const net = builtNet('onnx', 'mnist2x10.onnx');
    for (const split of ['test', 'validation'] as const) {
      const rows = mnistRows(split, 0, 1000);
      const [h1, h2] = forwardLayers(net, rows.x, rows.n);
      const off = (h: Float64Array, units: number) =>
        Array.from({ length: units }, (_, j) => {
          let zeros = 0;
          for (let r = 0; r < rows.n; r++) if (h[r * units + j] === 0) zeros++;
          return zeros / rows.n;
        });
      assert.deepEqual(
        off(h1, 10)
          .map((v, j) => (v === 1 ? j : -1))
          .filter((j) => j >= 0),
        [1, 2, 9],
        split,
      );
      assert.deepEqual(
        off(h2, 10)
          .map((v, j) => (v === 1 ? j : -1))
          .filter((j) => j >= 0),
        [9],
        split,
      );
      assert.ok(
        off(h1, 10).every((v) => v === 1 || (v > 0.05 && v < 0.95)),
        `${split}: ${off(h1, 10).join(' ')}`,
      );
    }
    const test = mnistRows('test', 0, 10000);
    const { accuracy } = accuracyAndLoss(net, test.x, test.y, test.n);
    assert.ok(accuracy > 0.7, `accuracy ${accuracy}`);
  });

  test('mnist2x5_sigmoid and the dfdx twin classify above chance', () => {
    const test = mnistRows('test', 0, 2000);
    for (const [what, net] of [
      ['sigmoid', builtNet('onnx', 'mnist2x5_sigmoid.onnx')],
      ['dfdx', builtNet('safetensors', 'dfdx-mnist')],
    ] as const) {
      const { accuracy } = accuracyAndLoss(net, test.x, test.y, test.n);
      assert.ok(accuracy > 0.6, `${what}: accuracy ${accuracy}`);
    }
  });
});
