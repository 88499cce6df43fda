/**
 * The x axis of the accuracy, loss and agreement charts, in the real webview bundle in Chromium,
 * on real CLI results for a model whose parameter and FLOP counts are worked out by hand
 * (x-axis-fixture.ts): switching the axis moves unit-l2's 50% point to 73.9% of the parameters
 * removed and 74.2% of the FLOPs, magnitude's to 48.5% and 49.2%, and the choice is kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { AnalysisResults } from '../src/core/results/format';
import { closeBrowser, launchBrowser, newPage, saveScreenshot, serveFolder, type StaticServer } from '../test/browser/browser';
import { addProbes, buildBundles, hover, openTab, posted, switchTheme, writeTestPage } from '../test/browser/webview-page';
import {
  BASE_FLOPS,
  BASE_PARAMETERS,
  MAGNITUDE_HALF_FLOPS_REMOVED,
  MAGNITUDE_HALF_PARAMETERS_REMOVED,
  UNIT_HALF_FLOPS_REMOVED,
  UNIT_HALF_PARAMETERS_REMOVED,
  unitPruningAnalysis,
} from './x-axis-fixture';

interface DrawnPoint {
  x: number;
  y: number;
  /** Where the point is drawn, and where the x scale puts its x value (canvas pixels). */
  px: number;
  scalePx: number;
}

/** Each line dataset of chart `name`: its label and points as Chart.js holds and draws them. */
async function drawnSeries(page: Page, name: string): Promise<{ label: string; points: DrawnPoint[] }[]> {
  return (await page.evaluate(`(() => {
    const c = window.prunescopeCharts().find((x) => x.name === ${JSON.stringify(name)}).chart;
    return c.data.datasets.map((d, i) => ({
      label: d.label,
      points: d.data.map((p, j) => ({ x: p.x, y: p.y, px: c.getDatasetMeta(i).data[j].x, scalePx: c.scales.x.getPixelForValue(p.x) })),
    }));
  })()`)) as { label: string; points: DrawnPoint[] }[];
}

const pctText = (v: number) => `${Math.round(v * 1000) / 10}%`;

describe('x axis of the accuracy charts in Chromium, on real CLI results', { timeout: 300_000 }, () => {
  let work: string;
  let site: StaticServer;
  let browser: Browser;
  let results: AnalysisResults;

  before(async () => {
    buildBundles();
    work = mkdtempSync(join(tmpdir(), 'prunescope-x-axis-'));
    ({ results } = await unitPruningAnalysis(work));
    const message = (ui?: unknown) => ({ type: 'showResults', title: 'x axis', results, metrics: ['linear-cka'], ui });
    writeTestPage(join(work, 'site'), 'default', 'results', message());
    // The extension sends back the ui state the panel last reported (results-panel.ts).
    writeTestPage(join(work, 'site'), 'remembered', 'results', message({ tab: 'accuracy', xAxis: 'flops' }));
    site = await serveFolder(join(work, 'site'));
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await site?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function open(name: string): Promise<{ page: Page; messages: string[] }> {
    const { page, messages } = await newPage(browser, { viewport: { width: 1280, height: 900 } });
    await addProbes(page);
    await page.goto(`${site.url}${name}.html`);
    await page.locator('nav.tabs button').first().waitFor();
    return { page, messages };
  }

  /** The 50% point of `strategy` in chart `name`, which must be drawn where the scale puts its x. */
  async function halfPoint(page: Page, name: string, strategy: string): Promise<DrawnPoint> {
    const series = await drawnSeries(page, name);
    const s = series.find((x) => x.label === strategy);
    assert.ok(s, `${name}: no ${strategy} series (${series.map((x) => x.label).join(', ')})`);
    const xs = s.points.map((p) => p.x);
    assert.deepEqual(
      xs,
      [...xs].sort((a, b) => a - b),
      `${name}: ${strategy} sorted by x`,
    );
    for (const p of s.points) assert.ok(Math.abs(p.px - p.scalePx) < 0.5, `${name}: drawn at ${p.px}, scale says ${p.scalePx}`);
    const want = results.runs.find((r) => r.strategy === strategy)!.points.find((p) => p.sparsity === 0.5)!;
    const p = s.points.find((q) => q.y === want.accuracy);
    assert.ok(p, `${name}: ${strategy}'s 50% point (accuracy ${want.accuracy}) in ${JSON.stringify(s.points)}`);
    return p;
  }

  async function pickAxis(page: Page, label: string, chart: string): Promise<void> {
    await page.getByLabel('X axis').selectOption({ label });
    await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === ${JSON.stringify(chart)})`);
  }

  test('the CLI counted parameters and FLOPs as worked out by hand', () => {
    assert.equal(results.baseline.parameters, BASE_PARAMETERS);
    assert.equal(results.baseline.flops, BASE_FLOPS);
    const unit = results.runs.find((r) => r.strategy === 'unit-l2')!.points.find((p) => p.sparsity === 0.5)!;
    assert.equal(unit.parameters, 4_482);
    assert.equal(unit.flops, 8_704);
  });

  test('switching the axis moves unit pruning at 50% requested to about 75% of the parameters and FLOPs removed', async () => {
    const { page, messages } = await open('default');
    assert.equal(await page.locator('nav.tabs button.active').textContent(), 'Accuracy & loss');
    const requested = await halfPoint(page, 'Accuracy vs sparsity', 'unit-l2');
    assert.equal(requested.x, 0.5);
    const requestedMagnitude = await halfPoint(page, 'Accuracy vs sparsity', 'magnitude');
    assert.equal(requestedMagnitude.x, 0.5);

    await pickAxis(page, 'parameters removed', 'Accuracy vs parameters removed');
    const charts = (await page.evaluate('window.prunescopeCharts().map((c) => c.name)')) as string[];
    assert.deepEqual(charts, [
      'Accuracy vs parameters removed',
      'Loss vs parameters removed',
      'Agreement with the original vs parameters removed',
    ]);
    const unit = await halfPoint(page, 'Accuracy vs parameters removed', 'unit-l2');
    assert.ok(Math.abs(unit.x - UNIT_HALF_PARAMETERS_REMOVED) < 1e-9, `unit-l2 at ${unit.x}`);
    assert.ok(Math.abs(unit.x - 0.7387) < 1e-4, `unit-l2 at ${unit.x}`);
    // Magnitude removes half of the hidden layers' weights, a little under half of all parameters
    // (the tolerance allows a kept weight that is exactly zero by chance: 1 weight is 1/17,154).
    const magnitude = await halfPoint(page, 'Accuracy vs parameters removed', 'magnitude');
    assert.ok(Math.abs(magnitude.x - MAGNITUDE_HALF_PARAMETERS_REMOVED) < 2 / BASE_PARAMETERS, `magnitude at ${magnitude.x}`);
    // On screen: drawn one above the other at 50% requested, now apart, unit-l2 to the right.
    assert.ok(Math.abs(requested.px - requestedMagnitude.px) < 0.5, `at 50% requested: ${requested.px} and ${requestedMagnitude.px}`);
    assert.ok(unit.px > magnitude.px + 100, `unit-l2 drawn at ${unit.px}, magnitude at ${magnitude.px}`);
    const loss = (await drawnSeries(page, 'Loss vs parameters removed')).find((s) => s.label === 'unit-l2')!;
    assert.ok(loss.points.some((p) => Math.abs(p.x - UNIT_HALF_PARAMETERS_REMOVED) < 1e-9));
    const agreement = (await drawnSeries(page, 'Agreement with the original vs parameters removed')).find((s) => s.label === 'unit-l2')!;
    assert.ok(agreement.points.some((p) => Math.abs(p.x - UNIT_HALF_PARAMETERS_REMOVED) < 1e-9));

    // The tooltip says where the point is and what was requested.
    const series = await drawnSeries(page, 'Accuracy vs parameters removed');
    const d = series.findIndex((s) => s.label === 'unit-l2');
    const i = series[d].points.findIndex((p) => p.x === unit.x);
    const lines = await hover(page, 'Accuracy vs parameters removed', d, i);
    assert.ok(lines.includes(`unit-l2: ${pctText(unit.y)} at 73.9% (50% requested)`), lines.join(' | '));
    await saveScreenshot(page, 'x-axis-parameters', 'browser');

    await pickAxis(page, 'FLOPs removed', 'Accuracy vs FLOPs removed');
    const flops = await halfPoint(page, 'Accuracy vs FLOPs removed', 'unit-l2');
    assert.ok(Math.abs(flops.x - UNIT_HALF_FLOPS_REMOVED) < 1e-9, `FLOPs: unit-l2 at ${flops.x}`);
    const magFlops = await halfPoint(page, 'Accuracy vs FLOPs removed', 'magnitude');
    assert.ok(Math.abs(magFlops.x - MAGNITUDE_HALF_FLOPS_REMOVED) < 4 / BASE_FLOPS, `FLOPs: magnitude at ${magFlops.x}`);

    // Kept in the webview state and reported to the extension; kept across tabs and a theme change.
    assert.equal(await page.evaluate('window.__prunescope.state.ui.xAxis'), 'flops');
    const states = (await posted(page)).filter((m) => m.type === 'state').map((m) => (m.ui as { xAxis?: string }).xAxis);
    assert.deepEqual(states, ['parameters', 'flops']);
    await openTab(page, 'Latency & size');
    await openTab(page, 'Accuracy & loss');
    await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === 'Accuracy vs FLOPs removed')`);
    await switchTheme(page, 'light');
    await page.waitForFunction(`window.__probe.chartPixels('Accuracy vs FLOPs removed', []).background[0] === 255`, undefined, {
      timeout: 10_000,
    });
    assert.equal(await page.getByLabel('X axis').locator('option:checked').textContent(), 'FLOPs removed');

    await pickAxis(page, 'share requested', 'Accuracy vs sparsity');
    assert.equal((await halfPoint(page, 'Accuracy vs sparsity', 'unit-l2')).x, 0.5);
    assert.deepEqual(
      messages.filter((m) => m.startsWith('[error]') || m.startsWith('[pageerror]')),
      [],
    );
    await page.context().close();
  });

  test('the axis the extension remembers comes back with the results', async () => {
    const { page } = await open('remembered');
    await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === 'Accuracy vs FLOPs removed')`);
    const unit = await halfPoint(page, 'Accuracy vs FLOPs removed', 'unit-l2');
    assert.ok(Math.abs(unit.x - UNIT_HALF_FLOPS_REMOVED) < 1e-9);
    assert.equal(await page.getByLabel('X axis').locator('option:checked').textContent(), 'FLOPs removed');
    await page.context().close();
  });
});
