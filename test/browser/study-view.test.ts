/**
 * The study report as a person sees it: a real (tiny) study, trained and pruned on a few hundred
 * MNIST rows, written by the CLI's report writer with the real webview bundle, opened in
 * Chromium. One chart per factor with a line per value whose points are the summary's gaps, a
 * table of the models; a page whose study does not validate says so instead of drawing.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { runStudy } from '../../src/core/experiments/study';
import { twoFactorStudyGrid } from '../kits/study';
import type { StudyResults } from '../../src/core/results/format';
import { writeStudyResultsAndReport } from '../../src/cli/report-study';
import { saveScreenshot, type StaticServer } from './browser';
import { chartInfos, chartPixels } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

interface DrawnSeries {
  name: string;
  series: { label: string; data: { x: number; y: number }[] }[];
}

describe('study report in Chromium, on a real tiny study', { timeout: 600_000 }, () => {
  const suite = webviewSuite('study-view');
  let site: StaticServer;
  let study: StudyResults;

  before(async () => {
    study = await runStudy({ data: 'mnist', ...twoFactorStudyGrid({ epochs: 2, iterations: 2 }) });
    await writeStudyResultsAndReport(study, join(suite.work, 'study'));
    // The same page with a factor no study has: it must refuse, not draw.
    const html = readFileSync(join(suite.work, 'study', 'report.html'), 'utf8');
    writeFileSync(join(suite.work, 'study', 'bad.html'), html.replace('"factor":"width"', '"factor":"height"'));
    site = await suite.serve(suite.work);
  });

  test('one chart per factor, a line per value at its gaps, labelled and drawn; the models in a table', async () => {
    const { page, messages } = await suite.open(`${site.url}study/report.html`, { viewport: { width: 1280, height: 1000 } });
    await page.locator('table.study-models').waitFor();
    const infos = await chartInfos(page);
    assert.deepEqual(
      infos.map((c) => c.name),
      ['Dropout: accuracy gap (cka − unit-l1) vs sparsity', 'Width: accuracy gap (cka − unit-l1) vs sparsity'],
    );
    assert.deepEqual(infos[0].legend, ['dropout 0', 'dropout 0.25', 'no gap']);
    assert.deepEqual(infos[1].legend, ['16 units per layer', '8 units per layer', 'no gap']);
    for (const info of infos) {
      assert.ok(info.xTitle?.startsWith('sparsity') && info.yTitle === 'accuracy gap, cka − unit-l1', `${info.xTitle} / ${info.yTitle}`);
      assert.ok(info.xTicks > 0 && info.yTicks > 0);
      assert.equal(info.legendOverlaps, 0);
      const pixels = await chartPixels(page, info.name);
      assert.ok(pixels.painted > 0.03 * pixels.width * pixels.height, `${info.name}: ${pixels.painted} painted pixels`);
    }
    const drawn = (await page.evaluate(
      `window.prunescopeCharts().map((c) => ({ name: c.name, series: c.chart.data.datasets.map((d) => ({ label: d.label, data: d.data.map((p) => ({ x: p.x, y: p.y })) })) }))`,
    )) as DrawnSeries[];
    for (const [i, summary] of study.summary.entries()) {
      for (const [j, v] of summary.values.entries()) {
        const line = drawn[i].series[j];
        assert.deepEqual(
          line.data,
          v.gaps.map((g) => ({ x: g.sparsity, y: g.gap })),
        );
        // Independently: the gap is the two strategies' accuracies at the last round.
        const runs = study.models.find((m) => m.id === v.model)!.analysis.runs;
        for (const p of line.data) {
          const at = (s: string) =>
            runs.find((r) => r.strategy === s)!.points.find((q) => q.sparsity === p.x && q.iteration === 2)!.accuracy;
          assert.ok(Math.abs(p.y - (at('cka') - at('unit-l1'))) < 1e-12);
        }
      }
    }
    const rows = await page.locator('table.study-models tbody tr').allTextContents();
    assert.equal(rows.length, 3);
    assert.ok(rows[0].startsWith('w16-d1-p0784-16-10'), rows[0]);
    await saveScreenshot(page, 'study-report', 'browser');
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test('a study that does not validate is refused on the page, with no chart', async () => {
    const { page } = await suite.open(`${site.url}study/bad.html`);
    await page.getByText('not a PruneScope study').waitFor();
    assert.deepEqual(await chartInfos(page), []);
    await page.context().close();
  });
});
