import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import {
  freshPageMsPerMB,
  hasLargePages,
  LARGE_PAGE_TUNABLES,
  largePagesNote,
  SLOW_FRESH_PAGES_MS_PER_MB,
  wantsLargePages,
  withLargePages,
} from './large-pages';

const root = join(__dirname, '..', '..');

describe('large pages', () => {
  const slow = () => SLOW_FRESH_PAGES_MS_PER_MB + 1.5;
  const quick = () => SLOW_FRESH_PAGES_MS_PER_MB - 1.2;

  it('adds the tunables on Linux where fresh pages are slow, and not elsewhere or when turned off', () => {
    const env = withLargePages({ PATH: '/bin' }, 'linux', slow);
    assert.equal(env.GLIBC_TUNABLES, LARGE_PAGE_TUNABLES.join(':'));
    assert.ok(hasLargePages(env));
    const plain = { PATH: '/bin' };
    assert.equal(withLargePages(plain, 'linux', quick), plain);
    assert.equal(withLargePages(plain, 'darwin', slow), plain);
    const off = { PRUNESCOPE_LARGE_PAGES: '0' };
    assert.equal(withLargePages(off, 'linux', slow), off);
    assert.equal(wantsLargePages(off, 'linux', slow), false);
    // Turned on by hand, whatever the probe says; the probe is not even asked.
    const never = () => assert.fail('probed although PRUNESCOPE_LARGE_PAGES=1');
    assert.ok(hasLargePages(withLargePages({ PRUNESCOPE_LARGE_PAGES: '1' }, 'linux', never)));
    assert.equal(wantsLargePages({ PRUNESCOPE_LARGE_PAGES: '1' }, 'darwin', never), false);
  });

  it('times fresh pages once per process: a positive, finite cost per MB', () => {
    const cost = freshPageMsPerMB();
    assert.ok(cost > 0 && Number.isFinite(cost), `${cost} ms per MB`);
    assert.equal(freshPageMsPerMB(), cost);
  });

  it('--verbose says whether they are on and why', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
    assert.equal(largePagesNote({ PATH: '/bin' }, 'darwin'), undefined);
    assert.match(largePagesNote(withLargePages({ PRUNESCOPE_LARGE_PAGES: '1' }, 'linux'), 'linux')!, /^on \(GLIBC_TUNABLES=/);
    assert.equal(largePagesNote({ PRUNESCOPE_LARGE_PAGES: '0' }, 'linux'), 'off (PRUNESCOPE_LARGE_PAGES=0)');
    assert.match(
      largePagesNote({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, 'linux')!,
      /^off \(GLIBC_TUNABLES=glibc.malloc.hugetlb=0 sets them/,
    );
    assert.equal(
      largePagesNote({ PRUNESCOPE_LARGE_PAGES: '1' }, 'linux'),
      'off in this process, on in the ones it starts (PRUNESCOPE_LARGE_PAGES=1)',
    );
    // Started with them because the probe found fresh pages slow: the started process says what it found.
    assert.match(
      largePagesNote(withLargePages({}, 'linux', slow), 'linux')!,
      new RegExp(`^on \\(fresh 4 KB pages cost ${slow().toFixed(2)} ms per MB here, over 2; GLIBC_TUNABLES=`),
    );
    // Unset: the probe decides, and the note gives its figure.
    const slowHere = freshPageMsPerMB() > SLOW_FRESH_PAGES_MS_PER_MB;
    assert.match(
      largePagesNote({}, 'linux')!,
      slowHere
        ? /^off in this process, on in the ones it starts \(fresh 4 KB pages cost \d+\.\d\d ms/
        : /^off \(fresh 4 KB pages cost \d+\.\d\d ms per MB here, not over 2;/,
    );
  });

  it("keeps the user's own tunables and never overrides one they set", () => {
    const env = withLargePages({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0:glibc.pthread.rseq=0' }, 'linux', slow);
    assert.equal(env.GLIBC_TUNABLES, 'glibc.malloc.hugetlb=0:glibc.pthread.rseq=0:glibc.malloc.mmap_threshold=33554432');
    // Nothing left to add: the same object back, so a relaunch decision sees "nothing to do".
    assert.equal(withLargePages(env, 'linux', slow), env);
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
    const base = { ...process.env, GLIBC_TUNABLES: '', PRUNESCOPE_LARGE_PAGES: '1' };
    const withPages = kb(withLargePages(base, 'linux'));
    assert.ok(withPages >= 32 * 1024, `AnonHugePages ${withPages} kB with the tunables, expected most of 64 MB`);
  });
});
