/**
 * The Study panel's page as VS Code shows it: the webview bundle on a page marked
 * data-view="study-panel", sent a real (tiny) study by message as the extension sends it. It
 * draws one chart per factor whose lines are the summary's gaps and the table of models, keeps
 * the study with setState, answers Export Report's request for PNGs and its buttons' exports, and
 * ignores a message whose study does not validate.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { runStudy } from '../../src/core/experiments/study';
import { twoFactorStudyGrid } from '../kits/study';
import type { StudyResults } from '../../src/core/results/format';
import { saveScreenshot, type StaticServer } from './browser';
import { chartInfos, chartPixels, posted, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

/** The test page of the results view, switched to the Study panel's view (the page itself is the same). */
function writeStudyPage(dir: string, name: string, message: unknown): string {
  const file = writeTestPage(dir, name, 'results', message);
  const html = readFileSync(join(dir, file), 'utf8');
  writeFileSync(join(dir, file), html.replace('data-view="results"', 'data-view="study-panel"'));
  return file;
}

describe('Study panel page in Chromium, on a real tiny study', { timeout: 600_000 }, () => {
  const suite = webviewSuite('study-panel');
  let site: StaticServer;
  let study: StudyResults;
  const show = (results: unknown) => ({ type: 'showStudy', title: 'Study: tiny', results, source: '/w/studies/tiny/results.json' });

  before(async () => {
    study = await runStudy({ data: 'mnist', ...twoFactorStudyGrid({ epochs: 1, iterations: 1 }) });
    writeStudyPage(suite.work, 'study', show(study));
    writeStudyPage(suite.work, 'bad', show({ ...study, summary: [{ factor: 'height', values: [] }] }));
    site = await suite.serve(suite.work);
  });

  const open = (name: string) => suite.open(`${site.url}${name}.html`, { viewport: { width: 1280, height: 1000 } });

  test('the study sent by message is drawn: a chart per factor with its gaps, the models, the source file', async () => {
    const { page, messages } = await open('study');
    await page.locator('table.study-models').waitFor();
    const infos = await chartInfos(page);
    assert.deepEqual(
      infos.map((c) => c.name),
      ['Dropout: accuracy gap (cka − unit-l1) vs sparsity', 'Width: accuracy gap (cka − unit-l1) vs sparsity'],
    );
    assert.deepEqual(infos[1].legend, ['16 units per layer', '8 units per layer', 'no gap']);
    for (const info of infos) {
      const pixels = await chartPixels(page, info.name);
      assert.ok(pixels.painted > 0.03 * pixels.width * pixels.height, `${info.name}: ${pixels.painted} painted pixels`);
    }
    const drawn = (await page.evaluate(
      `window.prunescopeCharts().map((c) => c.chart.data.datasets.map((d) => d.data.map((p) => ({ x: p.x, y: p.y }))))`,
    )) as { x: number; y: number }[][][];
    for (const [i, summary] of study.summary.entries()) {
      for (const [j, v] of summary.values.entries()) {
        assert.deepEqual(
          drawn[i][j],
          v.gaps.map((g) => ({ x: g.sparsity, y: g.gap })),
        );
      }
    }
    const rows = await page.locator('table.study-models tbody tr').allTextContents();
    assert.equal(rows.length, 3);
    assert.ok(rows[1].startsWith('w16-d1-p0.25784-16-10'), rows[1]);
    assert.ok((await page.locator('body').innerText()).includes('/w/studies/tiny/results.json'));
    // Kept for a reload: what the panel's serializer gets back.
    const state = (await page.evaluate('window.__prunescope.state')) as { view: string; title: string; results: StudyResults };
    assert.equal(state.view, 'study-panel');
    assert.equal(state.results.createdAt, study.createdAt);
    await saveScreenshot(page, 'study-panel', 'browser');
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test('Export Report asks for the PNGs, and the buttons ask for the CSV, JSON and HTML exports', async () => {
    const { page } = await open('study');
    await page.locator('table.study-models').waitFor();
    await page.evaluate(`window.postMessage({ type: 'exportCharts' }, '*')`);
    await page.waitForFunction(`window.__prunescope.posted.filter((m) => m.type === 'exportPng').length === 2`);
    for (const label of ['Export CSV', 'Export JSON', 'Export HTML']) await page.getByRole('button', { name: label }).click();
    const sent = await posted(page);
    assert.deepEqual(
      sent.filter((m) => m.type === 'exportData').map((m) => m.format),
      ['csv', 'json', 'html'],
    );
    const pngs = sent.filter((m) => m.type === 'exportPng');
    assert.deepEqual(
      pngs.map((m) => m.name),
      study.summary.map((s) => `${s.factor[0].toUpperCase()}${s.factor.slice(1)}: accuracy gap (cka − unit-l1) vs sparsity`),
    );
    assert.ok(pngs.every((m) => String(m.dataUrl).startsWith('data:image/png;base64,')));
    assert.equal(sent[0].type, 'ready');
    await page.context().close();
  });

  test('a message whose study does not validate is ignored: nothing is drawn', async () => {
    const { page, messages } = await open('bad');
    await page.waitForFunction(`window.__prunescope.posted.some((m) => m.type === 'ready')`);
    await page.waitForTimeout(500);
    assert.deepEqual(await chartInfos(page), []);
    assert.equal(await page.locator('table.study-models').count(), 0);
    assert.equal(await page.evaluate('window.__prunescope.state'), undefined);
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });
});
