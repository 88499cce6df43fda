import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { compat, fixture } from '../../../test/fixtures';
import { built } from '../../../test/kits/encode/models';
import { initBackend } from '../backend';
import type { Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { readModel } from '../formats/registry';
import { linearCKA } from '../metrics/cka';
import { matrix } from '../metrics/matrix';
import { layerActivations } from '../model/activations';
import { denseLinear } from '../model/forward';
import type { MLP } from '../model/mlp';
import { centeredGram, ckaCurve, ckaOrder, pickBest, type CkaVariant } from './cka-fast';
import { ckaGreedyStrategy, ckaStrategy } from './registry';
import { ablateColumns, ckaOrderReference, ckaStepScoresReference, linearCkaReference } from './cka-reference';
import type { StructuredPlan } from './strategy';
import { correlatedOutputs, maxAbsDiff, mnistRows, randomMLP } from '../../../test/kits/prune';

/** Fast and reference agree on the whole removal order; returns the largest score difference. */
function assertSameOrder(
  z: Float32Array,
  n: number,
  p: number,
  bias: Float32Array | null,
  k: number,
  variant: CkaVariant,
  what: string,
): number {
  const fast = ckaOrder(z, n, p, k, variant);
  const ref = ckaOrderReference(z, n, p, bias, k, variant);
  assert.equal(fast.order.length, k);
  assert.deepEqual(fast.order, ref.order, `${what}: ${variant} order`);
  const diff = maxAbsDiff(fast.scores, ref.scores);
  assert.ok(diff < 1e-12, `${what}: scores differ by ${diff}`);
  return diff;
}

/** Pre-activation outputs of one layer (row-major [n, units]) on the given samples. */
function preActivations(mlp: MLP, layer: number, ds: Dataset, n: number): Float32Array {
  return layerActivations(mlp, ds.x, n, { layers: [layer], pre: true, post: false })[0].pre!;
}

describe('fast CKA pruning equals the straightforward reference', () => {
  let mnist: Dataset;
  let trained: MLP;

  before(async () => {
    await initBackend();
    mnist = await mnistRows(512);
    // An MNIST MLP in dfdx's layout (784-512-128-32-10 ReLU) whose units look at digits, from the test encoder.
    trained = await readModel(built('safetensors', 'dfdx-mnist', 'mnist.safetensors'));
  });

  it('cka: 256 correlated random neurons, n = 128, to 90%', () => {
    assertSameOrder(correlatedOutputs(128, 256, 11), 128, 256, null, 230, 'cka', 'random 256');
  });

  it('cka: 256 neurons of a random-init layer on real MNIST, n = 128', () => {
    const mlp = randomMLP([784, 256, 10], 'relu', 12);
    assertSameOrder(preActivations(mlp, 0, mnist, 128), 128, 256, mlp.layers[0].bias, 230, 'cka', 'mnist random-init 256');
  });

  it("cka: the 128-unit layer of an MNIST MLP in dfdx's layout, n = 256", () => {
    assertSameOrder(preActivations(trained, 1, mnist, 256), 256, 128, trained.layers[1].bias, 115, 'cka', 'trained 128');
  });

  it('cka-greedy: full runs to 90% on random and real layers', () => {
    assertSameOrder(correlatedOutputs(64, 64, 13), 64, 64, null, 58, 'cka-greedy', 'random 64');
    assertSameOrder(preActivations(trained, 2, mnist, 256), 256, 32, trained.layers[2].bias, 29, 'cka-greedy', 'trained 32');
    assertSameOrder(preActivations(trained, 1, mnist, 32), 32, 128, trained.layers[1].bias, 115, 'cka-greedy', 'trained 128 (n = 32)');
  });

  it('cka and cka-greedy on the layers of the trained dfdx MLP (the third-party file)', compat(), async () => {
    const dfdx = await readModel(fixture('safetensors', 'dfdx-mnist', 'mnist.safetensors'));
    assertSameOrder(preActivations(dfdx, 1, mnist, 256), 256, 128, dfdx.layers[1].bias, 115, 'cka', 'dfdx 128');
    assertSameOrder(preActivations(dfdx, 2, mnist, 256), 256, 32, dfdx.layers[2].bias, 29, 'cka-greedy', 'dfdx 32');
    assertSameOrder(preActivations(dfdx, 1, mnist, 32), 32, 128, dfdx.layers[1].bias, 115, 'cka-greedy', 'dfdx 128 (n = 32)');
  });

  it('cka-greedy: 256 neurons, full run to 90% with few samples (n = 8, rank-deficient)', () => {
    const mlp = randomMLP([784, 256, 10], 'relu', 14);
    assertSameOrder(preActivations(mlp, 0, mnist, 8), 8, 256, mlp.layers[0].bias, 230, 'cka-greedy', 'mnist random-init 256, n = 8');
  });

  it('cka-greedy: 256 neurons, n = 128, every candidate re-scored by the reference at sampled steps', () => {
    const mlp = randomMLP([784, 256, 10], 'relu', 15);
    const n = 128;
    const p = 256;
    const z = preActivations(mlp, 0, mnist, n);
    const bias = mlp.layers[0].bias;
    const seen = new Map<number, Float64Array>();
    const fast = ckaOrder(z, n, p, 230, 'cka-greedy', (t, scores) => {
      if (t === 0 || t === 120 || t === 229) seen.set(t, new Float64Array(scores));
    });
    for (const [t, fastScores] of seen) {
      const removed = fast.order.slice(0, t);
      const alive = new Uint8Array(p).fill(1);
      for (const u of removed) alive[u] = 0;
      const scores = ckaStepScoresReference(z, n, p, bias, removed);
      const best = pickBest(scores, alive);
      assert.equal(fast.order[t], best, `step ${t}`);
      for (let i = 0; i < p; i++) if (alive[i]) assert.ok(Math.abs(fastScores[i] - scores[i]) < 1e-12, `step ${t}, neuron ${i}`);
    }
    assert.equal(seen.size, 3);
  });

  it('ties: duplicated, negated and dead neurons go lowest index first, in both', () => {
    const n = 64;
    const base = correlatedOutputs(n, 40, 16);
    // 48 columns: 0..39 base, then copies that make exact ties.
    const p = 48;
    const z = new Float32Array(n * p);
    const src = [...Array(40).keys(), 3, 3, 17, 25, 25, -1, -1, 9];
    for (let r = 0; r < n; r++) {
      src.forEach((s, j) => {
        if (s < 0)
          z[r * p + j] = 0.25; // dead: constant output
        else if (j === 47)
          z[r * p + j] = -z[r * p + s]; // negated copy of 9
        else z[r * p + j] = base[r * 40 + s];
      });
    }
    const bias = Float32Array.from({ length: p }, (_, j) => (j === 45 || j === 46 ? 0.25 : 0.1 * j));
    const one = ckaOrder(z, n, p, 40, 'cka');
    // Exact ties in the fast scores: copies of a neuron score bit-for-bit alike.
    for (const [a, b] of [
      [3, 40],
      [3, 41],
      [17, 42],
      [25, 43],
      [25, 44],
      [45, 46],
      [9, 47],
    ]) {
      assert.equal(one.scores[a], one.scores[b], `neurons ${a} and ${b}`);
    }
    // Dead neurons change nothing: score 1 (to rounding), removed first, lowest index first.
    assert.ok(Math.abs(one.scores[45] - 1) < 1e-15);
    assert.deepEqual(one.order.slice(0, 2), [45, 46]);
    const pos = (u: number) => one.order.indexOf(u);
    for (const [a, b] of [
      [3, 40],
      [40, 41],
      [25, 43],
      [9, 47],
    ])
      if (pos(b) >= 0) assert.ok(pos(a) >= 0 && pos(a) < pos(b));
    for (const variant of ['cka', 'cka-greedy'] as const) assertSameOrder(z, n, p, bias, 40, variant, 'ties');
  });

  it('degenerate layers: no variance at all, or a single varying neuron', () => {
    const n = 16;
    const p = 6;
    const flat = new Float32Array(n * p).fill(0.5);
    for (const variant of ['cka', 'cka-greedy'] as const) {
      assert.deepEqual(ckaOrder(flat, n, p, 5, variant).order, [0, 1, 2, 3, 4]);
      assertSameOrder(flat, n, p, null, 5, variant, 'constant');
    }
    const single = new Float32Array(n * p).fill(1);
    for (let r = 0; r < n; r++) single[r * p + 4] = r;
    const one = ckaOrder(single, n, p, 5, 'cka-greedy');
    assert.deepEqual(one.order, [0, 1, 2, 3, 5]);
    assert.equal(one.scores[4], 1);
    assertSameOrder(single, n, p, null, 5, 'cka-greedy', 'single varying');
    // Removing the only varying neuron leaves nothing: score exactly 0.
    assert.equal(ckaOrder(single, n, p, 1, 'cka').scores[4], 0);
  });

  it('a dominant neuron (1e6 times the others): same order, and every candidate scored like the reference', () => {
    const n = 48;
    const p = 40;
    const z = correlatedOutputs(n, p, 17);
    for (let r = 0; r < n; r++) z[r * p + 6] *= 1e6;
    for (const variant of ['cka', 'cka-greedy'] as const) assertSameOrder(z, n, p, null, 36, variant, 'dominant');
    // The dominant neuron's own score cancels in the O(1) update, so it takes the careful path.
    const removed: number[] = [];
    let checked = 0;
    ckaOrder(z, n, p, 36, 'cka-greedy', (t, scores, alive) => {
      if (t % 7 === 0 || t === 35) {
        const ref = ckaStepScoresReference(z, n, p, null, removed);
        for (let i = 0; i < p; i++)
          if (alive[i]) assert.ok(Math.abs(scores[i] - ref[i]) < 1e-12, `step ${t}, neuron ${i}: ${scores[i]} vs ${ref[i]}`);
        checked++;
      }
      removed.push(pickBest(scores, alive));
    });
    assert.equal(checked, 6);
  });

  it("ablation by writing the bias equals a forward pass with the neuron's weights zeroed", () => {
    const mlp = randomMLP([784, 24, 10], 'relu', 18);
    const n = 64;
    const z = preActivations(mlp, 0, mnist, n);
    const gone = [2, 5, 23];
    const w = new Float32Array(mlp.layers[0].weights);
    for (let i = 0; i < 784; i++) for (const j of gone) w[i * 24 + j] = 0;
    const recomputed = tf.tidy(() =>
      denseLinear(
        tf.tensor2d(mnist.x.subarray(0, n * 784), [n, 784]),
        tf.tensor2d(w, [784, 24]),
        tf.tensor1d(mlp.layers[0].bias!),
      ).dataSync(),
    );
    const ablated = ablateColumns(z, n, 24, mlp.layers[0].bias, gone);
    for (let r = 0; r < n; r++) for (const j of gone) assert.equal(recomputed[r * 24 + j], ablated[r * 24 + j]);
    assert.ok(maxAbsDiff(recomputed, ablated) < 1e-5);
  });

  it("the reference linear CKA equals the metrics module's, in both of its forms", () => {
    const n = 96;
    const p = 40;
    const z = correlatedOutputs(n, p, 22);
    const y = ablateColumns(z, n, p, null, [1, 5, 7, 30]);
    const ours = linearCkaReference(z, y, n, p);
    for (const form of ['feature', 'gram'] as const) {
      const theirs = linearCKA(matrix(z, n, p), matrix(y, n, p), { form, engine: 'float64' });
      assert.ok(Math.abs(ours - theirs) < 1e-12, `${form}: ${ours} vs ${theirs}`);
    }
    assert.ok(ours < 1 - 1e-4);
  });

  it('the CKA curve follows the reference CKA of each prefix', () => {
    const n = 64;
    const p = 32;
    const z = correlatedOutputs(n, p, 19);
    const { order } = ckaOrder(z, n, p, 28, 'cka');
    const curve = ckaCurve(centeredGram(z, n, p), p, order);
    for (const t of [0, 5, 27]) {
      const ref = linearCkaReference(z, ablateColumns(z, n, p, null, order.slice(0, t + 1)), n, p);
      assert.ok(Math.abs(curve[t] - ref) < 1e-12, `t = ${t}`);
    }
  });
});

describe('CKA strategies', () => {
  let mnist: Dataset;
  before(async () => {
    await initBackend();
    mnist = await mnistRows(600);
  });

  it('prune every hidden layer on the first 512 samples by default, layer by layer on the original outputs', () => {
    const mlp = randomMLP([784, 40, 30, 10], 'relu', 20);
    for (const strategy of [ckaStrategy, ckaGreedyStrategy]) {
      const plan = strategy.plan(mlp, { sparsity: [0.5, 0.9], samples: mnist }) as StructuredPlan;
      assert.equal(plan.kind, 'structured');
      assert.ok(plan.notes.some((n) => n === `${strategy.id}: scored on the first 512 samples of ${mnist.source}`));
      assert.deepEqual(
        plan.order.map((o) => o.length),
        [20, 27, 0],
      );
      const acts = layerActivations(mlp, mnist.x, 512, { layers: [0, 1], pre: true, post: false });
      acts.forEach((a) => {
        const expected = ckaOrder(a.pre!, 512, a.units, plan.order[a.layer].length, strategy.id).order;
        assert.deepEqual(plan.order[a.layer], expected);
        assert.deepEqual(
          plan.remove[a.layer],
          [...expected].sort((x, y) => x - y),
        );
      });
      assert.equal(plan.curves![0]!.length, 20);
    }
    const fewer = ckaStrategy.plan(mlp, { sparsity: 0.5, samples: mnist, sampleCount: 100 });
    assert.ok(fewer.notes[0].includes('first 100 samples'));
  });

  it('explain what is missing or impossible', () => {
    const mlp = randomMLP([784, 8, 10], 'relu', 21);
    assert.throws(
      () => ckaStrategy.plan(mlp, { sparsity: 0.5 }),
      (e: Error) => e instanceof PruneScopeError && /cka needs samples/.test(e.message),
    );
    const soft = randomMLP([784, 8, 10], ['softmax', 'linear'], 21);
    assert.throws(() => ckaGreedyStrategy.plan(soft, { sparsity: 0.5, samples: mnist }), /layer dense_0 \(position 0\) uses softmax/);
  });
});
