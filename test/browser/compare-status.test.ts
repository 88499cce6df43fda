/**
 * The Compare tab's metric picker in Chromium (the real webview bundle on the test page): asking
 * for another metric says "computing" until the extension answers, and every answer ends that
 * state: results replace the view, a failure or a cancel (compareEnded) says so and puts the
 * picker back on the metric on screen, and picking the metric already on screen asks for nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { ComparisonResults } from '../../src/core/results/format';
import { similarityTitle } from '../../webview-ui/src/compare-names';
import { sampleComparison } from '../../webview-ui/src/sample-results';
import { type StaticServer } from './browser';
import { posted, showResultsMessage, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

describe('Compare tab: the metric status always ends', { timeout: 180_000 }, () => {
  const suite = webviewSuite('compare-status');
  let site: StaticServer;
  let comparison: ComparisonResults;

  before(async () => {
    comparison = sampleComparison();
    assert.equal(comparison.metric, 'linear-cka');
    writeTestPage(join(suite.work, 'site'), 'comparison', 'results', showResultsMessage('Compare: a.onnx ↔ b.onnx', comparison));
    site = await suite.serve(join(suite.work, 'site'));
  });

  async function open(): Promise<{ page: Page; messages: string[] }> {
    const { page, messages } = await suite.open(`${site.url}comparison.html`, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button.active').waitFor();
    assert.equal(await page.locator('nav.tabs button.active').textContent(), 'Compare');
    return { page, messages };
  }

  const statusOf = (page: Page) => page.locator('.compare-status').textContent();
  const pickedMetric = async (page: Page) => (await page.getByLabel('Metric').locator('option:checked').textContent()) ?? '';
  const asked = async (page: Page) => (await posted(page)).filter((m) => m.type === 'compareMetric').map((m) => m.metric);
  const fromExtension = (page: Page, message: unknown) => page.evaluate(`window.postMessage(${JSON.stringify(message)}, '*')`);
  const statusBecomes = (page: Page, text: string) =>
    page.waitForFunction(`document.querySelector('.compare-status')?.textContent === ${JSON.stringify(text)}`);

  test('a cancel or a failure ends "computing", and so does picking the metric on screen', async () => {
    const { page, messages } = await open();
    assert.equal(await statusOf(page), '');

    await page.getByLabel('Metric').selectOption({ label: 'pwcca' });
    assert.equal(await statusOf(page), 'computing pwcca…');
    assert.deepEqual(await asked(page), ['pwcca']);
    // Switching the large view redraws the tab; the request is still pending.
    await page.getByLabel('Large').selectOption({ label: 'B × B' });
    await page.waitForFunction(`window.prunescopeCharts()[0].name.startsWith('Layer similarity within B')`);
    assert.equal(await statusOf(page), 'computing pwcca…');

    // The answer for another metric is not this one's; then this one is cancelled.
    await fromExtension(page, { type: 'compareEnded', metric: 'svcca', outcome: 'cancelled' });
    await fromExtension(page, { type: 'compareEnded', metric: 'pwcca', outcome: 'cancelled' });
    await statusBecomes(page, 'pwcca: cancelled');
    assert.equal(await pickedMetric(page), 'linear CKA', 'the picker is back on the metric on screen');

    await page.getByLabel('Metric').selectOption({ label: 'svcca' });
    assert.equal(await statusOf(page), 'computing svcca…');
    await fromExtension(page, { type: 'compareEnded', metric: 'svcca', outcome: 'failed', message: 'the worker stopped answering' });
    await statusBecomes(page, 'svcca failed: the worker stopped answering');

    // Back to the metric on screen while another is computing: shown as it is, nothing asked.
    await page.getByLabel('Metric').selectOption({ label: 'pwcca' });
    assert.equal(await statusOf(page), 'computing pwcca…');
    await page.getByLabel('Metric').selectOption({ label: 'linear CKA' });
    assert.equal(await statusOf(page), '');
    assert.deepEqual(await asked(page), ['pwcca', 'svcca', 'pwcca']);
    const titles = (await page.evaluate('window.prunescopeCharts().map((c) => c.name)')) as string[];
    assert.ok(
      titles.some((t) => t === similarityTitle('cross', 'linear CKA')),
      titles.join(' | '),
    );
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test('results for the metric asked for replace the view and end "computing"', async () => {
    const { page } = await open();
    await page.getByLabel('Metric').selectOption({ label: 'pwcca' });
    assert.equal(await statusOf(page), 'computing pwcca…');
    const pwcca: ComparisonResults = { ...comparison, metric: 'pwcca', createdAt: '2025-01-01T12:05:00.000Z' };
    await fromExtension(page, showResultsMessage('Compare: a.onnx ↔ b.onnx', pwcca));
    await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === ${JSON.stringify(similarityTitle('cross', 'pwcca'))})`);
    assert.equal(await statusOf(page), '');
    assert.equal(await pickedMetric(page), 'pwcca');
    // A late "ended" for a request already answered changes nothing.
    await fromExtension(page, { type: 'compareEnded', metric: 'pwcca', outcome: 'failed', message: 'late' });
    await page.waitForTimeout(200);
    assert.equal(await statusOf(page), '');
    await page.context().close();
  });
});
