import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StudyResults } from '../../core/results/format';
import { main } from '../main';
import { gapTables } from './study';

/** main() with its stderr captured. */
async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stderr };
  } finally {
    process.stderr.write = original;
  }
}

describe('prunescope study', () => {
  test('the gap tables: a row per value, the gap in signed percentage points per sparsity, "-" where a strategy has no point', () => {
    // Only what the tables read: the sparsities and the summary.
    const r = {
      settings: { sparsities: [0.75, 0.9] },
      summary: [
        {
          factor: 'dropout',
          values: [
            {
              value: 0,
              model: 'w512-d2-p0',
              gaps: [
                { sparsity: 0.75, a: 0.9314, b: 0.931, gap: 0.9314 - 0.931 },
                { sparsity: 0.9, a: 0.826, b: 0.8652, gap: 0.826 - 0.8652 },
              ],
            },
            {
              value: 0.5,
              model: 'w512-d2-p0.5',
              gaps: [
                { sparsity: 0.75, a: 0.9102, b: null, gap: null },
                { sparsity: 0.9, a: 0.8078, b: 0.8488, gap: 0.8078 - 0.8488 },
              ],
            },
          ],
        },
      ],
    } as unknown as StudyResults;
    const lines = gapTables(r).split('\n');
    assert.deepEqual(lines[0].split(/\s+/), ['dropout', '75%', '90%']);
    assert.deepEqual(lines[2].split(/\s+/), ['0', '+0.04', '-3.92']);
    assert.deepEqual(lines[3].split(/\s+/), ['0.5', '-', '-4.10']);
  });

  test('wrong options are usage errors before any data is loaded or model trained', async () => {
    const one = await run(['study', '--dry-run', '--strategies', 'cka']);
    assert.equal(one.code, 2);
    assert.match(one.stderr, /--strategies takes two strategies/);
    const widths = await run(['study', '--dry-run', '--widths', '128,0']);
    assert.equal(widths.code, 2);
    assert.match(widths.stderr, /--widths must be a comma-separated list of numbers from 1 to 1000000, e\.g\. 128,256,512; got "128,0"/);
    const depth = await run(['study', '--dry-run', '--depths', '1.5']);
    assert.equal(depth.code, 2);
    assert.match(depth.stderr, /--depths must be whole numbers/);
    const out = await run(['study', '--factors', 'width']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--out is required/);
    const factor = await run(['study', '--dry-run', '--factors', 'height']);
    assert.equal(factor.code, 2);
    assert.match(factor.stderr, /--factors: unknown "height"/);
  });
});
