import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LARGE_PAGE_TUNABLES } from '../shared/large-pages';
import { relaunchEnv } from './relaunch';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-relaunch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A stand-in for the CLI's entry: relaunches as runCli does; the relaunched process prints its
 * tunables and pid, then ends as its first argument says (an exit code, or a signal to itself).
 */
function entry(): string {
  const file = join(dir, 'entry.ts');
  writeFileSync(
    file,
    [
      `import { relaunch, relaunchEnv } from ${JSON.stringify(join(__dirname, 'relaunch'))};`,
      'const env = relaunchEnv(process.env);',
      'if (env) relaunch(env);',
      'else {',
      '  console.log(JSON.stringify({ tunables: process.env.GLIBC_TUNABLES, pid: process.pid }));',
      '  const how = process.argv[2];',
      '  if (how.startsWith("SIG")) process.kill(process.pid, how as NodeJS.Signals);',
      '  else process.exitCode = Number(how);',
      '}',
    ].join('\n'),
  );
  return file;
}

function run(how: string) {
  // Turned on by hand: whether they pay on this machine is not what these tests are about.
  const env = { ...process.env, GLIBC_TUNABLES: '', PRUNESCOPE_RELAUNCHED: '', PRUNESCOPE_LARGE_PAGES: '1' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry(), how], { env, encoding: 'utf8' });
  return { ...r, said: JSON.parse(r.stdout.trim()) as { tunables?: string; pid: number } };
}

describe('CLI relaunch with large pages', () => {
  it('relaunches once on Linux where fresh pages are slow, never twice, and not elsewhere, where they are quick or when turned off', () => {
    const slow = () => 4;
    const env = relaunchEnv({ PATH: '/bin' }, 'linux', slow);
    assert.equal(env?.GLIBC_TUNABLES, LARGE_PAGE_TUNABLES.join(':'));
    assert.equal(relaunchEnv(env!, 'linux', slow), undefined);
    assert.equal(relaunchEnv({ PATH: '/bin' }, 'win32', slow), undefined);
    assert.equal(
      relaunchEnv({ PATH: '/bin' }, 'linux', () => 0.8),
      undefined,
    );
    assert.equal(relaunchEnv({ PRUNESCOPE_LARGE_PAGES: '0' }, 'linux', slow), undefined);
    // A user's conflicting setting is kept; the marker still stops a second relaunch.
    const own = relaunchEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, 'linux', slow);
    assert.equal(relaunchEnv(own!, 'linux', slow), undefined);
  });

  const linux = process.platform === 'linux' ? false : 'relaunching applies to Linux only';
  it('runs the command in a child with the tunables and exits with its code', { skip: linux }, () => {
    const r = run('3');
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.said.tunables, LARGE_PAGE_TUNABLES.join(':'));
    assert.notEqual(r.said.pid, r.pid, 'the command ran in the relaunched process');
  });

  it('ends by the same signal as the relaunched process', { skip: linux }, () => {
    const r = run('SIGTERM');
    assert.equal(r.signal, 'SIGTERM', `status ${r.status}, stderr ${r.stderr}`);
  });
});
