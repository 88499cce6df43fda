import type { LayerGeometry, Results } from './format';

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // Quote what a spreadsheet would split or read as a formula.
  return /[",\n\r]|^[=+\-@]/.test(s) && typeof v === 'string' ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Short rows are padded with empty cells so every record has the header's length. */
function rows(header: string[], body: (string | number | null | undefined)[][]): string {
  const pad = (r: (string | number | null | undefined)[]) => [...r, ...new Array<null>(Math.max(0, header.length - r.length)).fill(null)];
  return [header, ...body].map((r) => pad(r).map(cell).join(',')).join('\n') + '\n';
}

function matrixRows(kind: string, rowNames: string[], colNames: string[], m: (number | null)[][]): (string | number | null)[][] {
  return m.flatMap((row, i) => row.map((v, j) => [kind, rowNames[i] ?? `#${i}`, colNames[j] ?? `#${j}`, v]));
}

/** [layer, layer units, order, units kept, R^2] per curve point of every layer the geometry applies to. */
function geometryPoints(geometry: LayerGeometry[] | undefined): [string, number, string, number, number][] {
  const out: [string, number, string, number, number][] = [];
  for (const g of geometry ?? []) {
    if (!g.applies) continue;
    for (const order of ['ascending', 'descending'] as const) for (const p of g[order]) out.push([g.layer, g.units, order, p.k, p.r2]);
  }
  return out;
}

/**
 * One table a spreadsheet can open: for an analysis, a row per (strategy, point) with the model-wide
 * metrics and a row per layer; for a comparison, the matrices as (matrix, row layer, column layer, value).
 * Geometry curves, when recorded, follow as rows of their own in the last columns (long format,
 * so a pivot table or a filter on the order column gives the curves back).
 */
export function resultsToCsv(results: Results): string {
  return results.kind === 'comparison' ? comparisonCsv(results) : analysisCsv(results);
}

function comparisonCsv(results: Extract<Results, { kind: 'comparison' }>): string {
  const a = results.a.model.layerNames;
  const b = results.b.model.layerNames;
  const geometry = (side: 'a' | 'b') =>
    geometryPoints(results[side].geometry).map(([layer, , order, k, r2]) => [`${side}_geometry_${order}`, layer, null, null, k, r2]);
  return rows(
    ['matrix', 'row_layer', 'column_layer', results.metric, 'units_kept', 'geometry_r2'],
    [
      ...matrixRows('cross', a, b, results.cross),
      ...matrixRows('a_self', a, a, results.a.selfSimilarity),
      ...matrixRows('b_self', b, b, results.b.selfSimilarity),
      ...geometry('a'),
      ...geometry('b'),
    ],
  );
}

// prettier-ignore
const ANALYSIS_HEADER = [
  'strategy', 'kind', 'schedule', 'series', 'compensated', 'iteration', 'sparsity', 'actual_sparsity', 'layer', 'units', 'accuracy', 'loss', 'agreement',
  'parameters', 'flops', 'onnx_bytes', 'dense_ms_per_100', 'sparse_ms_per_100', 'onnxruntime_ms_per_100', 'similarity', 'apoz_mean', 'magnitude_ks', 'finetune_epochs',
  'geometry_order', 'units_kept', 'geometry_r2',
];

type Cell = string | number | null | undefined;
type AnalysisResults = Extract<Results, { kind: 'analysis' }>;

function analysisCsv(results: AnalysisResults): string {
  const b = results.baseline;
  // prettier-ignore
  const body: Cell[][] = [['original', '', '', 'original', '', 0, 0, 0, '(model)', '', b.accuracy, b.loss, 1, b.parameters, b.flops, b.onnxBytes, b.latency.denseMsPer100, null, b.latency.onnxruntimeMsPer100 ?? null, null, null, null, 0]];
  for (const run of results.runs) for (const p of run.points) body.push(...pointRows(run, p));
  for (const [layer, units, order, k, r2] of geometryPoints(b.geometry)) {
    body.push([
      'original',
      '',
      '',
      'original',
      '',
      0,
      0,
      0,
      layer,
      units,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      0,
      order,
      k,
      r2,
    ]);
  }
  return rows(ANALYSIS_HEADER, body);
}

/**
 * A point's model-wide row, then one row per layer. `series` is the run's label or, without one,
 * its strategy: a strategy's plain and compensated runs share `strategy` and differ in `series`.
 */
function pointRows(run: AnalysisResults['runs'][number], p: AnalysisResults['runs'][number]['points'][number]): Cell[][] {
  const common = [
    run.strategy,
    run.kind,
    run.schedule,
    run.label ?? run.strategy,
    run.compensated ? 'true' : 'false',
    p.iteration,
    p.sparsity,
  ];
  // prettier-ignore
  const model: Cell[] = [...common, p.actualSparsity, '(model)', '', p.accuracy, p.loss, p.agreement, p.parameters, p.flops, p.onnxBytes, p.latency.denseMsPer100, p.latency.sparseMsPer100, p.latency.onnxruntimeMsPer100 ?? null, null, null, null, p.finetuneEpochs];
  // prettier-ignore
  const layers = p.layers.map((l): Cell[] => [...common, l.sparsity, l.name, l.units, null, null, null, l.parameters, l.flops, null, null, null, null, l.similarity, l.apoz.mean, l.magnitudeKS, p.finetuneEpochs]);
  return [model, ...layers];
}

/** A file name part from free text (a chart title, a model name). */
export function safeFileName(text: string): string {
  return (
    text
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'chart'
  );
}
