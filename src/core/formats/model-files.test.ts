import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { built } from '../../../test/kits/encode/models';
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
