import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sampleAnalysis, sampleComparison } from '../../../webview-ui/src/sample-results';
import { resultsToCsv, safeFileName } from './csv';
import { escapeHtml, makeNonce, webviewHtml } from '../../extension/webview-html';

test('CSV of an analysis: the original, then a row per point and per layer', () => {
  const r = sampleAnalysis();
  const rows = parse(resultsToCsv(r), { columns: true }) as Record<string, string>[];
  const points = r.runs.reduce((a, run) => a + run.points.length, 0);
  const layers = r.runs.reduce((a, run) => a + run.points.reduce((b, p) => b + p.layers.length, 0), 0);
  const curves = (r.baseline.geometry ?? []).reduce((a, g) => a + (g.applies ? g.ascending.length + g.descending.length : 0), 0);
  assert.ok(curves > 0);
  assert.equal(rows.length, 1 + points + layers + curves);
  assert.equal(rows[0].strategy, 'original');
  assert.equal(Number(rows[0].accuracy), r.baseline.accuracy);
  const p = r.runs[1].points[4];
  const row = rows.find(
    (x) => x.strategy === 'unit-l2' && x.layer === '(model)' && Number(x.sparsity) === p.sparsity && Number(x.iteration) === p.iteration,
  );
  assert.ok(row);
  assert.equal(Number(row.accuracy), p.accuracy);
  assert.equal(row.sparse_ms_per_100, '');
  assert.equal(Number(row.onnx_bytes), p.onnxBytes);
  assert.equal(Number(rows[0].onnx_bytes), r.baseline.onnxBytes);
  // The geometry curves, long format: one row per recorded point, in the order recorded.
  const g = r.baseline.geometry?.find((x) => x.applies);
  assert.ok(g?.applies);
  const desc = rows.filter((x) => x.layer === g.layer && x.geometry_order === 'descending');
  assert.deepEqual(
    desc.map((x) => [Number(x.units_kept), Number(x.geometry_r2)]),
    g.descending.map((p) => [p.k, p.r2]),
  );
  assert.equal(Number(desc[0].units), g.units);
});

test('CSV: each layer row carries its magnitude KS, empty where none was recorded', () => {
  const r = sampleAnalysis();
  const p = r.runs[1].points[4];
  p.layers[0].magnitudeKS = 0.625;
  p.layers[1].magnitudeKS = null;
  p.finetuneEpochs = 3;
  const rows = parse(resultsToCsv(r), { columns: true }) as Record<string, string>[];
  const at = (layer: string) =>
    rows.find(
      (x) => x.strategy === 'unit-l2' && x.layer === layer && Number(x.sparsity) === p.sparsity && Number(x.iteration) === p.iteration,
    );
  assert.equal(at(p.layers[0].name)?.magnitude_ks, '0.625');
  assert.equal(at(p.layers[1].name)?.magnitude_ks, '');
  // The columns after it stay in place.
  assert.equal(at(p.layers[0].name)?.finetune_epochs, '3');
  assert.equal(at('(model)')?.magnitude_ks, '');
  assert.equal(at('(model)')?.finetune_epochs, '3');
  assert.equal(rows[0].magnitude_ks, '');
  assert.equal(rows[0].finetune_epochs, '0');
});

test('CSV: a strategy run plain and compensated gives two series under one strategy', () => {
  const r = sampleAnalysis();
  const plain = r.runs[0];
  // The compensated run: magnitude again, its accuracy at every point 0.25 higher (capped).
  const compensated = {
    ...plain,
    label: 'magnitude + compensation',
    compensated: true,
    points: plain.points.map((p) => ({ ...p, accuracy: Math.min(1, p.accuracy + 0.25) })),
  };
  r.runs = [plain, compensated];
  const rows = parse(resultsToCsv(r), { columns: true }) as Record<string, string>[];
  assert.deepEqual(Object.keys(rows[0]).slice(0, 6), ['strategy', 'kind', 'schedule', 'series', 'compensated', 'iteration']);
  assert.deepEqual([rows[0].strategy, rows[0].series, rows[0].compensated], ['original', 'original', '']);
  const models = rows.filter((x) => x.layer === '(model)' && x.strategy === 'magnitude');
  assert.equal(models.length, 2 * plain.points.length);
  const at = (series: string) =>
    models
      .filter((x) => x.series === series && x.iteration === '0' && x.sparsity === '0.5')
      .map((x) => [x.compensated, Number(x.accuracy)]);
  const p = plain.points.find((x) => x.iteration === 0 && x.sparsity === 0.5)!;
  assert.deepEqual(at('magnitude'), [['false', p.accuracy]]);
  assert.deepEqual(at('magnitude + compensation'), [['true', Math.min(1, p.accuracy + 0.25)]]);
  // Layer rows carry the series too, so a filter on it keeps whole points.
  const layerRows = rows.filter((x) => x.series === 'magnitude + compensation' && x.layer !== '(model)');
  assert.equal(
    layerRows.length,
    plain.points.reduce((a, q) => a + q.layers.length, 0),
  );
});

test('CSV quotes what a spreadsheet would split or run as a formula', () => {
  const r = sampleAnalysis();
  r.runs[0].strategy = '=HYPERLINK("x"),evil';
  const text = resultsToCsv(r);
  assert.ok(text.includes('"=HYPERLINK(""x""),evil"'));
  const rows = parse(text, { columns: true }) as Record<string, string>[];
  assert.equal(rows[1].strategy, '=HYPERLINK("x"),evil');
});

test('CSV of a comparison lists every cell of the three matrices', () => {
  const r = sampleComparison();
  const rows = parse(resultsToCsv(r), { columns: true }) as Record<string, string>[];
  const geometryRows = (['a', 'b'] as const).reduce(
    (a, side) => a + (r[side].geometry ?? []).reduce((b, g) => b + (g.applies ? g.ascending.length + g.descending.length : 0), 0),
    0,
  );
  assert.equal(rows.length, 2 + 27 + geometryRows);
  assert.deepEqual(Object.keys(rows[0]), [
    'matrix',
    'row_layer',
    'column_layer',
    'linear-cka',
    'units_kept',
    'geometry_r2',
    'accuracy',
    'loss',
    'agreement',
    'parameters',
    'nonzero_parameters',
    'flops',
    'onnx_bytes',
  ]);
  assert.deepEqual(
    rows.filter((x) => x.matrix === 'cross').map((x) => Number(x['linear-cka'] || NaN)),
    r.cross.flat().map((v) => v ?? NaN),
  );
  // B's second layer is not ReLU-like: no rows for it; A's both layers have theirs.
  assert.equal(rows.filter((x) => x.matrix === 'b_geometry_ascending' && x.row_layer === 'Gemm_4').length, 0);
  const aAsc = rows.filter((x) => x.matrix === 'a_geometry_ascending' && x.row_layer === 'Gemm_4');
  const g = r.a.geometry?.[1];
  assert.ok(g?.applies);
  assert.deepEqual(
    aAsc.map((x) => Number(x.geometry_r2)),
    g.ascending.map((p) => p.r2),
  );
  const undefinedCell = rows.find((x) => x.matrix === 'cross' && x.row_layer === 'Gemm_6' && x.column_layer === 'Gemm_6');
  assert.equal(undefinedCell?.['linear-cka'], '');
  assert.equal(safeFileName('APoZ of <dense_1>/x'), 'APoZ-of-dense_1-x');
});

test('CSV of a comparison: a row per model with its A-vs-B fields, empty where the file has none', () => {
  const r = sampleComparison();
  r.agreement = 0.8125;
  r.a.evaluation = { accuracy: 0.9375, loss: 0.21 };
  r.b.evaluation = { accuracy: 0.875, loss: 0.4 };
  // B's values differ from A's in every column, so a swapped side would show; B has no ONNX size.
  r.a.size = { parameters: 8070, nonzeroParameters: 8070, flops: 16000, onnxBytes: 33120 };
  r.b.size = { parameters: 3985, nonzeroParameters: 2985, flops: 5910 };
  const rows = parse(resultsToCsv(r), { columns: true }) as Record<string, string>[];
  const fields = ['row_layer', 'linear-cka', 'accuracy', 'loss', 'agreement', 'parameters', 'nonzero_parameters', 'flops', 'onnx_bytes'];
  const model = (side: string) => {
    const found = rows.filter((x) => x.matrix === `${side}_model`);
    assert.equal(found.length, 1, side);
    return fields.map((f) => found[0][f]);
  };
  assert.deepEqual(
    rows.slice(0, 2).map((x) => x.matrix),
    ['a_model', 'b_model'],
  );
  assert.deepEqual(model('a'), ['', '', '0.9375', '0.21', '1', '8070', '8070', '16000', '33120']);
  assert.deepEqual(model('b'), ['', '', '0.875', '0.4', '0.8125', '3985', '2985', '5910', '']);
  // Matrix and geometry rows leave the model columns empty.
  for (const x of rows.slice(2))
    assert.deepEqual(
      fields.slice(2).map((f) => x[f]),
      new Array<string>(7).fill(''),
      x.matrix,
    );

  // A file written before these fields existed: the model rows are there, their cells empty.
  const old = parse(resultsToCsv(sampleComparison()), { columns: true }) as Record<string, string>[];
  assert.deepEqual(
    old.slice(0, 2).map((x) => [x.matrix, ...fields.map((f) => x[f])]),
    [
      ['a_model', ...new Array<string>(9).fill('')],
      ['b_model', ...new Array<string>(9).fill('')],
    ],
  );
});

test('webview HTML: strict CSP with a nonce, no inline or eval, escaped title', () => {
  const nonce = makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{16,}$/);
  assert.notEqual(makeNonce(), nonce);
  const html = webviewHtml({
    cspSource: 'vscode-resource:',
    nonce,
    scriptUri: 'vscode-resource:/dist/webview.js',
    styleUri: 'vscode-resource:/media/webview.css',
    view: 'results',
    title: '<img src=x onerror=alert(1)>',
  });
  const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.ok(!html.includes('<img'));
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  // Every script carries the nonce; there is no inline script or handler.
  assert.equal((html.match(/<script/g) ?? []).length, (html.match(new RegExp(`<script nonce="${nonce}" src=`, 'g')) ?? []).length);
  assert.doesNotMatch(html, /<[^>]*\son[a-z]+=/);
  assert.equal(escapeHtml(`"'&`), '&quot;&#39;&amp;');
});

test('CSV: the runs behind each latency median, after the medians; empty where a file has none', () => {
  const r = sampleAnalysis();
  const header = resultsToCsv(r).split('\n')[0].split(',');
  const at = header.indexOf('onnxruntime_ms_per_100');
  assert.deepEqual(header.slice(at + 1, at + 10), [
    'dense_runs',
    'dense_min_ms',
    'dense_max_ms',
    'sparse_runs',
    'sparse_min_ms',
    'sparse_max_ms',
    'onnxruntime_runs',
    'onnxruntime_min_ms',
    'onnxruntime_max_ms',
  ]);
  const p = r.runs[0].points[2];
  p.latency = {
    denseMsPer100: 17.6,
    sparseMsPer100: 60,
    onnxruntimeMsPer100: 5.5,
    denseSpread: { runs: 7, minMs: 15.25, maxMs: 61 },
    sparseSpread: { runs: 2, minMs: 58, maxMs: 62 },
    onnxruntimeSpread: { runs: 7, minMs: 5, maxMs: 9.75 },
  };
  const q = r.runs[0].points[3];
  q.latency = { denseMsPer100: 3, sparseMsPer100: null };
  r.baseline.latency = {
    denseMsPer100: 20,
    onnxruntimeMsPer100: null,
    denseSpread: { runs: 7, minMs: 19, maxMs: 25 },
    onnxruntimeSpread: null,
  };
  const rows = parse(resultsToCsv(r), { columns: true }) as Record<string, string>[];
  const model = (pt: typeof p) =>
    rows.find(
      (x) =>
        x.strategy === 'magnitude' && x.layer === '(model)' && Number(x.sparsity) === pt.sparsity && Number(x.iteration) === pt.iteration,
    )!;
  const spread = (row: Record<string, string>) => header.slice(at - 2, at + 10).map((c) => row[c]);
  assert.deepEqual(spread(model(p)), ['17.6', '60', '5.5', '7', '15.25', '61', '2', '58', '62', '7', '5', '9.75']);
  // A point from a file without spreads (and no CSR or onnxruntime time): the medians only.
  assert.deepEqual(spread(model(q)), ['3', '', '', '', '', '', '', '', '', '', '', '']);
  assert.deepEqual(spread(rows[0]), ['20', '', '', '7', '19', '25', '', '', '', '', '', '']);
  // Layer rows carry no latency; the columns after the new ones stay in place.
  const layer = rows.find((x) => x.strategy === 'magnitude' && x.layer === p.layers[0].name && Number(x.sparsity) === p.sparsity)!;
  assert.deepEqual(spread(layer), new Array<string>(12).fill(''));
  assert.equal(Number(layer.similarity), p.layers[0].similarity);
  assert.equal(Number(layer.finetune_epochs), p.finetuneEpochs);
});
