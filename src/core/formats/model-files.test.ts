import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import { buildModel, fTensor, node, rand32, rawFloat32, valueInfo } from '../../../test/kits/onnx';
import { built } from '../../../test/kits/encode/models';
import { kerasWeightsOnly } from './keras/testdata/kit';
import { modelFiles, outputFiles, totalBytes } from './model-files';
import { MODEL_FORMATS, outputFilesOf, readModel, writeModel } from './registry';

/** What the reader says the model is made of. */
async function readersFiles(path: string): Promise<string[]> {
  const mlp = await readModel(path);
  return (mlp.source?.files ?? []).map((f) => resolve(f));
}

test('model files: the same list as the readers give, for every format', async () => {
  for (const path of [
    built('tfjs', 'abalone-node', 'model.json'),
    built('tfjs', 'rn59-graph', 'model.json'),
    built('onnx', 'mnist2x10.onnx'),
    built('safetensors', 'dfdx-mnist', 'mnist.safetensors'),
    join(__dirname, 'pytorch', 'testdata', 'lightning.ckpt'),
  ]) {
    assert.deepEqual(await modelFiles(path), await readersFiles(path), path);
  }
  // A folder is its model.json.
  assert.deepEqual(await modelFiles(built('tfjs', 'abalone-node')), await modelFiles(built('tfjs', 'abalone-node', 'model.json')));
});

test('model files: a model.json with its weights in two shards lists both, in manifest order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-model-files-'));
  const main = join(dir, 'model.json');
  await writeModel(await readModel(built('onnx', 'mnist2x10.onnx')), main);
  const json = JSON.parse(readFileSync(main, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  const bytes = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  writeFileSync(join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, 1000));
  writeFileSync(join(dir, 'group1-shard2of2.bin'), bytes.subarray(1000));
  json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
  writeFileSync(main, JSON.stringify(json));
  const files = await modelFiles(main);
  assert.deepEqual(files, [main, join(dir, 'group1-shard1of2.bin'), join(dir, 'group1-shard2of2.bin')]);
  assert.deepEqual(files, await readersFiles(main));
  assert.equal(await totalBytes([...files, join(dir, 'missing.bin')]), readFileSync(main).length + bytes.length);
});

test('model files: a manifest naming files outside the model folder, or none at all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-model-files-'));
  const main = join(dir, 'model.json');
  writeFileSync(main, JSON.stringify({ weightsManifest: [{ paths: ['../elsewhere.bin', 'w.bin', 'w.bin', 7] }] }));
  assert.deepEqual(await modelFiles(main), [main, join(dir, 'w.bin')]);
  writeFileSync(main, 'not json');
  assert.deepEqual(await modelFiles(main), [main]);
});

test('output files: what each writer creates, told without loading the writer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-model-files-'));
  const writers = MODEL_FORMATS.filter((f) => f.write);
  assert.ok(writers.length >= 3);
  for (const ext of writers.flatMap((f) => f.writeExtensions)) {
    for (const name of [`m${ext}`, `M.pruned-unit-l2-50${ext.toUpperCase()}`]) {
      const out = join(dir, name);
      assert.deepEqual(outputFiles(out), outputFilesOf(out), out);
    }
  }
  assert.deepEqual(outputFiles(join(dir, 'net.json')), [join(dir, 'net.json'), join(dir, 'net.weights.bin')]);
  assert.deepEqual(outputFiles(join(dir, 'mlp-100-50')), [join(dir, 'mlp-100-50')]);
  assert.equal(dirname(outputFiles('rel/x.onnx')[0]), resolve('rel'));
});

test('model files: a weights-only Keras .h5 brings the architecture file beside it, as its reader takes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-model-files-'));
  const { h5, config } = await kerasWeightsOnly(dir);
  // Nothing beside it yet: the file alone (the reader refuses it, asking for its architecture).
  assert.deepEqual(await modelFiles(h5), [h5]);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(config));
  assert.deepEqual(await modelFiles(h5), [h5, join(dir, 'model.json')]);
  assert.deepEqual(await modelFiles(h5), await readersFiles(h5));
  // A candidate looked at first and passed over (not a Keras config) is listed too: were it to
  // become one, the reader would take it instead.
  writeFileSync(join(dir, 'model.weights.json'), '{"format": "layers-model"}');
  assert.deepEqual(await modelFiles(h5), [h5, join(dir, 'model.weights.json'), join(dir, 'model.json')]);
  assert.deepEqual(await readersFiles(h5), [h5, join(dir, 'model.json')]);
});

test('model files: sidecar names are looked at only beside an HDF5 file, and never outside its folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-model-files-'));
  const outside = mkdtempSync(join(tmpdir(), 'prunescope-model-files-out-'));
  const { h5 } = await kerasWeightsOnly(dir);
  writeFileSync(join(outside, 'config.json'), '{}');
  symlinkSync(join(outside, 'config.json'), join(dir, 'config.json'));
  mkdirSync(join(dir, 'model.json'));
  assert.deepEqual(await modelFiles(h5), [h5]);
  // The same bytes under a name no Keras reader claims, after a user block: not read as HDF5.
  const blocked = join(dir, 'blocked.bin');
  writeFileSync(blocked, Buffer.concat([Buffer.alloc(512), readFileSync(h5)]));
  writeFileSync(join(dir, 'blocked.json'), '{}');
  assert.deepEqual(await modelFiles(blocked), [blocked]);
  // Under .h5 it is HDF5 (h5py's user block), so its sidecars count.
  const userBlock = join(dir, 'blocked.h5');
  writeFileSync(userBlock, readFileSync(blocked));
  assert.deepEqual(await modelFiles(userBlock), [userBlock, join(dir, 'blocked.json')]);
  // An ONNX file beside a config.json: not HDF5, the file alone.
  const onnxCopy = join(dir, 'net.onnx');
  writeFileSync(onnxCopy, readFileSync(built('onnx', 'mnist2x10.onnx')));
  writeFileSync(join(dir, 'net.json'), '{}');
  assert.deepEqual(await modelFiles(onnxCopy), [onnxCopy]);
});

test('model files: an ONNX model brings its external data files, as its reader opens them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-model-files-'));
  mkdirSync(join(dir, 'data'));
  const [w, b, w2] = [rand32(12, 1), rand32(3, 2), rand32(6, 3)];
  writeFileSync(join(dir, 'weights.bin'), Buffer.concat([rawFloat32(w), rawFloat32(b)]));
  writeFileSync(join(dir, 'data', 'w2.bin'), rawFloat32(w2));
  const external = (name: string, dims: number[], entries: Record<string, string>): onnx.ITensorProto => ({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: Object.entries(entries).map(([key, value]) => ({ key, value })),
  });
  const model = (initializers: onnx.ITensorProto[]) =>
    buildModel({
      nodes: [node('Gemm', ['x', 'W', 'b'], ['h']), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'W2'], ['y'])],
      initializers,
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 2])],
    });
  const path = join(dir, 'net.onnx');
  writeFileSync(
    path,
    model([
      external('W', [4, 3], { offset: '0', location: 'weights.bin', length: '48' }),
      external('b', [3], { location: 'weights.bin', offset: '48' }),
      external('W2', [3, 2], { location: './data/w2.bin' }),
    ]),
  );
  assert.deepEqual(await modelFiles(path), [path, join(dir, 'weights.bin'), join(dir, 'data', 'w2.bin')]);
  assert.deepEqual(await modelFiles(path), await readersFiles(path));
  // Embedded weights: the file alone, as before.
  const embedded = join(dir, 'embedded.onnx');
  writeFileSync(embedded, model([fTensor('W', [4, 3], w), fTensor('b', [3], b), fTensor('W2', [3, 2], w2)]));
  assert.deepEqual(await modelFiles(embedded), [embedded]);
  assert.deepEqual(await modelFiles(embedded), await readersFiles(embedded));
});
