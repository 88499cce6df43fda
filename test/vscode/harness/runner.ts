/**
 * A small test runner for the extension host: named async tests run one after another, each
 * bounded by a timeout, and every result goes to the events file that scripts/vscode-test.mjs reads.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { emit, harnessDir, screenshot } from './channel';
import { RESUME_FILE, type ResumeMarker } from './protocol';

export interface TestOptions {
  /** Upper bound for the test (each half of one that reloads the window); it fails when still running then. Default 60 s. */
  timeoutMs?: number;
  /**
   * The test's second half, for a test whose first half ends in `reloadWindow()`: it runs in the
   * extension host of the window that comes back, before the tests after it.
   */
  afterReload?: () => Promise<void> | void;
}

interface TestCase {
  name: string;
  fn: () => Promise<void> | void;
  timeoutMs: number;
  afterReload?: () => Promise<void> | void;
}

type Counts = Pick<ResumeMarker, 'passed' | 'failed' | 'skipped'>;

const registered: TestCase[] = [];
let currentSuite = '';

/** Groups the tests registered inside `body` under `name` ("suite: test"). */
export function suite(name: string, body: () => void): void {
  const outer = currentSuite;
  currentSuite = outer ? `${outer}: ${name}` : name;
  try {
    body();
  } finally {
    currentSuite = outer;
  }
}

export function test(name: string, fn: () => Promise<void> | void, options: TestOptions = {}): void {
  const full = currentSuite ? `${currentSuite}: ${name}` : name;
  if (registered.some((t) => t.name === full)) throw new Error(`two tests are named "${full}"`);
  registered.push({ name: full, fn, timeoutMs: options.timeoutMs ?? 60_000, afterReload: options.afterReload });
}

/** The test running now and the run's counts, for `reloadWindow`. */
let running: { test: TestCase; started: number; counts: Counts } | undefined;

/**
 * Reloads the window from inside a test declared with `afterReload`, as a person's Developer:
 * Reload Window does: this extension host ends, and the next one runs the test's `afterReload`,
 * then the tests after it. Never returns.
 */
export async function reloadWindow(): Promise<never> {
  if (!running?.test.afterReload) throw new Error('reloadWindow() is for tests declared with an afterReload half');
  const marker: ResumeMarker = { name: running.test.name, started: running.started, ...running.counts };
  writeFileSync(join(harnessDir(), RESUME_FILE), JSON.stringify(marker));
  emit({ type: 'reloading', name: running.test.name });
  await vscode.commands.executeCommand('workbench.action.reloadWindow');
  // The reload ends this process; the test's timeout fails it if the window never reloads.
  return new Promise<never>(() => undefined);
}

/** What a test that reloaded the window left for this extension host, taken so it is read once. */
function takeResumeMarker(): ResumeMarker | undefined {
  const file = join(harnessDir(), RESUME_FILE);
  if (!existsSync(file)) return undefined;
  const marker = JSON.parse(readFileSync(file, 'utf8')) as ResumeMarker;
  rmSync(file);
  return marker;
}

/**
 * "at fn (/abs/dist/test/vscode-suite-tests.js:L:C)" -> "at fn (test/vscode/suite/x.ts:L:C)". The
 * extension host replaces Error.prepareStackTrace, so Node does not map stacks itself; the loader
 * enabled source maps before the bundle was compiled, which makes findSourceMap() work.
 */
function mapFrame(line: string): string {
  const m = /^(\s+at .*?\(?)(\/[^():]+\.js):(\d+):(\d+)(\)?)$/.exec(line);
  if (!m) return line;
  const entry = findSourceMap(m[2])?.findEntry(Number(m[3]) - 1, Number(m[4]) - 1);
  if (!entry || !('originalSource' in entry) || !entry.originalSource) return line;
  const source = entry.originalSource.replace(/^file:\/\//, '');
  const rel = source.includes('/test/vscode/') ? source.slice(source.indexOf('test/vscode/')) : source;
  return `${m[1]}${rel}:${entry.originalLine + 1}:${entry.originalColumn + 1}${m[5] ?? ''}`;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    // Keep the frames that point into the tests, not the runner or VS Code internals.
    const frames = (err.stack ?? '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .map(mapFrame)
      .filter((l) => /test\/vscode\/(?!harness\/runner|suite\/index)/.test(l))
      .slice(0, 4);
    return [`${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`, ...frames].join('\n');
  }
  return String(err);
}

function withTimeout(fn: () => Promise<void> | void, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  return Promise.race([Promise.resolve().then(fn), timeout]).finally(() => clearTimeout(timer));
}

async function closeEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Runs one test (or the half of it after a reload), reports it and closes the editors it left. */
async function runOne(t: TestCase, half: () => Promise<void> | void, started: number, counts: Counts): Promise<void> {
  running = { test: t, started, counts };
  let error: string | null = null;
  try {
    await withTimeout(half, t.timeoutMs);
  } catch (err) {
    error = describe(err);
  }
  running = undefined;
  if (error === null && half === t.fn && t.afterReload)
    error = 'the test has an afterReload half, but its first half did not reload the window';
  const ms = Date.now() - started;
  if (error !== null || process.env.PRUNESCOPE_VSCODE_SCREENSHOTS === 'all') {
    // The screenshot shows the workbench as the test left it, before its editors are closed.
    await screenshot(`${error !== null ? 'FAILED-' : ''}${t.name}`).catch(() => undefined);
  }
  if (error === null) {
    counts.passed++;
    emit({ type: 'pass', name: t.name, ms });
  } else {
    counts.failed++;
    emit({ type: 'fail', name: t.name, ms, error });
  }
  await closeEditors().then(undefined, () => undefined);
}

/**
 * Runs every registered test, or, in the window a test reloaded, the rest of that test and the
 * tests after it; PRUNESCOPE_VSCODE_GREP (substrings, comma-separated) narrows the run.
 */
export async function runRegisteredTests(): Promise<Counts> {
  const filters = (process.env.PRUNESCOPE_VSCODE_GREP ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const resume = takeResumeMarker();
  const counts: Counts = resume
    ? { passed: resume.passed, failed: resume.failed, skipped: resume.skipped }
    : { passed: 0, failed: 0, skipped: 0 };
  let next = 0;
  if (resume) {
    next = registered.findIndex((t) => t.name === resume.name) + 1;
    if (next === 0) throw new Error(`the window reloaded for "${resume.name}", which is not a registered test`);
    const t = registered[next - 1];
    emit({ type: 'resumed', name: t.name });
    await runOne(t, t.afterReload!, resume.started, counts);
  } else emit({ type: 'begin', total: registered.length, vscodeVersion: vscode.version });
  for (const t of registered.slice(next)) {
    if (filters.length && !filters.some((f) => t.name.toLowerCase().includes(f))) {
      counts.skipped++;
      emit({ type: 'skip', name: t.name, reason: 'not selected by PRUNESCOPE_VSCODE_GREP' });
      continue;
    }
    emit({ type: 'start', name: t.name });
    await runOne(t, t.fn, Date.now(), counts);
  }
  emit({ type: 'end', ...counts });
  return counts;
}
