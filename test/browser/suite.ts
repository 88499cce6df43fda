/**
 * What every webview browser test sets up and tears down alike: fresh bundles, a temporary
 * folder, Chromium, the folders it serves, and pages with the probes. One place, so that a test
 * that fails in its own set-up still leaves no browser, server or folder behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { closeBrowser, launchBrowser, newPage, serveFolder, type PageOptions, type StaticServer } from './browser';
import { addProbes, buildBundles } from './webview-page';

export interface WebviewSuite {
  /** A folder of its own (prunescope-<name>-*), removed after the suite. */
  readonly work: string;
  readonly browser: Browser;
  /** Serves `dir` until the suite ends. */
  serve(dir: string): Promise<StaticServer>;
  /** A page in a context of its own with the probes, not yet opened (to listen before it loads). */
  page(options?: PageOptions): Promise<{ page: Page; messages: string[] }>;
  /** `page`, opened at `url`; console messages and page errors are collected in `messages`. */
  open(url: string, options?: PageOptions): Promise<{ page: Page; messages: string[] }>;
}

/**
 * Registers the suite's set-up and clean-up; call it inside `describe`, before the suite's own
 * `before`, which then runs after the bundles are built and Chromium is up.
 */
export function webviewSuite(name: string): WebviewSuite {
  let work = '';
  let browser: Browser | undefined;
  const servers: StaticServer[] = [];

  before(async () => {
    buildBundles();
    work = mkdtempSync(join(tmpdir(), `prunescope-${name}-`));
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    for (const s of servers.splice(0)) await s.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const started = (): Browser => {
    if (!browser) throw new Error('the browser suite has not started: use it in a test or a before hook');
    return browser;
  };
  const page = async (options?: PageOptions) => {
    const opened = await newPage(started(), options);
    await addProbes(opened.page);
    return { page: opened.page, messages: opened.messages };
  };
  return {
    get work() {
      return work;
    },
    get browser() {
      return started();
    },
    async serve(dir) {
      const server = await serveFolder(dir);
      servers.push(server);
      return server;
    },
    page,
    async open(url, options) {
      const opened = await page(options);
      await opened.page.goto(url);
      return opened;
    },
  };
}

/** The console errors and uncaught exceptions among a page's `messages`. */
export function pageErrors(messages: string[]): string[] {
  return messages.filter((m) => m.startsWith('[error]') || m.startsWith('[pageerror]'));
}
