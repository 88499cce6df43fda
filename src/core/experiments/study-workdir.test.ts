import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeStudyDir, removeStudyDir, sweepStudyDirs } from './study-workdir';

describe('study scratch folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'prunescope-sweep-test-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("sweeps those of gone processes and this process's unused ones; keeps folders in use and anything else", async () => {
    // A process that has exited: its pid is no longer alive.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    const dead = join(root, `prunescope-study-${deadPid}-abc123`);
    const orphan = join(root, `prunescope-study-${process.pid}-def456`);
    const parentsOwn = join(root, `prunescope-study-${process.ppid}-ghi789`);
    const other = join(root, 'prunescope-study-notes');
    for (const d of [dead, orphan, parentsOwn, other]) {
      mkdirSync(d);
      writeFileSync(join(d, 'data.npz'), 'x');
    }
    const live = makeStudyDir(root);
    const removed = await sweepStudyDirs(root);
    assert.deepEqual(removed.sort(), [dead, orphan].sort());
    for (const d of [parentsOwn, other, live]) assert.ok(existsSync(d), d);
    await removeStudyDir(live);
    assert.ok(!existsSync(live));
  });
});
