import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const repoRoot = resolve(__dirname, '..');

/** The shared model fixtures (../shared/fixtures beside the clone; PRUNESCOPE_FIXTURES overrides). */
export const fixturesDir = process.env.PRUNESCOPE_FIXTURES ?? resolve(repoRoot, '../shared/fixtures');

export function fixture(...parts: string[]): string {
  const p = join(fixturesDir, ...parts);
  if (!existsSync(p)) throw new Error(`fixture missing: ${p} (see ../shared/fixtures/README.md)`);
  return p;
}
