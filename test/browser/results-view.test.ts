/**
 * The results panel as a person sees it, outside VS Code: real results written by the CLI
 * (an analysis of mnist2x10.onnx and a comparison with mnist2x5_sigmoid.onnx, as the test encoder
 * builds them: test/kits/encode) shown by the real
 * webview bundle in Debian's Chromium through webview-ui/test-page.ts. Charts must be drawn,
 * labelled and hoverable, follow the theme, and export; the CLI's report.html must download its
 * exports. Screenshots of every tab in both themes go to artifacts/browser/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { PRUNE_STRATEGY_IDS } from '../../src/core/prune/registry';
import type { AnalysisResults, ComparisonResults } from '../../src/core/results/format';
import { resultsToCsv } from '../../src/core/results/csv';
import { similarityTitle } from '../../webview-ui/src/compare-names';
import { GEOMETRY_ASCENDING, GEOMETRY_DESCENDING } from '../../webview-ui/src/data';
import { built } from '../kits/encode/models';
import { saveScreenshot, type StaticServer } from './browser';
import {
  chartInfos,
  chartPixels,
  cli,
  hover,
  openTab,
  pngSize,
  posted,
  readResults,
  selectorPixels,
  showResultsMessage,
  switchTheme,
  writeTestPage,
  type ChartInfo,
  type ThemeName,
} from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const THEMES: ThemeName[] = ['dark', 'light'];
/** Background and first series colour of each theme (src/report/themes.ts). */
const BACKGROUND: Record<ThemeName, number[]> = { dark: [0x1e, 0x1e, 0x1e, 255], light: [255, 255, 255, 255] };
const BLUE: Record<ThemeName, string> = { dark: '#3794ff', light: '#1a85ff' };
const RED: Record<ThemeName, string> = { dark: '#f14c4c', light: '#e51400' };

const TABS = ['Accuracy & loss', 'Similarity heatmap', 'APoZ & geometry', 'Weight magnitudes', 'Layer similarity', 'Latency & size'];
const pctText = (v: number) => `${Math.round(v * 1000) / 10}%`;

/** A chart is drawn when a real share of its canvas is not background. */
function assertDrawn(info: ChartInfo, pixels: { painted: number; width: number; height: number }): void {
  assert.ok(pixels.width > 100 && pixels.height > 100, `${info.name}: canvas ${pixels.width}x${pixels.height}`);
  assert.ok(pixels.painted > 0.03 * pixels.width * pixels.height, `${info.name}: only ${pixels.painted} painted pixels`);
}

/** Axis titles, ticks and a legend that fits: what makes a chart readable. */
function assertLabelled(info: ChartInfo): void {
  assert.ok(info.xTitle && info.yTitle, `${info.name}: axis titles ${info.xTitle} / ${info.yTitle}`);
  assert.ok(info.xTicks > 0 && info.yTicks > 0, `${info.name}: ticks ${info.xTicks} / ${info.yTicks}`);
  assert.equal(info.legendOverlaps, 0, `${info.name}: legend entries overlap`);
  assert.equal(info.legendOutside, 0, `${info.name}: legend entries outside the canvas`);
  if (info.type !== 'matrix') assert.ok(info.legend.length > 0, `${info.name}: no legend`);
  assert.ok(
    info.chartArea && info.chartArea.width > 0.4 * info.width && info.chartArea.height > 0.3 * info.height,
    `${info.name}: plot area ${JSON.stringify(info.chartArea)} of ${info.width}x${info.height}`,
  );
}

describe('results view in Chromium, on real CLI results', { timeout: 300_000 }, () => {
  const suite = webviewSuite('webview');
  let site: StaticServer;
  let reportSite: StaticServer;
  let analysis: AnalysisResults;
  let comparison: ComparisonResults;
  const pages: Record<string, string> = {};

  before(async () => {
    const model = built('onnx', 'mnist2x10.onnx');
    cli([
      'analyze',
      model,
      '--data',
      'mnist',
      '--strategies',
      'magnitude,unit-l2,apoz',
      '--sparsities',
      '0.25,0.5',
      '--samples',
      '200',
      '--out',
      join(suite.work, 'analysis'),
    ]);
    cli([
      'compare',
      model,
      built('onnx', 'mnist2x5_sigmoid.onnx'),
      '--data',
      'mnist',
      '--samples',
      '200',
      '--out',
      join(suite.work, 'comparison'),
    ]);
    const a = readResults(join(suite.work, 'analysis'));
    const c = readResults(join(suite.work, 'comparison'));
    assert.equal(a.kind, 'analysis');
    assert.equal(c.kind, 'comparison');
    analysis = a;
    comparison = c;
    for (const theme of THEMES) {
      pages[`analysis-${theme}`] = writeTestPage(
        join(suite.work, 'site'),
        `analysis-${theme}`,
        'results',
        showResultsMessage('Pruning analysis: mnist2x10.onnx', analysis),
        theme,
      );
      // One run per registered strategy (the same points under each name): nine series at once.
      const every = { ...analysis, runs: PRUNE_STRATEGY_IDS.map((strategy) => ({ ...analysis.runs[0], strategy })) };
      pages[`every-strategy-${theme}`] = writeTestPage(
        join(suite.work, 'site'),
        `every-strategy-${theme}`,
        'results',
        showResultsMessage('Every strategy', every),
        theme,
      );
      pages[`comparison-${theme}`] = writeTestPage(
        join(suite.work, 'site'),
        `comparison-${theme}`,
        'results',
        showResultsMessage('Compare: mnist2x10.onnx ↔ mnist2x5_sigmoid.onnx', comparison),
        theme,
      );
    }
    site = await suite.serve(join(suite.work, 'site'));
    reportSite = await suite.serve(suite.work);
  });

  async function open(name: string): Promise<{ page: Page; messages: string[] }> {
    const { page, messages } = await suite.open(`${site.url}${pages[name]}`, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button').first().waitFor();
    return { page, messages };
  }

  for (const theme of THEMES) {
    test(`every registered strategy gets its own colour (${theme} theme)`, async () => {
      const { page, messages } = await open(`every-strategy-${theme}`);
      await openTab(page, 'Accuracy & loss');
      const [accuracy] = await chartInfos(page);
      const series = accuracy.styles.slice(0, PRUNE_STRATEGY_IDS.length);
      assert.deepEqual(accuracy.legend.slice(0, PRUNE_STRATEGY_IDS.length), [...PRUNE_STRATEGY_IDS]);
      const colours = series.map((s) => s.split(' ')[0]);
      assert.equal(new Set(colours).size, PRUNE_STRATEGY_IDS.length, `colours: ${colours.join(', ')}`);
      assert.deepEqual(pageErrors(messages), []);
      await page.context().close();
    });

    test(`every analysis tab draws labelled charts (${theme} theme)`, async () => {
      const { page, messages } = await open(`analysis-${theme}`);
      const layers = analysis.model.layerNames.length;
      for (const tab of TABS) {
        await openTab(page, tab);
        const infos = await chartInfos(page);
        assert.ok(infos.length > 0, `${tab}: no chart`);
        for (const info of infos) {
          assertDrawn(info, await chartPixels(page, info.name));
          assertLabelled(info);
          assert.deepEqual((await chartPixels(page, info.name)).background, BACKGROUND[theme], `${info.name}: background`);
        }
        const names = infos.map((i) => i.name);
        switch (tab) {
          case 'Accuracy & loss': {
            assert.deepEqual(names, ['Accuracy vs sparsity', 'Loss vs sparsity', 'Agreement with the original vs sparsity']);
            const accuracy = infos[0];
            assert.deepEqual(accuracy.legend, ['magnitude', 'unit-l2', 'apoz', `original (${pctText(analysis.baseline.accuracy)})`]);
            assert.match(accuracy.xTitle ?? '', /sparsity/);
            assert.equal(accuracy.yTitle, 'test accuracy');
            break;
          }
          case 'Similarity heatmap': {
            assert.equal(infos.length, 1);
            const [heat] = infos;
            assert.equal(heat.type, 'matrix');
            // The default point: the first strategy at 50 %; rows are the original's layers, columns the pruned model's.
            const point = analysis.runs[0].points.find((p) => p.sparsity === 0.5)!;
            assert.equal(heat.elements, layers * point.layers.length);
            assert.equal(heat.xTitle, 'pruned');
            assert.equal(heat.yTitle, 'original');
            const legend = await selectorPixels(page, 'canvas.heat-legend');
            assert.ok(legend.painted > 0.5 * legend.width * legend.height, 'the colour scale is drawn');
            break;
          }
          case 'APoZ & geometry': {
            // One histogram per layer APoZ applies to (ReLU layers), original and pruned, then the
            // geometry of the first hidden layer: ascending and descending APoZ order.
            const relu = analysis.baseline.apoz.filter((x) => x.applies);
            assert.deepEqual(names, [
              ...relu.map((x) => `APoZ of ${x.layer}`),
              `Representational geometry of ${analysis.model.layerNames[0]}`,
            ]);
            for (const info of infos) assert.equal(info.datasets, 2, info.name);
            assert.deepEqual(infos[infos.length - 1].legend, [GEOMETRY_ASCENDING, GEOMETRY_DESCENDING]);
            break;
          }
          case 'Weight magnitudes': {
            // The KS distance between pruned and kept |w| (issue 18's theorem 1), one series per run,
            // then one histogram per layer.
            assert.match(names[0], /^KS distance between pruned and kept \|w\|/);
            assert.deepEqual(
              infos[0].legend,
              analysis.runs.map((r) => r.label ?? r.strategy),
            );
            const histograms = infos.slice(1);
            assert.equal(histograms.length, layers);
            for (const info of histograms) assert.match(info.legend.join(' | '), /^kept \| pruned \(\d[\d,]*\)$/);
            break;
          }
          case 'Layer similarity':
            assert.equal(infos.length, 1);
            assert.equal(infos[0].legend.length, layers);
            break;
          case 'Latency & size':
            assert.deepEqual(names, ['Latency vs sparsity', 'Parameters vs sparsity', 'Stored size vs sparsity', 'FLOPs vs sparsity']);
            // The stored size: one line per strategy and the original's, in kB for this 8,070-parameter model.
            assert.deepEqual(infos[2].legend, [
              'magnitude',
              'unit-l2',
              'apoz',
              `original (${(analysis.baseline.onnxBytes! / 1e3).toFixed(1)} kB)`,
            ]);
            assert.equal(infos[2].yTitle, 'kB as ONNX');
            // Dense and CSR latencies are orders of magnitude apart: a log axis labelled 1-2-5.
            assert.equal(infos[0].yScale, 'logarithmic');
            assert.ok(infos[0].yTickLabels.length >= 2, `latency ticks ${infos[0].yTickLabels.join(', ')}`);
            for (const label of infos[0].yTickLabels) assert.match(label, /^[125]0*(\.\d+)?$|^0\.0*[125]$/, `latency tick ${label}`);
            assert.equal(infos[1].yScale, 'linear');
            break;
        }
        await saveScreenshot(page, `analysis-${tab}-${theme}`, 'browser');
      }
      assert.deepEqual(pageErrors(messages), []);
      await page.context().close();
    });
  }

  test('hovering a point or a heatmap cell shows its value', async () => {
    const { page } = await open('analysis-dark');
    const magnitude = analysis.runs[0];
    assert.equal(magnitude.strategy, 'magnitude');
    const half = magnitude.points.findIndex((p) => p.sparsity === 0.5);
    const lines = await hover(page, 'Accuracy vs sparsity', 0, half);
    assert.ok(lines.includes(`magnitude: ${pctText(magnitude.points[half].accuracy)} at 50%`), lines.join(' | '));

    await openTab(page, 'Similarity heatmap');
    const [heat] = await chartInfos(page);
    const point = magnitude.points[half];
    const cols = point.layers.length;
    for (const k of [0, heat.elements - 1, cols + 1]) {
      const [row, col] = [Math.floor(k / cols), k % cols];
      const v = point.similarityMatrix[row][col];
      const shown = await hover(page, heat.name, 0, k);
      const want = `original ${row + 1} ${analysis.model.layerNames[row]} × pruned ${col + 1} ${point.layers[col].name}: ${v === null ? 'undefined' : v.toFixed(4)}`;
      assert.ok(shown.includes(want), `cell ${k}: ${shown.join(' | ')} (wanted ${want})`);
    }
    await page.context().close();
  });

  test('the geometry chart draws R² against units kept from the results, per layer, and exports a PNG', async () => {
    const { page, messages } = await open('analysis-dark');
    await openTab(page, 'APoZ & geometry');
    const geometry = analysis.baseline.geometry ?? [];
    assert.equal(geometry.length, 2, 'two hidden layers');
    const fmt = (v: number) => Number(v.toPrecision(4)).toString();
    const checkLayer = async (index: number) => {
      const g = geometry[index];
      assert.ok(g.applies, g.layer);
      const name = `Representational geometry of ${g.layer}`;
      await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === ${JSON.stringify(name)})`);
      const [info] = (await chartInfos(page)).filter((c) => c.name === name);
      assert.ok(info, name);
      assert.equal(info.type, 'line');
      assert.deepEqual(info.legend, [GEOMETRY_ASCENDING, GEOMETRY_DESCENDING]);
      assert.equal(info.xTitle, `units kept (of ${g.units}, added in APoZ order)`);
      assert.equal(info.yTitle, "R² with the full layer's RDM");
      assert.equal(info.datasets, 2);
      assert.equal(info.elements, g.ascending.length);
      assertDrawn(info, await chartPixels(page, name));
      assertLabelled(info);
      // Both curves in the theme's first two series colours.
      const px = await chartPixels(page, name, [BLUE.dark, RED.dark]);
      assert.ok(px.counts[BLUE.dark] > 50 && px.counts[RED.dark] > 50, JSON.stringify(px.counts));
      // Each point sits where its R² puts it: higher R², higher on screen (y grows downwards).
      for (const [d, points] of [g.ascending, g.descending].entries()) {
        const ys: number[] = [];
        for (let i = 0; i < points.length; i++)
          ys.push(((await page.evaluate(`window.__probe.elementPoint(${JSON.stringify(name)}, ${d}, ${i})`)) as { y: number }).y);
        for (let i = 0; i < points.length; i++) {
          for (let j = 0; j < points.length; j++) {
            if (points[i].r2 > points[j].r2 + 0.01)
              assert.ok(
                ys[i] < ys[j],
                `${g.layer} dataset ${d}: point ${i} (R² ${points[i].r2}) is not above point ${j} (R² ${points[j].r2})`,
              );
          }
        }
      }
      // Hovering shows the recorded values.
      const mid = Math.floor(g.ascending.length / 2);
      const shown = await hover(page, name, 0, mid);
      assert.ok(shown.includes(`${GEOMETRY_ASCENDING}: ${fmt(g.ascending[mid].r2)} at ${g.ascending[mid].k}`), shown.join(' | '));
      const low = g.descending.length - 3;
      const shownDesc = await hover(page, name, 1, low);
      assert.ok(
        shownDesc.includes(`${GEOMETRY_DESCENDING}: ${fmt(g.descending[low].r2)} at ${g.descending[low].k}`),
        shownDesc.join(' | '),
      );
      return name;
    };
    const first = await checkLayer(0);
    await saveScreenshot(page, 'analysis-geometry-layer-1-dark', 'browser');
    // The layer picker redraws the chart for the other layer, and only that chart.
    const before = (await chartInfos(page)).length;
    await page.getByLabel('Layer').selectOption({ label: `2 ${geometry[1].layer}` });
    const second = await checkLayer(1);
    const names = (await chartInfos(page)).map((c) => c.name);
    assert.equal(names.length, before);
    assert.ok(!names.includes(first) && names.includes(second), names.join(' | '));

    // PNG of this chart, and "export all" includes it.
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: second, exact: true }) });
    await card.getByRole('button', { name: 'PNG' }).click();
    const png = (await posted(page)).find((m) => m.type === 'exportPng' && m.name === second);
    assert.ok(png, 'PNG posted');
    const [info] = (await chartInfos(page)).filter((c) => c.name === second);
    assert.deepEqual(pngSize(Buffer.from(String(png.dataUrl).split(',')[1], 'base64')), { width: info.width, height: info.height });
    const sentBefore = (await posted(page)).length;
    await page.evaluate(`window.postMessage({ type: 'exportCharts' }, '*')`);
    await page.waitForFunction(`window.__prunescope.posted.length >= ${sentBefore + names.length}`);
    assert.ok((await posted(page)).slice(sentBefore).some((m) => m.name === second));

    // A theme change keeps the picked layer and recolours the curves.
    await switchTheme(page, 'light');
    await page.waitForFunction(`window.__probe.chartPixels(${JSON.stringify(second)}, []).background[0] === 255`, undefined, {
      timeout: 10_000,
    });
    const light = await chartPixels(page, second, [BLUE.light, RED.light, BLUE.dark, RED.dark]);
    assert.ok(light.counts[BLUE.light] > 50 && light.counts[RED.light] > 50, JSON.stringify(light.counts));
    assert.ok(light.counts[BLUE.dark] < light.counts[BLUE.light] / 10, JSON.stringify(light.counts));
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test('a theme change recolours the charts', async () => {
    const { page } = await open('analysis-dark');
    const colours = [BLUE.dark, BLUE.light];
    const dark = await chartPixels(page, 'Accuracy vs sparsity', colours);
    assert.deepEqual(dark.background, BACKGROUND.dark);
    // Anti-aliased edges may hit the other theme's blue by chance; the series are drawn in this theme's.
    assert.ok(dark.counts[BLUE.dark] > 20 && dark.counts[BLUE.light] < dark.counts[BLUE.dark] / 10, `dark: ${JSON.stringify(dark.counts)}`);
    await openTab(page, 'Similarity heatmap');
    const [heat] = await chartInfos(page);
    const darkHeat = await chartPixels(page, heat.name);
    await openTab(page, 'Accuracy & loss');

    await switchTheme(page, 'light');
    await page.waitForFunction(`window.__probe.chartPixels('Accuracy vs sparsity', []).background[0] === 255`, undefined, {
      timeout: 10_000,
    });
    const light = await chartPixels(page, 'Accuracy vs sparsity', colours);
    assert.deepEqual(light.background, BACKGROUND.light);
    assert.ok(
      light.counts[BLUE.light] > 20 && light.counts[BLUE.dark] < light.counts[BLUE.light] / 10,
      `light: ${JSON.stringify(light.counts)}`,
    );
    // The tab and picker survive the re-render.
    assert.equal(await page.locator('nav.tabs button.active').textContent(), 'Accuracy & loss');
    await openTab(page, 'Similarity heatmap');
    const lightHeat = await chartPixels(page, heat.name);
    assert.notDeepEqual(lightHeat.background, darkHeat.background);
    await page.context().close();
  });

  test('PNG and CSV exports are posted to the extension', async () => {
    const { page } = await open('analysis-dark');
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'Accuracy vs sparsity', exact: true }) });
    await card.getByRole('button', { name: 'PNG' }).click();
    await page.getByRole('button', { name: 'Export CSV' }).click();
    await page.getByRole('button', { name: 'Export JSON' }).click();
    const sent = await posted(page);
    const png = sent.find((m) => m.type === 'exportPng');
    assert.ok(png, JSON.stringify(sent.map((m) => m.type)));
    assert.equal(png.name, 'Accuracy vs sparsity');
    const dataUrl = String(png.dataUrl);
    assert.match(dataUrl, /^data:image\/png;base64,/);
    const image = pngSize(Buffer.from(dataUrl.split(',')[1], 'base64'));
    const [info] = (await chartInfos(page)).filter((c) => c.name === 'Accuracy vs sparsity');
    assert.deepEqual(image, { width: info.width, height: info.height });
    assert.ok(
      sent.some((m) => m.type === 'exportData' && m.format === 'csv'),
      'Export CSV',
    );
    assert.ok(
      sent.some((m) => m.type === 'exportData' && m.format === 'json'),
      'Export JSON',
    );

    // Export Report > PNG asks for every chart on screen.
    const before = (await posted(page)).length;
    await page.evaluate(`window.postMessage({ type: 'exportCharts' }, '*')`);
    await page.waitForFunction(`window.__prunescope.posted.length >= ${before + 3}`);
    const all = (await posted(page)).slice(before);
    assert.deepEqual(
      all.map((m) => m.name),
      ['Accuracy vs sparsity', 'Loss vs sparsity', 'Agreement with the original vs sparsity'],
    );
    for (const m of all) pngSize(Buffer.from(String(m.dataUrl).split(',')[1], 'base64'));
    await page.context().close();
  });

  for (const theme of THEMES) {
    test(`the comparison shows three heatmaps of layers x layers (${theme} theme)`, async () => {
      const { page, messages } = await open(`comparison-${theme}`);
      assert.equal(await page.locator('nav.tabs button.active').textContent(), 'Compare');
      const all = await chartInfos(page);
      const infos = all.filter((i) => i.type === 'matrix');
      const a = comparison.a.model.layerNames.length;
      const b = comparison.b.model.layerNames.length;
      // Below the heatmaps: the geometry of A's first hidden layer (ReLU); B's sigmoid layers have none, and say why.
      assert.deepEqual(
        all.filter((i) => i.type !== 'matrix').map((i) => [i.name, i.legend]),
        [[`A: representational geometry of ${comparison.a.model.layerNames[0]}`, [GEOMETRY_ASCENDING, GEOMETRY_DESCENDING]]],
      );
      const bCard = page.locator('section.card', {
        has: page.getByRole('heading', { name: `B: ${comparison.b.model.layerNames[0]}`, exact: true }),
      });
      assert.match(await bCard.innerText(), /Geometry does not apply: .*sigmoid/);
      assert.deepEqual(
        infos.map((i) => [i.name, i.elements]),
        [
          [similarityTitle('cross', 'linear CKA'), a * b],
          [similarityTitle('a', 'linear CKA'), a * a],
          [similarityTitle('b', 'linear CKA'), b * b],
        ],
      );
      for (const info of all) {
        assertDrawn(info, await chartPixels(page, info.name));
        assertLabelled(info);
      }
      await saveScreenshot(page, `comparison-${theme}`, 'browser');
      const cross = infos[0];
      const shown = await hover(page, cross.name, 0, b + 1);
      const v = comparison.cross[1][1];
      assert.ok(
        shown.includes(
          `A 2 ${comparison.a.model.layerNames[1]} × B 2 ${comparison.b.model.layerNames[1]}: ${v === null ? 'undefined' : v.toFixed(4)}`,
        ),
        shown.join(' | '),
      );
      // Another metric is asked of the extension; "Large" reorders the heatmaps.
      await page.getByLabel('Metric').selectOption({ label: 'rbf CKA' });
      assert.ok((await posted(page)).some((m) => m.type === 'compareMetric' && m.metric === 'rbf-cka'));
      await page.getByLabel('Large').selectOption({ label: 'B × B' });
      await page.waitForFunction(`window.prunescopeCharts()[0].name.startsWith('Layer similarity within B')`);
      assert.deepEqual(pageErrors(messages), []);
      await page.context().close();
    });
  }

  test("the CLI's report.html draws its charts and downloads PNG and CSV", async () => {
    const { page, messages } = await suite.open(`${reportSite.url}analysis/report.html`, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button').first().waitFor();
    for (const info of await chartInfos(page)) assertDrawn(info, await chartPixels(page, info.name));
    await saveScreenshot(page, 'report-html', 'browser');
    // The report is the same bundle: its geometry chart is drawn from the embedded results.
    await openTab(page, 'APoZ & geometry');
    const geometryName = `Representational geometry of ${analysis.model.layerNames[0]}`;
    const [geometryChart] = (await chartInfos(page)).filter((c) => c.name === geometryName);
    assert.ok(geometryChart, 'the report shows the geometry chart');
    assertDrawn(geometryChart, await chartPixels(page, geometryName));
    assertLabelled(geometryChart);
    const g0 = analysis.baseline.geometry?.[0];
    assert.ok(g0?.applies);
    assert.equal(geometryChart.elements, g0.ascending.length);
    await openTab(page, 'Accuracy & loss');

    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'Accuracy vs sparsity', exact: true }) });
    const [pngDownload] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'PNG' }).click()]);
    assert.equal(pngDownload.suggestedFilename(), 'Accuracy_vs_sparsity.png');
    pngSize(readFileSync(await pngDownload.path()));

    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    assert.equal(csvDownload.suggestedFilename(), 'results.csv');
    assert.equal(readFileSync(await csvDownload.path(), 'utf8'), resultsToCsv(analysis));
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });
});
