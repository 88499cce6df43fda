/**
 * The results panel without a mouse or without sight, in Chromium on the real webview bundle
 * (sample results of webview-ui/src/sample-results.ts): the tabs follow the WAI-ARIA tabs pattern
 * (arrow keys, Home/End, roving tabindex, tab and panel linked); every chart has an accessible name
 * and description and a "Show as table" view of the numbers it draws; the latency chart draws the
 * spread of the runs behind each median and says how many runs there were.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { AnalysisResults } from '../../src/core/results/format';
import { sampleAnalysis } from '../../webview-ui/src/sample-results';
import { saveScreenshot, type StaticServer } from './browser';
import { hover, openTab, posted, showResultsMessage, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const TABS = ['Accuracy & loss', 'Similarity heatmap', 'APoZ & geometry', 'Weight magnitudes', 'Layer similarity', 'Latency & size'];

/** The sample as a file written before spreads were recorded. */
function withoutSpreads(): AnalysisResults {
  const r = sampleAnalysis();
  for (const run of r.runs)
    for (const p of run.points) p.latency = { denseMsPer100: p.latency.denseMsPer100, sparseMsPer100: p.latency.sparseMsPer100 };
  r.baseline.latency = { denseMsPer100: r.baseline.latency.denseMsPer100 };
  return r;
}

interface TabState {
  selected: string[];
  /** Tabs reachable with Tab (tabindex 0). */
  tabbable: string[];
  focused: string;
  focusedRole: string | null;
  controls: (string | null)[];
  panelId: string;
  labelledBy: string | null;
  selectedId: string;
  charts: string[];
}

const tabState = async (page: Page) =>
  (await page.evaluate(`(() => {
    const tabs = [...document.querySelectorAll('[role=tablist] [role=tab]')];
    const panel = document.querySelector('[role=tabpanel]');
    const on = tabs.filter((t) => t.getAttribute('aria-selected') === 'true');
    return {
      selected: on.map((t) => t.textContent),
      tabbable: tabs.filter((t) => t.tabIndex === 0).map((t) => t.textContent),
      focused: document.activeElement?.textContent ?? '',
      focusedRole: document.activeElement?.getAttribute('role') ?? null,
      controls: tabs.map((t) => t.getAttribute('aria-controls')),
      panelId: panel.id,
      labelledBy: panel.getAttribute('aria-labelledby'),
      selectedId: on[0]?.id ?? '',
      charts: window.prunescopeCharts().map((c) => c.name),
    };
  })()`)) as TabState;

/** A table as its cells read: header texts, then per row the row header's and each cell's data-* values. */
interface TableRead {
  caption: string;
  head: string[];
  rows: { x: string | null; th: string; cells: { text: string; value?: number; low?: number; high?: number; runs?: number }[] }[];
}

const readTable = async (page: Page, title: string) =>
  (await page.evaluate(`(() => {
    const card = [...document.querySelectorAll('section.card')].find((c) => c.querySelector('h3')?.textContent === ${JSON.stringify(title)});
    const table = card.querySelector('table.chart-table');
    const num = (td, k) => (td.dataset[k] === undefined ? undefined : Number(td.dataset[k]));
    return {
      caption: table.querySelector('caption').textContent,
      head: [...table.querySelectorAll('thead th')].map((th) => th.textContent),
      rows: [...table.querySelectorAll('tbody tr')].map((tr) => ({
        x: tr.querySelector('th').dataset.value ?? null,
        th: tr.querySelector('th').textContent,
        cells: [...tr.querySelectorAll('td')].map((td) => ({ text: td.textContent, value: num(td, 'value'), low: num(td, 'low'), high: num(td, 'high'), runs: num(td, 'runs') })),
      })),
    };
  })()`)) as TableRead;

/** A chart's datasets as Chart.js holds them (line: {x, y, low?, high?, runs?} points; bar: numbers; matrix: cells). */
const chartData = async (page: Page, title: string) =>
  (await page.evaluate(`(() => {
    const c = window.prunescopeCharts().find((x) => x.name === ${JSON.stringify(title)}).chart;
    return { labels: c.data.labels ?? [], datasets: c.data.datasets.map((d) => ({ label: d.label, data: d.data })) };
  })()`)) as { labels: string[]; datasets: { label: string; data: unknown[] }[] };

const card = (page: Page, title: string) => page.locator('section.card', { has: page.getByRole('heading', { name: title, exact: true }) });

describe('access: keyboard tabs, named charts with tables, latency spread', { timeout: 240_000 }, () => {
  const suite = webviewSuite('access');
  let site: StaticServer;
  const analysis = sampleAnalysis();

  before(async () => {
    const dir = join(suite.work, 'site');
    writeTestPage(dir, 'sample', 'results', showResultsMessage('Sample', analysis));
    writeTestPage(dir, 'old', 'results', showResultsMessage('Old', withoutSpreads(), 'cost'));
    site = await suite.serve(dir);
  });

  async function open(name: string): Promise<{ page: Page; errors: () => string[] }> {
    const { page, messages } = await suite.open(`${site.url}${name}.html`, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button.active').waitFor();
    await page.waitForFunction('window.prunescopeCharts().length > 0');
    return { page, errors: () => pageErrors(messages) };
  }

  test('arrow keys, Home and End move between tabs and select them; only the selected tab is in the Tab order', async () => {
    const { page, errors } = await open('sample');
    let s = await tabState(page);
    assert.deepEqual(s.selected, ['Accuracy & loss']);
    assert.deepEqual(s.tabbable, ['Accuracy & loss']);
    assert.ok(s.panelId, 'the panel has an id');
    assert.deepEqual(s.controls, new Array<string>(TABS.length).fill(s.panelId));
    assert.equal(s.labelledBy, s.selectedId);
    assert.equal(await page.getByRole('tablist', { name: 'Results views' }).count(), 1);
    await page.getByRole('tab', { name: 'Accuracy & loss' }).focus();
    // Each key: the tab it lands on is focused, selected, the only tabbable one, labels the panel, and its charts show.
    const steps: [string, string, string][] = [
      ['ArrowRight', 'Similarity heatmap', 'linear CKA: original ×'],
      ['ArrowRight', 'APoZ & geometry', 'APoZ of dense'],
      ['ArrowLeft', 'Similarity heatmap', 'linear CKA: original ×'],
      ['Home', 'Accuracy & loss', 'Accuracy vs sparsity'],
      // Left from the first wraps to the last, Right from the last to the first.
      ['ArrowLeft', 'Latency & size', 'Latency vs sparsity'],
      ['ArrowRight', 'Accuracy & loss', 'Accuracy vs sparsity'],
      ['End', 'Latency & size', 'Latency vs sparsity'],
    ];
    for (const [key, label, chart] of steps) {
      await page.keyboard.press(key);
      await page.waitForFunction(`window.prunescopeCharts()[0]?.name.startsWith(${JSON.stringify(chart)})`);
      s = await tabState(page);
      assert.deepEqual([s.selected, s.tabbable, s.focused, s.focusedRole], [[label], [label], label, 'tab'], `after ${key}`);
      assert.equal(s.labelledBy, s.selectedId, `after ${key}`);
      assert.ok(s.charts[0].startsWith(chart), `${key}: ${s.charts.join(' | ')}`);
    }
    // The extension hears of each selection, as it does of a click (it restores the tab later).
    const states = (await posted(page)).filter((m) => m.type === 'state').map((m) => (m.ui as { tab: string }).tab);
    assert.deepEqual(states.slice(-3), ['cost', 'accuracy', 'cost']);
    // Tab leaves the tab list for the panel; Shift+Tab comes back to the selected tab.
    await page.keyboard.press('Tab');
    s = await tabState(page);
    assert.equal(s.focusedRole, 'tabpanel');
    await page.keyboard.press('Shift+Tab');
    s = await tabState(page);
    assert.deepEqual([s.focused, s.focusedRole], ['Latency & size', 'tab']);
    // A click still selects, and moves the roving tabindex with it.
    await openTab(page, 'Weight magnitudes');
    assert.deepEqual((await tabState(page)).tabbable, ['Weight magnitudes']);
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('every chart on every tab is an image named by its title and described by what it plots', async () => {
    const { page, errors } = await open('sample');
    for (const tab of TABS) {
      await openTab(page, tab);
      const charts = (await page.evaluate(`window.prunescopeCharts().map(({ name, chart }) => {
        const canvas = chart.canvas;
        const about = document.getElementById(canvas.getAttribute('aria-describedby') ?? '');
        const title = (axis) => chart.options.scales?.[axis]?.title?.text ?? '';
        return { name, role: canvas.getAttribute('role'), label: canvas.getAttribute('aria-label'), about: about?.textContent ?? '', x: title('x'), y: title('y'), type: chart.config.type };
      })`)) as { name: string; role: string; label: string; about: string; x: string; y: string; type: string }[];
      assert.ok(charts.length > 0, tab);
      for (const c of charts) {
        assert.deepEqual([c.role, c.label], ['img', c.name], `${tab}: ${c.name}`);
        assert.ok(c.about.includes(c.x) && c.about.includes(c.y), `${tab}: ${c.name}: "${c.about}" should name ${c.x} and ${c.y}`);
        assert.match(c.about, c.type === 'matrix' ? /^Heatmap of / : c.type === 'bar' ? /^Bar chart of / : /^Line chart of /);
      }
      assert.equal(await page.getByRole('img', { name: charts[0].name, exact: true }).count(), 1, `${tab}: ${charts[0].name}`);
    }
    await openTab(page, 'Latency & size');
    assert.equal(
      await page
        .getByRole('img', { name: 'Latency vs sparsity' })
        .getAttribute('aria-describedby')
        .then((id) => page.locator(`#${id}`).textContent()),
      'Line chart of ms per 100 samples (log) against sparsity, 8 series: magnitude · round 0 (dense), magnitude · round 1 (dense), unit-l2 · round 0 (dense), unit-l2 · round 1 (dense), apoz · round 0 (dense), apoz · round 1 (dense), magnitude · round 0 (sparse CSR), magnitude · round 1 (sparse CSR). "Show as table" lists the numbers.',
    );
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('"Show as table" shows the numbers the line charts draw, spreads included, and "Show as chart" brings the chart back', async () => {
    const { page, errors } = await open('sample');
    await openTab(page, 'Latency & size');
    const names = (await page.evaluate('window.prunescopeCharts().map((c) => c.name)')) as string[];
    assert.deepEqual(names, ['Latency vs sparsity', 'Parameters vs sparsity', 'Stored size vs sparsity', 'FLOPs vs sparsity']);
    for (const name of names) {
      const toggle = card(page, name).getByRole('button', { name: 'Show as table' });
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      await toggle.click();
      await card(page, name).locator('table.chart-table').waitFor();
      assert.equal(await card(page, name).getByRole('img').isVisible(), false, `${name}: the chart gives way to the table`);
      const table = await readTable(page, name);
      const { datasets } = await chartData(page, name);
      const series = datasets.filter((d) => !d.label.startsWith('original'));
      assert.deepEqual(
        table.head.slice(1),
        series.map((d) => d.label),
        name,
      );
      const xs = [...new Set(series.flatMap((d) => (d.data as { x: number }[]).map((p) => p.x)))].sort((a, b) => a - b);
      assert.deepEqual(
        table.rows.map((r) => Number(r.x)),
        xs,
        name,
      );
      series.forEach((d, i) => {
        for (const p of d.data as { x: number; y: number; low?: number; high?: number; runs?: number }[]) {
          const cell = table.rows.find((r) => Number(r.x) === p.x)!.cells[i];
          assert.deepEqual([cell.value, cell.low, cell.high, cell.runs], [p.y, p.low, p.high, p.runs], `${name}: ${d.label} at ${p.x}`);
        }
      });
      // Every cell of a series without a point at that x says so.
      const filled = series.reduce((a, d) => a + d.data.length, 0);
      assert.equal(table.rows.flatMap((r) => r.cells).filter((c) => c.value !== undefined).length, filled, name);
    }
    // Independently of the chart: the sample's magnitude round 0 at 50% ran dense 7 times, 1.08–1.56 ms around 1.2,
    // and CSR 5 times, 0.88–1.65 around 1.8 · 0.5 + 0.2 = 1.1.
    const latency = await readTable(page, 'Latency vs sparsity');
    const at50 = latency.rows.find((r) => r.th === '50%')!;
    assert.equal(at50.cells[0].text, '1.2 (1.08–1.56, 7 runs)');
    assert.equal(at50.cells[6].text, '1.1 (0.88–1.65, 5 runs)');
    assert.match(latency.caption, /^ms per 100 samples \(log\) by sparsity; in brackets the fastest and slowest/);
    assert.equal(
      await card(page, 'Latency vs sparsity').locator('.chart-table-wrap p.note').textContent(),
      'Reference lines: original (1.20 ms, runs 1.10–1.50): 1.2',
    );
    // Exact numbers where the axis abbreviates (75.56K).
    const p10 = analysis.runs[0].points.find((q) => q.iteration === 0 && q.sparsity === 0.1)!;
    assert.equal((await readTable(page, 'Parameters vs sparsity')).rows[0].cells[0].text, p10.parameters.toLocaleString('en-US'));
    // PNG still exports the chart while its table shows (the hidden chart keeps its size).
    await card(page, 'Latency vs sparsity').getByRole('button', { name: 'PNG' }).click();
    const png = (await posted(page)).find((m) => m.type === 'exportPng' && m.name === 'Latency vs sparsity');
    assert.ok(typeof png?.dataUrl === 'string' && png.dataUrl.length > 5000, 'a drawn PNG');
    await saveScreenshot(page, 'latency-as-table-dark', 'browser');
    // And back: the chart is drawn again at its size, the table gone.
    const back = card(page, 'Latency vs sparsity').getByRole('button', { name: 'Show as chart' });
    assert.equal(await back.getAttribute('aria-expanded'), 'true');
    await back.click();
    assert.equal(await card(page, 'Latency vs sparsity').locator('table').count(), 0);
    await card(page, 'Latency vs sparsity').getByRole('img').waitFor({ state: 'visible' });
    await page.waitForFunction(`(() => { const c = window.prunescopeCharts()[0].chart; return c.width > 100 && c.height > 100; })()`);
    // Shares read to 0.01% in the accuracy table (the axis and tooltip round to 0.1%).
    await openTab(page, 'Accuracy & loss');
    await card(page, 'Accuracy vs sparsity').getByRole('button', { name: 'Show as table' }).click();
    const accuracy = await readTable(page, 'Accuracy vs sparsity');
    assert.equal(accuracy.rows[0].th, '10%');
    assert.equal(accuracy.rows[0].cells[0].text, `${Number((p10.accuracy * 100).toFixed(2))}%`);
    assert.equal(accuracy.rows[0].cells[0].value, p10.accuracy);
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('bar chart and heatmap tables hold the counts and similarities the charts draw', async () => {
    const { page, errors } = await open('sample');
    await openTab(page, 'APoZ & geometry');
    const apozName = `APoZ of ${analysis.baseline.apoz[0].layer}`;
    await card(page, apozName).getByRole('button', { name: 'Show as table' }).click();
    const bars = await readTable(page, apozName);
    const barData = await chartData(page, apozName);
    assert.deepEqual(
      bars.rows.map((r) => r.th),
      barData.labels,
    );
    assert.deepEqual(
      bars.head.slice(1),
      barData.datasets.map((d) => d.label),
    );
    barData.datasets.forEach((d, i) =>
      assert.deepEqual(
        bars.rows.map((r) => r.cells[i].value),
        d.data,
        d.label,
      ),
    );
    // The original's counts are the results' histogram itself.
    assert.deepEqual(
      bars.rows.map((r) => r.cells[0].value),
      analysis.baseline.apoz[0].histogram!.counts,
    );
    await openTab(page, 'Similarity heatmap');
    const heatName = (await page.evaluate('window.prunescopeCharts()[0].name')) as string;
    await card(page, heatName).getByRole('button', { name: 'Show as table' }).click();
    const heat = await readTable(page, heatName);
    const cells = (await chartData(page, heatName)).datasets[0].data as { x: string; y: string; v?: number }[];
    assert.equal(heat.rows.length * (heat.head.length - 1), cells.length);
    for (const c of cells) {
      const cell = heat.rows.find((r) => r.th === c.y)!.cells[heat.head.indexOf(c.x) - 1];
      assert.equal(cell.value, c.v, `${c.y} × ${c.x}`);
      assert.equal(cell.text, c.v === undefined ? 'undefined' : c.v.toFixed(4));
    }
    // The picked point's matrix, row by row (by default magnitude's first-round point nearest 50%).
    const p = analysis.runs[0].points.find((q) => q.iteration === 0 && q.sparsity === 0.5)!;
    assert.deepEqual(
      heat.rows.map((r) => r.cells.map((c) => c.value ?? null)),
      p.similarityMatrix,
    );
    // The choice survives a redraw of the tab (here: going away and back).
    await openTab(page, 'Accuracy & loss');
    await openTab(page, 'Similarity heatmap');
    assert.equal(await card(page, heatName).locator('table.chart-table').count(), 1);
    assert.deepEqual(errors(), []);
    await page.context().close();
  });

  test('the latency chart draws each median with a bar from its fastest to its slowest run, and says how many runs', async () => {
    const { page, errors } = await open('sample');
    await openTab(page, 'Latency & size');
    const latencyCard = card(page, 'Latency vs sparsity');
    assert.equal(
      await latencyCard.locator('p.latency-runs').textContent(),
      'Bars: the fastest to the slowest run behind each median (dense 7 runs, CSR 3–5 runs per point).',
    );
    // magnitude round 0 at 50% is the 5th point of the first series.
    const lines = await hover(page, 'Latency vs sparsity', 0, 4);
    assert.ok(lines.includes('magnitude · round 0 (dense): 1.2 at 50%, runs 1.08–1.56 (7)'), lines.join(' | '));
    // The bar's top cap, 3 px right of that point at its slowest run (1.56 ms), off every line and grid line:
    // how far its colour is from the background (the most of three rows, as the cap may straddle two).
    const probe = `(() => {
      const c = window.prunescopeCharts()[0].chart;
      const e = c.getDatasetMeta(0).data[4];
      const ratio = c.currentDevicePixelRatio;
      const ctx = c.canvas.getContext('2d');
      const bg = ctx.getImageData(2, 2, 1, 1).data;
      const y = Math.round(c.scales.y.getPixelForValue(1.56) * ratio);
      return Math.max(...[-1, 0, 1].map((dy) => {
        const px = ctx.getImageData(Math.round((e.x + 3) * ratio), y + dy, 1, 1).data;
        return Math.hypot(px[0] - bg[0], px[1] - bg[1], px[2] - bg[2]);
      }));
    })()`;
    const painted = (await page.evaluate(probe)) as number;
    assert.ok(painted > 40, `the cap at 1.56 ms differs from the background by ${painted}`);
    await saveScreenshot(page, 'latency-spread-dark', 'browser');
    // A file without spreads: the same spot is background, no runs line, no brackets in the table.
    const old = await open('old');
    const bare = (await old.page.evaluate(probe)) as number;
    assert.ok(bare < 10, `without spreads the same spot differs from the background by ${bare}`);
    assert.equal(await card(old.page, 'Latency vs sparsity').locator('p.latency-runs').count(), 0);
    await card(old.page, 'Latency vs sparsity').getByRole('button', { name: 'Show as table' }).click();
    const table = await readTable(old.page, 'Latency vs sparsity');
    assert.equal(table.rows.find((r) => r.th === '50%')!.cells[0].text, '1.2');
    assert.doesNotMatch(table.caption, /brackets/);
    assert.deepEqual([...errors(), ...old.errors()], []);
    await page.context().close();
    await old.page.context().close();
  });
});
