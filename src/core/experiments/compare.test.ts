import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { built } from '../../../test/kits/encode/models';
import { initBackend, initEngine } from '../backend';
import { onnxRuntime } from '../engine/onnxruntime';
import type { ComparisonResults } from '../results/format';
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
    // Not the same matrix three times: A against B differs from A against itself.
    assert.ok(Math.abs(together.cross[0][0]! - together.a.selfSimilarity[0][0]!) > 1e-3);
  });
});
