/**
 * First-layer weight maps in the real webview bundle in Chromium: maps with hand-placed bytes
 * (sample results plus a stored sample) must come out pixel for pixel (kept positive red, kept
 * negative blue, stronger for larger |w|, pruned blank), and the maps the CLI's `analyze` stores
 * for a real model must be drawn as stored, in the panel and in the self-contained report.html.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { WEIGHT_MAP_PRUNED, type AnalysisResults, type Locality } from '../../src/core/results/format';
import { sampleAnalysis } from '../../webview-ui/src/sample-results';
import { built } from '../kits/encode/models';
import { saveScreenshot, type StaticServer } from './browser';
import { chartInfos, cli, openTab, readResults, showResultsMessage, writeTestPage } from './webview-page';
import { pageErrors, webviewSuite } from './suite';

const TAB = 'Weight magnitudes';
const P = WEIGHT_MAP_PRUNED;
const base64 = (bytes: number[]) => Buffer.from(Int8Array.from(bytes).buffer).toString('base64');

/** Two 3 x 4 maps. Original: unit 5 then unit 2. */
// prettier-ignore
const ORIGINAL = [
  127, -127, P, 64,
  0, 64, 64, 64,
  64, 64, 64, -64,
  P, P, P, P,
  P, 127, P, P,
  P, P, P, P,
];
// prettier-ignore
const PRUNED = [
  P, P, P, P,
  P, P, P, P,
  P, P, P, 100,
  -100, P, P, P,
  P, P, P, P,
  P, P, P, P,
];

function locality(medianRatio: number, empty: number): Locality {
  return {
    layer: 'dense_1',
    image: { height: 3, width: 4, channels: 1, layout: 'hwc', source: 'option' },
    units: 64,
    measured: 64 - empty,
    empty,
    degenerate: 0,
    medianSpread: 1.25,
    medianRandomSpread: 1.25 / medianRatio,
    medianRatio,
    medianLayerRatio: 1,
    localShare: medianRatio < 0.8 ? 0.75 : 0.1,
    threshold: 0.8,
    draws: 8,
  };
}

/** The sample analysis with the maps above, and locality falling with sparsity. */
function withMaps(): AnalysisResults {
  const r = sampleAnalysis();
  r.baseline.weightMaps = { layer: 'dense_1', height: 3, width: 4, units: [5, 2], scale: 0.5, data: base64(ORIGINAL) };
  r.baseline.locality = locality(1, 0);
  for (const run of r.runs) {
    for (const p of run.points) {
      p.weightMaps = { scale: 0.25, data: base64(PRUNED) };
      p.locality = locality(1 - 0.5 * p.sparsity, run.kind === 'structured' ? Math.round(64 * p.sparsity) : 0);
    }
  }
  return r;
}

/** RGBA of every pixel of the index-th weight-map canvas, with its size. */
async function canvasPixels(page: Page, index: number): Promise<{ width: number; height: number; rgba: number[]; shown: number }> {
  return (await page.evaluate(`(() => {
    const c = document.querySelectorAll('canvas.weight-maps')[${index}];
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, rgba: Array.from(d), shown: c.getBoundingClientRect().width };
  })()`)) as { width: number; height: number; rgba: number[]; shown: number };
}

/** Canvas stores premultiplied colour: a translucent pixel's channels come back within 2 of what was put. */
function near(actual: number[], expected: number[], what: string): void {
  assert.ok(
    actual.length === 4 && actual.every((v, i) => Math.abs(v - expected[i]) <= (i === 3 ? 0 : 2)),
    `${what}: ${actual.join(',')} vs ${expected.join(',')}`,
  );
}

const at = (px: { width: number; rgba: number[] }, x: number, y: number) =>
  px.rgba.slice((y * px.width + x) * 4, (y * px.width + x) * 4 + 4);

/** Map m's pixel (row, col) on a grid of `cols` columns of width x height maps with a 1-pixel gap. */
const spot = (m: number, row: number, col: number, width: number, height: number, cols: number) => ({
  x: (m % cols) * (width + 1) + col,
  y: Math.floor(m / cols) * (height + 1) + row,
});

describe('first-layer weight maps in Chromium', { timeout: 300_000 }, () => {
  const suite = webviewSuite('weight-maps');
  let site: StaticServer;
  let reportSite: StaticServer;
  let real: AnalysisResults;

  before(async () => {
    cli([
      'analyze',
      built('onnx', 'mnist2x10.onnx'),
      '--data',
      'mnist',
      '--strategies',
      'magnitude',
      '--sparsities',
      '0.9',
      '--samples',
      '200',
      '--geometry-samples',
      '0',
      '--out',
      join(suite.work, 'analysis'),
    ]);
    const r = readResults(join(suite.work, 'analysis'));
    assert.equal(r.kind, 'analysis');
    real = r;
    writeTestPage(join(suite.work, 'site'), 'hand', 'results', showResultsMessage('maps', withMaps(), 'weights'));
    writeTestPage(join(suite.work, 'site'), 'real', 'results', showResultsMessage('real maps', real, 'weights'));
    site = await suite.serve(join(suite.work, 'site'));
    reportSite = await suite.serve(suite.work);
  });

  async function open(url: string): Promise<{ page: Page; messages: string[] }> {
    const { page, messages } = await suite.open(url, { viewport: { width: 1280, height: 900 } });
    await page.locator('nav.tabs button').first().waitFor();
    await openTab(page, TAB);
    await page.locator('canvas.weight-maps').first().waitFor();
    return { page, messages };
  }

  test('hand-placed bytes come out pixel for pixel: sign by colour, |w| by opacity, pruned blank', async () => {
    const { page, messages } = await open(`${site.url}hand.html`);
    const original = await canvasPixels(page, 0);
    // Two maps of 4 x 3 in a 2-column grid with a 1-pixel gap.
    assert.deepEqual([original.width, original.height], [9, 3]);
    assert.ok(original.shown > 100, `the grid is scaled up on screen: ${original.shown} px wide`);
    const o = (m: number, row: number, col: number) => {
      const s = spot(m, row, col, 4, 3, 2);
      return at(original, s.x, s.y);
    };
    assert.deepEqual(o(0, 0, 0), [214, 39, 40, 255], 'largest positive: opaque red');
    assert.deepEqual(o(0, 0, 1), [31, 119, 180, 255], 'largest negative: opaque blue');
    assert.equal(o(0, 0, 2)[3], 0, 'pruned: blank');
    near(o(0, 1, 0), [128, 128, 128, 70], 'kept but zero: faint grey, not blank');
    near(o(0, 0, 3), [214, 39, 40, Math.round(70 + (185 * 64) / 127)], 'half as large: half as strong');
    near(o(0, 2, 3), [31, 119, 180, Math.round(70 + (185 * 64) / 127)], 'half as large, negative');
    assert.deepEqual(o(1, 1, 1), [214, 39, 40, 255], 'second map, second column of the grid');
    assert.equal(o(1, 0, 0)[3], 0);
    assert.equal(at(original, 4, 0)[3], 0, 'the gap between maps is blank');

    const pruned = await canvasPixels(page, 1);
    const q = (m: number, row: number, col: number) => {
      const s = spot(m, row, col, 4, 3, 2);
      return at(pruned, s.x, s.y);
    };
    near(q(0, 2, 3), [214, 39, 40, Math.round(70 + (185 * 100) / 127)], 'pruned point, kept positive');
    near(q(1, 0, 0), [31, 119, 180, Math.round(70 + (185 * 100) / 127)], 'pruned point, kept negative');
    const kept = pruned.rgba.filter((_, i) => i % 4 === 3 && pruned.rgba[i] > 0).length;
    assert.equal(kept, 2, 'every other pixel of the pruned maps is blank');

    const text = await page.locator('.weight-maps-section').innerText();
    assert.match(text, /First-layer weight maps \(dense_1\)/);
    assert.match(text, /median ratio 1\.000/, "the original's locality");
    assert.match(text, /units below 0\.8/);
    // Every point's locality in a table, the original first; no chart is added to the tab's charts.
    const rows = await page.locator('table.locality-table tbody tr').allInnerTexts();
    const points = withMaps().runs.reduce((n, run) => n + run.points.length, 0);
    assert.equal(rows.length, 1 + points);
    assert.match(rows[0], /^original\t0%\t1\.000\t1\.000\t10(\.0)?% \(< 0\.8\)\t1\.25 px\t1\.25 px\t0$/);
    const names = (await chartInfos(page)).map((c) => c.name);
    assert.ok(
      names.every((n) => n.startsWith('KS distance') || n.startsWith('|w| of')),
      names.join('; '),
    );
    await saveScreenshot(page, 'weight-maps-hand');
    assert.deepEqual(pageErrors(messages), []);
    await page.close();
  });

  test('the CLI stored locality and maps for a real MNIST model', () => {
    const maps = real.baseline.weightMaps;
    assert.ok(maps, 'baseline.weightMaps');
    assert.deepEqual([maps.height, maps.width, maps.units.length], [28, 28, 10]);
    assert.deepEqual(
      [...maps.units].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const ratio = real.baseline.locality?.medianRatio;
    assert.ok(ratio !== undefined && ratio !== null && Math.abs(ratio - 1) < 1e-9, `every weight kept, its own random mask: ${ratio}`);
    const point = real.runs[0].points[0];
    assert.ok(point.locality && point.weightMaps);
    // mnist2x10.onnx declares its input as [1, 28, 28].
    assert.deepEqual(point.locality.image, { height: 28, width: 28, channels: 1, layout: 'chw', source: 'model' });
    assert.ok(point.locality.medianRatio! > 0 && point.locality.medianRatio! < 1.5, `median ratio ${point.locality.medianRatio}`);
    const bytes = new Int8Array(Buffer.from(point.weightMaps.data, 'base64'));
    const prunedShare = bytes.filter((b) => b === P).length / bytes.length;
    assert.ok(Math.abs(prunedShare - 0.9) < 0.05, `90% magnitude pruning leaves about 10% of the map pixels: ${prunedShare}`);
  });

  for (const where of ['panel', 'report'] as const) {
    test(`the ${where} draws the stored maps of a real run as stored`, async () => {
      const { page, messages } = await open(where === 'panel' ? `${site.url}real.html` : `${reportSite.url}analysis/report.html`);
      const maps = real.baseline.weightMaps!;
      const stored = [maps.data, real.runs[0].points[0].weightMaps!.data].map((d) => new Int8Array(Buffer.from(d, 'base64')));
      for (const [index, bytes] of stored.entries()) {
        const px = await canvasPixels(page, index);
        const cols = Math.ceil(Math.sqrt(maps.units.length));
        let checked = 0;
        for (let m = 0; m < maps.units.length; m++) {
          for (let row = 0; row < 28; row++) {
            for (let col = 0; col < 28; col++) {
              const b = bytes[m * 784 + row * 28 + col];
              const s = spot(m, row, col, 28, 28, cols);
              const [r, , blue, alpha] = at(px, s.x, s.y);
              const what = `canvas ${index}, map ${m}, pixel (${row}, ${col}), byte ${b}: rgba ${at(px, s.x, s.y).join(',')}`;
              if (b === P) assert.equal(alpha, 0, what);
              else if (b > 0) assert.ok(alpha > 0 && r > blue, what);
              else if (b < 0) assert.ok(alpha > 0 && blue > r, what);
              else assert.ok(alpha > 0, what);
              checked++;
            }
          }
        }
        assert.equal(checked, maps.units.length * 784);
      }
      await saveScreenshot(page, `weight-maps-real-${where}`);
      assert.deepEqual(pageErrors(messages), []);
      await page.close();
    });
  }
});
