import { seriesName, type LatencySpread, type LayerGeometry, type Locality, type Results } from './format';

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

/** The columns after the matrix value: geometry curves, then each model's A-vs-B fields (on its `a_model`/`b_model` row). */
const COMPARISON_TAIL = [
  'units_kept',
  'geometry_r2',
  'accuracy',
  'loss',
  'agreement',
  'parameters',
  'nonzero_parameters',
  'flops',
  'onnx_bytes',
] as const;

type ComparisonResults = Extract<Results, { kind: 'comparison' }>;

/**
 * One side's evaluation and size; empty cells where the file has none. A agrees with itself, so
 * its agreement is 1 whenever B's was measured (as an analysis's original row has it).
 */
function modelRow(results: ComparisonResults, side: 'a' | 'b'): (string | number | null | undefined)[] {
  const agreement = results.agreement === undefined ? undefined : side === 'a' ? 1 : results.agreement;
  const { evaluation: e, size: z } = results[side];
  return [
    `${side}_model`,
    null,
    null,
    null,
    null,
    null,
    e?.accuracy,
    e?.loss,
    agreement,
    z?.parameters,
    z?.nonzeroParameters,
    z?.flops,
    z?.onnxBytes,
  ];
}

function comparisonCsv(results: ComparisonResults): string {
  const a = results.a.model.layerNames;
  const b = results.b.model.layerNames;
  const geometry = (side: 'a' | 'b') =>
    geometryPoints(results[side].geometry).map(([layer, , order, k, r2]) => [`${side}_geometry_${order}`, layer, null, null, k, r2]);
  return rows(
    ['matrix', 'row_layer', 'column_layer', results.metric, ...COMPARISON_TAIL],
    [
      modelRow(results, 'a'),
      modelRow(results, 'b'),
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
  'parameters', 'flops', 'onnx_bytes', 'dense_ms_per_100', 'sparse_ms_per_100', 'onnxruntime_ms_per_100',
  'dense_runs', 'dense_min_ms', 'dense_max_ms', 'sparse_runs', 'sparse_min_ms', 'sparse_max_ms', 'onnxruntime_runs', 'onnxruntime_min_ms', 'onnxruntime_max_ms',
  'similarity', 'apoz_mean', 'magnitude_ks', 'finetune_epochs', 'geometry_order', 'units_kept', 'geometry_r2',
  'locality_median_ratio', 'locality_median_layer_ratio', 'locality_local_share', 'locality_median_spread_px',
] as const;

type Column = (typeof ANALYSIS_HEADER)[number];
type Cell = string | number | null | undefined;
type Row = Partial<Record<Column, Cell>>;
type AnalysisResults = Extract<Results, { kind: 'analysis' }>;

/** A record in header order; columns a row does not name stay empty. */
const inOrder = (row: Row): Cell[] => ANALYSIS_HEADER.map((c) => row[c]);

/** The first layer's locality (src/core/metrics/locality.ts) on a (model) row; empty when not recorded. */
function localityCells(l: Locality | undefined): Row {
  return {
    locality_median_ratio: l?.medianRatio,
    locality_median_layer_ratio: l?.medianLayerRatio,
    locality_local_share: l?.localShare,
    locality_median_spread_px: l?.medianSpread,
  };
}

/** The runs behind one latency median as `<prefix>_runs`, `_min_ms`, `_max_ms` (empty without them: older files). */
function spreadCells(prefix: 'dense' | 'sparse' | 'onnxruntime', s: LatencySpread | null | undefined): Row {
  return { [`${prefix}_runs`]: s?.runs, [`${prefix}_min_ms`]: s?.minMs, [`${prefix}_max_ms`]: s?.maxMs };
}

function analysisCsv(results: AnalysisResults): string {
  const b = results.baseline;
  const original: Row = { strategy: 'original', series: 'original', iteration: 0, sparsity: 0, actual_sparsity: 0, finetune_epochs: 0 };
  const body: Row[] = [
    {
      ...original,
      layer: '(model)',
      accuracy: b.accuracy,
      loss: b.loss,
      agreement: 1,
      parameters: b.parameters,
      flops: b.flops,
      onnx_bytes: b.onnxBytes,
      dense_ms_per_100: b.latency.denseMsPer100,
      onnxruntime_ms_per_100: b.latency.onnxruntimeMsPer100,
      ...spreadCells('dense', b.latency.denseSpread),
      ...spreadCells('onnxruntime', b.latency.onnxruntimeSpread),
      ...localityCells(b.locality),
    },
  ];
  for (const run of results.runs) for (const p of run.points) body.push(...pointRows(run, p));
  for (const [layer, units, order, k, r2] of geometryPoints(b.geometry)) {
    body.push({ ...original, layer, units, geometry_order: order, units_kept: k, geometry_r2: r2 });
  }
  return rows([...ANALYSIS_HEADER], body.map(inOrder));
}

/**
 * A point's model-wide row, then one row per layer. `series` is the run's label or, without one,
 * its strategy: a strategy's plain and compensated runs share `strategy` and differ in `series`.
 */
function pointRows(run: AnalysisResults['runs'][number], p: AnalysisResults['runs'][number]['points'][number]): Row[] {
  const common: Row = {
    strategy: run.strategy,
    kind: run.kind,
    schedule: run.schedule,
    series: seriesName(run),
    compensated: run.compensated ? 'true' : 'false',
    iteration: p.iteration,
    sparsity: p.sparsity,
    finetune_epochs: p.finetuneEpochs,
  };
  const model: Row = {
    ...common,
    actual_sparsity: p.actualSparsity,
    layer: '(model)',
    accuracy: p.accuracy,
    loss: p.loss,
    agreement: p.agreement,
    parameters: p.parameters,
    flops: p.flops,
    onnx_bytes: p.onnxBytes,
    dense_ms_per_100: p.latency.denseMsPer100,
    sparse_ms_per_100: p.latency.sparseMsPer100,
    onnxruntime_ms_per_100: p.latency.onnxruntimeMsPer100,
    ...spreadCells('dense', p.latency.denseSpread),
    ...spreadCells('sparse', p.latency.sparseSpread),
    ...spreadCells('onnxruntime', p.latency.onnxruntimeSpread),
    ...localityCells(p.locality),
  };
  const layers = p.layers.map((l): Row => ({
    ...common,
    actual_sparsity: l.sparsity,
    layer: l.name,
    units: l.units,
    parameters: l.parameters,
    flops: l.flops,
    similarity: l.similarity,
    apoz_mean: l.apoz.mean,
    magnitude_ks: l.magnitudeKS,
  }));
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
