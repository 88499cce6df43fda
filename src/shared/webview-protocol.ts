/**
 * The extension <-> webview boundary (results panel and inspector). Both sides validate every
 * message with these schemas and ignore what does not fit. Browser-safe: imported by webview-ui.
 */
import { z } from 'zod';
import { resultsSchema } from '../core/results/format';
import { inspectResultSchema, parserOf } from './worker-protocol';

export const THEME_KINDS = ['light', 'dark', 'high-contrast', 'high-contrast-light'] as const;
export type ThemeKind = (typeof THEME_KINDS)[number];

export const RESULT_TABS = ['accuracy', 'similarity-heatmap', 'apoz', 'weights', 'layer-similarity', 'cost', 'compare'] as const;
export type ResultTab = (typeof RESULT_TABS)[number];

/** What the person picked in the panel; kept across hide/show and reloads. */
export const uiStateSchema = z.object({
  tab: z.enum(RESULT_TABS),
  /** Strategy picked for the per-point tabs (heatmap, APoZ, weights, layer similarity). */
  strategy: z.string().optional(),
  /** Index into that strategy's points. */
  point: z.number().int().nonnegative().optional(),
  /** Compare tab: which matrix is shown large. */
  compareView: z.enum(['cross', 'a', 'b']).optional(),
});
export type UiState = z.infer<typeof uiStateSchema>;

export const WEBVIEW_COMMANDS = ['inspect', 'analyze', 'prune', 'compare', 'evaluate', 'train', 'openResults'] as const;
export type WebviewCommand = (typeof WEBVIEW_COMMANDS)[number];

const resultsView = {
  title: z.string(),
  results: resultsSchema,
  /** Similarity metrics a comparison can be re-run with (the Compare tab's metric picker). */
  metrics: z.array(z.string()),
};

export const toWebviewSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('showResults'), ...resultsView, ui: uiStateSchema.optional() }),
  z.object({ type: z.literal('showModel'), file: z.string(), model: inspectResultSchema }),
  z.object({ type: z.literal('modelError'), file: z.string(), message: z.string() }),
  z.object({ type: z.literal('loading'), message: z.string() }),
  z.object({ type: z.literal('theme'), kind: z.enum(THEME_KINDS) }),
  /** Export Report asks for the PNGs of the charts on screen. */
  z.object({ type: z.literal('exportCharts') }),
]);
export type ToWebviewMessage = z.infer<typeof toWebviewSchema>;

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

export const fromWebviewSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('state'), ui: uiStateSchema }),
  z.object({
    type: z.literal('exportPng'),
    /** Chart name for the file name; the extension sanitises it. */
    name: z.string().max(200),
    dataUrl: z.string().max(50_000_000).regex(PNG_DATA_URL),
  }),
  z.object({ type: z.literal('exportData'), format: z.enum(['csv', 'json']) }),
  z.object({ type: z.literal('command'), command: z.enum(WEBVIEW_COMMANDS) }),
  z.object({ type: z.literal('compareMetric'), metric: z.string().min(1).max(100) }),
]);
export type FromWebviewMessage = z.infer<typeof fromWebviewSchema>;

/** What the results webview keeps with setState and the panel serializer gets back after a reload. */
export const webviewStateSchema = z.object({ view: z.literal('results'), ...resultsView, ui: uiStateSchema });
export type WebviewState = z.infer<typeof webviewStateSchema>;

export const parseToWebview: (value: unknown) => ToWebviewMessage | undefined = parserOf(toWebviewSchema);
export const parseFromWebview: (value: unknown) => FromWebviewMessage | undefined = parserOf(fromWebviewSchema);
export const parseWebviewState: (value: unknown) => WebviewState | undefined = parserOf(webviewStateSchema);
