import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { built } from '../../test/kits/encode/models';
import { readModel, writeModel } from '../core/formats/registry';
import { CORE_JOBS } from '../worker/jobs-core';
import { checkJobParams } from '../shared/jobs';
import { activationsView, historyView } from './inspector-data';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-inspector-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function inspect(model: string, activation?: string, outputActivation?: string) {
  const params = checkJobParams('inspect', { model, activation, outputActivation });
  assert.ok(params.ok);
  return CORE_JOBS.inspect(params.value, { signal: new AbortController().signal, progress: () => undefined, log: () => undefined });
}

test('a safetensors state dict is read with the settings, and the inspector says so', async () => {
  const r = await inspect(built('safetensors', 'dfdx-mnist', 'mnist.safetensors'), 'tanh', 'sigmoid');
  assert.deepEqual(
    r.summary.layers.map((l) => l.activation),
    ['tanh', 'tanh', 'tanh', 'sigmoid'],
  );
  assert.deepEqual(activationsView(r.summary, { activation: 'tanh', outputActivation: 'sigmoid' }), {
    format: 'safetensors',
    source: 'settings',
    hidden: 'tanh',
    output: 'sigmoid',
  });
  // The histograms come with the summary: every kernel weight in a bin.
  assert.deepEqual(
    r.histograms?.map((h) => [h.weights, h.linear.counts.reduce((a, b) => a + b, 0)]),
    [
      [784 * 512, 784 * 512],
      [512 * 128, 512 * 128],
      [128 * 32, 128 * 32],
      [32 * 10, 32 * 10],
    ],
  );
});

test('state dicts PruneScope wrote carry their activations; other formats have no activation line', async () => {
  const mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
  for (const [file, format] of [
    ['m.safetensors', 'safetensors'],
    ['m.pt', 'PyTorch state dict'],
  ]) {
    const path = join(dir, file);
    await writeModel(mlp, path);
    const r = await inspect(path, 'tanh', 'tanh');
    // The recorded relu, relu, linear win over the settings.
    assert.deepEqual(
      r.summary.layers.map((l) => l.activation),
      ['relu', 'relu', 'linear'],
    );
    assert.deepEqual(activationsView(r.summary, { activation: 'tanh', outputActivation: 'tanh' }), {
      format,
      source: 'file',
      hidden: 'tanh',
      output: 'tanh',
    });
  }
  const onnx = await inspect(built('onnx', 'mnist2x10.onnx'));
  assert.equal(activationsView(onnx.summary, { activation: 'relu', outputActivation: 'linear' }), undefined);
});

test('history view: curves pass through, other layer sizes are noted, errors stay one line', async () => {
  const { summary } = await inspect(built('onnx', 'mnist2x10.onnx'));
  const epochs = [
    { epoch: 1, loss: 0.9, accuracy: 0.7, valLoss: 0.8, valAccuracy: 0.75 },
    { epoch: 2, loss: 0.5, accuracy: 0.85, valLoss: null, valAccuracy: 0.8 },
  ];
  const file = '/m/history.json';
  assert.deepEqual(historyView({ state: 'ok', file, curves: { epochs, bestEpoch: 2, sizes: [784, 10, 10, 10] } }, summary), {
    state: 'ok',
    file,
    epochs,
    bestEpoch: 2,
  });
  const other = historyView({ state: 'ok', file, curves: { epochs, bestEpoch: null, sizes: [784, 20, 10] } }, summary);
  assert.ok(other?.state === 'ok');
  assert.equal(other.note, 'history.json records the training of a 784-20-10 model; this one is 784-10-10-10');
  assert.equal(historyView({ state: 'none' }, summary), undefined);
  assert.deepEqual(historyView({ state: 'error', file, message: `${file}: records no epochs` }, summary), {
    state: 'error',
    file,
    message: `${file}: records no epochs`,
  });
});
