import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { mnistRows } from '../../../test/kits/encode/mnist';
import { built, builtNet } from '../../../test/kits/encode/models';
import { accuracyAndLoss, argmaxRow, forward, type Net } from '../../../test/kits/encode/reference';
import { initBackend, initEngine } from '../backend';
import { onnxRuntime } from '../engine/onnxruntime';
import { encodeNpy } from '../io/npy';
import { parseResults, type ComparisonResults } from '../results/format';
import { runComparison } from './compare';

before(async () => {
  await initBackend();
});

describe('runComparison', () => {
  test('geometry of an earlier comparison of the same files on the same rows is reused; anything else is computed afresh', async () => {
    const options = {
      modelA: built('onnx', 'mnist2x10.onnx'),
      modelB: built('onnx', 'mnist2x5_sigmoid.onnx'),
      data: 'mnist',
      samples: 200,
    };
    const first = await runComparison(options);
    const geometry = first.a.geometry!;
    assert.equal(geometry.length, 2);
    assert.ok(geometry.every((g) => g.applies));
    // Sigmoid layers have no APoZ order: B's entries say so and are decided again each time.
    assert.ok(first.b.geometry!.every((g) => !g.applies));

    // A value no computation produces shows which curves were taken from the earlier results.
    const marked = structuredClone(first);
    const curve = (r: ComparisonResults, layer: number) => {
      const g = r.a.geometry![layer];
      assert.ok(g.applies);
      return g.ascending;
    };
    curve(marked, 0)[0].r2 = 0.123456;

    const switched = await runComparison({ ...options, metric: 'svcca', previous: marked });
    assert.equal(switched.metric, 'svcca');
    assert.equal(curve(switched, 0)[0].r2, 0.123456);
    assert.deepEqual(switched.a.geometry![1], geometry[1]);
    assert.deepEqual(switched.b.geometry, first.b.geometry);

    const fewerRows = await runComparison({ ...options, samples: 150, previous: marked });
    assert.notEqual(curve(fewerRows, 0)[0].r2, 0.123456);

    const otherStep = await runComparison({ ...options, geometry: { step: 3 }, previous: marked });
    assert.notEqual(curve(otherStep, 0)[0].r2, 0.123456);

    const otherFile = structuredClone(marked);
    otherFile.a.model.sha256 = 'f'.repeat(64);
    const recomputed = await runComparison({ ...options, previous: otherFile });
    // Computed afresh, the curves are the first run's exactly: reuse changes no number.
    assert.deepEqual(recomputed.a.geometry, geometry);
  });
});

/** What a reader of the written files knows without the product: counts from the kit's own weights. */
function referenceSize(net: Net): { parameters: number; nonzeroParameters: number; flops: number; onnxBytes: number } {
  let weights = 0;
  let nonzero = 0;
  let biases = 0;
  for (const l of net.layers) {
    weights += l.w.length;
    nonzero += l.w.filter((w) => w !== 0).length;
    biases += l.bias?.length ?? 0;
  }
  // Dense float32 tensors: these kernels have too few zeros for the writer to store them sparse.
  return { parameters: weights + biases, nonzeroParameters: nonzero + biases, flops: 2 * nonzero, onnxBytes: 4 * (weights + biases) };
}

/** Share of rows on which the two networks' outputs have the same argmax. */
function referenceAgreement(a: Net, b: Net, x: Float32Array, n: number): number {
  const [ya, yb] = [forward(a, x, n), forward(b, x, n)];
  const [ka, kb] = [a.layers[a.layers.length - 1].units, b.layers[b.layers.length - 1].units];
  let same = 0;
  for (let r = 0; r < n; r++) if (argmaxRow(ya, r * ka, ka) === argmaxRow(yb, r * kb, kb)) same++;
  return same / n;
}

/** `runComparison`'s accuracy, loss, agreement and size against the kit's float64 reference on the same rows. */
async function assertMatchesReference(results: ComparisonResults, split: 'validation' | 'test', n: number): Promise<void> {
  assert.equal(results.dataset.activationSplit, split);
  assert.equal(results.dataset.activationSamples, n);
  const rows = mnistRows(split, 0, n);
  const nets = { a: builtNet('onnx', 'mnist2x10.onnx'), b: builtNet('onnx', 'mnist2x5_sigmoid.onnx') };
  for (const side of ['a', 'b'] as const) {
    const want = accuracyAndLoss(nets[side], rows.x, rows.y, n);
    const got = results[side].evaluation!;
    // float32 forward passes against float64: a near tie may flip one row.
    assert.ok(Math.abs(got.accuracy - want.accuracy) <= 1 / n + 1e-12, `${side} accuracy ${got.accuracy} vs ${want.accuracy}`);
    assert.ok(Math.abs(got.loss - want.loss) < 1e-4, `${side} loss ${got.loss} vs ${want.loss}`);
    assert.deepEqual(results[side].size, referenceSize(nets[side]));
  }
  const agreement = referenceAgreement(nets.a, nets.b, rows.x, n);
  assert.ok(Math.abs(results.agreement! - agreement) <= 1 / n + 1e-12, `agreement ${results.agreement} vs ${agreement}`);
  // Two different networks: neither everything nor nothing agrees, so the check can tell.
  assert.ok(agreement > 0.3 && agreement < 1, `agreement ${agreement}`);
}

describe('runComparison: accuracy, loss, agreement and size of A and B', () => {
  test('equal an independent evaluation of each model on the compared rows, on the default and on a named split', async () => {
    const options = {
      modelA: built('onnx', 'mnist2x10.onnx'),
      modelB: built('onnx', 'mnist2x5_sigmoid.onnx'),
      data: 'mnist',
      geometry: false as const,
    };
    await assertMatchesReference(await runComparison({ ...options, samples: 300 }), 'validation', 300);
    const onTest = await runComparison({ ...options, samples: 250, split: 'test', activationSplit: 'test' });
    await assertMatchesReference(onTest, 'test', 250);
    // What it wrote reads back, with the new fields.
    const reread = parseResults(JSON.stringify(onTest), 'results.json');
    assert.equal(reread.kind, 'comparison');
    assert.deepEqual(reread, onTest);
    // A file written before these fields existed still reads, without them.
    const { agreement, ...older } = structuredClone(onTest);
    assert.equal(typeof agreement, 'number');
    for (const side of [older.a, older.b]) {
      delete side.evaluation;
      delete side.size;
    }
    const old = parseResults(JSON.stringify(older), 'old-results.json');
    assert.ok(old.kind === 'comparison' && old.agreement === undefined && old.a.evaluation === undefined && old.b.size === undefined);
    // A malformed new field is refused, naming where.
    const bad = structuredClone(onTest);
    bad.a.evaluation!.accuracy = 1.5;
    assert.throws(() => parseResults(JSON.stringify(bad), 'bad.json'), /bad\.json: malformed results at a\.evaluation\.accuracy/);
  });

  test('unlabelled rows give no accuracy, loss or agreement, and still the size of both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prunescope-compare-unlabelled-'));
    try {
      const rows = mnistRows('test', 0, 150);
      const file = join(dir, 'x.npy');
      writeFileSync(file, encodeNpy({ dtype: 'float32', shape: [150, 784], data: rows.x }));
      const r = await runComparison({
        modelA: built('onnx', 'mnist2x10.onnx'),
        modelB: built('onnx', 'mnist2x5_sigmoid.onnx'),
        data: file,
        geometry: false,
      });
      assert.deepEqual([r.dataset.activationSplit, r.dataset.activationSamples], ['test', 150]);
      assert.equal(r.agreement, undefined);
      assert.equal(r.a.evaluation, undefined);
      assert.equal(r.b.evaluation, undefined);
      assert.deepEqual(r.b.size, referenceSize(builtNet('onnx', 'mnist2x5_sigmoid.onnx')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the same model on both sides agrees on every row and has equal numbers', async () => {
    const model = built('onnx', 'mnist2x10.onnx');
    const r = await runComparison({ modelA: model, modelB: model, data: 'mnist', samples: 120, geometry: false });
    assert.equal(r.agreement, 1);
    assert.deepEqual(r.a.evaluation, r.b.evaluation);
    assert.deepEqual(r.a.size, r.b.size);
  });
});

describe('runComparison on onnxruntime', { skip: onnxRuntime() ? false : 'onnxruntime-node does not load here' }, () => {
  test('linear CKA of A against B and of each against itself, from one self product, equals the three taken apart', async () => {
    const options = {
      modelA: built('onnx', 'mnist2x10.onnx'),
      modelB: built('onnx', 'mnist2x5_sigmoid.onnx'),
      data: 'mnist',
      samples: 1500,
      geometry: false as const,
    };
    await initEngine('wasm');
    const apart = await runComparison(options);
    await initEngine('onnxruntime');
    const together = await runComparison(options);
    await initEngine('wasm');
    for (const [name, got, want] of [
      ['cross', together.cross, apart.cross],
      ['A', together.a.selfSimilarity, apart.a.selfSimilarity],
      ['B', together.b.selfSimilarity, apart.b.selfSimilarity],
    ] as const) {
      assert.deepEqual([got.length, got[0].length], [want.length, want[0].length], name);
      got.forEach((row, i) =>
        row.forEach((v, j) => assert.ok(Math.abs(v! - want[i][j]!) < 1e-5, `${name}[${i}][${j}]: ${v} vs ${want[i][j]}`)),
      );
    }
    // Evaluated on each engine: the same numbers up to float32 rounding.
    for (const side of ['a', 'b'] as const) {
      assert.ok(Math.abs(together[side].evaluation!.loss - apart[side].evaluation!.loss) < 1e-4, side);
      assert.ok(Math.abs(together[side].evaluation!.accuracy - apart[side].evaluation!.accuracy) <= 1 / 1500, side);
    }
    assert.ok(Math.abs(together.agreement! - apart.agreement!) <= 1 / 1500);
    // Not the same matrix three times: A against B differs from A against itself.
    assert.ok(Math.abs(together.cross[0][0]! - together.a.selfSimilarity[0][0]!) > 1e-3);
  });
});
