/**
 * Shared set-up for the webview browser tests: a fresh build of the bundles, real results written
 * by the CLI, the webview test page (webview-ui/test-page.ts) served over http, and readers for
 * what Chromium drew (canvas pixels, Chart.js legends, axes and tooltips).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { parseResults, type Results } from '../../src/core/results/format';
import { THEMES } from '../../src/report/themes';
import { testPageHtml } from '../../webview-ui/test-page';
import { repoRoot } from './browser';

/** Builds dist/ (the webview bundle and the CLI), so the page runs the code under test. */
export function buildBundles(): void {
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, stdio: 'pipe', timeout: 120_000 });
}

/** Runs bin/prunescope.js with `args`; throws with its output when it fails. */
export function cli(args: string[], timeoutMs = 180_000): string {
  try {
    return execFileSync(process.execPath, [join(repoRoot, 'bin', 'prunescope.js'), ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: 'pipe',
      timeout: timeoutMs,
      env: { ...process.env, PRUNESCOPE_TEST: '1' },
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`prunescope ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`, { cause: e });
  }
}

export function readResults(dir: string): Results {
  const file = join(dir, 'results.json');
  return parseResults(readFileSync(file, 'utf8'), file);
}

export type ThemeName = 'dark' | 'light';

/**
 * Writes `name`.html into `siteDir` (with copies of dist/webview.js and media/webview.css beside it)
 * showing `message` as the extension would post it; returns the page's file name.
 */
export function writeTestPage(
  siteDir: string,
  name: string,
  view: 'results' | 'inspector',
  message: unknown,
  theme: ThemeName = 'dark',
): string {
  mkdirSync(siteDir, { recursive: true });
  copyFileSync(join(repoRoot, 'dist', 'webview.js'), join(siteDir, 'webview.js'));
  copyFileSync(join(repoRoot, 'media', 'webview.css'), join(siteDir, 'webview.css'));
  const file = `${name}.html`;
  writeFileSync(join(siteDir, file), testPageHtml({ view, message, theme, scriptUrl: 'webview.js', styleUrl: 'webview.css' }));
  return file;
}

export function showResultsMessage(title: string, results: Results, tab?: string): unknown {
  return { type: 'showResults', title, results, metrics: ['linear-cka', 'rbf-cka', 'svcca', 'pwcca'], ui: tab ? { tab } : undefined };
}

const call = (fn: string, ...args: unknown[]) => `window.__probe.${fn}(${args.map((a) => JSON.stringify(a) ?? 'undefined').join(', ')})`;

/** Makes the page readers of test/browser/probes.js available in every page of `context` (call before goto). */
export async function addProbes(page: Page): Promise<void> {
  await page.addInitScript({ path: join(repoRoot, 'test', 'browser', 'probes.js') });
  // Chromium asks for a favicon the pages do not have; its 404 is not the webview's error.
  await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
}

/** Switches the page to another theme as VS Code does: body class and variables, then the theme message. */
export async function switchTheme(page: Page, theme: ThemeName): Promise<void> {
  const t = THEMES[theme];
  await page.evaluate(`(() => {
    const t = ${JSON.stringify({ cls: t.cls, vars: t.vars, kind: theme })};
    for (const [k, v] of Object.entries(t.vars)) document.body.style.setProperty(k, v);
    document.body.className = t.cls;
    window.postMessage({ type: 'theme', kind: t.kind }, '*');
  })()`);
}

/** What a test needs to know about one chart on screen. */
export interface ChartInfo {
  name: string;
  type: string;
  legend: string[];
  xTitle: string | undefined;
  yTitle: string | undefined;
  datasets: number;
  /** Elements of the first dataset (points, bars or heatmap cells). */
  elements: number;
  width: number;
  height: number;
  chartArea: { width: number; height: number } | null;
  /** Legend boxes that overlap another one, and boxes that stick out of the canvas. */
  legendOverlaps: number;
  legendOutside: number;
  xTicks: number;
  yTicks: number;
  yScale?: string;
  /** The y axis's visible tick labels. */
  yTickLabels: string[];
  /** Each dataset's line colour and dash pattern. */
  styles: string[];
}

/** The Chart.js charts on screen (window.prunescopeCharts, set by webview-ui/src/main.ts). */
export async function chartInfos(page: Page): Promise<ChartInfo[]> {
  return (await page.evaluate(call('chartInfos'))) as ChartInfo[];
}

export interface Pixels {
  width: number;
  height: number;
  /** Pixels that differ from the top-left one (the background the chart paints). */
  painted: number;
  /** [r, g, b, a] of the top-left pixel. */
  background: number[];
  /** How many pixels have each of the asked colours ('#rrggbb') exactly. */
  counts: Record<string, number>;
}

/** Every pixel of the canvas of chart `name`. */
export async function chartPixels(page: Page, name: string, colours: string[] = []): Promise<Pixels> {
  return (await page.evaluate(call('chartPixels', name, colours))) as Pixels;
}

/** Every pixel of the first canvas matching `selector`. */
export async function selectorPixels(page: Page, selector: string, colours: string[] = []): Promise<Pixels> {
  return (await page.evaluate(call('selectorPixels', selector, colours))) as Pixels;
}

/**
 * Moves the mouse over element `index` of dataset `dataset` of chart `name` (a line point, or a
 * heatmap cell's centre) and returns the tooltip lines Chart.js then shows.
 */
export async function hover(page: Page, name: string, dataset: number, index: number): Promise<string[]> {
  const target = (await page.evaluate(call('elementPoint', name, dataset, index))) as { x: number; y: number };
  await page.mouse.move(target.x - 40, target.y - 40);
  await page.mouse.move(target.x, target.y, { steps: 4 });
  const handle = await page.waitForFunction(call('tooltip', name), undefined, { timeout: 10_000 });
  return (await handle.jsonValue()) as string[];
}

export interface PostedMessage {
  type: string;
  [k: string]: unknown;
}

/** Messages the page posted to the (fake) extension. */
export async function posted(page: Page): Promise<PostedMessage[]> {
  return (await page.evaluate('window.__prunescope.posted')) as PostedMessage[];
}

/** Clicks the results view tab labelled `label` and waits until it is the active one. */
export async function openTab(page: Page, label: string): Promise<void> {
  await page.getByRole('tab', { name: label, exact: true }).click();
  await page.waitForFunction(`document.querySelector('nav.tabs button.active')?.textContent === ${JSON.stringify(label)}`);
}

/** Width and height of a PNG (after checking its signature and IHDR chunk). */
export function pngSize(data: Buffer): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (data.length < 24 || !signature.every((b, i) => data[i] === b)) throw new Error('not a PNG');
  if (data.subarray(12, 16).toString('latin1') !== 'IHDR') throw new Error('PNG without IHDR first');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}
