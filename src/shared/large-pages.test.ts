import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { hasLargePages, LARGE_PAGE_TUNABLES, wantsLargePages, withLargePages } from './large-pages';

const root = join(__dirname, '..', '..');

describe('large pages', () => {
  it('adds the tunables on Linux only, and not when turned off', () => {
    const env = withLargePages({ PATH: '/bin' }, 'linux');
    assert.equal(env.GLIBC_TUNABLES, LARGE_PAGE_TUNABLES.join(':'));
    assert.ok(hasLargePages(env));
    const mac = { PATH: '/bin' };
    assert.equal(withLargePages(mac, 'darwin'), mac);
    const off = { PRUNESCOPE_LARGE_PAGES: '0' };
    assert.equal(withLargePages(off, 'linux'), off);
    assert.equal(wantsLargePages(off, 'linux'), false);
  });

  it("keeps the user's own tunables and never overrides one they set", () => {
    const env = withLargePages({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0:glibc.pthread.rseq=0' }, 'linux');
    assert.equal(env.GLIBC_TUNABLES, 'glibc.malloc.hugetlb=0:glibc.pthread.rseq=0:glibc.malloc.mmap_threshold=33554432');
    // Nothing left to add: the same object back, so a relaunch decision sees "nothing to do".
    assert.equal(withLargePages(env, 'linux'), env);
    assert.equal(hasLargePages(env), false);
  });

  it('lists the same tunables as scripts/large-pages.mjs', async () => {
    const mjs = (await import(pathToFileURL(join(root, 'scripts', 'large-pages.mjs')).href)) as { LARGE_PAGE_TUNABLES: string[] };
    assert.deepEqual(mjs.LARGE_PAGE_TUNABLES, [...LARGE_PAGE_TUNABLES]);
  });

  // The point of the tunables: a process started with them gets transparent huge pages for a
  // large buffer. Needs Linux with THP in "madvise" or "always" mode.
  const thp = '/sys/kernel/mm/transparent_hugepage/enabled';
  const thpMode = existsSync(thp) ? /\[(\w+)\]/.exec(readFileSync(thp, 'utf8'))?.[1] : undefined;
  const skip =
    process.platform !== 'linux' || !thpMode || thpMode === 'never'
      ? `needs Linux with transparent huge pages (${thp}: ${thpMode ?? 'absent'})`
      : false;
  it('gives a child process huge pages for a 64 MB buffer', { skip }, () => {
    const script = [
      'const a = new Float64Array(8 * 1024 * 1024);',
      'for (let i = 0; i < a.length; i += 512) a[i] = 1;',
      "const m = /AnonHugePages:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/smaps_rollup', 'utf8'));",
      'console.log(m ? m[1] : -1);',
    ].join('\n');
    const kb = (env: NodeJS.ProcessEnv) => Number(spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }).stdout.trim());
    const base = { ...process.env, GLIBC_TUNABLES: '', PRUNESCOPE_LARGE_PAGES: '' };
    const withPages = kb(withLargePages(base, 'linux'));
    assert.ok(withPages >= 32 * 1024, `AnonHugePages ${withPages} kB with the tunables, expected most of 64 MB`);
  });
});
