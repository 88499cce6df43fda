/**
 * The inspector's charts in Chromium on the real webview bundle, fed what the extension sends: the
 * inspect job's result for a real model file (written from the kit's ONNX MLP, a block of its first
 * kernel zeroed), the history.json beside it as the extension reads it, and a safetensors state
 * dict read with chosen activations. Numbers are checked against the weights and the file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { initBackend } from '../../src/core/backend';
import { readModel, writeModel } from '../../src/core/formats/registry';
import type { MLP } from '../../src/core/model/mlp';
import type { EpochMetrics, TrainingHistory } from '../../src/core/train/fit';
import { readTrainingHistory } from '../../src/core/train/history-file';
import { activationsView, historyView } from '../../src/extension/inspector-data';
import { checkJobParams, type JobResult } from '../../src/shared/jobs';
import { CORE_JOBS } from '../../src/worker/jobs-core';
import { built } from '../kits/encode/models';
import { saveScreenshot, type StaticServer } from './browser';
import { chartInfos, posted, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const ZEROED = 500;

/** Five epochs as fit.ts records them; epoch 4's validation loss was NaN (written as null). */
const EPOCHS: EpochMetrics[] = [
  [0.92, 0.71, 0.61, 0.81],
  [0.55, 0.83, 0.47, 0.86],
  [0.41, 0.875, 0.43, 0.88],
  [0.35, 0.9, NaN, 0.885],
  [0.31, 0.91, 0.42, 0.89],
].map(([loss, accuracy, valLoss, valAccuracy], i) => ({
  epoch: i + 1,
  epochs: 5,
  loss,
  accuracy,
  valLoss,
  valAccuracy,
  seconds: 1.5,
  samplesPerSecond: 40_000,
}));

function history(sizes: number[]): TrainingHistory {
  return {
    backend: { name: 'wasm', tfjsVersion: '4.22.0', threads: 2, fallbacks: [] },
    engine: 'onnxruntime',
    seed: 1,
    options: {
      epochs: 5,
      batchSize: 512,
      learningRate: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
      patience: 3,
      l2: 0,
      l1: 0,
      seed: 1,
      validationSplit: 0.1,
      shuffle: true,
      masked: false,
    },
    model: { name: 'mlp', sizes },
    trainSamples: 54_000,
    validationSamples: 6_000,
    validationSource: 'held-out training rows',
    epochs: EPOCHS,
    bestEpoch: 5,
    bestValLoss: 0.42,
    stoppedEarly: false,
    totalSeconds: 7.5,
  };
}

async function inspect(model: string, activation?: string, outputActivation?: string): Promise<JobResult<'inspect'>> {
  const params = checkJobParams('inspect', { model, activation, outputActivation });
  assert.ok(params.ok);
  return CORE_JOBS.inspect(params.value, { signal: new AbortController().signal, progress: () => undefined, log: () => undefined });
}

/** Each chart's datasets as the page holds them. */
async function chartData(page: Page): Promise<Record<string, { label: string; data: unknown[] }[]>> {
  return (await page.evaluate(`Object.fromEntries(window.prunescopeCharts().map((c) => [c.name,
    c.chart.data.datasets.map((d) => ({ label: d.label, data: d.data }))]))`)) as Record<string, { label: string; data: unknown[] }[]>;
}

const sum = (xs: unknown[]) => xs.reduce<number>((a, b) => a + (b as number), 0);

describe('inspector: weight histograms, training curves, state-dict activations', { timeout: 300_000 }, () => {
  const suite = webviewSuite('inspector');
  let site: StaticServer;
  let mlp: MLP;
  let modelPath: string;

  async function open(name: string): Promise<{ page: Page; errors: string[] }> {
    const { page, messages } = await suite.open(`${site.url}${name}.html`);
    await page.locator('table.layers tbody tr').first().waitFor();
    return { page, errors: pageErrors(messages) };
  }

  before(async () => {
    await initBackend();
    mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
    mlp.layers[0].weights.fill(0, 0, ZEROED);
    mkdirSync(join(suite.work, 'trained'));
    modelPath = join(suite.work, 'trained', 'model.onnx');
    await writeModel(mlp, modelPath);
    writeFileSync(join(suite.work, 'trained', 'history.json'), `${JSON.stringify(history([784, 10, 10, 10]), null, 2)}\n`);
    const model = await inspect(modelPath);
    const read = await readTrainingHistory(modelPath);
    assert.equal(read.state, 'ok');
    const siteDir = join(suite.work, 'site');
    writeTestPage(siteDir, 'history', 'inspector', {
      type: 'showModel',
      file: modelPath,
      model,
      history: historyView(read, model.summary),
    });

    mkdirSync(join(suite.work, 'malformed'));
    const malformedModel = join(suite.work, 'malformed', 'model.onnx');
    await writeModel(mlp, malformedModel);
    writeFileSync(join(suite.work, 'malformed', 'history.json'), '{"epochs": [{"epoch": 1, "loss": "low"}]}');
    const bad = await readTrainingHistory(malformedModel);
    writeTestPage(siteDir, 'malformed', 'inspector', {
      type: 'showModel',
      file: malformedModel,
      model: await inspect(malformedModel),
      history: historyView(bad, model.summary),
    });

    const st = built('safetensors', 'dfdx-mnist', 'mnist.safetensors');
    const stModel = await inspect(st, 'tanh', 'sigmoid');
    writeTestPage(siteDir, 'safetensors', 'inspector', {
      type: 'showModel',
      file: st,
      model: stModel,
      activations: activationsView(stModel.summary, { activation: 'tanh', outputActivation: 'sigmoid' }),
    });
    site = await suite.serve(siteDir);
  });

  test('one histogram per layer whose bars hold every weight, with the sparsity beside it', async () => {
    const { page, errors } = await open('history');
    const names = mlp.layers.map((l, i) => `|w| of ${l.name} (layer ${i + 1})`);
    let data = await chartData(page);
    for (const [i, l] of mlp.layers.entries()) {
      const bars = data[names[i]];
      assert.ok(bars, `chart ${names[i]}`);
      assert.equal(bars.length, 1);
      assert.equal(bars[0].data.length, 40);
      assert.equal(sum(bars[0].data), l.weights.length);
      // The first bin, counted here from the weights: |w| below a 40th of the largest.
      let max = 0;
      for (const w of l.weights) max = Math.max(max, Math.abs(w));
      const first = l.weights.filter((w) => Math.floor((Math.abs(w) / max) * 40) === 0).length;
      assert.equal(bars[0].data[0], first);
    }
    const zeros = mlp.layers[0].weights.filter((w) => w === 0).length;
    assert.ok(zeros >= ZEROED);
    const notes = await page.locator('.weight-histogram .note').allTextContents();
    assert.equal(notes[0], `784 × 10 kernel; sparsity ${Math.round((zeros / 7840) * 1000) / 10}%: ${zeros} of 7,840 weights are exactly 0`);
    assert.equal(notes.length, 3);
    await saveScreenshot(page, 'inspector-histograms', 'browser');

    // Log-spaced bins: the zeros get a bar of their own, and the bars still hold every weight.
    await page.getByLabel('|w| bins').selectOption({ label: 'logarithmic' });
    await page.waitForFunction(`window.prunescopeCharts()[0]?.chart.data.labels[0] === '0'`);
    data = await chartData(page);
    const log = data[names[0]][0].data;
    assert.equal(log[0], zeros);
    assert.equal(sum(log), 7840);
    await page.getByLabel('count axis').selectOption({ label: 'logarithmic' });
    await page.waitForFunction(`window.prunescopeCharts()[0]?.chart.scales.y.type === 'logarithmic'`);
    const info = (await chartInfos(page)).find((c) => c.name === names[0]);
    assert.equal(info?.yScale, 'logarithmic');
    assert.equal(info?.yTitle, 'weights (log scale)');
    // Both choices survive a theme change, which draws the charts again.
    await page.evaluate(`window.postMessage({ type: 'theme', kind: 'light' }, '*')`);
    await page.waitForFunction(`window.prunescopeCharts()[0]?.chart.scales.y.type === 'logarithmic'`);
    assert.equal((await chartData(page))[names[0]][0].data[0], zeros);
    await saveScreenshot(page, 'inspector-histograms-log', 'browser');

    await page.getByTitle(`Save "${names[0]}" as a PNG image`).click();
    const png = (await posted(page)).find((m) => m.type === 'exportPng');
    assert.equal(png?.name, names[0]);
    assert.match(String(png?.dataUrl), /^data:image\/png;base64,/);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("the training curves are history.json's epochs", async () => {
    const { page, errors } = await open('history');
    const data = await chartData(page);
    const pts = (y: (e: EpochMetrics) => number) => EPOCHS.filter((e) => Number.isFinite(y(e))).map((e) => ({ x: e.epoch, y: y(e) }));
    assert.deepEqual(
      data['Loss per epoch'].map((d) => [d.label, d.data]),
      [
        ['train', pts((e) => e.loss)],
        // Epoch 4's NaN is a gap, not a point at 0.
        ['validation', pts((e) => e.valLoss)],
      ],
    );
    assert.equal(data['Loss per epoch'][1].data.length, 4);
    assert.deepEqual(
      data['Accuracy per epoch'].map((d) => [d.label, d.data]),
      [
        ['train', pts((e) => e.accuracy)],
        ['validation', pts((e) => e.valAccuracy)],
      ],
    );
    const source = await page.locator('.history-source').textContent();
    assert.equal(source, `from ${join(suite.work, 'trained', 'history.json')}: 5 epochs; weights of epoch 5 kept (lowest validation loss)`);
    const infos = await chartInfos(page);
    const loss = infos.find((c) => c.name === 'Loss per epoch');
    assert.deepEqual(loss?.legend, ['train', 'validation']);
    assert.equal(loss?.xTitle, 'epoch');
    // Whole epochs only on the x axis.
    const ticks = (await page.evaluate(
      `window.prunescopeCharts().find((c) => c.name === 'Loss per epoch').chart.scales.x.ticks.map((t) => t.value)`,
    )) as number[];
    assert.ok(ticks.length >= 2 && ticks.every((t) => Number.isInteger(t)), ticks.join(', '));
    await page.locator('h2', { hasText: 'Training curves' }).scrollIntoViewIfNeeded();
    await saveScreenshot(page, 'inspector-training-curves', 'browser');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a malformed history.json is one line naming the file and the fault; the rest still shows', async () => {
    const { page, errors } = await open('malformed');
    const note = page.locator('.history-error');
    assert.equal(
      await note.textContent(),
      `${join(suite.work, 'malformed', 'history.json')}: not a training history: epochs.0.loss: Invalid input: expected number, received string`,
    );
    const names = (await chartInfos(page)).map((c) => c.name);
    assert.equal(names.length, 3, names.join(', '));
    assert.ok(names.every((n) => n.startsWith('|w| of')));
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a state dict says which activations it is read with and offers to choose them', async () => {
    const { page, errors } = await open('safetensors');
    const text = await page.locator('.activations').innerText();
    assert.match(
      text,
      /A safetensors file stores no activations: this one is read with tanh after each hidden layer and sigmoid after the output layer/,
    );
    const acts = await page.locator('table.layers tbody tr td:nth-child(5)').allTextContents();
    assert.deepEqual(acts, ['tanh', 'tanh', 'tanh', 'sigmoid']);
    await page.getByRole('button', { name: 'Choose Activations…' }).click();
    assert.deepEqual(
      (await posted(page)).filter((m) => m.type === 'command'),
      [{ type: 'command', command: 'chooseActivations' }],
    );
    // dfdx's 784-512-128-32-10 MLP: four histograms, 401,408 + 65,536 + 4,096 + 320 weights.
    const data = await chartData(page);
    assert.deepEqual(
      Object.values(data).map((d) => sum(d[0].data)),
      [401_408, 65_536, 4_096, 320],
    );
    assert.equal(await page.locator('h2', { hasText: 'Training curves' }).count(), 0);
    await saveScreenshot(page, 'inspector-safetensors-activations', 'browser');
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
