import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, promises as fs, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PruneScopeError } from '../errors';
import { PARTIAL_PREFIX, partialOwner, recoverPartialWrites, setWriteHookForTests, writeFilesAtomically, writeGroup } from './atomic';
import { assertMayWrite, noteInputs, withWriteScope } from './scope';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'prunescope-atomic-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

/** Every file under `dir` with its content, for "exactly as before" comparisons. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile())
      out[join(e.parentPath ?? e.path, e.name).slice(dir.length)] = readFileSync(join(e.parentPath ?? e.path, e.name), 'utf8');
  }
  return out;
}

test('atomic: a group of files appears together, with no temporary left', async () => {
  const dir = tempDir();
  const seen: string[][] = [];
  const { value, files } = await writeGroup(async () => {
    await writeFilesAtomically([{ path: join(dir, 'model.weights.bin'), data: new Uint8Array([1, 2, 3]) }]);
    // Staged, not yet visible: a reader sees only temporaries of ours.
    seen.push(readdirSync(dir));
    await writeFilesAtomically([{ path: join(dir, 'model.json'), data: '{}' }]);
    return 42;
  });
  assert.equal(value, 42);
  assert.deepEqual(files, [join(dir, 'model.weights.bin'), join(dir, 'model.json')]);
  assert.equal(seen[0].length, 1);
  assert.ok(seen[0][0].startsWith(PARTIAL_PREFIX) && seen[0][0].endsWith('.tmp'), seen[0][0]);
  assert.equal(partialOwner(seen[0][0]), process.pid);
  assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'model.weights.bin']);
});

test('atomic: a group that fails or is aborted writes nothing and keeps existing files', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.json'), 'old');
  await assert.rejects(
    writeGroup(async () => {
      await writeFilesAtomically([{ path: join(dir, 'a.json'), data: 'new' }]);
      await writeFilesAtomically([{ path: join(dir, 'b.json'), data: 'b' }]);
      throw new Error('the job failed after writing');
    }),
    /the job failed after writing/,
  );
  assert.deepEqual(snapshot(dir), { '/a.json': 'old' });

  const controller = new AbortController();
  await assert.rejects(
    writeGroup(
      async () => {
        await writeFilesAtomically([{ path: join(dir, 'a.json'), data: 'new' }]);
        controller.abort(new Error('cancelled'));
      },
      { signal: controller.signal },
    ),
    /cancelled/,
  );
  assert.deepEqual(snapshot(dir), { '/a.json': 'old' });
});

test('atomic: a file that cannot be written is an error naming it and why, and leaves nothing behind', async () => {
  const dir = tempDir();
  const missing = join(dir, 'no-such-folder', 'model.onnx');
  await assert.rejects(writeFilesAtomically([{ path: missing, data: 'x' }]), (e: unknown) => {
    assert.ok(e instanceof PruneScopeError, String(e));
    assert.equal(e.message, `cannot write ${missing}: its folder ${join(dir, 'no-such-folder')} does not exist`);
    return true;
  });
  writeFileSync(join(dir, 'a-file'), 'x');
  await assert.rejects(writeFilesAtomically([{ path: join(dir, 'a-file', 'model.onnx'), data: 'x' }]), /is not a folder/);
  assert.deepEqual(snapshot(dir), { '/a-file': 'x' });
});

test('atomic: a rename that fails midway puts back the files already replaced', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.json'), 'old a');
  // A folder where the second file should go: its rename fails after the first one succeeded.
  await fs.mkdir(join(dir, 'b.json'));
  writeFileSync(join(dir, 'b.json', 'inside'), 'x');
  await assert.rejects(
    writeFilesAtomically([
      { path: join(dir, 'a.json'), data: 'new a' },
      { path: join(dir, 'c.json'), data: 'c' },
      { path: join(dir, 'b.json'), data: 'b' },
    ]),
  );
  assert.deepEqual(snapshot(dir), { '/a.json': 'old a', '/b.json/inside': 'x' });
});

/**
 * A real process writes a group (a replaced file and two new ones) and stops at `stage` number
 * `nth` (the hook); this test SIGKILLs it there. Returns the dead writer's pid.
 */
async function killWriterAt(dir: string, stage: string, nth: number): Promise<number> {
  const script = join(tempDir(), 'writer.ts');
  writeFileSync(
    script,
    `import { setWriteHookForTests, writeFilesAtomically } from ${JSON.stringify(join(__dirname, 'atomic.ts'))};
let n = 0;
setWriteHookForTests(async (stage) => {
  if (stage === ${JSON.stringify(stage)} && ++n === ${nth}) {
    process.stdout.write('paused\\n');
    await new Promise(() => setInterval(() => undefined, 1000));
  }
});
void writeFilesAtomically([
  { path: ${JSON.stringify(join(dir, 'weights.bin'))}, data: 'new weights' },
  { path: ${JSON.stringify(join(dir, 'model.json'))}, data: 'new model' },
  { path: ${JSON.stringify(join(dir, 'history.json'))}, data: 'history' },
]);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('paused') && resolve());
    child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before pausing`)));
  });
  const gone = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await gone;
  return child.pid!;
}

test('atomic: a writer killed at any point is undone by recoverPartialWrites', async () => {
  for (const [stage, nth] of [
    ['staged', 1],
    ['staged', 3],
    ['journaled', 1],
    ['renamed', 1],
    ['renamed', 2],
  ] as const) {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.json'), 'old model');
    writeFileSync(join(dir, 'unrelated.txt'), 'keep');
    const before = snapshot(dir);
    const pid = await killWriterAt(dir, stage, nth);
    const left = readdirSync(dir).filter((n) => n.startsWith(PARTIAL_PREFIX));
    assert.ok(left.length > 0, `${stage} ${nth}: the killed writer left temporaries`);
    assert.ok(left.every((n) => partialOwner(n) === pid));
    // Another process's temporaries are not ours to remove.
    await recoverPartialWrites(dir, (p) => p === pid + 1);
    assert.notDeepEqual(snapshot(dir), before);
    const touched = await recoverPartialWrites(dir, (p) => p === pid);
    assert.ok(touched.length > 0);
    assert.deepEqual(snapshot(dir), before, `${stage} ${nth}: the folder is as before the write`);
  }
});

test('atomic: recovery never follows or removes a journal or temporary it cannot prove it wrote', async () => {
  const dir = tempDir();
  const elsewhere = tempDir();
  writeFileSync(join(elsewhere, 'precious.txt'), 'mine');
  writeFileSync(join(dir, 'keep.txt'), 'keep');
  writeFileSync(join(dir, 'victim.txt'), 'mine too');
  // Planted journals of a dead "writer": one pointing at a file in another folder, one at a file
  // beside it whose temporary "was already renamed" (the old recovery deleted such a target).
  const pid = 2 ** 22 + 17;
  const planted = [
    [
      `${PARTIAL_PREFIX}${pid}-1-j.tmp`,
      { entries: [{ path: join(elsewhere, 'precious.txt'), tmp: join(dir, `${PARTIAL_PREFIX}${pid}-2-t.precious.txt.tmp`) }] },
    ],
    [
      `${PARTIAL_PREFIX}${pid}-3-j-0123456789abcdef.tmp`,
      { pid, entries: [{ path: join(dir, 'victim.txt'), tmp: join(dir, `${PARTIAL_PREFIX}${pid}-4-t-0123456789abcdef.victim.txt.tmp`) }] },
    ],
    [`${PARTIAL_PREFIX}${pid}-5-t-0123456789abcdef.keep.txt.tmp`, 'a temporary that is not ours'],
  ] as const;
  for (const [name, body] of planted) writeFileSync(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  const said: string[] = [];
  const touched = await recoverPartialWrites(
    dir,
    (p) => p === pid,
    (m) => said.push(m),
  );
  assert.deepEqual(touched, []);
  assert.equal(readFileSync(join(elsewhere, 'precious.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(join(dir, 'victim.txt'), 'utf8'), 'mine too');
  assert.deepEqual(readdirSync(dir).sort(), [...planted.map(([n]) => n), 'keep.txt', 'victim.txt'].sort());
  assert.equal(said.length, 3, said.join('\n'));
  assert.ok(said.every((m) => /not made by this installation/.test(m)));
  // The default owner test: writers that no longer run (our own temporaries are left alone).
  await writeFilesAtomically([{ path: join(dir, 'x.txt'), data: 'x' }]);
  assert.deepEqual(await recoverPartialWrites(dir), []);
});

test('atomic: inside a command, existing files are kept unless replacing is allowed', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'out.bin'), 'user data');
  await withWriteScope({ howToReplace: '--force' }, async () => {
    await assert.rejects(
      writeFilesAtomically([
        { path: join(dir, 'new.json'), data: '{}' },
        { path: join(dir, 'out.bin'), data: 'x' },
      ]),
      /out\.bin already exists; .*--force/,
    );
  });
  // All or nothing: the new file of the refused group did not appear either.
  assert.deepEqual(snapshot(dir), { '/out.bin': 'user data' });
  await withWriteScope({ replace: true }, () => writeFilesAtomically([{ path: join(dir, 'out.bin'), data: 'replaced' }]));
  assert.deepEqual(snapshot(dir), { '/out.bin': 'replaced' });
});

test('atomic: a file that appears while the job runs is never replaced', async () => {
  const dir = tempDir();
  setWriteHookForTests((stage) => {
    if (stage === 'journaled') writeFileSync(join(dir, 'b.txt'), 'made meanwhile');
  });
  try {
    await withWriteScope({}, () =>
      assert.rejects(
        writeFilesAtomically([
          { path: join(dir, 'a.txt'), data: 'a' },
          { path: join(dir, 'b.txt'), data: 'b' },
        ]),
        /b\.txt appeared while the job ran/,
      ),
    );
  } finally {
    setWriteHookForTests(undefined);
  }
  assert.deepEqual(snapshot(dir), { '/b.txt': 'made meanwhile' });
});

test('atomic: replacing never reaches an input, whatever name leads to it', async () => {
  const dir = tempDir();
  const src = join(dir, 'src');
  await fs.mkdir(src);
  writeFileSync(join(src, 'model.onnx'), 'source');
  await fs.symlink(src, join(dir, 'alias'));
  await fs.symlink(join(src, 'model.onnx'), join(dir, 'link.onnx'));
  await fs.link(join(src, 'model.onnx'), join(dir, 'hard.onnx'));
  await withWriteScope({ replace: true }, async () => {
    await noteInputs([join(src, 'model.onnx')]);
    for (const name of ['alias/model.onnx', 'link.onnx', 'hard.onnx', 'src/../src/model.onnx']) {
      await assert.rejects(assertMayWrite(join(dir, name)), /it is an input of this command/, name);
      await assert.rejects(writeFilesAtomically([{ path: join(dir, name), data: 'pruned' }]), /it is an input of this command/, name);
    }
  });
  assert.equal(readFileSync(join(src, 'model.onnx'), 'utf8'), 'source');
});
