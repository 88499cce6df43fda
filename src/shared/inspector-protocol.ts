/**
 * The extension <-> inspector boundary (the custom editor of a model file). Both sides validate
 * every message with these schemas, ignore what does not fit and hand the rest to a handler table
 * (dispatch.ts) that covers every message type. Browser-safe: imported by webview-ui.
 */
import { z } from 'zod';
import type { CommandName } from './commands';
import { inspectResultSchema } from './jobs';
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
] as const satisfies readonly CommandName[];
export type InspectorCommand = (typeof INSPECTOR_COMMANDS)[number];

export const toInspectorSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('showModel'), file: z.string(), model: inspectResultSchema }),
  z.object({ type: z.literal('modelError'), file: z.string(), message: z.string() }),
  z.object({ type: z.literal('loading'), message: z.string() }),
  themeMessageSchema,
]);
export type ToInspectorMessage = z.infer<typeof toInspectorSchema>;

export const fromInspectorSchema = z.discriminatedUnion('type', [
  readyMessageSchema,
  z.object({ type: z.literal('command'), command: z.enum(INSPECTOR_COMMANDS) }),
]);
export type FromInspectorMessage = z.infer<typeof fromInspectorSchema>;

export const parseToInspector: (value: unknown) => ToInspectorMessage | undefined = parserOf(toInspectorSchema);
export const parseFromInspector: (value: unknown) => FromInspectorMessage | undefined = parserOf(fromInspectorSchema);
