import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';

/** The repository root. */
export const repoRoot = resolve(__dirname, '..');

/** The shared model fixtures (../shared/fixtures beside the clone; PRUNESCOPE_FIXTURES overrides). */
export const fixturesDir = process.env.PRUNESCOPE_FIXTURES ?? resolve(repoRoot, '../shared/fixtures');

/**
 * Whether the third-party model files are here. Without them the compatibility suite (the tests
 * whose point is a particular file made by a real exporter) is skipped; every other test runs on
 * models the suite builds itself (test/kits/encode).
 */
export const fixturesPresent = existsSync(fixturesDir);

/** The reason a compatibility test gives when it is skipped; scripts/test.mjs counts these. */
export const COMPAT_SKIP_REASON = process.env.PRUNESCOPE_FIXTURES
  ? `fixtures absent: ${process.env.PRUNESCOPE_FIXTURES} (from PRUNESCOPE_FIXTURES)`
  : 'fixtures absent: ../shared/fixtures (set PRUNESCOPE_FIXTURES)';

/**
 * Options for a test of the compatibility suite: `test(name, compat(), fn)` runs it when the
 * fixtures are present and reports it as skipped, with the reason, when they are not. (Give it to
 * each test, not to a describe: node:test counts the tests of a skipped describe nowhere.)
 */
export function compat(options: { timeout?: number } = {}): { skip?: string; timeout?: number } {
  return fixturesPresent ? options : { ...options, skip: COMPAT_SKIP_REASON };
}

/** A fixture's path. Throws when it is missing: only tests of the compatibility suite may call it. */
export function fixture(...parts: string[]): string {
  const p = join(fixturesDir, ...parts);
  if (!existsSync(p)) throw new Error(`fixture missing: ${p} (see ../shared/fixtures/README.md)`);
  return p;
}

/**
 * A fixture's path inside a running test, or undefined after marking the test skipped when the
 * fixtures are absent: `const p = fixtureOrSkip(t, 'onnx', 'x.onnx'); if (!p) return;`.
 */
export function fixtureOrSkip(t: TestContext, ...parts: string[]): string | undefined {
  if (!fixturesPresent) {
    t.skip(COMPAT_SKIP_REASON);
    return undefined;
  }
  return fixture(...parts);
}
