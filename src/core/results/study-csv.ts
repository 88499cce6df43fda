import type { StudyResults } from './format';

function cell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  // Quote what a spreadsheet would split or read as a formula (as csv.ts does).
  return typeof v === 'string' && /[",\n\r]|^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A study as one table a spreadsheet can open: a row per factor, value that ran and sparsity, with
 * the model that stood for it, its baseline test accuracy, each strategy's accuracy after the last
 * round and the gap (first minus second); empty cells where a strategy has no point there.
 */
export function studyToCsv(results: StudyResults): string {
  const [a, b] = results.settings.strategies;
  const header = [
    'factor',
    'value',
    'model',
    'hidden',
    'dropout',
    'baseline_accuracy',
    'sparsity',
    `accuracy_${a}`,
    `accuracy_${b}`,
    'gap',
  ];
  const body = results.summary.flatMap((s) =>
    s.values.flatMap((v) => {
      const model = results.models.find((m) => m.id === v.model);
      const about = [model?.hidden.join('-') ?? null, model?.dropout ?? null, model?.analysis.baseline.accuracy ?? null];
      return v.gaps.map((g) => [s.factor, v.value, v.model, ...about, g.sparsity, g.a, g.b, g.gap]);
    }),
  );
  return [header, ...body].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}
