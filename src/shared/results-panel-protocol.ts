/**
 * The extension <-> results panel boundary. Both sides validate every message with these schemas,
 * ignore what does not fit and hand the rest to a handler table (dispatch.ts) that covers every
 * message type. Browser-safe: imported by webview-ui; the HTML report (src/report) speaks it too.
 */
import { z } from 'zod';
import { resultsSchema } from '../core/results/format';
import { parserOf } from './parse';
import { readyMessageSchema, themeMessageSchema } from './webview-common-protocol';

export const RESULT_TABS = ['accuracy', 'similarity-heatmap', 'apoz', 'weights', 'layer-similarity', 'cost', 'compare'] as const;
export type ResultTab = (typeof RESULT_TABS)[number];

/**
 * What the accuracy, loss and agreement charts put on their x axis: the share of prunable
 * weights or units requested, or the share of the original's parameters or FLOPs removed (50% of
 * the units removes about 75% of the weights between two hidden layers).
 */
export const X_AXES = ['requested', 'parameters', 'flops'] as const;
export type XAxis = (typeof X_AXES)[number];

/** What the person picked in the panel; kept across hide/show and reloads. */
export const uiStateSchema = z.object({
  tab: z.enum(RESULT_TABS),
  /**
   * Series picked for the per-point tabs (heatmap, APoZ, weights, layer similarity): a run's
   * `seriesName` (`label ?? strategy`), so that a strategy's plain and compensated runs are two choices.
   */
  strategy: z.string().optional(),
  /** Index into that strategy's points. */
  point: z.number().int().nonnegative().optional(),
  /** Compare tab: which matrix is shown large. */
  compareView: z.enum(['cross', 'a', 'b']).optional(),
  /** Accuracy tab: the x axis of its charts (default 'requested'). */
  xAxis: z.enum(X_AXES).optional(),
});
export type UiState = z.infer<typeof uiStateSchema>;

const resultsView = {
  title: z.string(),
  results: resultsSchema,
  /** Similarity metrics a comparison can be re-run with (the Compare tab's metric picker). */
  metrics: z.array(z.string()),
};

export const toResultsPanelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('showResults'), ...resultsView, ui: uiStateSchema.optional() }),
  themeMessageSchema,
  /** Export Report asks for the PNGs of the charts on screen. */
  z.object({ type: z.literal('exportCharts') }),
  /**
   * The comparison a compareMetric asked for ended without results (they come as showResults):
   * the Compare tab stops saying "computing".
   */
  z.object({
    type: z.literal('compareEnded'),
    metric: z.string().min(1).max(100),
    outcome: z.enum(['failed', 'cancelled']),
    message: z.string().max(2000).optional(),
  }),
]);
export type ToResultsPanelMessage = z.infer<typeof toResultsPanelSchema>;

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

export const fromResultsPanelSchema = z.discriminatedUnion('type', [
  readyMessageSchema,
  z.object({ type: z.literal('state'), ui: uiStateSchema }),
  z.object({
    type: z.literal('exportPng'),
    /** Chart name for the file name; the extension sanitises it. */
    name: z.string().max(200),
    dataUrl: z.string().max(50_000_000).regex(PNG_DATA_URL),
  }),
  z.object({ type: z.literal('exportData'), format: z.enum(['csv', 'json']) }),
  z.object({ type: z.literal('compareMetric'), metric: z.string().min(1).max(100) }),
]);
export type FromResultsPanelMessage = z.infer<typeof fromResultsPanelSchema>;

/** What the results webview keeps with setState and the panel serializer gets back after a reload. */
export const resultsPanelStateSchema = z.object({ view: z.literal('results'), ...resultsView, ui: uiStateSchema });
export type ResultsPanelState = z.infer<typeof resultsPanelStateSchema>;

export const parseToResultsPanel: (value: unknown) => ToResultsPanelMessage | undefined = parserOf(toResultsPanelSchema);
export const parseFromResultsPanel: (value: unknown) => FromResultsPanelMessage | undefined = parserOf(fromResultsPanelSchema);
export const parseResultsPanelState: (value: unknown) => ResultsPanelState | undefined = parserOf(resultsPanelStateSchema);
