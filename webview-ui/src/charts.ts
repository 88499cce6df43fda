/** Chart.js set-up and the three chart kinds the panel uses: lines, grouped/stacked bars, heatmaps. */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Interaction,
  Legend,
  LinearScale,
  LineController,
  LogarithmicScale,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
  type ChartOptions,
  type InteractionItem,
  type InteractionModeFunction,
  type Plugin,
  type TooltipItem,
} from 'chart.js';
import { getRelativePosition } from 'chart.js/helpers';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';
import type { AnalysisResults, LatencySpread, Point } from '../../src/core/results/format';
import type { HeatCell, Series, XY } from './data';
import { coincidenceText, finiteRange, heatCells, rangePosition, rangeText, seriesBySparsity } from './data';
import { addTableToggle, setTableFormat, type TablePoint } from './chart-table';
import { el, button } from './dom';
import { mix, readableOn, withAlpha, type ThemeColours } from './theme';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  CategoryScale,
  BarController,
  BarElement,
  Tooltip,
  Legend,
  MatrixController,
  MatrixElement,
);

declare module 'chart.js' {
  interface InteractionModeMap {
    prunescopeSameX: InteractionModeFunction;
  }
}

/** Reference lines (the original's value) are named by their label; the hover skips them. */
const referenceDatasets = new WeakSet<object>();

/**
 * Every series' point at the x nearest the pointer (within 1e-9): a tooltip lists each strategy's
 * value at the hovered sparsity. 'index' would pair points by position, wrong for series with
 * points of their own; 'x' only finds points within a few pixels of the pointer.
 */
Interaction.modes.prunescopeSameX = (chart, e) => {
  const pointer = getRelativePosition(e, chart);
  const candidates: (InteractionItem & { x: number })[] = [];
  let best: { distance: number; x: number } | undefined;
  chart.data.datasets.forEach((dataset, datasetIndex) => {
    if (!chart.isDatasetVisible(datasetIndex) || referenceDatasets.has(dataset)) return;
    const meta = chart.getDatasetMeta(datasetIndex);
    meta.data.forEach((element, index) => {
      const raw = meta._parsed[index] as XY | undefined;
      if (!raw) return;
      candidates.push({ element, datasetIndex, index, x: raw.x });
      const distance = Math.abs(element.x - pointer.x);
      if (!best || distance < best.distance) best = { distance, x: raw.x };
    });
  });
  const at = best?.x;
  if (at === undefined) return [];
  return candidates.filter((c) => Math.abs(c.x - at) <= 1e-9).map(({ element, datasetIndex, index }) => ({ element, datasetIndex, index }));
};

const DASHES = [[], [6, 3], [2, 3], [10, 3, 2, 3]];

/** Paints the theme background under every chart, so exported PNGs are readable outside VS Code. */
const backgroundPlugin: Plugin = {
  id: 'prunescopeBackground',
  beforeDraw(chart, _args, options: { colour?: string }) {
    const { ctx } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = options.colour ?? 'transparent';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

/**
 * A vertical bar with caps from each point's `low` to its `high` (the fastest and slowest of the
 * runs behind a latency median), in the series' colour: how far the machine's load moved the runs.
 */
const spreadBarsPlugin: Plugin<'line'> = {
  id: 'prunescopeSpreadBars',
  afterDatasetsDraw(chart) {
    const { ctx, chartArea } = chart;
    const y = chart.scales.y;
    ctx.save();
    ctx.beginPath();
    ctx.rect(chartArea.left, chartArea.top, chartArea.right - chartArea.left, chartArea.bottom - chartArea.top);
    ctx.clip();
    chart.data.datasets.forEach((dataset, i) => {
      if (!chart.isDatasetVisible(i)) return;
      const points = dataset.data as unknown as TablePoint[];
      // lineDatasets gives every line a colour string.
      ctx.strokeStyle = typeof dataset.borderColor === 'string' ? withAlpha(dataset.borderColor, 0.7) : 'gray';
      ctx.lineWidth = 1.5;
      chart.getDatasetMeta(i).data.forEach((element, j) => {
        const p = points[j];
        if (p?.low === undefined || p.high === undefined) return;
        const [top, bottom] = [y.getPixelForValue(p.high), y.getPixelForValue(p.low)];
        ctx.beginPath();
        ctx.moveTo(element.x, top);
        ctx.lineTo(element.x, bottom);
        for (const at of [top, bottom]) {
          ctx.moveTo(element.x - 4, at);
          ctx.lineTo(element.x + 4, at);
        }
        ctx.stroke();
      });
    });
    ctx.restore();
  },
};

/**
 * Series of `median` with each point's spread (`low`, `high`, `runs` from `spread`) where the
 * results record one: the error bars of the latency chart. Points without one stay plain.
 */
export function spreadSeries(
  results: AnalysisResults,
  median: (p: Point) => number | null,
  spread: (p: Point) => LatencySpread | null | undefined,
): Series[] {
  const part = (f: (s: LatencySpread) => number) =>
    seriesBySparsity(results, (p) => {
      const s = spread(p);
      return s ? f(s) : null;
    });
  const [lows, highs, runs] = [part((s) => s.minMs), part((s) => s.maxMs), part((s) => s.runs)];
  return seriesBySparsity(results, median).map((s, i) => ({
    ...s,
    points: s.points.map((pt): XY => {
      // Each series has one point per x: the same x finds the same results point.
      const at = (of: Series[]) => of[i]?.points.find((q) => q.x === pt.x)?.y;
      const [low, high] = [at(lows), at(highs)];
      return low === undefined || high === undefined ? pt : ({ ...pt, low, high, runs: at(runs) } as TablePoint);
    }),
  }));
}

/** Writes each heatmap cell's value in it when the cell is large enough to read it. */
const cellValuesPlugin: Plugin<'matrix'> = {
  id: 'prunescopeCellValues',
  afterDatasetsDraw(
    chart,
    _args,
    options: { fg?: string; bg?: string; low?: string; high?: string; enabled?: boolean; range?: HeatRange },
  ) {
    if (!options.enabled) return;
    const meta = chart.getDatasetMeta(0);
    const data = chart.data.datasets[0]?.data as unknown as HeatPoint[] | undefined;
    if (!data) return;
    const { ctx } = chart;
    ctx.save();
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    meta.data.forEach((element, i) => {
      const { x, y, width, height } = element.getProps(['x', 'y', 'width', 'height'], true) as {
        x: number;
        y: number;
        width: number;
        height: number;
      };
      if (width < 34 || height < 16) return;
      const v = data[i]?.v;
      const fg = options.fg ?? '#fff';
      const bg = options.bg ?? '#000';
      // The text colour that contrasts most with this cell's colour (as the dataset paints it).
      ctx.fillStyle =
        v === null || v === undefined ? fg : readableOn(heatColour(options.low ?? bg, options.high ?? fg, v, options.range), fg, bg);
      ctx.font = `${Math.min(12, height / 2)}px ${Chart.defaults.font.family}`;
      ctx.fillText(v === null || v === undefined ? '–' : v.toFixed(2), x + width / 2, y + height / 2);
    });
    ctx.restore();
  },
};

export interface HeatRange {
  min: number;
  max: number;
}

/**
 * A heatmap cell's colour for value v, placed in `range` (the legend bar uses the same scale):
 * similarities often lie in 0.66-1.00, where a 0-1 scale paints every cell alike.
 */
function heatColour(low: string, high: string, v: number, range: HeatRange = { min: 0, max: 1 }): string {
  return mix(low, high, 0.08 + 0.92 * rangePosition(v, range));
}

interface HeatPoint {
  x: string;
  y: string;
  /** Absent: the metric is undefined for this pair. */
  v?: number;
}

/** Theme colours and fonts for every chart made after this call. */
export function applyTheme(theme: ThemeColours): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = Math.max(11, theme.fontSize - 1);
  // No animation: re-renders on every picker change and theme switch should be immediate.
  Chart.defaults.animation = false;
}

export interface ChartSink {
  theme: ThemeColours;
  /** Charts made so far (destroyed on re-render; exported by "export all"). */
  charts: { name: string; chart: Chart }[];
  exportPng(name: string, dataUrl: string): void;
}

export type CardSize = 'wide' | 'half' | 'square';

/** A titled card with a PNG button around a canvas; `make` draws the chart into the canvas. */
export function chartCard(
  parent: HTMLElement,
  sink: ChartSink,
  title: string,
  size: CardSize,
  make: (canvas: HTMLCanvasElement) => Chart,
  note?: string,
): void {
  const canvas = el('canvas', { attrs: { role: 'img', 'aria-label': title } });
  const box = el('div', { class: `chart-box chart-${size}` }, [canvas]);
  // eslint-disable-next-line prefer-const -- assigned after the PNG button that reads it is made
  let chart: Chart | undefined;
  const png = button('PNG', () => chart && sink.exportPng(title, chart.toBase64Image('image/png', 1)), {
    class: 'icon-button',
    title: `Save "${title}" as a PNG image`,
  });
  const actions = el('div', { class: 'card-actions' }, [png]);
  const card = el('section', { class: `card card-${size}` }, [
    el('header', { class: 'card-header' }, [el('h3', { text: title }), actions]),
    note ? el('p', { class: 'muted note', text: note }) : null,
    box,
  ]);
  parent.append(card);
  chart = make(canvas);
  sink.charts.push({ name: title, chart });
  addTableToggle(actions, box, canvas, title, chart);
}

/**
 * A chart card of a line chart, with a line under the chart naming the series that have the same
 * points (otherwise the last one drawn hides the others without a word).
 */
export function lineCard(parent: HTMLElement, sink: ChartSink, title: string, size: CardSize, spec: LineSpec, note?: string): void {
  chartCard(parent, sink, title, size, (c) => lineChart(c, sink.theme, spec), note);
  const text = coincidenceText(spec.series);
  if (text) parent.lastElementChild?.append(el('p', { class: 'muted note coincide', text }));
}

/** 1, 2 or 5 times a power of ten. */
function isOneTwoFive(v: number): boolean {
  if (!(v > 0)) return false;
  const lead = v / 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].some((d) => Math.abs(lead - d) < 1e-6 * d);
}

/** The 1-2-5 values next below and above v (v itself when it is one). */
function oneTwoFiveAround(v: number): [number, number] {
  const decade = 10 ** Math.floor(Math.log10(v));
  const steps = [1, 2, 5, 10].map((d) => d * decade);
  const below = [...steps].reverse().find((s) => s <= v * (1 + 1e-9)) ?? decade;
  const above = steps.find((s) => s >= v * (1 - 1e-9)) ?? 10 * decade;
  return [below, above];
}

/**
 * The y range: the spec's, or for a log axis the data's range widened to 1-2-5 values, so at
 * least two labelled ticks show even when every value sits inside one 1-2-5 step (latencies of a
 * small model on a busy machine do).
 */
function yBounds(spec: LineSpec): { min?: number; max?: number } {
  if (!spec.logY || spec.yMin !== undefined || spec.yMax !== undefined) return { min: spec.yMin, max: spec.yMax };
  // Spreads too, so their bars stay inside the axis.
  const ys = spec.series
    .flatMap((s) => (s.points as TablePoint[]).flatMap((p) => [p.y, p.low, p.high]))
    .filter((y): y is number => typeof y === 'number' && y > 0);
  if (ys.length === 0) return {};
  const min = oneTwoFiveAround(Math.min(...ys))[0];
  let max = oneTwoFiveAround(Math.max(...ys))[1];
  if (max <= min) max = oneTwoFiveAround(min * 1.01)[1];
  return { min, max };
}

const percentTick = (v: number | string) => `${Math.round(Number(v) * 1000) / 10}%`;

export interface LineSpec {
  series: Series[];
  xTitle: string;
  yTitle: string;
  xPercent?: boolean;
  yPercent?: boolean;
  yMin?: number;
  yMax?: number;
  /** A logarithmic y axis, for values spanning orders of magnitude (latencies). */
  logY?: boolean;
  /** Point size (default 3); smaller for long series. */
  pointRadius?: number;
  /** How y values read on ticks and in the tooltip (default: a percentage or 4 significant digits). */
  yFormat?: (v: number) => string;
  /** Horizontal reference lines, e.g. the original model's accuracy. */
  references?: { label: string; y: number; from: number; to: number }[];
}

export function lineChart(canvas: HTMLCanvasElement, theme: ThemeColours, spec: LineSpec): Chart {
  const datasets = lineDatasets(theme, spec);
  const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
  const fmtY =
    spec.yFormat ??
    ((v: number) => (spec.yPercent ? percentTick(v) : Math.abs(v) >= 10_000 ? compact.format(v) : Number(v.toPrecision(4)).toString()));
  const chart = new Chart<'line', { x: number; y: number }[]>(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: 'prunescopeSameX', intersect: false },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 24, boxHeight: 2, usePointStyle: false } },
        tooltip: {
          callbacks: {
            // The x value as the axis shows it (Chart.js' default title is the raw number, e.g. 0.739).
            ...(spec.xPercent
              ? { title: (items: TooltipItem<'line'>[]) => (items.length ? percentTick((items[0].raw as XY).x) : '') }
              : {}),
            label: (item: TooltipItem<'line'>) => {
              const p = item.raw as XY;
              const requested = p.requested === undefined ? '' : ` (${percentTick(p.requested)} requested)`;
              const s = p as TablePoint;
              const spread = s.low === undefined || s.high === undefined ? '' : `, runs ${fmtY(s.low)}–${fmtY(s.high)} (${s.runs ?? '?'})`;
              return `${item.dataset.label}: ${fmtY(p.y)} at ${spec.xPercent ? percentTick(p.x) : p.x}${requested}${spread}`;
            },
          },
        },
        prunescopeBackground: { colour: theme.background },
      } as Record<string, unknown>,
      scales: lineScales(theme, spec, fmtY),
    },
    plugins: [backgroundPlugin, spreadBarsPlugin],
  });
  // The table gives exact numbers where the axis abbreviates (75.56K) and shares to 0.01%.
  const yTable = spec.yFormat ?? (spec.yPercent ? (v: number) => `${Number((v * 100).toFixed(2))}%` : undefined);
  setTableFormat(chart, { x: spec.xPercent ? percentTick : undefined, y: yTable, series: spec.series.length });
  return chart;
}

/** One line per series (colour from the palette, then a dash past it), then the dashed reference lines. */
function lineDatasets(theme: ThemeColours, spec: LineSpec): ChartDataset<'line', { x: number; y: number }[]>[] {
  const datasets: ChartDataset<'line', { x: number; y: number }[]>[] = spec.series.map((s) => {
    const colour = theme.palette[s.colour % theme.palette.length];
    // Past the palette, the dash tells series of the same colour apart.
    const dash = DASHES[(s.dash + Math.floor(s.colour / theme.palette.length)) % DASHES.length];
    return {
      label: s.label,
      data: s.points,
      borderColor: colour,
      backgroundColor: colour,
      borderDash: dash,
      borderWidth: 2,
      pointRadius: spec.pointRadius ?? 3,
      pointHoverRadius: 5,
      tension: 0,
    };
  });
  for (const r of spec.references ?? []) {
    const reference: ChartDataset<'line', { x: number; y: number }[]> = {
      label: r.label,
      data: [
        { x: r.from, y: r.y },
        { x: r.to, y: r.y },
      ],
      borderColor: theme.foreground,
      backgroundColor: theme.foreground,
      borderDash: [4, 4],
      borderWidth: 1.5,
      pointRadius: 0,
      pointHoverRadius: 0,
    };
    referenceDatasets.add(reference);
    datasets.push(reference);
  }
  return datasets;
}

/** A linear x axis (from 0 for sparsities) and a linear or logarithmic y axis, with the spec's titles and ticks. */
function lineScales(theme: ThemeColours, spec: LineSpec, fmtY: (v: number) => string): ChartOptions<'line'>['scales'] {
  return {
    x: {
      type: 'linear',
      // Sparsity axes start at 0 so charts of one panel line up.
      min: spec.xPercent ? 0 : undefined,
      title: { display: true, text: spec.xTitle },
      ticks: spec.xPercent ? { callback: percentTick } : {},
      grid: { color: theme.grid },
    },
    y: {
      type: spec.logY ? 'logarithmic' : 'linear',
      title: { display: true, text: spec.yTitle },
      ...yBounds(spec),
      // A log axis labels only 1, 2 and 5 of each decade; the others crowd it.
      ticks: { callback: (v) => (spec.logY && !isOneTwoFive(Number(v)) ? '' : fmtY(Number(v))) },
      grid: { color: theme.grid },
    },
  };
}

export interface BarSpec {
  labels: string[];
  datasets: { label: string; data: number[]; colour: string }[];
  xTitle: string;
  yTitle: string;
  stacked?: boolean;
}

export function barChart(canvas: HTMLCanvasElement, theme: ThemeColours, spec: BarSpec): Chart {
  return new Chart<'bar', number[], string>(canvas, {
    type: 'bar',
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map((d) => ({
        label: d.label,
        data: d.data,
        backgroundColor: withAlpha(d.colour, 0.75),
        borderColor: d.colour,
        borderWidth: 1,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'bottom' },
        prunescopeBackground: { colour: theme.background },
      } as Record<string, unknown>,
      scales: {
        x: {
          stacked: spec.stacked,
          title: { display: true, text: spec.xTitle },
          ticks: { maxRotation: 60, autoSkip: true },
          grid: { display: false },
        },
        y: {
          stacked: spec.stacked,
          beginAtZero: true,
          title: { display: true, text: spec.yTitle },
          grid: { color: theme.grid },
          ticks: { precision: 0 },
        },
      },
    },
    plugins: [backgroundPlugin],
  });
}

export interface HeatmapSpec {
  matrix: (number | null)[][];
  rowLabels: string[];
  colLabels: string[];
  rowTitle: string;
  colTitle: string;
  metric: string;
  /** What the colour scale spans (default: the finite values of `matrix`); shared by heatmaps under one legend. */
  range?: HeatRange;
}

export function heatmapChart(canvas: HTMLCanvasElement, theme: ThemeColours, spec: HeatmapSpec): Chart {
  const cells: HeatCell[] = heatCells(spec.matrix);
  const data: HeatPoint[] = cells.map((c) => ({
    x: spec.colLabels[c.x] ?? `#${c.x}`,
    y: spec.rowLabels[c.y] ?? `#${c.y}`,
    v: c.v ?? undefined,
  }));
  const cols = Math.max(1, spec.colLabels.length);
  const rows = Math.max(1, spec.rowLabels.length);
  const range = spec.range ?? finiteRange([spec.matrix]);
  return new Chart<'matrix', HeatPoint[]>(canvas, {
    type: 'matrix',
    data: {
      datasets: [
        {
          label: spec.metric,
          data,
          backgroundColor: (ctx) => {
            const v = (ctx.raw as HeatPoint | undefined)?.v;
            return v === null || v === undefined ? withAlpha(theme.heatNull, 0.35) : heatColour(theme.heatLow, theme.heatHigh, v, range);
          },
          borderColor: theme.grid,
          borderWidth: 1,
          width: ({ chart }) => (chart.chartArea?.width ?? 0) / cols - 1,
          height: ({ chart }) => (chart.chartArea?.height ?? 0) / rows - 1,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: () => '',
            label: (item: TooltipItem<'matrix'>) => {
              const p = item.raw as HeatPoint;
              return `${spec.rowTitle} ${p.y} × ${spec.colTitle} ${p.x}: ${p.v === undefined ? 'undefined' : p.v.toFixed(4)}`;
            },
          },
        },
        prunescopeBackground: { colour: theme.background },
        prunescopeCellValues: {
          enabled: true,
          fg: theme.foreground,
          bg: theme.background,
          low: theme.heatLow,
          high: theme.heatHigh,
          range,
        },
      } as Record<string, unknown>,
      scales: heatmapScales(spec),
    },
    plugins: [backgroundPlugin, cellValuesPlugin],
  });
}

/** Category axes of the column and row labels, every label shown, row 0 on top. */
function heatmapScales(spec: HeatmapSpec): ChartOptions<'matrix'>['scales'] {
  return {
    x: {
      type: 'category',
      labels: spec.colLabels,
      offset: true,
      title: { display: true, text: spec.colTitle },
      grid: { display: false },
      ticks: { autoSkip: false, maxRotation: 60 },
    },
    y: {
      type: 'category',
      labels: spec.rowLabels,
      offset: true,
      // Row 0 on top, as a matrix is read (the matrix controller reverses y by default).
      reverse: false,
      title: { display: true, text: spec.rowTitle },
      grid: { display: false },
      ticks: { autoSkip: false },
    },
  };
}

/** A colour bar for heatmaps from the range's minimum to its maximum, with the range in words. */
export function heatLegend(theme: ThemeColours, metric: string, range: HeatRange | undefined): HTMLElement {
  const scale = rangeText(range);
  const canvas = el('canvas', {
    class: 'heat-legend',
    attrs: { width: '240', height: '12', role: 'img', 'aria-label': `${metric} ${scale}` },
  });
  const ctx = canvas.getContext('2d');
  if (ctx) {
    for (let i = 0; i < 240; i++) {
      // Position i/239 of the bar in the range's own terms, so the bar matches the cells.
      const r = range ?? { min: 0, max: 1 };
      ctx.fillStyle = heatColour(theme.heatLow, theme.heatHigh, r.min + ((r.max - r.min) * i) / 239, r);
      ctx.fillRect(i, 0, 1, 12);
    }
  }
  return el('div', { class: 'legend-row' }, [
    el('span', { text: range ? range.min.toFixed(2) : '' }),
    canvas,
    el('span', { text: range ? range.max.toFixed(2) : '' }),
    el('span', { class: 'heat-range', text: `${scale} (${metric})` }),
  ]);
}
