/**
 * Names from a model file are text, never markup: an MLP whose layer names (and file name and
 * model name) hold HTML and script is written with the ONNX writer, analysed by the real CLI, and
 * shown by the inspector and the results view in Chromium. No script may run, no element may be
 * made from a name, and each name must appear literally.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { initBackend } from '../../src/core/backend';
import { readModel, writeModel } from '../../src/core/formats/registry';
import type { AnalysisResults } from '../../src/core/results/format';
import { CORE_JOBS } from '../../src/worker/jobs-core';
import { checkJobParams, type JobResult } from '../../src/shared/jobs';
import { built } from '../kits/encode/models';
import { saveScreenshot, type StaticServer } from './browser';
import { cli, openTab, readResults, showResultsMessage, writeTestPage } from './webview-page';
import { webviewSuite } from './suite';

/** Each would set window.__xss (or load /x) if it ever became markup. */
const LAYER_NAMES = ['<img src=x onerror="window.__xss=1">', '</script><script>window.__xss=2</script>', '"><svg onload=window.__xss=3>'];
const MODEL_NAME = '<b id="bold">bold</b><img src=x onerror="window.__xss=4">';
const FILE_NAME = '<img src=x onerror=window.__xss=5>.onnx';

describe('HTML in model names is shown as text', { timeout: 240_000 }, () => {
  const suite = webviewSuite('escaping');
  let modelPath: string;
  let site: StaticServer;
  let reportSite: StaticServer;
  let results: AnalysisResults;
  let inspected: JobResult<'inspect'>;

  before(async () => {
    await initBackend();
    const mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
    mlp.name = MODEL_NAME;
    mlp.layers.forEach((l, i) => (l.name = LAYER_NAMES[i]));
    modelPath = join(suite.work, FILE_NAME);
    await writeModel(mlp, modelPath);
    // The names survive the round trip through the file, or this test would prove nothing.
    assert.deepEqual(
      (await readModel(modelPath)).layers.map((l) => l.name),
      LAYER_NAMES,
    );

    cli([
      'analyze',
      modelPath,
      '--data',
      'mnist',
      '--strategies',
      'magnitude',
      '--sparsities',
      '0.5',
      '--samples',
      '100',
      '--out',
      join(suite.work, 'analysis'),
    ]);
    const r = readResults(join(suite.work, 'analysis'));
    assert.equal(r.kind, 'analysis');
    results = r;
    assert.deepEqual(results.model.layerNames, LAYER_NAMES);

    const params = checkJobParams('inspect', { model: modelPath });
    assert.ok(params.ok);
    inspected = await CORE_JOBS.inspect(params.value, {
      signal: new AbortController().signal,
      progress: () => undefined,
      log: () => undefined,
    });

    writeTestPage(join(suite.work, 'site'), 'results', 'results', showResultsMessage(`Pruning analysis: ${FILE_NAME}`, results));
    writeTestPage(join(suite.work, 'site'), 'inspector', 'inspector', { type: 'showModel', file: modelPath, model: inspected });
    site = await suite.serve(join(suite.work, 'site'));
    reportSite = await suite.serve(join(suite.work, 'analysis'));
  });

  /** Opens `url` and records requests for /x (what an injected <img src=x> would fetch). */
  async function open(url: string): Promise<{ page: Page; fetchedX: string[]; errors: string[] }> {
    const { page, messages } = await suite.page();
    const fetchedX: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/x') fetchedX.push(r.url());
    });
    await page.goto(url);
    return { page, fetchedX, errors: messages };
  }

  async function assertNothingRan(page: Page, fetchedX: string[]): Promise<void> {
    assert.equal(await page.evaluate('window.__xss'), undefined, 'a script from a name ran');
    assert.equal(await page.locator('img, svg, #bold').count(), 0, 'an element was made from a name');
    assert.deepEqual(fetchedX, []);
  }

  test('the inspector shows the names literally', async () => {
    const { page, fetchedX } = await open(`${site.url}inspector.html`);
    await page.locator('table.layers tbody tr').first().waitFor();
    const cells = await page.locator('table.layers tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(cells, LAYER_NAMES);
    assert.equal(await page.locator('h1').textContent(), MODEL_NAME);
    assert.ok((await page.locator('.facts').innerText()).includes(modelPath), 'the file name is shown');
    await saveScreenshot(page, 'escaping-inspector', 'browser');
    await assertNothingRan(page, fetchedX);
    await page.context().close();
  });

  test('the results view shows the names literally on every tab', async () => {
    const { page, fetchedX } = await open(`${site.url}results.html`);
    await page.locator('nav.tabs button').first().waitFor();
    assert.ok((await page.locator('.facts').innerText()).includes(modelPath));
    await openTab(page, 'APoZ & geometry');
    // The two ReLU layers get histograms, the linear output a note; each card is titled by its layer,
    // and so is the geometry chart of the first hidden layer, whose picker lists the hidden layers.
    const apoz = await page.locator('section.card h3').allTextContents();
    assert.deepEqual(apoz, [
      `APoZ of ${LAYER_NAMES[0]}`,
      `APoZ of ${LAYER_NAMES[1]}`,
      LAYER_NAMES[2],
      `Representational geometry of ${LAYER_NAMES[0]}`,
    ]);
    assert.deepEqual(await page.getByLabel('Layer').locator('option').allTextContents(), [`1 ${LAYER_NAMES[0]}`, `2 ${LAYER_NAMES[1]}`]);
    await page.getByLabel('Layer').selectOption({ index: 1 });
    await page.getByRole('heading', { name: `Representational geometry of ${LAYER_NAMES[1]}`, exact: true }).waitFor();
    await openTab(page, 'Weight magnitudes');
    assert.deepEqual(await page.locator('section.card h3').allTextContents(), [
      'KS distance between pruned and kept |w|',
      ...LAYER_NAMES.map((n) => `|w| of ${n}: pruned vs kept`),
      // The first layer's weight maps (28 x 28 inputs), named by the layer and the point.
      `Original: ${LAYER_NAMES[0]}`,
      'magnitude at 50%',
    ]);
    for (const tab of ['Similarity heatmap', 'Layer similarity', 'Accuracy & loss', 'Latency & size']) await openTab(page, tab);
    await saveScreenshot(page, 'escaping-results', 'browser');
    await assertNothingRan(page, fetchedX);
    await page.context().close();
  });

  test("the CLI's report.html shows the names literally", async () => {
    const { page, fetchedX } = await open(`${reportSite.url}report.html`);
    await page.locator('nav.tabs button').first().waitFor();
    assert.ok((await page.title()).includes(FILE_NAME), await page.title());
    await openTab(page, 'Weight magnitudes');
    assert.deepEqual(await page.locator('section.card h3').allTextContents(), [
      'KS distance between pruned and kept |w|',
      ...LAYER_NAMES.map((n) => `|w| of ${n}: pruned vs kept`),
      // The first layer's weight maps (28 x 28 inputs), named by the layer and the point.
      `Original: ${LAYER_NAMES[0]}`,
      'magnitude at 50%',
    ]);
    await assertNothingRan(page, fetchedX);
    await page.context().close();
  });
});
