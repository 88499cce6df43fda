/**
 * "A vs B" first: the real CLI compares two models, prints accuracy, loss, agreement and size
 * before the similarity, and the results panel (the real bundle in Chromium) and the CLI's
 * report.html show the same numbers in a table above the heatmaps, whose names say in words what
 * their rows and columns are.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { ComparisonResults } from '../../src/core/results/format';
import { similarityTitle } from '../../webview-ui/src/compare-names';
import { mnistRows } from '../kits/encode/mnist';
import { built, builtNet } from '../kits/encode/models';
import { accuracyAndLoss } from '../kits/encode/reference';
import { repoRoot, saveScreenshot, type StaticServer } from './browser';
import { readResults, showResultsMessage, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const SAMPLES = 400;
const count = (n: number) => n.toLocaleString('en-US');
const percent = (share: number) => `${(share * 100).toFixed(2)}%`;

/** The numbers the table must show, in its row order: from the results file the CLI wrote. */
function expectedRows(r: ComparisonResults): string[][] {
  const [a, b] = [r.a, r.b];
  return [
    ['accuracy', percent(a.evaluation!.accuracy), percent(b.evaluation!.accuracy)],
    ['loss', a.evaluation!.loss.toFixed(4), b.evaluation!.loss.toFixed(4)],
    ['agreement', percent(r.agreement!)],
    ['parameters (non-zero)', count(a.size!.nonzeroParameters), count(b.size!.nonzeroParameters)],
    ['parameters (total)', count(a.size!.parameters), count(b.size!.parameters)],
    ['FLOPs per sample', count(a.size!.flops), count(b.size!.flops)],
    ['ONNX weight bytes', count(a.size!.onnxBytes!), count(b.size!.onnxBytes!)],
  ];
}

describe('Compare: A vs B first, in the CLI, the panel and the report', { timeout: 300_000 }, () => {
  const suite = webviewSuite('compare-summary');
  let site: StaticServer;
  let reportSite: StaticServer;
  let comparison: ComparisonResults;
  let printed: string;

  before(async () => {
    const run = spawnSync(
      process.execPath,
      [
        join(repoRoot, 'bin', 'prunescope.js'),
        'compare',
        built('onnx', 'mnist2x10.onnx'),
        built('onnx', 'mnist2x5_sigmoid.onnx'),
        '--data',
        'mnist',
        '--samples',
        String(SAMPLES),
        '--geometry-samples',
        '0',
        '--out',
        join(suite.work, 'comparison'),
      ],
      { cwd: repoRoot, encoding: 'utf8', timeout: 180_000, env: { ...process.env, PRUNESCOPE_TEST: '1' } },
    );
    assert.equal(run.status, 0, run.stderr);
    printed = run.stderr;
    const r = readResults(join(suite.work, 'comparison'));
    assert.ok(r.kind === 'comparison');
    comparison = r;
    writeTestPage(
      join(suite.work, 'site'),
      'comparison',
      'results',
      showResultsMessage('Compare: mnist2x10.onnx ↔ mnist2x5_sigmoid.onnx', r),
    );
    site = await suite.serve(join(suite.work, 'site'));
    reportSite = await suite.serve(join(suite.work, 'comparison'));
  });

  test("the results file holds each model's accuracy and loss on the compared rows, as the kit's reference computes them", () => {
    const rows = mnistRows('validation', 0, SAMPLES);
    for (const [side, file] of [
      ['a', 'mnist2x10.onnx'],
      ['b', 'mnist2x5_sigmoid.onnx'],
    ] as const) {
      const want = accuracyAndLoss(builtNet('onnx', file), rows.x, rows.y, SAMPLES);
      const got = comparison[side].evaluation!;
      assert.ok(Math.abs(got.accuracy - want.accuracy) <= 1 / SAMPLES, `${side}: ${got.accuracy} vs ${want.accuracy}`);
      assert.ok(Math.abs(got.loss - want.loss) < 1e-4, `${side}: ${got.loss} vs ${want.loss}`);
    }
  });

  test('the CLI prints A vs B before the similarity, with the numbers it wrote', () => {
    const table = printed.indexOf('A vs B on 400 validation samples of mnist:');
    const heatmap = printed.indexOf("Layer similarity: A's layers (rows) vs B's layers (columns), linear-cka, on 400 validation samples:");
    assert.ok(table >= 0 && heatmap > table, printed);
    const lines = printed.slice(table, heatmap).split('\n');
    for (const [name, ...values] of expectedRows(comparison)) {
      if (name === 'agreement') {
        assert.ok(lines.includes(`agreement: B predicts what A predicts on ${values[0]} of the samples`), printed);
        continue;
      }
      const label = name === 'loss' ? 'loss (cross-entropy)' : name === 'FLOPs per sample' ? 'FLOPs per sample (non-zero)' : name;
      const line = lines.find((l) => l.startsWith(`${label}  `));
      assert.ok(line, `no ${label} line in\n${printed}`);
      assert.deepEqual(
        line
          .slice(label.length)
          .trim()
          .split(/\s{2,}/)
          .slice(0, 2),
        values,
        line,
      );
    }
  });

  /** The tab's content in order, and the summary table's rows as text. */
  async function readTab(page: Page): Promise<{ first: string; tableBeforeCharts: boolean; rows: string[][] }> {
    await page.locator('.compare-summary-table').waitFor();
    return (await page.evaluate(`(() => {
      const body = document.querySelector('.tab-body');
      const summary = body.querySelector('section.compare-summary');
      const canvas = body.querySelector('canvas');
      return {
        first: body.firstElementChild.querySelector('h2')?.textContent ?? '',
        tableBeforeCharts: !!(summary.compareDocumentPosition(canvas) & Node.DOCUMENT_POSITION_FOLLOWING),
        rows: [...summary.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent)),
      };
    })()`)) as { first: string; tableBeforeCharts: boolean; rows: string[][] };
  }

  function assertTable(tab: { first: string; tableBeforeCharts: boolean; rows: string[][] }): void {
    assert.equal(tab.first, 'A vs B');
    assert.ok(tab.tableBeforeCharts, 'the table comes before the heatmaps');
    // Name, A and B of each row (agreement: one value for the pair).
    assert.deepEqual(
      tab.rows.map((r) => (r[0] === 'agreement' ? r.slice(0, 2) : r.slice(0, 3))),
      expectedRows(comparison),
    );
  }

  test('the panel shows the table first, with the right numbers, and names the heatmaps in words', async () => {
    const { page, messages } = await suite.open(`${site.url}comparison.html`, { viewport: { width: 1280, height: 900 } });
    const tab = await readTab(page);
    assertTable(tab);
    // B - A of accuracy, in points, worked out from the file.
    const drop = (comparison.b.evaluation!.accuracy - comparison.a.evaluation!.accuracy) * 100;
    assert.equal(tab.rows[0][3], `${drop > 0 ? '+' : drop < 0 ? '−' : '±'}${Math.abs(drop).toFixed(2)} points`);
    const names = (await page.evaluate('window.prunescopeCharts().map((c) => c.name)')) as string[];
    assert.deepEqual(names.slice(0, 3), [
      "Layer similarity: A's layers (rows) vs B's layers (columns), linear CKA",
      similarityTitle('a', 'linear CKA'),
      similarityTitle('b', 'linear CKA'),
    ]);
    await saveScreenshot(page, 'compare-summary', 'browser');
    assert.deepEqual(pageErrors(messages), []);
    await page.context().close();
  });

  test("the CLI's report.html shows the same table first", async () => {
    const { page } = await suite.open(`${reportSite.url}report.html`, { viewport: { width: 1280, height: 900 } });
    assertTable(await readTab(page));
    await page.context().close();
  });
});
