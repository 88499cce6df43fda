import type { ComparisonResults, ComparisonSide } from '../../core/results/format';
import { percent, table } from '../output';

const count = (n: number) => n.toLocaleString('en-US');

/** B's change against A, signed ("+1.20 points", "-45.3%"), or "" when A has no such number. */
function change(a: number | undefined, b: number | undefined, unit: 'points' | 'relative' | 'plain'): string {
  if (a === undefined || b === undefined) return '';
  const sign = (v: number, text: string) => `${v > 0 ? '+' : v < 0 ? '-' : '±'}${text}`;
  if (unit === 'points') return sign(b - a, `${(Math.abs(b - a) * 100).toFixed(2)} points`);
  if (unit === 'plain') return sign(b - a, Math.abs(b - a).toFixed(4));
  return a === 0 ? '' : sign(b - a, `${((Math.abs(b - a) / a) * 100).toFixed(1)}%`);
}

type Row = [string, (s: ComparisonSide) => number | undefined, (v: number) => string, 'points' | 'relative' | 'plain'];

const ROWS: Row[] = [
  ['accuracy', (s) => s.evaluation?.accuracy, (v) => percent(v), 'points'],
  ['loss (cross-entropy)', (s) => s.evaluation?.loss, (v) => v.toFixed(4), 'plain'],
  ['parameters (non-zero)', (s) => s.size?.nonzeroParameters, count, 'relative'],
  ['parameters (total)', (s) => s.size?.parameters ?? s.model.parameters, count, 'relative'],
  ['FLOPs per sample (non-zero)', (s) => s.size?.flops, count, 'relative'],
  ['ONNX weight bytes', (s) => s.size?.onnxBytes, count, 'relative'],
];

/**
 * "A vs B": what an engineer asks first of two checkpoints, accuracy, loss, agreement and size
 * on the compared rows, before any similarity. Rows a results file does not have are left out.
 */
export function compareSummary(r: ComparisonResults): string {
  const rows = ROWS.filter(([, get]) => get(r.a) !== undefined || get(r.b) !== undefined).map(([name, get, show, unit]) => {
    const [a, b] = [get(r.a), get(r.b)];
    return [name, a === undefined ? 'n/a' : show(a), b === undefined ? 'n/a' : show(b), change(a, b, unit)];
  });
  const where = `${count(r.dataset.activationSamples)} ${r.dataset.activationSplit} samples of ${r.dataset.name}`;
  const lines = [`A vs B on ${where}:`, '', table(['', 'A', 'B', 'B - A'], rows)];
  if (r.agreement !== undefined) lines.push('', `agreement: B predicts what A predicts on ${percent(r.agreement)} of the samples`);
  if (!r.a.evaluation && !r.b.evaluation)
    lines.push('', 'no accuracy, loss or agreement recorded: the samples have no labels the models fit, or the file predates them');
  return lines.join('\n');
}

/** The heading of the A-against-B heatmap, in words. */
export function crossHeading(r: ComparisonResults): string {
  const where = `${count(r.dataset.activationSamples)} ${r.dataset.activationSplit} samples`;
  return `Layer similarity: A's layers (rows) vs B's layers (columns), ${r.metric}, on ${where}:`;
}
