/**
 * A small test runner for the extension host: named async tests run one after another, each
 * bounded by a timeout, and every result goes to the events file that scripts/vscode-test.mjs reads.
 */
import { findSourceMap } from 'node:module';
import * as vscode from 'vscode';
import { emit, screenshot } from './channel';

export interface TestOptions {
  /** Upper bound for the test; a test still running then fails. Default 60 s. */
  timeoutMs?: number;
}

interface TestCase {
  name: string;
  fn: () => Promise<void> | void;
  timeoutMs: number;
}

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
  registered.push({ name: full, fn, timeoutMs: options.timeoutMs ?? 60_000 });
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

function withTimeout(t: TestCase): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs / 1000} s`)), t.timeoutMs);
  });
  return Promise.race([Promise.resolve().then(t.fn), timeout]).finally(() => clearTimeout(timer));
}

async function closeEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Runs every registered test; PRUNESCOPE_VSCODE_GREP (substrings, comma-separated) narrows the run. */
export async function runRegisteredTests(): Promise<{ passed: number; failed: number; skipped: number }> {
  const filters = (process.env.PRUNESCOPE_VSCODE_GREP ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const shotEvery = process.env.PRUNESCOPE_VSCODE_SCREENSHOTS === 'all';
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  emit({ type: 'begin', total: registered.length, vscodeVersion: vscode.version });
  for (const t of registered) {
    if (filters.length && !filters.some((f) => t.name.toLowerCase().includes(f))) {
      skipped++;
      emit({ type: 'skip', name: t.name, reason: 'not selected by PRUNESCOPE_VSCODE_GREP' });
      continue;
    }
    emit({ type: 'start', name: t.name });
    const started = Date.now();
    let error: string | null = null;
    try {
      await withTimeout(t);
    } catch (err) {
      error = describe(err);
    }
    const ms = Date.now() - started;
    if (error !== null || shotEvery) {
      // The screenshot shows the workbench as the test left it, before its editors are closed.
      await screenshot(`${error !== null ? 'FAILED-' : ''}${t.name}`).catch(() => undefined);
    }
    if (error === null) {
      passed++;
      emit({ type: 'pass', name: t.name, ms });
    } else {
      failed++;
      emit({ type: 'fail', name: t.name, ms, error });
    }
    await closeEditors().then(undefined, () => undefined);
  }
  emit({ type: 'end', passed, failed, skipped });
  return { passed, failed, skipped };
}
