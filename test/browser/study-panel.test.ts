/**
 * The Study panel's page as VS Code shows it: the webview bundle on a page marked
 * data-view="study-panel", sent a real (tiny) study by message as the extension sends it. It
 * draws one chart per factor whose lines are the summary's gaps and the table of models, keeps
 * the study with setState, answers Export Report's request for PNGs and its buttons' exports, and
 * ignores a message whose study does not validate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { runStudy } from '../../src/core/experiments/study';
import type { StudyResults } from '../../src/core/results/format';
import { closeBrowser, launchBrowser, newPage, saveScreenshot, serveFolder, type StaticServer } from './browser';
import { addProbes, buildBundles, chartInfos, chartPixels, posted, writeTestPage } from './webview-page';

const errorsOf = (messages: string[]) => messages.filter((m) => m.startsWith('[error]') || m.startsWith('[pageerror]'));

/** The test page of the results view, switched to the Study panel's view (the page itself is the same). */
function writeStudyPage(dir: string, name: string, message: unknown): string {
  const file = writeTestPage(dir, name, 'results', message);
  const html = readFileSync(join(dir, file), 'utf8');
  writeFileSync(join(dir, file), html.replace('data-view="results"', 'data-view="study-panel"'));
  return file;
}

describe('Study panel page in Chromium, on a real tiny study', { timeout: 600_000 }, () => {
  let work: string;
  let site: StaticServer;
  let browser: Browser;
  let study: StudyResults;
  const show = (results: unknown) => ({ type: 'showStudy', title: 'Study: tiny', results, source: '/w/studies/tiny/results.json' });

  before(async () => {
    buildBundles();
    work = mkdtempSync(join(tmpdir(), 'prunescope-study-panel-'));
    study = await runStudy({
      data: 'mnist',
      base: { width: 16, depth: 1, dropout: 0 },
      factors: { dropout: [0, 0.25], width: [16, 8] },
      epochs: 1,
      trainSamples: 300,
      validationSamples: 100,
      testSamples: 200,
      samples: 64,
      sparsities: [0.25, 0.5],
      iterations: 1,
      finetuneEpochs: 1,
    });
    writeStudyPage(work, 'study', show(study));
    writeStudyPage(work, 'bad', show({ ...study, summary: [{ factor: 'height', values: [] }] }));
    site = await serveFolder(work);
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await site?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function open(name: string): Promise<{ page: Page; messages: string[] }> {
    const opened = await newPage(browser, { viewport: { width: 1280, height: 1000 } });
    await addProbes(opened.page);
    await opened.page.goto(`${site.url}${name}.html`);
    return opened;
  }

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
    assert.deepEqual(errorsOf(messages), []);
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
    assert.deepEqual(errorsOf(messages), []);
    await page.context().close();
  });
});
