/**
 * The inspector's charts, drawn with the results panel's helpers (charts.ts): a weight-magnitude
 * histogram per layer, and the training curves of a history.json beside the model.
 */
import type { Chart } from 'chart.js';
import type { InspectorHistory } from '../../src/shared/inspector-protocol';
import type { JobResult } from '../../src/shared/jobs';
import { barChart, chartCard, lineCard, type ChartSink } from './charts';
import { el, select } from './dom';
import { histogramBars, sparsityText, trainingSeries, type LayerHistogram, type MagnitudeBins } from './inspector-series';

type Summary = JobResult<'inspect'>['summary'];

export interface HistogramView {
  bins: MagnitudeBins;
  /** A logarithmic count axis: a pruned layer's zeros would otherwise flatten every other bar. */
  logCounts: boolean;
}

/** The chart name (and accessible name) of layer `index`'s histogram. */
export function histogramTitle(h: LayerHistogram, index: number): string {
  return `|w| of ${h.layer} (layer ${index + 1})`;
}

/** Turns the count axis of a bar chart made by charts.ts logarithmic. */
function logCountAxis(chart: Chart): void {
  const y = chart.options.scales?.y as { type?: string; min?: number; beginAtZero?: boolean } | undefined;
  if (!y) return;
  y.type = 'logarithmic';
  // Below 1, so that a bin of one weight still shows a bar.
  y.min = 0.5;
  y.beginAtZero = false;
  chart.update();
}

/** Epochs are whole: no tick at epoch 1.5. */
function wholeEpochTicks(chart: Chart): void {
  const x = chart.options.scales?.x as { ticks?: { precision?: number } } | undefined;
  if (!x) return;
  x.ticks = { ...x.ticks, precision: 0 };
  chart.update();
}

function histogramCard(grid: HTMLElement, sink: ChartSink, h: LayerHistogram, index: number, shape: string, view: HistogramView): void {
  const bars = histogramBars(h, view.bins);
  const colour = sink.theme.palette[index % sink.theme.palette.length];
  chartCard(
    grid,
    sink,
    histogramTitle(h, index),
    'half',
    (canvas) => {
      const chart = barChart(canvas, sink.theme, {
        labels: bars.labels,
        datasets: [{ label: 'weights', data: bars.counts, colour }],
        xTitle: bars.xTitle,
        yTitle: view.logCounts ? 'weights (log scale)' : 'weights',
      });
      if (view.logCounts) logCountAxis(chart);
      return chart;
    },
    `${shape} kernel; ${sparsityText(h)}`,
  );
  grid.lastElementChild?.classList.add('weight-histogram');
}

/** The pickers and one histogram card per layer; `change` redraws with another view. */
export function histogramSection(
  parent: HTMLElement,
  sink: ChartSink,
  summary: Summary,
  histograms: LayerHistogram[],
  view: HistogramView,
  change: (next: HistogramView) => void,
): void {
  const pickers = el('div', { class: 'pickers' }, [
    select<MagnitudeBins>(
      '|w| bins',
      [
        { value: 'linear', label: 'linear' },
        { value: 'log', label: 'logarithmic' },
      ],
      view.bins,
      (bins) => change({ ...view, bins }),
    ),
    select<'linear' | 'log'>(
      'count axis',
      [
        { value: 'linear', label: 'linear' },
        { value: 'log', label: 'logarithmic' },
      ],
      view.logCounts ? 'log' : 'linear',
      (v) => change({ ...view, logCounts: v === 'log' }),
    ),
  ]);
  const grid = el('div', { class: 'grid' });
  parent.append(el('h2', { text: 'Weight magnitudes' }), pickers, grid);
  histograms.forEach((h, i) => {
    const l = summary.layers[i];
    const shape = l
      ? `${l.inputSize.toLocaleString('en-US')} × ${l.units.toLocaleString('en-US')}`
      : `${h.weights.toLocaleString('en-US')}-weight`;
    histogramCard(grid, sink, h, i, shape, view);
  });
}

/** Loss and accuracy per epoch (train and validation), or the one line saying why the history cannot be shown. */
export function historySection(parent: HTMLElement, sink: ChartSink, history: InspectorHistory): void {
  parent.append(el('h2', { text: 'Training curves' }));
  if (history.state === 'error') {
    parent.append(el('p', { class: 'note history-error', attrs: { role: 'status' }, text: history.message }));
    return;
  }
  const best = history.bestEpoch ? `; weights of epoch ${history.bestEpoch} kept (lowest validation loss)` : '';
  parent.append(el('p', { class: 'muted note history-source', text: `from ${history.file}: ${history.epochs.length} epochs${best}` }));
  if (history.note) parent.append(el('p', { class: 'note history-note', text: history.note }));
  const grid = el('div', { class: 'grid' });
  parent.append(grid);
  const series = trainingSeries(history.epochs);
  const pointRadius = history.epochs.length > 60 ? 1.5 : 3;
  lineCard(grid, sink, 'Loss per epoch', 'half', { series: series.loss, xTitle: 'epoch', yTitle: 'cross-entropy loss', pointRadius });
  lineCard(grid, sink, 'Accuracy per epoch', 'half', {
    series: series.accuracy,
    xTitle: 'epoch',
    yTitle: 'accuracy',
    yPercent: true,
    pointRadius,
  });
  for (const c of sink.charts.slice(-2)) wholeEpochTicks(c.chart);
}
