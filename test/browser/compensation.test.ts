/**
 * A strategy analysed plain and with compensation, in the real webview bundle in Chromium: the
 * CLI's `analyze --compensate` records magnitude twice, with the same `strategy` and the label
 * "magnitude + compensation" on the second run. Both must be drawn as series of their own (legend,
 * colour, points) and be pickable on their own in the per-point tabs, the pick kept in the state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { AnalysisResults, StrategyRun } from '../../src/core/results/format';
import { built } from '../kits/encode/models';
import { saveScreenshot, type StaticServer } from './browser';
import { chartInfos, chartPixels, cli, hover, openTab, posted, readResults, showResultsMessage, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const PLAIN = 'magnitude';
const COMPENSATED = 'magnitude + compensation';
/** The dark theme's first two series colours (src/report/themes.ts). */
const BLUE = '#3794ff';
const RED = '#f14c4c';
const pctText = (v: number) => `${Math.round(v * 1000) / 10}%`;

/** Each line dataset of chart `name` as Chart.js holds it: label and points. */
async function datasets(page: Page, name: string): Promise<{ label: string; points: { x: number; y: number }[] }[]> {
  return (await page.evaluate(`(() => {
    const c = window.prunescopeCharts().find((x) => x.name === ${JSON.stringify(name)}).chart;
    return c.data.datasets.map((d) => ({ label: d.label, points: d.data.map((p) => ({ x: p.x, y: p.y })) }));
  })()`)) as { label: string; points: { x: number; y: number }[] }[];
}

/** The options of the picker labelled `label`, and the one shown. */
async function pickerOptions(page: Page, label: string): Promise<{ options: string[]; checked: string | null }> {
  const picker = page.getByLabel(label);
  return { options: await picker.locator('option').allTextContents(), checked: await picker.locator('option:checked').textContent() };
}

describe('plain and compensated series of one strategy in Chromium, on real CLI results', { timeout: 300_000 }, () => {
  const suite = webviewSuite('compensation');
  let site: StaticServer;
  let reportSite: StaticServer;
  let results: AnalysisResults;
  let plain: StrategyRun;
  let compensated: StrategyRun;

  before(async () => {
    cli([
      'analyze',
      built('onnx', 'mnist2x10.onnx'),
      '--data',
      'mnist',
      '--strategies',
      'magnitude',
      '--sparsities',
      '0.5,0.9',
      '--samples',
      '200',
      '--compensate',
      '--calibration',
      '200',
      '--geometry-samples',
      '0',
      '--out',
      join(suite.work, 'analysis'),
    ]);
    const r = readResults(join(suite.work, 'analysis'));
    assert.equal(r.kind, 'analysis');
    results = r;
    [plain, compensated] = results.runs;
    writeTestPage(join(suite.work, 'site'), 'default', 'results', showResultsMessage('compensation', results));
    // The extension hands back the state the panel last reported (results-panel.ts).
    const remembered = {
      ...(showResultsMessage('compensation', results) as object),
      ui: { tab: 'weights', strategy: COMPENSATED, point: 1 },
    };
    writeTestPage(join(suite.work, 'site'), 'remembered', 'results', remembered);
    site = await suite.serve(join(suite.work, 'site'));
    reportSite = await suite.serve(suite.work);
  });

  async function open(url: string): Promise<{ page: Page; messages: string[] }> {
    const { page, messages } = await suite.open(url, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button').first().waitFor();
    return { page, messages };
  }

  test('the CLI recorded magnitude twice: plain, then compensated under its label', () => {
    assert.deepEqual(
      results.runs.map((r) => [r.strategy, r.label, r.compensated]),
      [
        ['magnitude', undefined, undefined],
        ['magnitude', COMPENSATED, true],
      ],
    );
    assert.deepEqual(results.settings.compensation, { calibration: 200, damping: 0.01 });
    // Compensation refit the kept weights: at 90% the two runs' models differ.
    const at90 = (run: StrategyRun) => run.points.find((p) => p.sparsity === 0.9)!;
    assert.notDeepEqual(at90(plain).similarityMatrix, at90(compensated).similarityMatrix);
  });

  test('both series are drawn, each in its own colour, at their own accuracies', async () => {
    const { page, messages } = await open(`${site.url}default.html`);
    const [accuracy] = await chartInfos(page);
    assert.equal(accuracy.name, 'Accuracy vs sparsity');
    assert.deepEqual(accuracy.legend, [PLAIN, COMPENSATED, `original (${pctText(results.baseline.accuracy)})`]);
    const colours = accuracy.styles.slice(0, 2).map((s) => s.split(' ')[0]);
    assert.deepEqual(colours, [BLUE, RED]);
    // Both lines are on the canvas, not only in the legend.
    const px = await chartPixels(page, accuracy.name, [BLUE, RED]);
    assert.ok(px.counts[BLUE] > 50 && px.counts[RED] > 50, JSON.stringify(px.counts));
    const drawn = await datasets(page, accuracy.name);
    const want = (run: StrategyRun) => run.points.map((p) => ({ x: p.sparsity, y: p.accuracy })).sort((a, b) => a.x - b.x);
    assert.deepEqual(drawn[0], { label: PLAIN, points: want(plain) });
    assert.deepEqual(drawn[1], { label: COMPENSATED, points: want(compensated) });
    // The header says what compensation used.
    assert.match(await page.locator('header dl.facts').innerText(), /compensated runs refit on 200 calibration rows \(damping 0\.01\)/);
    const i = drawn[1].points.findIndex((p) => p.x === 0.9);
    const lines = await hover(page, accuracy.name, 1, i);
    assert.ok(lines.includes(`${COMPENSATED}: ${pctText(drawn[1].points[i].y)} at 90%`), lines.join(' | '));
    await saveScreenshot(page, 'compensation-accuracy-dark', 'browser');
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test('the compensated series is picked on its own in the per-point tabs, and the pick is kept', async () => {
    const { page, messages } = await open(`${site.url}default.html`);
    await openTab(page, 'Similarity heatmap');
    assert.deepEqual(await pickerOptions(page, 'Strategy'), {
      options: [`${PLAIN} (unstructured, one-shot)`, `${COMPENSATED} (unstructured, one-shot)`],
      checked: `${PLAIN} (unstructured, one-shot)`,
    });
    const heatName = (series: string, at: string) => `linear CKA: original × ${series} at ${at}`;
    assert.deepEqual(
      (await chartInfos(page)).map((c) => c.name),
      [heatName(PLAIN, '50%')],
    );
    await page.getByLabel('Strategy').selectOption({ label: `${COMPENSATED} (unstructured, one-shot)` });
    await page.waitForFunction(`window.prunescopeCharts()[0]?.name === ${JSON.stringify(heatName(COMPENSATED, '50%'))}`);
    await page.getByLabel('Sparsity').selectOption({ label: '90%' });
    await page.waitForFunction(`window.prunescopeCharts()[0]?.name === ${JSON.stringify(heatName(COMPENSATED, '90%'))}`);
    // The cells are the compensated point's: the last cell (output layer x output layer) as recorded.
    const point = compensated.points.findIndex((p) => p.sparsity === 0.9);
    const m = compensated.points[point].similarityMatrix;
    const [heat] = await chartInfos(page);
    const [row, col] = [m.length - 1, m[0].length - 1];
    const v = m[row][col];
    const shown = await hover(page, heat.name, 0, heat.elements - 1);
    assert.ok(
      shown.some((l) => l.endsWith(`: ${v === null ? 'undefined' : v.toFixed(4)}`)),
      `${shown.join(' | ')} (wanted ${String(v)})`,
    );
    // The state names the series, not the strategy both runs share.
    const states = (await posted(page))
      .filter((x) => x.type === 'state')
      .map((x) => x.ui as { tab: string; strategy?: string; point?: number })
      .map((ui) => [ui.tab, ui.strategy, ui.point]);
    assert.deepEqual(states.slice(-2), [
      ['similarity-heatmap', COMPENSATED, undefined],
      ['similarity-heatmap', COMPENSATED, point],
    ]);
    // Another per-point tab keeps the pick.
    await openTab(page, 'Layer similarity');
    const [layers] = await chartInfos(page);
    assert.equal(layers.name, `linear CKA of each layer to the original: ${COMPENSATED}`);
    const first = (await datasets(page, layers.name))[0];
    assert.deepEqual(
      first.points,
      compensated.points
        .map((p) => ({ x: p.sparsity, y: p.layers[0].similarity }))
        .filter((p) => p.y !== null)
        .sort((a, b) => a.x - b.x),
    );
    assert.equal((await pickerOptions(page, 'Strategy')).checked, `${COMPENSATED} (unstructured, one-shot)`);
    // Under the chart, every run's one-line trend, as the analysis recorded it.
    const trends = await page.$$eval('.layer-trends li', (items) => items.map((li) => li.textContent));
    assert.deepEqual(
      trends,
      results.runs.map((run) => `${run.label ?? run.strategy}: ${run.layerTrend!.summary}`),
    );
    assert.match(trends[0] ?? '', /^magnitude: at 90% the similarity to the original /);
    await saveScreenshot(page, 'compensation-layer-similarity-dark', 'browser');
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test('a remembered pick of the compensated series comes back with the results', async () => {
    const { page } = await open(`${site.url}remembered.html`);
    assert.equal(await page.locator('nav.tabs button.active').textContent(), 'Weight magnitudes');
    assert.equal((await pickerOptions(page, 'Strategy')).checked, `${COMPENSATED} (unstructured, one-shot)`);
    assert.equal((await pickerOptions(page, 'Sparsity')).checked, pctText(compensated.points[1].sparsity));
    await page.context().close();
  });

  test("the CLI's report.html draws both series", async () => {
    const { page, messages } = await open(`${reportSite.url}analysis/report.html`);
    const [accuracy] = await chartInfos(page);
    assert.deepEqual(accuracy.legend.slice(0, 2), [PLAIN, COMPENSATED]);
    const px = await chartPixels(page, accuracy.name);
    assert.ok(px.painted > 0.03 * px.width * px.height);
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });
});
