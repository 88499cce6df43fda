import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { built } from '../../../test/kits/encode/models';
import { initBackend } from '../backend';
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
