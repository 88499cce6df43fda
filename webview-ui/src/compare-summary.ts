/**
 * The top of the Compare tab: what an engineer asks of two checkpoints before any similarity,
 * accuracy, loss, agreement and size of A and B on the compared samples, as a small table.
 */
import type { ComparisonResults, ComparisonSide } from '../../src/core/results/format';
import { el } from './dom';

export { similarityTitle } from './compare-names';

const count = (n: number) => n.toLocaleString('en-US');
const percent = (share: number) => `${(share * 100).toFixed(2)}%`;

type Change = 'points' | 'relative' | 'plain';

/** B's change against A, signed ("-1.50 points", "-50.0%"), or "" when either is missing. */
export function changeText(a: number | undefined, b: number | undefined, unit: Change): string {
  if (a === undefined || b === undefined) return '';
  const d = b - a;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  if (unit === 'points') return `${sign}${(Math.abs(d) * 100).toFixed(2)} points`;
  if (unit === 'plain') return `${sign}${Math.abs(d).toFixed(4)}`;
  return a === 0 ? '' : `${sign}${((Math.abs(d) / a) * 100).toFixed(1)}%`;
}

interface SummaryRow {
  name: string;
  title: string;
  get(s: ComparisonSide): number | undefined;
  show(v: number): string;
  change: Change;
}

const ROWS: SummaryRow[] = [
  {
    name: 'accuracy',
    title: 'Share of the samples whose predicted class is the label',
    get: (s) => s.evaluation?.accuracy,
    show: percent,
    change: 'points',
  },
  { name: 'loss', title: 'Mean cross-entropy on the samples', get: (s) => s.evaluation?.loss, show: (v) => v.toFixed(4), change: 'plain' },
  {
    name: 'parameters (non-zero)',
    title: 'Weights that are not zero, plus every bias',
    get: (s) => s.size?.nonzeroParameters,
    show: count,
    change: 'relative',
  },
  {
    name: 'parameters (total)',
    title: 'Every weight and bias, zero or not',
    get: (s) => s.size?.parameters ?? s.model.parameters,
    show: count,
    change: 'relative',
  },
  {
    name: 'FLOPs per sample',
    title: '2 × the non-zero weights: the work of one sample through a sparse kernel',
    get: (s) => s.size?.flops,
    show: count,
    change: 'relative',
  },
  {
    name: 'ONNX weight bytes',
    title: 'Weights, biases and sparse indices as written to ONNX',
    get: (s) => s.size?.onnxBytes,
    show: count,
    change: 'relative',
  },
];

function cell(text: string, numeric = true): HTMLTableCellElement {
  return el('td', { class: numeric ? 'num' : '', text });
}

/** The table's body rows: every measure either side has, then agreement when measured. */
function summaryRows(r: ComparisonResults): HTMLTableRowElement[] {
  const rows = ROWS.filter((row) => row.get(r.a) !== undefined || row.get(r.b) !== undefined).map((row) => {
    const [a, b] = [row.get(r.a), row.get(r.b)];
    return el('tr', {}, [
      el('th', { text: row.name, title: row.title, attrs: { scope: 'row' } }),
      cell(a === undefined ? 'n/a' : row.show(a)),
      cell(b === undefined ? 'n/a' : row.show(b)),
      cell(changeText(a, b, row.change)),
    ]);
  });
  if (r.agreement !== undefined) {
    const agreement = el('td', { class: 'num', text: percent(r.agreement), attrs: { colspan: '2' } });
    rows.splice(
      2,
      0,
      el('tr', {}, [
        el('th', { text: 'agreement', attrs: { scope: 'row' } }),
        agreement,
        cell('of the samples, B predicts what A predicts', false),
      ]),
    );
  }
  return rows;
}

/** "A vs B": accuracy, loss, agreement and size of both models, first on the Compare tab. */
export function compareSummarySection(r: ComparisonResults): HTMLElement {
  const d = r.dataset;
  const evaluated = r.a.evaluation !== undefined || r.b.evaluation !== undefined;
  const about = evaluated
    ? `Both models on the same ${count(d.activationSamples)} ${d.activationSplit} samples of ${d.name} the similarity below is measured on.`
    : 'No accuracy, loss or agreement: the samples have no labels the models fit, or the results file predates them.';
  return el('section', { class: 'card compare-summary', attrs: { 'aria-labelledby': 'compare-summary-title' } }, [
    el('h2', { text: 'A vs B', attrs: { id: 'compare-summary-title' } }),
    el('p', { class: 'muted', text: about }),
    el('div', { class: 'table-wrap' }, [
      el('table', { class: 'layers compare-summary-table' }, [
        el('thead', {}, [
          el('tr', {}, [
            el('th', { text: '' }),
            el('th', { class: 'num', text: 'A' }),
            el('th', { class: 'num', text: 'B' }),
            el('th', { class: 'num', text: 'B − A' }),
          ]),
        ]),
        el('tbody', {}, summaryRows(r)),
      ]),
    ]),
  ]);
}
