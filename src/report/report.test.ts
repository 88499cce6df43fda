/**
 * The CLI's report.html, opened from disk in Chromium with the network off: its accuracy charts
 * have the panel's x-axis picker, and switching it moves unit-l2's 50% point to the share of
 * parameters and FLOPs removed worked out by hand (webview-ui/x-axis-fixture.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { AnalysisResults } from '../core/results/format';
import { closeBrowser, launchBrowser, newPage } from '../../test/browser/browser';
import { addProbes, buildBundles } from '../../test/browser/webview-page';
import { UNIT_HALF_FLOPS_REMOVED, UNIT_HALF_PARAMETERS_REMOVED, unitPruningAnalysis } from '../../webview-ui/x-axis-fixture';

/** The x values of series `label` in chart `name`, in the order drawn. */
async function xs(page: Page, name: string, label: string): Promise<number[]> {
  return (await page.evaluate(`(() => {
    const c = window.prunescopeCharts().find((x) => x.name === ${JSON.stringify(name)}).chart;
    return c.data.datasets.find((d) => d.label === ${JSON.stringify(label)}).data.map((p) => p.x);
  })()`)) as number[];
}

describe('report.html: the x axis of the accuracy charts, offline', { timeout: 300_000 }, () => {
  let work: string;
  let browser: Browser;
  let report: string;
  let results: AnalysisResults;

  before(async () => {
    buildBundles();
    work = mkdtempSync(join(tmpdir(), 'prunescope-report-x-axis-'));
    const analysis = await unitPruningAnalysis(work);
    results = analysis.results;
    report = join(analysis.out, 'report.html');
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('switching the axis moves unit pruning at 50% to about 75% removed, with no network', async () => {
    assert.ok(existsSync(report), 'the CLI wrote report.html');
    assert.doesNotMatch(readFileSync(report, 'utf8'), /<(script|link)[^>]+(src|href)=/i, 'nothing loaded from elsewhere');
    const { context, page, messages } = await newPage(browser, { viewport: { width: 1280, height: 900 } });
    await context.setOffline(true);
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await addProbes(page);
    await page.goto(pathToFileURL(report).href);
    await page.locator('nav.tabs button').first().waitFor();
    assert.ok(results.runs.find((r) => r.strategy === 'unit-l2')!.points.some((p) => p.sparsity === 0.5));
    assert.ok((await xs(page, 'Accuracy vs sparsity', 'unit-l2')).includes(0.5));

    await page.getByLabel('X axis').selectOption({ label: 'parameters removed' });
    await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === 'Accuracy vs parameters removed')`);
    const byParameters = await xs(page, 'Accuracy vs parameters removed', 'unit-l2');
    assert.ok(
      byParameters.some((x) => Math.abs(x - UNIT_HALF_PARAMETERS_REMOVED) < 1e-9),
      `${byParameters.join(', ')} (wanted ${UNIT_HALF_PARAMETERS_REMOVED})`,
    );
    assert.ok(Math.abs(UNIT_HALF_PARAMETERS_REMOVED - 0.7387) < 1e-4);
    assert.deepEqual(
      byParameters,
      [...byParameters].sort((a, b) => a - b),
    );

    await page.getByLabel('X axis').selectOption({ label: 'FLOPs removed' });
    await page.waitForFunction(`window.prunescopeCharts().some((c) => c.name === 'Agreement with the original vs FLOPs removed')`);
    const byFlops = await xs(page, 'Agreement with the original vs FLOPs removed', 'unit-l2');
    assert.ok(
      byFlops.some((x) => Math.abs(x - UNIT_HALF_FLOPS_REMOVED) < 1e-9),
      byFlops.join(', '),
    );

    assert.deepEqual(requests, []);
    assert.deepEqual(
      messages.filter((m) => m.startsWith('[error]') || m.startsWith('[pageerror]')),
      [],
    );
    await context.close();
  });
});
