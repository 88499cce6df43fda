/**
 * The extension <-> inspector boundary (the custom editor of a model file). Both sides validate
 * every message with these schemas, ignore what does not fit and hand the rest to a handler table
 * (dispatch.ts) that covers every message type. Browser-safe: imported by webview-ui.
 */
import { z } from 'zod';
import type { CommandName } from './commands';
import { activationSchema, inspectResultSchema } from './jobs';
import { parserOf } from './parse';
import { readyMessageSchema, themeMessageSchema } from './webview-common-protocol';

/** The commands the inspector may ask for; the extension runs them on the file it shows. */
export const INSPECTOR_COMMANDS = [
  'inspect',
  'analyze',
  'prune',
  'compare',
  'evaluate',
  'train',
  'openResults',
  'chooseActivations',
] as const satisfies readonly CommandName[];
export type InspectorCommand = (typeof INSPECTOR_COMMANDS)[number];

/** null: the metric was not finite (history.json holds null for NaN). */
const metric = z.number().finite().nullable();
export const inspectorEpochSchema = z.object({
  epoch: z.number().int().positive(),
  loss: metric,
  accuracy: metric,
  valLoss: metric,
  valAccuracy: metric,
});
export type InspectorEpoch = z.infer<typeof inspectorEpochSchema>;

/** The history.json beside the model (core/train/history-file.ts): its curves, or one line on why not. */
export const inspectorHistorySchema = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('ok'),
    file: z.string(),
    epochs: z.array(inspectorEpochSchema).min(1),
    /** The epoch whose weights training kept, when recorded. */
    bestEpoch: z.number().int().positive().nullable(),
    /** Something to know when reading the curves (e.g. they were recorded for other layer sizes). */
    note: z.string().optional(),
  }),
  z.object({ state: z.literal('error'), file: z.string(), message: z.string() }),
]);
export type InspectorHistory = z.infer<typeof inspectorHistorySchema>;

/**
 * The activations a state dict (safetensors, PyTorch) is read with: the file stores none, so the
 * settings prunescope.stateDictActivation / stateDictOutputActivation apply ('settings'), unless
 * PruneScope recorded them in the file ('file').
 */
export const inspectorActivationsSchema = z.object({
  format: z.string(),
  source: z.enum(['settings', 'file']),
  hidden: activationSchema,
  output: activationSchema,
});
export type InspectorActivations = z.infer<typeof inspectorActivationsSchema>;

export const toInspectorSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('showModel'),
    file: z.string(),
    model: inspectResultSchema,
    /** Absent: no history.json beside the model. */
    history: inspectorHistorySchema.optional(),
    /** Absent: the format stores its activations. */
    activations: inspectorActivationsSchema.optional(),
  }),
  z.object({ type: z.literal('modelError'), file: z.string(), message: z.string() }),
  z.object({ type: z.literal('loading'), message: z.string() }),
  themeMessageSchema,
]);
export type ToInspectorMessage = z.infer<typeof toInspectorSchema>;

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

export const fromInspectorSchema = z.discriminatedUnion('type', [
  readyMessageSchema,
  z.object({ type: z.literal('command'), command: z.enum(INSPECTOR_COMMANDS) }),
  /** A chart's PNG button: the extension asks where to save it. */
  z.object({ type: z.literal('exportPng'), name: z.string().max(200), dataUrl: z.string().max(50_000_000).regex(PNG_DATA_URL) }),
]);
export type FromInspectorMessage = z.infer<typeof fromInspectorSchema>;

export const parseToInspector: (value: unknown) => ToInspectorMessage | undefined = parserOf(toInspectorSchema);
export const parseFromInspector: (value: unknown) => FromInspectorMessage | undefined = parserOf(fromInspectorSchema);
