import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mutate } from './mutate';
import { caseRng, prepareCase } from './cases';
import { formatTable, runFuzz } from './harness';
import { buildSeeds, FUZZ_FORMATS } from './seeds';
import { seededRandom } from '../random';

test('mutations are reproducible from the seed and change the bytes', () => {
  const bytes = new TextEncoder().encode('{"shape": [50, 784], "dtype": "float32", "offsets": [0, 156800]}');
  const a = mutate(seededRandom(42), bytes, 'json');
  const b = mutate(seededRandom(42), bytes, 'json');
  assert.deepEqual(a, b);
  let changed = 0;
  for (let s = 0; s < 50; s++) if (Buffer.compare(Buffer.from(mutate(seededRandom(s), bytes, 'binary').bytes), Buffer.from(bytes)) !== 0) changed++;
  assert.ok(changed >= 45, `only ${changed} of 50 mutations changed the bytes`);
});

test('a case is the same file every time it is prepared, and the seed copy stays intact', async () => {
  const root = mkdtempSync(join(tmpdir(), 'prunescope-fuzz-test-'));
  try {
    const manifest = await buildSeeds(join(root, 'seeds'));
    for (const f of FUZZ_FORMATS) assert.ok(manifest[f].length > 0, `no seeds for ${f}`);
    const first = await prepareCase(manifest, 'onnx', 3, 17, join(root, 'a'));
    const second = await prepareCase(manifest, 'onnx', 3, 17, join(root, 'b'));
    const bytesA = readFileSync(join(root, 'a', first.file));
    const bytesB = readFileSync(join(root, 'b', second.file));
    assert.ok(bytesA.equals(bytesB));
    assert.ok(!bytesA.equals(readFileSync(join(first.seed.dir, first.file))), 'the case file should differ from its seed');
    assert.notEqual(caseRng(3, 'onnx', 17)(), caseRng(3, 'onnx', 18)());
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('every reader either parses or raises a PruneScope error naming the file: 150 seeded cases per format', async () => {
  const report = await runFuzz({ cases: 150, seed: 20261122 });
  const table = formatTable(report);
  for (const s of report.formats) {
    assert.equal(s.tried, 150, `${s.format}: not every case ran\n${table}`);
    const detail = s.failures.map((f) => `#${f.index} ${f.kind} ${f.seed ?? ''} ${f.file ?? ''} [${(f.ops ?? []).join(' ')}]: ${f.message}`).join('\n');
    assert.equal(s.crashes, 0, `${s.format}: exceptions other than PruneScopeError\n${detail}`);
    assert.equal(s.hangs, 0, `${s.format}: cases over ${report.timeoutMs} ms\n${detail}`);
    assert.equal(s.unnamed, 0, `${s.format}: errors that do not name the file\n${detail}`);
    // Bounded memory: a header claiming a huge shape must be refused, not allocated.
    assert.ok(s.peakRssMb < 1024, `${s.format}: the worker reached ${s.peakRssMb.toFixed(0)} MB`);
    // The mutations must reach the readers' error paths, or the run proves nothing.
    assert.ok(s.errors >= 30, `${s.format}: only ${s.errors} errors raised\n${table}`);
  }
  assert.deepEqual(report.filesLostOrAltered, []);
  assert.ok(report.seedFilesChecked > 50);
});

test('the harness counts a crash, a hang, a dead worker and an error without the file name, and goes on', async () => {
  // Broken readers in turn: TypeError, endless loop, process.exit, DataError naming another file.
  const report = await runFuzz({ cases: 8, seed: 1, formats: ['read-npy'], timeoutMs: 1000, selfTest: true });
  const s = report.formats[0];
  assert.equal(s.tried, 8);
  assert.equal(s.hangs, 2);
  assert.equal(s.crashes, 4);
  assert.equal(s.unnamed, 2);
  assert.deepEqual(s.failures.map((f) => f.kind).sort(), ['crash', 'crash', 'hang', 'hang', 'process-exit', 'process-exit', 'unnamed', 'unnamed']);
  assert.match(s.failures.find((f) => f.kind === 'crash')!.message!, /TypeError/);
});
