/** Helpers for the extension-host tests: polling for a condition, the fixture workspace, tabs, webviews. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { webviewTexts } from './channel';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than undefined/false and returns that. On
 * timeout the error names `what` and the last thing `describeLast` says about the state.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions & { describeLast?: () => string | Promise<string> } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(options.intervalMs ?? 250);
  }
  const last = options.describeLast ? await Promise.resolve(options.describeLast()).catch((e) => String(e)) : '';
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${cause}${last ? `; ${last}` : ''}`);
}

/** The fixture workspace the runner created (the one folder open in the window). */
export function workspaceRoot(): string {
  const root = process.env.PRUNESCOPE_VSCODE_WORKSPACE;
  if (!root) throw new Error('PRUNESCOPE_VSCODE_WORKSPACE is not set: run these tests through scripts/vscode-test.mjs');
  return root;
}

/** Every file and folder of the workspace, files by sha256: for "nothing was written" and "nothing partial is left". */
export function workspaceTree(): Record<string, string> {
  const root = workspaceRoot();
  const out: Record<string, string> = {};
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) {
    const full = path.join(e.parentPath, e.name);
    out[path.relative(root, full)] = e.isDirectory() ? 'folder' : createHash('sha256').update(readFileSync(full)).digest('hex');
  }
  return out;
}

function spareModelsDir(): string {
  const dir = process.env.PRUNESCOPE_VSCODE_MODELS;
  if (!dir) throw new Error('PRUNESCOPE_VSCODE_MODELS is not set: run these tests through scripts/vscode-test.mjs');
  return dir;
}

/**
 * A model the runner built with the encoder kit but kept outside the workspace (SPARE_MODELS in
 * scripts/vscode-test.mjs), for a test to copy in: the workspace's file search sees only its own.
 */
export function spareModel(name: string): string {
  const file = path.join(spareModelsDir(), name);
  if (!existsSync(file)) throw new Error(`${file} does not exist: add ${name} to SPARE_MODELS in scripts/vscode-test.mjs`);
  return file;
}

/**
 * The MNIST test accuracy (10,000 images) of a workspace model, as the encoder kit's own forward
 * pass computes it (REFERENCE_MODELS in scripts/vscode-test.mjs): the product's Evaluate Model
 * must agree with it.
 */
export function referenceTestAccuracy(...parts: string[]): number {
  const rel = parts.join('/');
  const reference = JSON.parse(readFileSync(path.join(spareModelsDir(), 'reference.json'), 'utf8')) as Record<
    string,
    { testAccuracy: number }
  >;
  const entry = reference[rel];
  if (!entry) throw new Error(`no reference for ${rel}: add it to REFERENCE_MODELS in scripts/vscode-test.mjs`);
  return entry.testAccuracy;
}

/**
 * Whether an accuracy agrees with the kit's: float32 sums in another order may flip the argmax of
 * a few near-tied images, so 0.2 % (20 of 10,000) is allowed.
 */
export function agreesWithReference(accuracy: number | null, reference: number): boolean {
  return accuracy !== null && Math.abs(accuracy - reference) <= 0.002;
}

export function workspaceUri(...parts: string[]): vscode.Uri {
  return vscode.Uri.file(path.join(workspaceRoot(), ...parts));
}

/** The repository root (the extension under development). */
export function repoRoot(): string {
  const root = process.env.PRUNESCOPE_VSCODE_REPO;
  if (!root) throw new Error('PRUNESCOPE_VSCODE_REPO is not set: run these tests through scripts/vscode-test.mjs');
  return root;
}

/** Every open tab, as "label [input kind]" for error messages. */
export function describeTabs(): string {
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs);
  if (tabs.length === 0) return 'no tabs are open';
  return `open tabs: ${tabs
    .map((t) => {
      const input = t.input;
      const kind =
        input instanceof vscode.TabInputCustom
          ? `custom ${input.viewType}`
          : input instanceof vscode.TabInputText
            ? 'text'
            : input instanceof vscode.TabInputWebview
              ? `webview ${input.viewType}`
              : 'other';
      return `${t.label} [${kind}]`;
    })
    .join(', ')}`;
}

/** The tab showing `uri` in the custom editor `viewType`, if one is open. */
export function customEditorTab(uri: vscode.Uri, viewType: string): vscode.Tab | undefined {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .find((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === viewType && t.input.uri.toString() === uri.toString());
}

/**
 * Waits until some webview frame's visible text satisfies `match`, and returns that text.
 * The text is read by the browser side of the harness (what a person sees).
 */
export async function waitForWebviewText(what: string, match: (text: string) => boolean, options: WaitOptions = {}): Promise<string> {
  let last: { url: string; text: string }[] = [];
  return waitFor(
    what,
    async () => {
      last = (await webviewTexts()).filter((f) => f.text.trim() !== '');
      return last.find((f) => match(f.text))?.text;
    },
    {
      timeoutMs: options.timeoutMs ?? 45_000,
      intervalMs: options.intervalMs ?? 500,
      describeLast: () =>
        last.length === 0
          ? 'no webview had any text'
          : `webview text seen: ${last.map((f) => JSON.stringify(f.text.slice(0, 400))).join(' | ')}`,
    },
  );
}
