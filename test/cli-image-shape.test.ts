import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeNpy } from '../src/core/io/npy';
import { parseResults } from '../src/core/results/format';
import { repoRoot } from './fixtures';
import { mnistRows } from './kits/encode/mnist';
import { built } from './kits/encode/models';

// `analyze --image-shape` as a person runs it: the built bundle through bin/prunescope.js, on a
// model and a dataset that both store flat 784-value samples, so only the flag says they are images.
const bin = join(repoRoot, 'bin', 'prunescope.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let model: string;
before(async () => {
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  dir = mkdtempSync(join(tmpdir(), 'prunescope-image-shape-'));
  // safetensors stores no input shape: the reader gives [784].
  model = join(dir, 'model.safetensors');
  copyFileSync(built('safetensors', 'dfdx-mnist', 'mnist.safetensors'), model);
  mkdirSync(join(dir, 'data'));
  const rows = mnistRows('test', 0, 200);
  await writeNpy(join(dir, 'data', 'x.npy'), rows.x, [rows.n, 784]);
  await writeNpy(join(dir, 'data', 'y.npy'), Float32Array.from(rows.y), [rows.n]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const analyze = (out: string, ...extra: string[]) =>
  cli(
    'analyze',
    model,
    '--data',
    join(dir, 'data'),
    '--strategies',
    'magnitude',
    '--sparsities',
    '0,0.9',
    '--samples',
    '100',
    '--geometry-samples',
    '0',
    ...extra,
    '--out',
    join(dir, out),
  );

function analysis(out: string) {
  const r = parseResults(readFileSync(join(dir, out, 'results.json'), 'utf8'), 'results.json');
  assert.equal(r.kind, 'analysis');
  if (r.kind !== 'analysis') throw new Error('not an analysis');
  return r;
}

describe('prunescope analyze --image-shape', () => {
  it('without it, flat samples get no locality; with 28x28 the first layer is measured as a 28 x 28 image', () => {
    const plain = analyze('plain');
    assert.equal(plain.code, 0, plain.stderr);
    const none = analysis('plain');
    assert.equal(none.baseline.locality, undefined);
    assert.equal(none.baseline.weightMaps, undefined);

    const r = analyze('shaped', '--image-shape', '28x28');
    assert.equal(r.code, 0, r.stderr);
    const res = analysis('shaped');
    const base = res.baseline.locality!;
    assert.deepEqual(base.image, { height: 28, width: 28, channels: 1, layout: 'hwc', source: 'option' });
    // The original keeps every weight, so its spread is its own random reference: ratio exactly 1.
    assert.equal(base.medianRatio, 1);
    assert.equal(res.baseline.weightMaps?.height, 28);
    assert.equal(res.baseline.weightMaps?.width, 28);
    const points = res.runs[0].points;
    assert.deepEqual(
      points.map((p) => p.sparsity),
      [0, 0.9],
    );
    for (const p of points) assert.equal(p.locality?.image.source, 'option', `locality at ${p.sparsity}`);
    // At 90% magnitude pruning the kept weights of this MNIST layer sit closer together than random masks.
    const ratio = points[1].locality!.medianRatio;
    assert.ok(ratio !== null && ratio < 1, `median ratio ${ratio}`);
  });

  it('channels first (1x28x28) reads the same pixels; a malformed value or one that does not fit is refused', () => {
    const r = analyze('chw', '--image-shape', '1x28x28');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(analysis('chw').baseline.locality!.image, { height: 28, width: 28, channels: 1, layout: 'chw', source: 'option' });

    const malformed = analyze('bad1', '--image-shape', '28*28');
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /--image-shape must be HxW or HxWxC in whole numbers, e.g. 28x28 or 32x32x3; got "28\*28"/);
    const notImage = analyze('bad2', '--image-shape', '28x28x5');
    assert.equal(notImage.code, 2);
    assert.match(notImage.stderr, /--image-shape 28x28x5: not an image/);
    const wrongSize = analyze('bad3', '--image-shape', '28x27');
    assert.equal(wrongSize.code, 1);
    assert.match(wrongSize.stderr, /image shape 28x27 has 756 values but the model has 784 inputs/);
    for (const bad of [malformed, notImage, wrongSize]) {
      assert.doesNotMatch(bad.stderr, /internal error|\n\s+at .+:\d+:\d+/);
    }
  });
});
