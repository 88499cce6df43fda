/** The extension-host side of the file channel described in protocol.ts. */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EVENTS_FILE,
  HARNESS_DIR_ENV,
  REQUESTS_DIR,
  RESPONSES_DIR,
  type CanvasInfo,
  type HarnessEvent,
  type HarnessRequest,
  type HarnessResponse,
} from './protocol';

export function harnessDir(): string {
  const dir = process.env[HARNESS_DIR_ENV];
  if (!dir) throw new Error(`${HARNESS_DIR_ENV} is not set: run these tests through scripts/vscode-test.mjs`);
  return dir;
}

export function emit(event: HarnessEvent): void {
  appendFileSync(join(harnessDir(), EVENTS_FILE), `${JSON.stringify(event)}\n`);
}

let sequence = 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Asks the browser side for something and waits (at most `timeoutMs`) for its answer. */
export async function request(req: HarnessRequest, timeoutMs = 30_000): Promise<HarnessResponse> {
  const dir = harnessDir();
  // The pid keeps the names of an extension host after a window reload apart from its predecessor's.
  const n = `${process.pid}-${String(++sequence).padStart(5, '0')}`;
  mkdirSync(join(dir, REQUESTS_DIR), { recursive: true });
  const tmp = join(dir, REQUESTS_DIR, `${n}.tmp`);
  writeFileSync(tmp, JSON.stringify(req));
  renameSync(tmp, join(dir, REQUESTS_DIR, `${n}.json`));
  const responseFile = join(dir, RESPONSES_DIR, `${n}.json`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(responseFile)) {
      const response = JSON.parse(readFileSync(responseFile, 'utf8')) as HarnessResponse;
      rmSync(responseFile, { force: true });
      return response;
    }
    await sleep(100);
  }
  throw new Error(`the test runner did not answer the ${req.op} request within ${timeoutMs / 1000} s`);
}

/** Saves a screenshot of the workbench to artifacts/vscode/<name>.png; returns the path. */
export async function screenshot(name: string): Promise<string> {
  const r = await request({ op: 'screenshot', name });
  if (!r.ok || !r.path) throw new Error(`screenshot ${name} failed: ${r.error ?? 'no path'}`);
  return r.path;
}

/** The visible text of each webview frame currently in the workbench. */
export async function webviewTexts(): Promise<{ url: string; text: string }[]> {
  const r = await request({ op: 'webviewTexts' });
  if (!r.ok) throw new Error(`reading webview text failed: ${r.error ?? 'unknown error'}`);
  return r.frames ?? [];
}

/** A screenshot in the middle of a test, taken only when the run was asked for screenshots (--screenshots). */
export async function screenshotIfAsked(name: string): Promise<void> {
  if (process.env.PRUNESCOPE_VSCODE_SCREENSHOTS === 'all') await screenshot(name);
}

/** Every canvas in the webviews, with how many of its pixels are painted (not background). */
export async function webviewCanvases(): Promise<CanvasInfo[]> {
  const r = await request({ op: 'webviewCanvases' });
  if (!r.ok) throw new Error(`reading webview canvases failed: ${r.error ?? 'unknown error'}`);
  return r.canvases ?? [];
}

/** The messages of the notifications the workbench shows. */
export async function notificationMessages(): Promise<string[]> {
  const r = await request({ op: 'notifications' });
  if (!r.ok) throw new Error(`reading notifications failed: ${r.error ?? 'unknown error'}`);
  return r.messages ?? [];
}
