import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { makeDataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { obdSaliencies } from './obd';
import { magnitudeStrategy, obdStrategy } from './registry';
import type { UnstructuredPlan } from './strategy';
import { handLayer, handMLP } from '../../../test/kits/prune';

describe('obd (Optimal Brain Damage, empirical Fisher diagonal)', () => {
  before(async () => {
    await initBackend();
  });

  // One linear softmax layer, pruned with includeOutput. Input 1 is tiny (±0.01), so the big
  // weights it feeds barely move the loss: OBD removes them, magnitude removes the small ones.
  const model = () => handMLP('lin', [handLayer('out', 2, 2, [0.2, -0.2, 3, -3], 'linear')]);
  const x = [
    [1, 0.01],
    [2, -0.01],
  ];
  const labels = [0, 1];
  const samples = makeDataset('hand', Float32Array.from(x.flat()), Int32Array.from(labels), [2]);

  /** ½ w² mean_s (x_si (p_sj - y_sj))², the per-sample gradient of a linear softmax layer written out. */
  function expectedSaliency(w: number[]): number[] {
    const fisher = [0, 0, 0, 0];
    x.forEach((xs, s) => {
      const z = [0, 1].map((j) => xs[0] * w[j] + xs[1] * w[2 + j]);
      const e = z.map(Math.exp);
      const p = e.map((v) => v / (e[0] + e[1]));
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) fisher[i * 2 + j] += (xs[i] * (p[j] - (labels[s] === j ? 1 : 0))) ** 2 / 2;
    });
    return fisher.map((f, k) => 0.5 * f * w[k] * w[k]);
  }

  it('scores ½ w² × Fisher diagonal, removes the lowest, and differs from magnitude', () => {
    const mlp = model();
    const expected = expectedSaliency([0.2, -0.2, 3, -3]);
    // By hand: F = [.991526, .991526, 3.0404e-5, 3.0404e-5], so ½ F w² = [.0198305, .0198305, 1.3682e-4, 1.3682e-4].
    [0.0198305, 0.0198305, 1.3682e-4, 1.3682e-4].forEach((v, k) => assert.ok(Math.abs(expected[k] - v) < 1e-3 * v));
    const { scores, n } = obdSaliencies('obd', mlp, { sparsity: 0.5, samples }, [0]);
    assert.equal(n, 2);
    scores.get(0)!.forEach((s, k) => assert.ok(Math.abs(s - expected[k]) <= 1e-5 * expected[k], `saliency ${k}: ${s} vs ${expected[k]}`));

    const plan = obdStrategy.plan(mlp, { sparsity: 0.5, includeOutput: true, samples }) as UnstructuredPlan;
    assert.deepEqual([...plan.masks[0]!], [1, 1, 0, 0]);
    assert.deepEqual(
      [...(magnitudeStrategy.plan(mlp, { sparsity: 0.5, includeOutput: true }) as UnstructuredPlan).masks[0]!],
      [0, 0, 1, 1],
    );
    assert.ok(plan.notes.some((note) => /obd: Fisher diagonal from the first 2 samples of hand/.test(note)));
  });

  it('does not depend on the batch size, unlike a squared mean gradient', () => {
    const mlp = model();
    const one = obdSaliencies('obd', mlp, { sparsity: 0.5, samples, batchSize: 1 }, [0]).scores.get(0)!;
    const two = obdSaliencies('obd', mlp, { sparsity: 0.5, samples, batchSize: 2 }, [0]).scores.get(0)!;
    one.forEach((v, k) => assert.ok(Math.abs(v - two[k]) <= 1e-6 * v, `saliency ${k}: ${v} vs ${two[k]}`));
  });

  it('needs samples and a classifier output', () => {
    assert.throws(
      () => obdStrategy.plan(model(), { sparsity: 0.5, includeOutput: true }),
      (e: Error) => e instanceof PruneScopeError && /strategy obd needs samples/.test(e.message),
    );
    const mlp = model();
    mlp.layers[0].activation = 'tanh';
    assert.throws(
      () => obdStrategy.plan(mlp, { sparsity: 0.5, includeOutput: true, samples }),
      (e: Error) => e instanceof PruneScopeError && /obd needs .*output layer out \(position 0\) uses tanh.*use magnitude/.test(e.message),
    );
  });
});
