/**
 * Shapes the inspector's numbers into chart data: a layer's weight-magnitude bars and the
 * training curves of history.json. Pure (no DOM, no Chart.js), so node tests check it.
 */
import type { InspectorEpoch } from '../../src/shared/inspector-protocol';
import type { JobResult } from '../../src/shared/jobs';
import { binLabels, pct, type Series, type XY } from './data';

export type LayerHistogram = NonNullable<JobResult<'inspect'>['histograms']>[number];
/** How |w| is binned: equal widths in |w|, or in log10 |w| (magnitudes are heavy-tailed). */
export type MagnitudeBins = 'linear' | 'log';

export interface HistogramBars {
  labels: string[];
  counts: number[];
  xTitle: string;
}

/**
 * The bars of one layer. Every finite weight is in one bar: on linear bins zeros sit in the first
 * bin; on log bins, which cannot hold 0, a first bar "0" holds them.
 */
export function histogramBars(h: LayerHistogram, bins: MagnitudeBins): HistogramBars {
  if (bins === 'log' && h.log) {
    return {
      labels: ['0', ...binLabels(h.log)],
      counts: [h.zeros, ...h.log.counts],
      xTitle: '|w| on log-spaced bins (first bar: exactly 0)',
    };
  }
  if (bins === 'log') return { labels: ['0'], counts: [h.zeros], xTitle: '|w| (every weight is 0)' };
  return { labels: binLabels(h.linear), counts: h.linear.counts, xTitle: '|w| (exact zeros in the first bin)' };
}

/** The line beside a layer's histogram: its sparsity, as a share of exact zeros among its weights. */
export function sparsityText(h: LayerHistogram): string {
  const share = h.weights === 0 ? 0 : h.zeros / h.weights;
  const odd = h.nonFinite > 0 ? `; ${h.nonFinite.toLocaleString('en-US')} NaN or infinite, in no bin` : '';
  return `sparsity ${pct(share)}: ${h.zeros.toLocaleString('en-US')} of ${h.weights.toLocaleString('en-US')} weights are exactly 0${odd}`;
}

function points(epochs: InspectorEpoch[], y: (e: InspectorEpoch) => number | null): XY[] {
  return epochs.flatMap((e) => {
    const v = y(e);
    return v === null ? [] : [{ x: e.epoch, y: v }];
  });
}

/** Train and validation series of loss and of accuracy, one point per epoch that has the value. */
export function trainingSeries(epochs: InspectorEpoch[]): { loss: Series[]; accuracy: Series[] } {
  const pair = (train: (e: InspectorEpoch) => number | null, validation: (e: InspectorEpoch) => number | null): Series[] => [
    { label: 'train', colour: 0, dash: 0, points: points(epochs, train) },
    { label: 'validation', colour: 1, dash: 1, points: points(epochs, validation) },
  ];
  return {
    loss: pair(
      (e) => e.loss,
      (e) => e.valLoss,
    ),
    accuracy: pair(
      (e) => e.accuracy,
      (e) => e.valAccuracy,
    ),
  };
}
