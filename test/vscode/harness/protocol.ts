/**
 * How the tests inside the extension host talk to scripts/vscode-test.mjs. The extension host's
 * stdout ends up in the server log, so everything goes through files in one folder, named by the
 * PRUNESCOPE_VSCODE_HARNESS environment variable (the server passes its environment on):
 *
 * - `events.jsonl`: one `HarnessEvent` per line, appended as tests start and finish.
 * - `requests/<n>.json` -> `responses/<n>.json`: things only the browser side can do (a screenshot,
 *   the text inside webviews). Both are written to a temporary name and renamed, so a reader never
 *   sees half a file.
 *
 * scripts/vscode-test.mjs is plain JavaScript and repeats these names; keep the two in step.
 */

export const HARNESS_DIR_ENV = 'PRUNESCOPE_VSCODE_HARNESS';
export const EVENTS_FILE = 'events.jsonl';
/** Written by a test that reloads the window (runner.ts `reloadWindow`), read by the runner that starts after. */
export const RESUME_FILE = 'resume.json';
export const REQUESTS_DIR = 'requests';
export const RESPONSES_DIR = 'responses';

export type HarnessEvent =
  | { type: 'begin'; total: number; vscodeVersion: string }
  | { type: 'start'; name: string }
  | { type: 'pass'; name: string; ms: number }
  | { type: 'fail'; name: string; ms: number; error: string }
  | { type: 'skip'; name: string; reason: string }
  | { type: 'end'; passed: number; failed: number; skipped: number }
  /** The test is reloading the window: its extension host exits, and a new one resumes the run. */
  | { type: 'reloading'; name: string }
  /** The extension host after a reload took the run over, starting with the rest of test `name`. */
  | { type: 'resumed'; name: string };

/** Where a run stands when a test reloads the window: the test, when it started, and the counts so far. */
export interface ResumeMarker {
  name: string;
  started: number;
  passed: number;
  failed: number;
  skipped: number;
}

export type HarnessRequest =
  /** Saves a screenshot of the workbench as artifacts/vscode/<name>.png. */
  | { op: 'screenshot'; name: string }
  /** The visible text of every webview frame in the workbench page. */
  | { op: 'webviewTexts' }
  /** Every <canvas> in the webview frames, with how much of it is painted. */
  | { op: 'webviewCanvases' }
  /** The messages of the notifications the workbench shows (toasts and the notification center). */
  | { op: 'notifications' };

/** A canvas as the browser side sees it. */
export interface CanvasInfo {
  /** The frame's URL. */
  url: string;
  /** aria-label, else class. */
  label: string;
  width: number;
  height: number;
  /** Pixels whose colour differs from the top-left pixel's (the background). */
  painted: number;
  /** Distinct colours among the pixels (capped at 1000). */
  colours: number;
}

export interface HarnessResponse {
  ok: boolean;
  error?: string;
  /** screenshot: the file written. */
  path?: string;
  /** webviewTexts: one entry per frame. */
  frames?: { url: string; text: string }[];
  /** webviewCanvases */
  canvases?: CanvasInfo[];
  /** notifications: one message per notification. */
  messages?: string[];
}
