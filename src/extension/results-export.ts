import type { Results } from '../core/results/format';

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // Quote what a spreadsheet would split or read as a formula.
  return /[",\n\r]|^[=+\-@]/.test(s) && typeof v === 'string' ? `"${s.replace(/"/g, '""')}"` : s;
}

function rows(header: string[], body: (string | number | null | undefined)[][]): string {
  return [header, ...body].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

function matrixRows(kind: string, rowNames: string[], colNames: string[], m: (number | null)[][]): (string | number | null)[][] {
  return m.flatMap((row, i) => row.map((v, j) => [kind, rowNames[i] ?? `#${i}`, colNames[j] ?? `#${j}`, v]));
}

/**
 * One table a spreadsheet can open: for an analysis, a row per (strategy, point) with the model-wide
 * metrics and a row per layer; for a comparison, the matrices as (matrix, row layer, column layer, value).
 */
export function resultsToCsv(results: Results): string {
  if (results.kind === 'comparison') {
    const a = results.a.model.layerNames;
    const b = results.b.model.layerNames;
    return rows(['matrix', 'row_layer', 'column_layer', results.metric], [
      ...matrixRows('cross', a, b, results.cross),
      ...matrixRows('a_self', a, a, results.a.selfSimilarity),
      ...matrixRows('b_self', b, b, results.b.selfSimilarity),
    ]);
  }
  const header = [
    'strategy', 'kind', 'schedule', 'iteration', 'sparsity', 'actual_sparsity', 'layer', 'units', 'accuracy', 'loss',
    'agreement', 'parameters', 'flops', 'dense_ms_per_100', 'sparse_ms_per_100', 'similarity', 'apoz_mean', 'finetune_epochs',
  ];
  const body: (string | number | null | undefined)[][] = [];
  const b = results.baseline;
  body.push(['original', '', '', 0, 0, 0, '(model)', '', b.accuracy, b.loss, 1, b.parameters, b.flops, b.latency.denseMsPer100, null, null, null, 0]);
  for (const run of results.runs) {
    for (const p of run.points) {
      const common = [run.strategy, run.kind, run.schedule, p.iteration, p.sparsity];
      body.push([...common, p.actualSparsity, '(model)', '', p.accuracy, p.loss, p.agreement, p.parameters, p.flops, p.latency.denseMsPer100, p.latency.sparseMsPer100, null, null, p.finetuneEpochs]);
      for (const l of p.layers) {
        body.push([...common, l.sparsity, l.name, l.units, null, null, null, l.parameters, l.flops, null, null, l.similarity, l.apoz.mean, p.finetuneEpochs]);
      }
    }
  }
  return rows(header, body);
}

/** A file name part from free text (a chart title, a model name). */
export function safeFileName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'chart';
}
