// The ONNX writer: files run in onnxruntime-web with the outputs of our predict, and read back
// exactly; writes are atomic.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { initBackend } from '../../backend';
import { pruneModel } from '../../experiments/prune-model';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { built } from '../../../../test/kits/encode/models';
import { onnxFormat, readOnnx } from './onnx';
import { buildOnnxModel, encodeOnnxModel, onnxWeightBytes, WRITE_IR_VERSION, WRITE_OPSET } from './write';
import { assertClose, randomArray, randomMLP, rng, runOrt, tempDir } from '../../../../test/kits/onnx';

let dir: string;

before(async () => {
  await initBackend();
  dir = await tempDir('onnx-write');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Writes, runs the file in onnxruntime against predict, reads it back; returns the read MLP. */
async function roundTrip(mlp: MLP, file: string, n = 9, seed = 5): Promise<MLP> {
  const result = await onnxFormat.write!(mlp, file);
  assert.deepEqual(result.files, [file]);
  assert.equal(result.bytes, (await fs.stat(file)).size);
  const x = randomArray(n * mlp.inputSize, rng(seed), 2, 0);
  const expected = predict(mlp, x, n);
  assertClose(await runOrt(file, x, [n, ...mlp.inputShape]), expected, 1e-5, 'onnxruntime vs predict');
  const back = await readOnnx(file);
  assert.equal(back.name, mlp.name);
  assert.deepEqual(back.inputShape, mlp.inputShape);
  assert.equal(back.inputSize, mlp.inputSize);
  assert.deepEqual(back.layers, mlp.layers);
  assert.deepEqual(back.source?.notes, []);
  assert.equal(back.source?.producer?.split(' ')[0], 'PruneScope');
  return back;
}

describe('ONNX writer', () => {
  test('onnxWeightBytes: each kernel dense or as values and varint indices, whichever is smaller, across every index width', () => {
    // Indices at the edges of the 1-, 2-, 3- and 4-byte varint ranges (128, 16,384, 2,097,152).
    const n = 2_100_000;
    const sparse = new Float32Array(n);
    for (const k of [0, 127, 128, 16383, 16384, 2097151, 2097152, n - 1]) sparse[k] = 0.5;
    sparse[200] = -0; // a stored zero
    const dense = Float32Array.from({ length: 300 }, (_, k) => (k % 10 === 0 ? 0 : k));
    const varint = (v: number) => (v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4);
    const reference = (w: Float32Array) => {
      let cost = 0;
      for (let k = 0; k < w.length; k++) if (w[k] !== 0) cost += 4 + varint(k);
      return Math.min(4 * w.length, cost);
    };
    assert.equal(reference(sparse), 8 * 4 + (2 * 1 + 2 * 2 + 2 * 3 + 2 * 4));
    const bias = Float32Array.of(1, 2, 3);
    assert.equal(
      onnxWeightBytes([
        { weights: sparse, bias: null },
        { weights: dense, bias },
      ]),
      reference(sparse) + reference(dense) + 12,
    );
    assert.equal(reference(dense), 4 * 300, 'nine tenths kept: dense is smaller');
  });

  test('format entry: id onnx, label ONNX, writes .onnx', () => {
    assert.equal(onnxFormat.id, 'onnx');
    assert.equal(onnxFormat.label, 'ONNX');
    assert.deepEqual(onnxFormat.writeExtensions, ['.onnx']);
    assert.equal(typeof onnxFormat.write, 'function');
  });

  test('mnist2x10.onnx (PyTorch 1.11 layout) read -> write runs in onnxruntime like predict and reads back exactly', async () => {
    const mlp = await readOnnx(built('onnx', 'mnist2x10.onnx'));
    const out = join(dir, 'mnist2x10-copy.onnx');
    await roundTrip(mlp, out);
    // A second generation is byte-identical: nothing drifts through read -> write.
    const again = join(dir, 'mnist2x10-copy2.onnx');
    await onnxFormat.write!(await readOnnx(out), again);
    const a = onnx.ModelProto.decode(await fs.readFile(out));
    const b = onnx.ModelProto.decode(await fs.readFile(again));
    assert.deepEqual(a.graph, b.graph);
  });

  test('the file is IR 8 / opset 13 with Flatten, Gemm + activation per layer, raw float32 initializers, producer PruneScope', async () => {
    const mlp = await readOnnx(built('onnx', 'mnist2x5_sigmoid.onnx'));
    const out = join(dir, 'layout.onnx');
    await onnxFormat.write!(mlp, out);
    const m = onnx.ModelProto.decode(await fs.readFile(out));
    const g = m.graph as onnx.GraphProto;
    assert.equal(Number(m.irVersion), WRITE_IR_VERSION);
    assert.deepEqual(
      m.opsetImport.map((o) => [o.domain, Number(o.version)]),
      [['', WRITE_OPSET]],
    );
    assert.equal(m.producerName, 'PruneScope');
    assert.deepEqual(
      g.node.map((n) => n.opType),
      ['Flatten', 'Gemm', 'Sigmoid', 'Gemm', 'Sigmoid', 'Gemm'],
    );
    for (const t of g.initializer as onnx.TensorProto[]) {
      assert.equal(t.dataType, onnx.TensorProto.DataType.FLOAT);
      assert.equal(t.floatData.length, 0);
      assert.equal(t.rawData.length, 4 * t.dims.reduce<number>((a, d) => a * Number(d), 1));
    }
    const w = (g.initializer as onnx.TensorProto[]).find((t) => t.name === '/fc1/Gemm.weight');
    assert.deepEqual(w?.dims.map(Number), [784, 5]);
    const dims = g.input[0].type?.tensorType?.shape?.dim ?? [];
    assert.deepEqual(
      dims.map((d) => d.dimParam || Number(d.dimValue)),
      ['batch', 1, 28, 28],
    );
    await roundTrip(mlp, join(dir, 'sigmoid-copy.onnx'));
  });

  test('every activation, a layer without bias, leaky alpha and dropout survive the round trip', async () => {
    const mlp = randomMLP([6, 7, 7, 6, 6, 5, 5, 4], ['relu6', 'leaky_relu', 'tanh', 'sigmoid', 'linear', 'relu', 'softmax'], 31);
    mlp.name = 'all activations';
    mlp.layers[1].alpha = 0.1;
    mlp.layers[2].bias = null;
    mlp.layers[3].dropout = 0.25;
    mlp.layers[4].dropout = 0.1; // dropout on a linear layer
    const back = await roundTrip(mlp, join(dir, 'all.onnx'), 13, 8);
    assert.equal(back.layers[1].alpha, 0.1);
    assert.equal(back.layers[3].dropout, 0.25);
    const logMlp = randomMLP([3, 4, 2], ['tanh', 'log_softmax'], 32);
    await roundTrip(logMlp, join(dir, 'log.onnx'));
  });

  test('a flat input writes no Flatten; duplicate and empty layer names are made distinct', async () => {
    const mlp = randomMLP([4, 3, 2], ['relu', 'linear'], 33);
    mlp.layers[0].name = 'same';
    mlp.layers[1].name = 'same';
    const out = join(dir, 'names.onnx');
    await onnxFormat.write!(mlp, out);
    const m = onnx.ModelProto.decode(await fs.readFile(out));
    assert.deepEqual(
      m.graph?.node?.map((n) => n.opType),
      ['Gemm', 'Relu', 'Gemm'],
    );
    const back = await readOnnx(out);
    assert.deepEqual(
      back.layers.map((l) => l.name),
      ['same', 'same_2'],
    );
    mlp.layers[0].name = '';
    await onnxFormat.write!(mlp, out);
    assert.equal((await readOnnx(out)).layers[0].name, 'dense_1');
  });

  test('a magnitude-pruned model is written with sparse initializers: a smaller file that onnxruntime runs like predict, read back exactly', async () => {
    const source = built('onnx', 'mnist2x10.onnx');
    const dense = join(dir, 'dense.onnx');
    await onnxFormat.write!(await readOnnx(source), dense);
    const sparse = join(dir, 'pruned-90.onnx');
    const r = await pruneModel({ model: source, strategy: 'magnitude', sparsity: 0.9, out: sparse });
    assert.match(r.notes.join(' '), /ONNX stores mostly-zero kernels as sparse initializers/);
    const pruned = await readOnnx(sparse);
    await roundTrip(pruned, join(dir, 'pruned-90-again.onnx'));

    const g = onnx.ModelProto.decode(await fs.readFile(sparse)).graph as onnx.GraphProto;
    const first = g.sparseInitializer.find((t) => t.values?.name === 'Gemm_2.weight');
    assert.ok(first, `sparse initializers: ${g.sparseInitializer.map((t) => t.values?.name).join(', ')}`);
    assert.deepEqual((first.dims ?? []).map(Number), [784, 10]);
    assert.equal(first.indices?.dataType, onnx.TensorProto.DataType.INT64);
    const at = (first.indices?.int64Data ?? []).map(Number);
    assert.equal(at.length, Number(first.values?.dims?.[0]));
    assert.ok(
      at.every((k, i) => i === 0 || k > at[i - 1]),
      'indices ascend',
    );
    assert.equal(at.length, Math.round(784 * 10 * 0.1));
    // The 10 x 10 kernels keep 10 of 100 weights: sparse is smaller there too.
    assert.equal(g.sparseInitializer.length, 2);
    assert.equal(g.initializer.filter((t) => t.name?.endsWith('.weight')).length, 1, 'the output layer is not pruned and stays dense');

    const bytes = async (f: string) => (await fs.stat(f)).size;
    const ratio = (await bytes(sparse)) / (await bytes(dense));
    assert.ok(ratio < 0.25, `pruned file is ${(ratio * 100).toFixed(1)}% of the dense one`);
    assert.equal(r.bytesAfter, await bytes(sparse));

    // Asked to, the writer stores every zero: no sparse initializers, the dense file's size.
    const forced = join(dir, 'pruned-90-dense.onnx');
    await onnxFormat.write!(pruned, forced, { dense: true });
    const gd = onnx.ModelProto.decode(await fs.readFile(forced)).graph as onnx.GraphProto;
    assert.equal(gd.sparseInitializer.length, 0);
    assert.ok(Math.abs((await bytes(forced)) - (await bytes(dense))) < 100, `${await bytes(forced)} vs ${await bytes(dense)}`);
    assert.deepEqual((await readOnnx(forced)).layers, pruned.layers);
  });

  test("the writer's bytes are protobufjs's own, int64 indices and every other int64 included", () => {
    const mlp = randomMLP([300, 40, 3], ['relu', 'softmax'], 35);
    const next = rng(36);
    for (const l of mlp.layers) for (let i = 0; i < l.weights.length; i++) if (next() < 0.8) l.weights[i] = 0;
    const model = buildOnnxModel(mlp, 'sparse');
    assert.equal(model.graph?.sparseInitializer?.length, 2, 'both kernels stored sparse');
    // int64s the fast path must leave to protobufjs: negative, at and past 2^32, and a fraction
    // protobufjs truncates; 0 and 2^32 - 1 are the fast path's ends.
    (model.graph as onnx.GraphProto).initializer.push(
      onnx.TensorProto.create({
        name: 'extremes',
        dims: [7],
        dataType: onnx.TensorProto.DataType.INT64,
        int64Data: [0, 4294967295, 4294967296, -1, -4294967296, 2 ** 52 + 1, 7.5],
      }),
    );
    assert.deepEqual(Buffer.from(encodeOnnxModel(model)), Buffer.from(onnx.ModelProto.encode(model).finish()));
  });

  test('writes are atomic: a failed write leaves no file and no temporary behind', async () => {
    const sub = join(dir, 'atomic');
    await fs.mkdir(sub);
    const mlp = randomMLP([2, 2], ['linear'], 34);
    await onnxFormat.write!(mlp, join(sub, 'ok.onnx'));
    assert.deepEqual(await fs.readdir(sub), ['ok.onnx']);
    await assert.rejects(onnxFormat.write!(mlp, join(sub, 'missing-folder', 'x.onnx')));
    assert.deepEqual(await fs.readdir(sub), ['ok.onnx']);
    const broken = { ...mlp, layers: [{ ...mlp.layers[0], weights: new Float32Array(3) }] };
    await assert.rejects(
      onnxFormat.write!(broken, join(sub, 'broken.onnx')),
      /cannot write random as ONNX: layer dense_1 has 3 weights, expected 2x2/,
    );
    assert.deepEqual(await fs.readdir(sub), ['ok.onnx']);
  });
});
