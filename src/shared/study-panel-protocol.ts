/**
 * The extension <-> Study panel boundary (a study's results: `prunescope study`, Run Study, or a
 * study results file opened with Open Results). Both sides validate every message with these
 * schemas, ignore what does not fit and hand the rest to a handler table (dispatch.ts) that covers
 * every message type. Browser-safe: imported by webview-ui, which draws with study-view.ts.
 */
import { z } from 'zod';
import { studyResultsSchema } from '../core/results/format';
import { parserOf } from './parse';
import { readyMessageSchema, themeMessageSchema } from './webview-common-protocol';

const studyView = {
  title: z.string().max(1000),
  results: studyResultsSchema,
  /** The results file shown, when the study came from one (its folder is where exports are offered). */
  source: z.string().max(4096).optional(),
};

export const toStudyPanelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('showStudy'), ...studyView }),
  themeMessageSchema,
  /** Export Report asks for the PNGs of the charts on screen. */
  z.object({ type: z.literal('exportCharts') }),
]);
export type ToStudyPanelMessage = z.infer<typeof toStudyPanelSchema>;

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

/** What the page's buttons ask for: a chart's PNG, the gaps as CSV, the results file, the HTML report. */
export const fromStudyPanelSchema = z.discriminatedUnion('type', [
  readyMessageSchema,
  z.object({ type: z.literal('exportPng'), name: z.string().max(200), dataUrl: z.string().max(50_000_000).regex(PNG_DATA_URL) }),
  z.object({ type: z.literal('exportData'), format: z.enum(['csv', 'json', 'html']) }),
]);
export type FromStudyPanelMessage = z.infer<typeof fromStudyPanelSchema>;

/** What the Study webview keeps with setState and the panel serializer gets back after a reload. */
export const studyPanelStateSchema = z.object({ view: z.literal('study-panel'), ...studyView });
export type StudyPanelState = z.infer<typeof studyPanelStateSchema>;

export const parseToStudyPanel: (value: unknown) => ToStudyPanelMessage | undefined = parserOf(toStudyPanelSchema);
export const parseFromStudyPanel: (value: unknown) => FromStudyPanelMessage | undefined = parserOf(fromStudyPanelSchema);
export const parseStudyPanelState: (value: unknown) => StudyPanelState | undefined = parserOf(studyPanelStateSchema);
