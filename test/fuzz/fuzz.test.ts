import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { mutate } from './mutate';
import { caseRng, planCase, prepareCase, runCase } from './cases';
import { ModelFormatError } from '../../src/core/errors';
import { formatClassTable, formatTable, runFuzz } from './harness';
import { crc32, crc32Combine, deflateZeros, hostileMutationsFor, mutationKey, SENTINEL_MARKER } from './hostile';
import { buildSeeds, FUZZ_FORMATS, listFiles, type Seed } from './seeds';
import { seededRandom } from '../../src/core/random';
import { readModel } from '../../src/core/formats/registry';
import { compat, fixturesDir, fixturesPresent } from '../fixtures';

/** Regular files under a folder, not following symbolic links. */
function regularFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    const st = lstatSync(p);
    return st.isDirectory() ? regularFiles(p) : st.isFile() ? [p] : [];
  });
}

test('mutations are reproducible from the seed and change the bytes', () => {
  const bytes = new TextEncoder().encode('{"shape": [50, 784], "dtype": "float32", "offsets": [0, 156800]}');
  const a = mutate(seededRandom(42), bytes, 'json');
  const b = mutate(seededRandom(42), bytes, 'json');
  assert.deepEqual(a, b);
  let changed = 0;
  for (let s = 0; s < 50; s++)
    if (Buffer.compare(Buffer.from(mutate(seededRandom(s), bytes, 'binary').bytes), Buffer.from(bytes)) !== 0) changed++;
  assert.ok(changed >= 45, `only ${changed} of 50 mutations changed the bytes`);
});

const fromOf = (seeds: Seed[], origin: string): Seed[] => seeds.filter((s) => s.from?.startsWith(`${origin} `));

test('the encoder kit builds the model seeds: the reader takes every supported one as it is', async () => {
  const root = mkdtempSync(join(tmpdir(), 'prunescope-fuzz-test-'));
  try {
    const manifest = await buildSeeds(join(root, 'seeds'));
    // Twins of abalone-node, matmul-graph, rn59-graph, rn59-layers and keras-lenet-layers; of four
    // ONNX MLPs and one CNN; of dfdx's MNIST MLP.
    assert.deepEqual(
      (['tfjs', 'onnx', 'safetensors'] as const).map((f) => fromOf(manifest[f], 'built').length),
      [5, 5, 1],
    );
    for (const f of ['tfjs', 'onnx', 'safetensors'] as const) {
      for (const s of fromOf(manifest[f], 'built')) {
        const read = readModel(join(s.dir, s.entry));
        if (s.supported === false) await assert.rejects(read, ModelFormatError, s.from);
        else assert.ok((await read).layers.length > 0, s.from);
      }
    }
    // Our writers' copies of the abalone twin (ONNX dense and sparse, safetensors).
    assert.equal([...manifest.onnx, ...manifest.safetensors].filter((s) => s.from?.startsWith('our writer')).length, 3);
    // Third-party seeds only when the files are here.
    if (!fixturesPresent) for (const f of FUZZ_FORMATS) assert.deepEqual(fromOf(manifest[f], 'third-party'), [], f);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the third-party files join the corpus as extra seeds when present', compat(), async () => {
  const root = mkdtempSync(join(tmpdir(), 'prunescope-fuzz-test-'));
  try {
    const manifest = await buildSeeds(join(root, 'seeds'));
    const onnxFiles = listFiles(fixturesDir).filter((f) => f.endsWith('.onnx'));
    // The five tfjs folders the kit has twins of and gru-layers; every .onnx; dfdx's safetensors.
    assert.deepEqual(
      (['tfjs', 'onnx', 'safetensors'] as const).map((f) => fromOf(manifest[f], 'third-party').length),
      [6, onnxFiles.length, 1],
    );
    assert.ok(onnxFiles.length >= 5, `${onnxFiles.length} .onnx files in ${fixturesDir}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
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

test('hostile cases are reproducible, keep their sentinel outside the case folder, and bombs inflate as built', async () => {
  // CRC-32 by combination, as the bombs use it, against the plain one.
  const a = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
  const b = new Uint8Array(3 * 2 ** 20 + 5);
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(both));
  const d = deflateZeros(a, b.length);
  const out = inflateRawSync(d.data);
  assert.equal(out.length, d.size);
  assert.equal(crc32(out), d.crc);
  assert.ok(d.data.length < 8000, `${d.data.length} deflated bytes for 3 MiB of zeros`);

  const root = mkdtempSync(join(tmpdir(), 'prunescope-fuzz-test-'));
  try {
    const manifest = await buildSeeds(join(root, 'seeds'));
    const all = { share: 1 };
    // The first case of each class in the tfjs and npz rounds: a link (with symlinks), a size lie, nesting, a bomb.
    const picks: [(typeof FUZZ_FORMATS)[number], number][] = [];
    for (const f of ['tfjs', 'npz'] as const) {
      const seen = new Set<string>();
      for (let i = 0; i < hostileMutationsFor(f).length; i++) {
        const cls = planCase(5, f, i, all)!.split('/')[0];
        if (!seen.has(cls) && !planCase(5, f, i, all)!.includes('honest')) picks.push([f, i]);
        seen.add(cls);
      }
    }
    for (const [f, i] of picks) {
      const first = await prepareCase(manifest, f, 5, i, join(root, 'case', 'a'), all);
      const bytesA = readFileSync(join(root, 'case', 'a', first.file));
      // Again in the same place (absolute paths in the case depend on it): the same case.
      const second = await prepareCase(manifest, f, 5, i, join(root, 'case', 'a'), all);
      assert.deepEqual(second.ops, first.ops);
      assert.ok(
        bytesA.equals(readFileSync(join(root, 'case', 'a', second.file))),
        `${f} #${i} ${first.ops.join(' ')}: not the same bytes twice`,
      );
      const s = second.hostile?.sentinel;
      if (s) {
        assert.ok(relative(join(root, 'case', 'a'), s.path).startsWith('..'), 'the sentinel must lie outside the case folder');
        assert.ok(readFileSync(s.path).subarray(0, 8).equals(SENTINEL_MARKER));
        // Nothing the case folder holds contains the marker: only the outside file does.
        for (const p of regularFiles(join(root, 'case', 'a')))
          assert.ok(!readFileSync(p).includes(SENTINEL_MARKER), `${p} holds the sentinel marker`);
      }
    }
    assert.ok(picks.length >= 5);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a reader that follows a hostile link is caught: an escape when it accepts, unnamed when its error does not name the model', async () => {
  const root = mkdtempSync(join(tmpdir(), 'prunescope-fuzz-test-'));
  try {
    const manifest = await buildSeeds(join(root, 'seeds'));
    const all = { share: 1, classes: ['links' as const] };
    // A naive reader: reads each shard as named, wherever that leads.
    const naive = (path: string): Promise<unknown> => {
      const json = JSON.parse(readFileSync(path, 'utf8')) as { weightsManifest: { paths: string[] }[] };
      const read = (p: string) => new Float32Array(new Uint8Array(readFileSync(isAbsolute(p) ? p : join(dirname(path), p))).buffer);
      return Promise.resolve().then(() => json.weightsManifest.flatMap((g) => g.paths.map(read)));
    };
    const vague = (): Promise<unknown> =>
      Promise.reject(new ModelFormatError('model.json', 'TensorFlow.js', 'a shard is outside the folder'));
    const kinds = new Set<string>();
    for (let i = 0; i < hostileMutationsFor('tfjs', ['links']).length; i++) {
      const key = planCase(9, 'tfjs', i, all)!;
      const dir = join(root, 'case', 'tfjs');
      const r = await runCase(manifest, 'tfjs', 9, i, dir, naive, all);
      // URLs and %2F names are no files: the naive reader fails on them with a plain Error.
      if (r.outcome !== 'crash') assert.equal(r.outcome, 'escape', `${key}: ${r.outcome} ${r.message}`);
      if (r.outcome === 'escape') kinds.add(key);
      assert.equal((await runCase(manifest, 'tfjs', 9, i, dir, vague, all)).outcome, 'unnamed', key);
    }
    for (const k of ['links/link-absolute', 'links/link-symlink-file', 'links/link-symlink-folder', 'links/link-symlink-chain'])
      assert.ok(kinds.has(k), `${k} not caught: ${[...kinds]}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('every reader either parses or raises a PruneScope error naming the file: 150 seeded cases per format', async () => {
  const report = await runFuzz({ cases: 150, seed: 20261122 });
  const table = `${formatTable(report)}\n\n${formatClassTable(report, true)}`;
  for (const s of report.formats) {
    assert.equal(s.tried, 150, `${s.format}: not every case ran\n${table}`);
    const detail = s.failures
      .map((f) => `#${f.index} ${f.kind} ${f.hostile ?? ''} ${f.seed ?? ''} ${f.file ?? ''} [${(f.ops ?? []).join(' ')}]: ${f.message}`)
      .join('\n');
    assert.equal(
      s.crashes,
      0,
      `${s.format}: exceptions other than PruneScopeError, dead workers, or cases over the ${report.maxRssMb} MB memory ceiling\n${detail}`,
    );
    assert.equal(s.hangs, 0, `${s.format}: cases over ${report.timeoutMs} ms\n${detail}`);
    assert.equal(s.unnamed, 0, `${s.format}: errors that do not name the file\n${detail}`);
    // A model that points outside its folder is refused, and no output holds the outside file's bytes.
    assert.equal(s.escapes, 0, `${s.format}: hostile links followed\n${detail}`);
    // Every hostile mutation for the format ran (the CI share goes round all of them).
    for (const m of hostileMutationsFor(s.format))
      assert.ok(s.byMutation[mutationKey(m)]?.tried, `${s.format}: hostile mutation ${mutationKey(m)} never ran\n${table}`);
    // Bounded memory: a header claiming a huge shape must be refused, not allocated.
    const peak = s.peakCase ? ` at case #${s.peakCase.index} [${(s.peakCase.ops ?? [s.peakCase.plan ?? 'generic']).join(' ')}]` : '';
    assert.ok(s.peakRssMb < 1024, `${s.format}: the worker reached ${s.peakRssMb.toFixed(0)} MB${peak}`);
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
  assert.deepEqual(s.failures.map((f) => f.kind).sort(), [
    'crash',
    'crash',
    'hang',
    'hang',
    'process-exit',
    'process-exit',
    'unnamed',
    'unnamed',
  ]);
  assert.match(s.failures.find((f) => f.kind === 'crash')!.message!, /TypeError/);
});

test('the harness stops a case at the resident-memory ceiling (memory off the V8 heap) and goes on', async () => {
  // A reader allocating Buffers without end: --max-old-space-size does not see them, the watchdog
  // must. The time limit is long so that only the watchdog can end these cases, however slow the
  // machine fills pages.
  const report = await runFuzz({ cases: 2, seed: 1, formats: ['read-npy'], timeoutMs: 60_000, maxRssMb: 400, selfTest: 'memory' });
  const s = report.formats[0];
  assert.equal(s.tried, 2);
  assert.equal(s.memory, 2, JSON.stringify(s.failures));
  assert.equal(s.crashes, 2);
  assert.equal(s.hangs, 0);
  assert.deepEqual(
    s.failures.map((f) => f.kind),
    ['memory', 'memory'],
  );
  assert.match(s.failures[0].message!, /over the 400 MB ceiling/);
  assert.ok(s.peakRssMb > 400);
});
