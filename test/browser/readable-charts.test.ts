/**
 * The analysis charts answer an ML engineer's questions, in Chromium on the real webview bundle
 * (sample results of webview-ui/src/sample-results.ts, altered where a case needs it):
 * the accuracy tooltip lists every series at the hovered sparsity; the accuracy-drop view plots
 * points below the original on a fitted axis; a summary names the smallest model within 1 point;
 * series with identical points are said to coincide; heatmap colours span the data's range, which
 * the legend states; every similarity metric is explained.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { SIMILARITY_METRIC_IDS } from '../../src/core/metrics/similarity';
import type { AnalysisResults, StrategyRun } from '../../src/core/results/format';
import { LATENCY_NOTE } from '../../webview-ui/src/metric-notes';
import { sampleAnalysis, sampleComparison } from '../../webview-ui/src/sample-results';
import { saveScreenshot, type StaticServer } from './browser';
import { chartInfos, hover, openTab, showResultsMessage, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const pctText = (v: number) => `${Math.round(v * 1000) / 10}%`;

/** One round of a run (the sample's runs have two). */
const firstRound = (run: StrategyRun): StrategyRun => ({ ...run, points: run.points.filter((p) => p.iteration === 0) });

/** magnitude, then unit-l2 with its points repeated as apoz and random (equal to 1e-9 apart, when `nudge`). */
function coincidingAnalysis(nudge: boolean): AnalysisResults {
  const base = sampleAnalysis();
  const [magnitude, unitL2] = base.runs.map(firstRound);
  const random = {
    ...unitL2,
    strategy: 'random',
    points: unitL2.points.map((p) => ({ ...p, accuracy: p.accuracy + (nudge ? 1e-9 : 0) })),
  };
  return { ...base, runs: [magnitude, unitL2, { ...unitL2, strategy: 'apoz' }, random] };
}

/** The sample with the picked point's similarities all in 0.66-1.00 (and one undefined pair). */
function narrowSimilarities(): AnalysisResults {
  const base = sampleAnalysis();
  const run = base.runs[0];
  const points = run.points.map((p) =>
    p.iteration === 0 && p.sparsity === 0.5
      ? {
          ...p,
          similarityMatrix: [
            [1, 0.9, 0.7],
            [0.88, 0.97, 0.8],
            [0.66, null, 0.93],
          ],
        }
      : p,
  );
  return { ...base, runs: [{ ...run, points }, ...base.runs.slice(1)] };
}

describe('charts that read: tooltips, accuracy drop, coincidence, fitted heatmap scales', { timeout: 240_000 }, () => {
  const suite = webviewSuite('readable');
  let site: StaticServer;
  const analysis = sampleAnalysis();

  before(async () => {
    const dir = join(suite.work, 'site');
    writeTestPage(dir, 'sample', 'results', showResultsMessage('Sample', analysis));
    const unreachable = { ...analysis, baseline: { ...analysis.baseline, accuracy: 0.999 } };
    writeTestPage(dir, 'unreachable', 'results', showResultsMessage('Unreachable', unreachable));
    writeTestPage(dir, 'coinciding', 'results', showResultsMessage('Coinciding', coincidingAnalysis(false)));
    writeTestPage(dir, 'nudged', 'results', showResultsMessage('Nudged', coincidingAnalysis(true)));
    writeTestPage(dir, 'narrow', 'results', showResultsMessage('Narrow', narrowSimilarities(), 'similarity-heatmap'));
    writeTestPage(dir, 'comparison', 'results', showResultsMessage('Compare', sampleComparison()));
    site = await suite.serve(dir);
  });

  async function open(name: string): Promise<{ page: Page; errors: () => string[] }> {
    const { page, messages } = await suite.open(`${site.url}${name}.html`, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button.active').waitFor();
    await page.waitForFunction('window.prunescopeCharts().length > 0');
    return { page, errors: () => pageErrors(messages) };
  }

  /** The coincidence line of the card titled `title` ("" when it has none). */
  const coincideText = async (page: Page, title: string) => {
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: title, exact: true }) });
    const line = card.locator('p.coincide');
    return (await line.count()) ? ((await line.textContent()) ?? '') : '';
  };

  test('hovering the accuracy chart lists every series at that sparsity, titled with the sparsity in percent', async () => {
    const { page, errors } = await open('sample');
    const index = analysis.runs[0].points.findIndex((p) => p.iteration === 0 && p.sparsity === 0.5);
    const lines = await hover(page, 'Accuracy vs sparsity', 0, index);
    const want = analysis.runs.flatMap((run) =>
      [0, 1].map((round) => {
        const p = run.points.find((q) => q.iteration === round && q.sparsity === 0.5)!;
        return `${run.strategy} · round ${round}: ${pctText(p.accuracy)} at 50%`;
      }),
    );
    // Six series (three runs of two rounds); the original's reference line is not one of them.
    assert.deepEqual(lines, ['50%', ...want]);
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('a summary names the smallest model within 1 point of the original, or says there is none', async () => {
    const { page, errors } = await open('sample');
    // By hand: round 0 drops 0.2, 0.5, 0.35 × s³ points-share; within 0.01 magnitude and apoz reach
    // 30% (0.0054 and 0.00945), unit-l2 20%. Both 30% models keep 784·100·0.7 + 100·50·0.7 + 50·10
    // = 58,880 parameters; magnitude is the more accurate (0.975 − 0.0054 = 0.9696).
    assert.equal(
      await page.locator('p.accuracy-summary').textContent(),
      'smallest model within 1 point of the original: magnitude · round 0 at 30% (58,880 parameters, accuracy 97%)',
    );
    await page.context().close();
    const other = await open('unreachable');
    assert.equal(
      await other.page.locator('p.accuracy-summary').textContent(),
      'smallest model within 1 point of the original: none within 1 point',
    );
    assert.deepEqual([...errors(), ...other.errors()], []);
    await other.page.context().close();
  });

  test('the accuracy-drop view plots points below the original on a y axis fitted to them, with a note', async () => {
    const { page, errors } = await open('sample');
    await page.getByLabel('accuracy drop (points below the original)').check();
    await page.waitForFunction(`window.prunescopeCharts()[0]?.name === 'Accuracy drop vs sparsity'`);
    const drawn = (await page.evaluate(`(() => {
      const c = window.prunescopeCharts()[0].chart;
      return { y: [c.scales.y.min, c.scales.y.max], data: c.data.datasets.map((d) => ({ label: d.label, points: d.data })) };
    })()`)) as { y: number[]; data: { label: string; points: { x: number; y: number }[] }[] };
    const first = analysis.runs[1].points.filter((p) => p.iteration === 0).sort((a, b) => a.sparsity - b.sparsity);
    const series = drawn.data.find((d) => d.label === 'unit-l2 · round 0')!;
    assert.equal(series.points.length, first.length);
    series.points.forEach((pt, i) => {
      assert.equal(pt.x, first[i].sparsity);
      assert.ok(Math.abs(pt.y - (0.975 - first[i].accuracy) * 100) < 1e-9, `${pt.y} at ${pt.x}`);
    });
    // The largest drop, unit-l2 round 1 at 90%, is 0.5 · 0.729 + 0.01 = 37.45 points: the axis stops at 10.
    assert.deepEqual(drawn.y, [0, 10]);
    const above = analysis.runs.flatMap((r) => r.points).filter((p) => (0.975 - p.accuracy) * 100 > 10).length;
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'Accuracy drop vs sparsity', exact: true }) });
    assert.equal(
      await card.locator('p.note').first().textContent(),
      `y axis 0 to 10 points, fitted to the points; ${above} points dropping more than 10 points (up to 37.45 pt) lie above the chart`,
    );
    // 0.2 · 0.5³ = 0.025 of accuracy: 2.5 points.
    const lines = await hover(page, 'Accuracy drop vs sparsity', 0, 4);
    assert.equal(lines[0], '50%');
    assert.ok(lines.includes('magnitude · round 0: 2.5 pt at 50%'), lines.join(' | '));
    await saveScreenshot(page, 'accuracy-drop-dark', 'browser');
    // Back to accuracy; the other charts stayed as they were.
    await page.getByLabel('accuracy drop (points below the original)').uncheck();
    await page.waitForFunction(`window.prunescopeCharts()[0]?.name === 'Accuracy vs sparsity'`);
    assert.deepEqual(
      (await chartInfos(page)).map((c) => c.name),
      ['Accuracy vs sparsity', 'Loss vs sparsity', 'Agreement with the original vs sparsity'],
    );
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('the latency chart says how its numbers were taken and why CSR trails dense', async () => {
    const { page, errors } = await open('sample');
    await openTab(page, 'Latency & size');
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'Latency vs sparsity', exact: true }) });
    assert.equal(await card.locator('p.note').first().textContent(), LATENCY_NOTE);
    assert.match(LATENCY_NOTE, /Medians of 7 timed runs/);
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('series with identical points are said to coincide, and only those', async () => {
    const { page, errors } = await open('coinciding');
    assert.equal(await coincideText(page, 'Accuracy vs sparsity'), 'unit-l2, apoz and random coincide on this chart');
    await page.context().close();
    const nudged = await open('nudged');
    // random's accuracies are 1e-9 higher: not the same line.
    assert.equal(await coincideText(nudged.page, 'Accuracy vs sparsity'), 'unit-l2 and apoz coincide on this chart');
    await nudged.page.context().close();
    const sample = await open('sample');
    assert.equal(await coincideText(sample.page, 'Accuracy vs sparsity'), '');
    // The sample's parameter counts depend on the sparsity only: every series is the same line.
    await openTab(sample.page, 'Latency & size');
    assert.equal(
      await coincideText(sample.page, 'Parameters vs sparsity'),
      'magnitude · round 0, magnitude · round 1, unit-l2 · round 0, unit-l2 · round 1, apoz · round 0 and apoz · round 1 coincide on this chart',
    );
    assert.deepEqual([...errors(), ...nudged.errors(), ...sample.errors()], []);
    await sample.page.context().close();
  });

  test('heatmap colours span the values shown, which the legend states, and the metric is explained', async () => {
    const { page, errors } = await open('narrow');
    const [heat] = await chartInfos(page);
    assert.equal(heat.type, 'matrix');
    assert.equal(await page.locator('.legend-row .heat-range').textContent(), 'colour scale 0.66–1.00 (linear CKA)');
    assert.match((await page.locator('p.metric-about').textContent()) ?? '', /^Linear CKA compares/);
    // A cell's colour, read off the canvas near its top-left corner (its value is written in the middle).
    const colours = (await page.evaluate(`(() => {
      const c = window.prunescopeCharts()[0].chart;
      const ratio = c.currentDevicePixelRatio;
      const ctx = c.canvas.getContext('2d');
      const cell = (i) => {
        const e = c.getDatasetMeta(0).data[i];
        return Array.from(ctx.getImageData(Math.round((e.x + 4) * ratio), Math.round((e.y + 4) * ratio), 1, 1).data).slice(0, 3);
      };
      const legend = document.querySelector('canvas.heat-legend').getContext('2d');
      const bar = (x) => Array.from(legend.getImageData(x, 6, 1, 1).data).slice(0, 3);
      return { min: cell(6), max: cell(0), low: bar(0), high: bar(239) };
    })()`)) as Record<'min' | 'max' | 'low' | 'high', number[]>;
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 2);
    // 0.66 (row 3, column 1) takes the legend's left end, 1.00 its right end.
    assert.ok(near(colours.min, colours.low), JSON.stringify(colours));
    assert.ok(near(colours.max, colours.high), JSON.stringify(colours));
    const distance = Math.hypot(...colours.low.map((v, i) => v - colours.high[i]));
    assert.ok(distance > 60, `the ends of the scale differ visibly: ${JSON.stringify(colours)}`);
    await saveScreenshot(page, 'heatmap-fitted-scale-dark', 'browser');
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('the Compare tab shares one fitted scale across its heatmaps, and every similarity metric has its note', async () => {
    const { page, errors } = await open('comparison');
    // Cross 0.38-0.91, self-similarity 1 - 0.35·|i - j|: from 0.30 to 1.00 over all three.
    assert.equal(await page.locator('.legend-row .heat-range').textContent(), 'colour scale 0.30–1.00 (linear CKA)');
    const notes = new Set<string>();
    for (const metric of SIMILARITY_METRIC_IDS) {
      const message = showResultsMessage('Compare', { ...sampleComparison(), metric });
      await page.evaluate(`window.postMessage(${JSON.stringify(message)}, '*')`);
      // Each metric's note differs from the ones before: the wait ends when this one is on screen.
      await page.waitForFunction(
        `(() => { const t = document.querySelector('p.metric-about')?.textContent ?? ''; return t.length > 60 && !${JSON.stringify([...notes])}.includes(t); })()`,
      );
      notes.add((await page.locator('p.metric-about').textContent()) ?? '');
    }
    assert.equal(notes.size, SIMILARITY_METRIC_IDS.length, 'one note per metric, each its own');
    assert.deepEqual(errors(), []);
    await page.context().close();
  });
});
