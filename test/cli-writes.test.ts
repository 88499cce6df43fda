import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomMLP } from './kits/onnx';
import { writeModel } from '../src/core/formats/registry';
import { PARTIAL_PREFIX } from '../src/core/io/atomic';
import { writeNpy } from '../src/core/io/npy';
import { repoRoot } from './fixtures';

// What the CLI may write over, tried as a careless user and as a planted folder would: every
// command that writes refuses an existing file without --force, and never replaces one of its
// inputs, whatever name leads to it. Models and data are built here; nothing needs fixtures.
const bin = join(repoRoot, 'bin', 'prunescope.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  assert.doesNotMatch(`${r.stderr}`, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${r.stderr}`);
  assert.doesNotMatch(`${r.stderr}`, /internal error/, r.stderr);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its bytes (as hex), for "exactly as before" comparisons. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isFile()) out[p.slice(dir.length)] = readFileSync(p).toString('hex');
  }
  return out;
}

let dir: string;
let src: string;
let model: string;
let onnxModel: string;
let csv: string;
before(async () => {
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  dir = mkdtempSync(join(tmpdir(), 'prunescope-writes-'));
  src = join(dir, 'src');
  mkdirSync(src);
  const mlp = randomMLP([6, 8, 3], ['relu', 'linear'], 7);
  model = join(src, 'model.json');
  onnxModel = join(src, 'net.onnx');
  await writeModel(mlp, model);
  await writeModel(mlp, onnxModel);
  // A labelled CSV with the model's 6 inputs, as the data of data-reading commands.
  const rows = ['a,b,c,d,e,f,label'];
  for (let i = 0; i < 40; i++) rows.push(`${[0, 1, 2, 3, 4, 5].map((j) => ((i * 7 + j * 3) % 11) / 11).join(',')},${i % 3}`);
  csv = join(src, 'data.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  mkdirSync(join(dir, 'splits'));
  for (const split of ['train', 'test']) writeFileSync(join(dir, 'splits', `${split}.csv`), `${rows.join('\n')}\n`);
  await writeNpy(join(src, 'x.npy'), new Float32Array(12).fill(0.5), [2, 6]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('CLI writes: nothing the user did not give up is replaced', () => {
  it('prune refuses an existing output without --force, before its work, and replaces it with --force', () => {
    const out = join(dir, 'exists.onnx');
    writeFileSync(out, 'user file');
    const r = cli('prune', onnxModel, '--strategy', 'magnitude', '--sparsity', '0.5', '--out', out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists\.onnx already exists; .*--force/);
    assert.equal(readFileSync(out, 'utf8'), 'user file');
    const forced = cli('prune', onnxModel, '--strategy', 'magnitude', '--sparsity', '0.5', '--force', '--out', out);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(out, 'utf8'), 'user file');
  });

  it("a model is all of its files: a tfjs output never replaces an existing weights file, nor the source's", () => {
    const before = snapshot(src);
    const out = join(dir, 'p.json');
    writeFileSync(join(dir, 'p.weights.bin'), 'precious');
    const r = cli('prune', onnxModel, '--strategy', 'magnitude', '--sparsity', '0.5', '--out', out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /p\.weights\.bin already exists/);
    assert.equal(readFileSync(join(dir, 'p.weights.bin'), 'utf8'), 'precious');
    assert.equal(existsSync(out), false, 'the model.json of a refused output did not appear');
    // model.JSON is another name, but its weights file would be the source's model.weights.bin.
    for (const force of [[], ['--force']]) {
      const s = cli('prune', model, '--strategy', 'magnitude', '--sparsity', '0.5', ...force, '--out', join(src, 'model.JSON'));
      assert.equal(s.code, 1);
      assert.match(s.stderr, force.length ? /model\.weights\.bin: it is an input of this command/ : /model\.weights\.bin already exists/);
    }
    assert.deepEqual(snapshot(src), before);
  });

  it('--force never replaces the source, through a folder symlink, a file symlink, a hard link or ..', () => {
    const before = snapshot(src);
    symlinkSync(src, join(dir, 'alias'));
    symlinkSync(onnxModel, join(dir, 'link.onnx'));
    linkSync(onnxModel, join(dir, 'hard.onnx'));
    for (const out of [
      join(dir, 'alias', 'net.onnx'),
      join(dir, 'link.onnx'),
      join(dir, 'hard.onnx'),
      join(src, '..', 'src', 'net.onnx'),
    ]) {
      const r = cli('prune', onnxModel, '--strategy', 'magnitude', '--sparsity', '0.5', '--force', '--out', out);
      assert.equal(r.code, 1, out);
      assert.match(r.stderr, /refusing to (replace|overwrite)/, out);
    }
    assert.deepEqual(snapshot(src), before);
  });

  it("predict and activations never replace the model's files or their input data, even with --force", () => {
    const before = snapshot(src);
    for (const out of [join(src, 'model.weights.bin'), join(src, 'x.npy')]) {
      const r = cli('predict', model, '--input', join(src, 'x.npy'), '--force', '--out', out);
      assert.equal(r.code, 1, out);
      assert.match(r.stderr, /refusing to (replace|overwrite)/, out);
    }
    for (const out of [csv, join(src, 'model.weights.bin')]) {
      const r = cli('activations', model, '--data', csv, '--layer', '0', '--force', '--out', out);
      assert.equal(r.code, 1, out);
      assert.match(r.stderr, /it is an input of this command/, out);
    }
    const y = join(dir, 'y.npy');
    assert.equal(cli('predict', model, '--input', join(src, 'x.npy'), '--out', y).code, 0);
    const again = cli('predict', model, '--input', join(src, 'x.npy'), '--out', y);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /y\.npy already exists/);
    assert.deepEqual(snapshot(src), before);
  });

  it('train refuses a folder that holds a model before training; analyze and compare refuse existing results', () => {
    const trained = join(dir, 'trained');
    mkdirSync(trained);
    writeFileSync(join(trained, 'model.json'), '{"mine": true}');
    const t = cli('train', '--data', join(dir, 'splits'), '--hidden', '4', '--epochs', '1', '--out', trained);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /model\.json already exists/);
    assert.doesNotMatch(t.stderr, /epoch 1/, 'refused before training');
    for (const [cmd, ...args] of [
      ['analyze', onnxModel],
      ['compare', onnxModel, onnxModel],
    ]) {
      const out = join(dir, `${cmd}-out`);
      mkdirSync(out);
      writeFileSync(join(out, 'report.html'), 'my report');
      const r = cli(cmd, ...args, '--data', csv, '--out', out);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /report\.html already exists/);
      assert.equal(readFileSync(join(out, 'report.html'), 'utf8'), 'my report');
    }
  });

  it('a planted journal in the output folder makes prune delete nothing, and is reported', () => {
    const out = join(dir, 'planted');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(out);
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'victim.txt'), 'keep me');
    writeFileSync(join(out, 'beside.txt'), 'keep me too');
    const pid = 2 ** 22 + 99; // a writer that no longer runs
    const journal = `${PARTIAL_PREFIX}${pid}-1-j-0123456789abcdef.tmp`;
    const entries = [join(elsewhere, 'victim.txt'), join(out, 'beside.txt')].map((path, i) => ({
      path,
      tmp: join(out, `${PARTIAL_PREFIX}${pid}-${i + 2}-t-0123456789abcdef.x.tmp`),
    }));
    writeFileSync(join(out, journal), JSON.stringify({ body: JSON.stringify({ pid, entries }), mac: '0123456789abcdef' }));
    // The same in the shape journals had before they were signed: the old recovery deleted `beside.txt`.
    const oldStyle = `${PARTIAL_PREFIX}${pid}-5-j.tmp`;
    const oldEntries = entries.map((e, i) => ({ path: e.path, tmp: join(out, `${PARTIAL_PREFIX}${pid}-${i + 6}-t.x.tmp`) }));
    writeFileSync(join(out, oldStyle), JSON.stringify({ pid, entries: oldEntries }));
    const r = cli('prune', onnxModel, '--strategy', 'magnitude', '--sparsity', '0.5', '--out', join(out, 'p.onnx'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: left .*prunescope-partial-.* alone: named like a PruneScope temporary, but not made by this installation/,
    );
    assert.equal(readFileSync(join(elsewhere, 'victim.txt'), 'utf8'), 'keep me');
    assert.equal(readFileSync(join(out, 'beside.txt'), 'utf8'), 'keep me too');
    assert.ok(existsSync(join(out, journal)) && existsSync(join(out, oldStyle)), 'the planted journals are left where they are');
  });
});
