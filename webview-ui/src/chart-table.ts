/**
 * Every chart's numbers as an HTML table, behind a "Show as table" toggle beside the chart, and a
 * description of what the chart plots for assistive technology: a canvas is a picture to a screen
 * reader, the table is what it can read (WAI-ARIA: complex images get a text equivalent).
 */
import type { Chart } from 'chart.js';
import { button, el } from './dom';

/** A line chart's point as charts.ts hands it to Chart.js; `low`/`high`/`runs` when it has a spread. */
export interface TablePoint {
  x: number;
  y: number;
  low?: number;
  high?: number;
  runs?: number;
}

/** How a chart's values read in its table, as its axes and tooltips show them. */
export interface TableFormat {
  x?: (v: number) => string;
  y?: (v: number) => string;
  /** Datasets past this many are reference lines (the original's value), listed under the table. */
  series?: number;
}

const formats = new WeakMap<Chart, TableFormat>();

/** Charts made with a format of their own (lines: percentages, points) call this once made. */
export function setTableFormat(chart: Chart, format: TableFormat): void {
  formats.set(chart, format);
}

const plain = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : Number(v.toPrecision(4)).toString());

/** The titles of the cards shown as tables: a redraw (picker, theme) keeps the choice. */
const shownAsTable = new Set<string>();

function axisTitle(chart: Chart, axis: 'x' | 'y'): string {
  const scale = chart.options.scales?.[axis] as { title?: { text?: string | string[] } } | undefined;
  const text = scale?.title?.text;
  return Array.isArray(text) ? text.join(' ') : (text ?? axis);
}

const KIND: Record<string, string> = { line: 'Line chart', bar: 'Bar chart', matrix: 'Heatmap' };

/** What the chart plots, in a sentence: its kind, axes and series (the accessible description of its canvas). */
export function chartDescription(chart: Chart): string {
  const type = (chart.config as { type?: string }).type ?? 'chart';
  const kind = KIND[type] ?? 'Chart';
  const y = axisTitle(chart, 'y');
  const x = axisTitle(chart, 'x');
  if (type === 'matrix') return `${kind} of ${chart.data.datasets[0]?.label ?? 'values'}: ${y} rows against ${x} columns.`;
  const n = formats.get(chart)?.series ?? chart.data.datasets.length;
  const names = chart.data.datasets.slice(0, n).map((d) => d.label ?? '');
  return `${kind} of ${y} against ${x}, ${n} series: ${names.join(', ')}. "Show as table" lists the numbers.`;
}

function headRow(corner: string, columns: string[]): HTMLTableSectionElement {
  return el('thead', {}, [
    el('tr', {}, [
      el('th', { text: corner, attrs: { scope: 'col' } }),
      ...columns.map((c) => el('th', { text: c, attrs: { scope: 'col' } })),
    ]),
  ]);
}

/** A value cell: the text as the chart reads, the number itself in data-value (and a spread's in data-low/-high/-runs). */
function valueCell(text: string, data: Record<string, number | undefined>): HTMLTableCellElement {
  const attrs: Record<string, string> = { class: 'num' };
  for (const [k, v] of Object.entries(data)) if (v !== undefined) attrs[`data-${k}`] = String(v);
  return el('td', { text, attrs });
}

/** Rows: every x any series has (ascending); columns: the series; "–" where a series has no point there. */
function lineTable(chart: Chart, format: TableFormat): { table: HTMLTableElement; after: string[] } {
  const fx = format.x ?? plain;
  const fy = format.y ?? plain;
  const n = format.series ?? chart.data.datasets.length;
  const series = chart.data.datasets.slice(0, n).map((d) => ({ label: d.label ?? '', points: d.data as unknown as TablePoint[] }));
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const spread = series.some((s) => s.points.some((p) => p.low !== undefined));
  const body = xs.map((x) =>
    el('tr', {}, [
      el('th', { text: fx(x), attrs: { scope: 'row', 'data-value': String(x) } }),
      ...series.map((s) => {
        const p = s.points.find((q) => q.x === x);
        if (!p) return el('td', { text: '–', class: 'num' });
        const range = p.low !== undefined && p.high !== undefined ? ` (${fy(p.low)}–${fy(p.high)}, ${p.runs ?? '?'} runs)` : '';
        return valueCell(`${fy(p.y)}${range}`, { value: p.y, low: p.low, high: p.high, runs: p.runs });
      }),
    ]),
  );
  const caption = `${axisTitle(chart, 'y')} by ${axisTitle(chart, 'x')}${spread ? '; in brackets the fastest and slowest of the runs behind each median' : ''}`;
  const table = el('table', { class: 'layers chart-table' }, [
    el('caption', { text: caption }),
    headRow(
      axisTitle(chart, 'x'),
      series.map((s) => s.label),
    ),
    el('tbody', {}, body),
  ]);
  const after = chart.data.datasets.slice(n).map((d) => `${d.label ?? 'reference'}: ${fy((d.data[0] as unknown as TablePoint).y)}`);
  return { table, after };
}

/** Rows: the category labels (bins); columns: the datasets. */
function barTable(chart: Chart): HTMLTableElement {
  const labels = (chart.data.labels ?? []).map(String);
  const sets = chart.data.datasets;
  return el('table', { class: 'layers chart-table' }, [
    el('caption', { text: `${axisTitle(chart, 'y')} by ${axisTitle(chart, 'x')}` }),
    headRow(
      axisTitle(chart, 'x'),
      sets.map((d) => d.label ?? ''),
    ),
    el(
      'tbody',
      {},
      labels.map((label, i) =>
        el('tr', {}, [
          el('th', { text: label, attrs: { scope: 'row' } }),
          ...sets.map((d) => {
            const v = d.data[i] as number;
            return valueCell(plain(v), { value: v });
          }),
        ]),
      ),
    ),
  ]);
}

/** Rows and columns as the heatmap's axes; "undefined" where the metric is. */
function matrixTable(chart: Chart): HTMLTableElement {
  const cells = chart.data.datasets[0]?.data as unknown as { x: string; y: string; v?: number }[];
  const scaleLabels = (axis: 'x' | 'y') => ((chart.options.scales?.[axis] as { labels?: string[] } | undefined)?.labels ?? []).map(String);
  const cols = scaleLabels('x');
  const rows = scaleLabels('y');
  return el('table', { class: 'layers chart-table' }, [
    el('caption', { text: `${chart.data.datasets[0]?.label ?? ''}: ${axisTitle(chart, 'y')} (rows) × ${axisTitle(chart, 'x')} (columns)` }),
    headRow(`${axisTitle(chart, 'y')} \\ ${axisTitle(chart, 'x')}`, cols),
    el(
      'tbody',
      {},
      rows.map((row) =>
        el('tr', {}, [
          el('th', { text: row, attrs: { scope: 'row' } }),
          ...cols.map((col) => {
            const v = cells.find((c) => c.x === col && c.y === row)?.v;
            return v === undefined ? el('td', { text: 'undefined', class: 'num' }) : valueCell(v.toFixed(4), { value: v });
          }),
        ]),
      ),
    ),
  ]);
}

/** The chart's numbers as a table (with reference lines in a line under it), from the data it draws. */
export function chartTable(chart: Chart): HTMLElement {
  const type = (chart.config as { type?: string }).type;
  const { table, after } =
    type === 'matrix'
      ? { table: matrixTable(chart), after: [] }
      : type === 'bar'
        ? { table: barTable(chart), after: [] }
        : lineTable(chart, formats.get(chart) ?? {});
  // The caption is centred over the table by default, off screen when the table scrolls sideways.
  const caption = table.querySelector('caption');
  if (caption) caption.style.textAlign = 'left';
  return after.length ? el('div', {}, [table, el('p', { class: 'muted note', text: `Reference lines: ${after.join('; ')}` })]) : table;
}

let ids = 0;

/**
 * Adds "Show as table" to a chart card's buttons: it swaps the chart box for a table of the
 * chart's numbers and back, and describes the canvas (aria-describedby) with what it plots.
 * The table is built when shown, from the chart as drawn then.
 */
export function addTableToggle(actions: HTMLElement, box: HTMLElement, canvas: HTMLCanvasElement, title: string, chart: Chart): void {
  const id = `chart-${++ids}`;
  const description = el('p', { text: chartDescription(chart), attrs: { id: `${id}-about`, hidden: '' } });
  canvas.setAttribute('aria-describedby', description.id);
  const wrap = el('div', { class: 'table-wrap chart-table-wrap', attrs: { id: `${id}-table`, hidden: '' } });
  // A long table (geometry curves) scrolls inside the card rather than pushing the next ones away.
  wrap.style.maxHeight = '420px';
  wrap.style.overflowY = 'auto';
  const toggle = button('Show as table', () => show(wrap.hidden), {
    class: 'icon-button table-toggle',
    title: `Show the numbers of "${title}" as a table`,
    attrs: { 'aria-controls': wrap.id, 'aria-expanded': 'false' },
  });
  const show = (asTable: boolean) => {
    if (asTable) wrap.replaceChildren(chartTable(chart));
    else wrap.replaceChildren();
    wrap.hidden = !asTable;
    box.hidden = asTable;
    toggle.textContent = asTable ? 'Show as chart' : 'Show as table';
    toggle.setAttribute('aria-expanded', String(asTable));
    if (asTable) shownAsTable.add(title);
    else shownAsTable.delete(title);
  };
  actions.prepend(toggle);
  box.after(wrap);
  box.append(description);
  if (shownAsTable.has(title)) show(true);
}
