/**
 * Playwright helpers for browser and webview tests: Debian's headless Chromium driven by
 * playwright-core (Playwright's own browser downloads cannot be fetched on these machines),
 * a static file server on 127.0.0.1, and screenshots saved under artifacts/.
 * scripts/vscode-test.mjs uses the same launcher for the VS Code workbench.
 */
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Frame, type Page } from 'playwright-core';

/** The repository root. */
export const repoRoot = resolve(__dirname, '../..');

/** Debian's chromium (apt-get install chromium; scripts/install-test-deps.sh does it). */
export const chromiumPath = process.env.PRUNESCOPE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags Chromium needs here: root cannot use the sandbox, there is no GPU, and the machine
 * reaches no Google service (background fetches would only stall or log errors).
 */
export const chromiumArgs: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
];

export interface LaunchOptions {
  /** Extra Chromium flags. */
  args?: string[];
  /** Default true; false needs a display. */
  headless?: boolean;
  /** How long Chromium may take to start. Default 60 s. */
  timeoutMs?: number;
}

/** Starts headless Chromium; playwright gives it a fresh, empty profile of its own. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: run bash scripts/install-test-deps.sh (or set PRUNESCOPE_CHROMIUM)`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: options.headless ?? true,
    args: [...chromiumArgs, ...(options.args ?? [])],
    timeout: options.timeoutMs ?? 60_000,
  });
}

export interface PageOptions {
  viewport?: { width: number; height: number };
  /** Default timeout of page actions (click, waitForSelector, ...). Default 30 s. */
  timeoutMs?: number;
}

/** A new context and page; console messages and page errors are collected in `messages`. */
export async function newPage(
  browser: Browser,
  options: PageOptions = {},
): Promise<{ context: BrowserContext; page: Page; messages: string[] }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 900 } });
  context.setDefaultTimeout(options.timeoutMs ?? 30_000);
  const page = await context.newPage();
  const messages: string[] = [];
  page.on('console', (m) => messages.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => messages.push(`[pageerror] ${e.message}`));
  return { context, page, messages };
}

/** Runs `fn` with a fresh browser and page, and closes the browser whatever happens. */
export async function withPage<T>(
  fn: (page: Page, messages: string[]) => Promise<T>,
  options: LaunchOptions & PageOptions = {},
): Promise<T> {
  const browser = await launchBrowser(options);
  try {
    const { page, messages } = await newPage(browser, options);
    return await fn(page, messages);
  } finally {
    await closeBrowser(browser);
  }
}

/**
 * Closes the browser, waiting at most `timeoutMs`. A browser that does not answer is still
 * killed: playwright-core kills the browsers it launched when this process exits.
 */
export async function closeBrowser(browser: Browser, timeoutMs = 10_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const closed = browser.close().then(
    () => true,
    () => false,
  );
  const timedOut = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), timeoutMs);
  });
  const ok = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  return ok;
}

/** artifacts/<parts...> under the repository (gitignored), created if missing. */
export function artifactsDir(...parts: string[]): string {
  const dir = join(process.env.PRUNESCOPE_ARTIFACTS ?? join(repoRoot, 'artifacts'), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A file name made of the characters that are safe everywhere. */
export function safeFileName(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 120) || 'screenshot'
  );
}

/** Saves a full-page PNG to artifacts/<subdir>/<name>.png and returns its path. */
export async function saveScreenshot(page: Page, name: string, subdir = 'screenshots'): Promise<string> {
  const path = join(artifactsDir(subdir), `${safeFileName(name)}.png`);
  await page.screenshot({ path, fullPage: true, timeout: 30_000 });
  return path;
}

/**
 * The visible text of every frame of the page (VS Code webviews render in nested iframes);
 * `childFramesOnly` leaves out the top document.
 */
export async function frameTexts(page: Page, childFramesOnly = false): Promise<{ url: string; text: string }[]> {
  const out: { url: string; text: string }[] = [];
  for (const frame of page.frames()) {
    if (childFramesOnly && frame === page.mainFrame()) continue;
    const text = await frameText(frame);
    if (text !== null) out.push({ url: frame.url(), text });
  }
  return out;
}

async function frameText(frame: Frame, timeoutMs = 5_000): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), timeoutMs);
  });
  // A string expression: this file compiles without the DOM typings.
  const read = frame.evaluate('document.body ? document.body.innerText : ""').then(
    (t) => String(t),
    // A frame that navigated or closed between listing and reading has no text to give.
    () => null,
  );
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Serves `dir` read-only on 127.0.0.1 (a free port unless given); `/` serves index.html. */
export async function serveFolder(dir: string, port = 0): Promise<StaticServer> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    let file = resolve(root, `.${pathname}`);
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}`);
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
