import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../../test/fixtures';
import { randomMLP } from '../../../test/kits/onnx';
import { writeModel } from '../formats/registry';
import { encodeNpz } from '../io/npy';
import { deflateZeros, GiB, gzipZeros, idxHeader, npyHeader, zipRaw } from '../../../test/kits/bombs';

// Decompression bombs through the real CLI (the built bundle, as a person runs it): exit code 1,
// the data file named on stderr, no stack trace, and an answer (a run that is still inflating after
// the spawn's time-out is killed and fails on its exit code; speed itself is not asserted here).

const bin = join(repoRoot, 'bin', 'prunescope.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PRUNESCOPE_MAX_DATA_BYTES: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function refusedCleanly(r: ReturnType<typeof cli>, file: string, pattern: RegExp) {
  assert.equal(r.code, 1, `exit code ${r.code}; stderr:\n${r.stderr}`);
  assert.ok(r.stderr.includes(file), `stderr names ${file}:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${r.stderr}`);
}

let dir: string;
let model: string;
before(async () => {
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  dir = mkdtempSync(join(tmpdir(), 'prunescope-bombs-cli-'));
  model = join(dir, 'mnist-mlp.onnx'); // 784 inputs, 10 outputs
  await writeModel(randomMLP([784, 10, 10], ['relu', 'linear'], 3), model);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('prunescope evaluate on decompression bombs', () => {
  it('an npz entry declaring 31 KB that inflates to 1 GiB: exit 1, file named', () => {
    const header = npyHeader('|u1', [40, 784]);
    const p = join(dir, 'bomb.npz');
    writeFileSync(p, zipRaw([{ name: 'x_test.npy', data: deflateZeros(header, GiB), method: 8, size: header.length + 40 * 784 }]));
    const r = cli('evaluate', model, '--data', p);
    refusedCleanly(r, `${p}:x_test.npy`, /inflates past the 31,488 bytes its zip entry declares/);
  });

  it('a gz IDX whose header says 10 images but which inflates to 1 GiB: exit 1, file named', () => {
    const d = join(dir, 'mnist-bomb');
    mkdirSync(d);
    const p = join(d, 't10k-images-idx3-ubyte.gz');
    writeFileSync(p, gzipZeros(idxHeader([10, 28, 28]), GiB));
    for (const data of [p, d]) {
      const r = cli('evaluate', model, '--data', data);
      refusedCleanly(r, p, /gzip data inflates past the 7,856 bytes its IDX header declares \(10x28x28 ubyte\)/);
    }
  });

  it('honest files of the same shapes still evaluate', () => {
    const p = join(dir, 'ok.npz');
    writeFileSync(
      p,
      encodeNpz({
        x_test: { dtype: 'uint8', shape: [40, 28, 28], data: new Uint8Array(40 * 784) },
        y_test: { dtype: 'uint8', shape: [40], data: new Uint8Array(40) },
      }),
    );
    const r = cli('evaluate', model, '--data', p, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).samples, 40);
  });
});
