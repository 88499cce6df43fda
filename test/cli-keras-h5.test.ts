import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from './fixtures';
import { built } from './kits/encode/models';

// The built bundles keep h5wasm (the HDF5 library) in dist/h5wasm.js and load it only for Keras
// files (scripts/build.mjs): the CLI must still write and read them through it.
const bin = join(repoRoot, 'bin', 'prunescope.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
before(() => {
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  dir = mkdtempSync(join(tmpdir(), 'prunescope-keras-h5-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Keras HDF5 through the built CLI', () => {
  it('the CLI and worker bundles do not carry HDF5; dist/h5wasm.js does', () => {
    // _H5Fopen is an export of the HDF5 WebAssembly module, present once h5wasm is inlined.
    for (const bundle of ['cli.js', 'worker.js', 'h5-worker.js']) {
      assert.ok(!readFileSync(join(repoRoot, 'dist', bundle), 'utf8').includes('_H5Fopen'), `${bundle} inlines h5wasm`);
    }
    assert.ok(readFileSync(join(repoRoot, 'dist', 'h5wasm.js'), 'utf8').includes('_H5Fopen'));
  });

  it('prunes a model into a .keras file (HDF5 inside) and reads it back', () => {
    const out = join(dir, 'pruned.keras');
    const model = built('safetensors', 'dfdx-mnist', 'mnist.safetensors');
    const pruned = cli('prune', model, '--strategy', 'unit-l2', '--sparsity', '0.5', '--out', out);
    assert.equal(pruned.code, 0, pruned.stderr);
    const shown = cli('inspect', out, '--json');
    assert.equal(shown.code, 0, shown.stderr);
    const summary = JSON.parse(shown.stdout) as { format: string; layers: { units: number }[] };
    assert.equal(summary.format, 'keras');
    // unit-l2 at 50% halves every hidden layer; the 10 outputs stay.
    const original = JSON.parse(cli('inspect', model, '--json').stdout) as { layers: { units: number }[] };
    summary.layers.forEach((l, i) => {
      const want = i === original.layers.length - 1 ? original.layers[i].units : Math.round(original.layers[i].units / 2);
      assert.equal(l.units, want, `layer ${i}`);
    });
  });
});
