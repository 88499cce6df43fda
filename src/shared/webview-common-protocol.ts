/**
 * What both webviews (results panel, inspector) share: which view a page is, the colour theme
 * message and the "ready" handshake. Each view's own messages are in results-panel-protocol.ts and
 * inspector-protocol.ts. Browser-safe: imported by webview-ui.
 */
import { z } from 'zod';

/** Which view a page shows (the body's data-view attribute). */
export const WEBVIEW_VIEWS = ['results', 'inspector', 'study-panel'] as const;
export type WebviewView = (typeof WEBVIEW_VIEWS)[number];

export const THEME_KINDS = ['light', 'dark', 'high-contrast', 'high-contrast-light'] as const;
export type ThemeKind = (typeof THEME_KINDS)[number];

/** Extension -> webview: the colour theme changed (charts read the new colours). */
export const themeMessageSchema = z.object({ type: z.literal('theme'), kind: z.enum(THEME_KINDS) });

/** Webview -> extension: the page's script runs and listens; what it shows is sent after this. */
export const readyMessageSchema = z.object({ type: z.literal('ready') });
