import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { built } from '../../../test/kits/encode/models';
import { initBackend } from '../backend';
import type { Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { readModel } from '../formats/registry';
import { predict } from '../model/forward';
import { validateMLP, type MLP } from '../model/mlp';
import { applyPlan, maskedEquivalent } from './apply';
import { ckaGreedyStrategy, magnitudeStrategy, randomStrategy, unitL2Strategy } from './registry';
import type { StructuredPlan, UnstructuredPlan } from './strategy';
import { maxAbsDiff, mnistRows, randomMLP } from '../../../test/kits/prune';

function snapshot(mlp: MLP): Float32Array[] {
  return mlp.layers.flatMap((l) => [new Float32Array(l.weights), new Float32Array(l.bias ?? [])]);
}

/** Masked and shrunk networks give the same outputs on real data. */
function assertSameFunction(mlp: MLP, plan: StructuredPlan, data: Dataset, what: string): void {
  const shrunk = applyPlan(mlp, plan).mlp;
  validateMLP(shrunk);
  const masked = maskedEquivalent(mlp, plan);
  const a = predict(masked, data.x, data.n);
  const b = predict(shrunk, data.x, data.n);
  const d = maxAbsDiff(a, b);
  // 1e-5, relative to the output scale once outputs exceed 1 (the trained dfdx MLP had logits in the thousands).
  const scale = Math.max(1, ...Array.from(a, Math.abs));
  assert.ok(d < 1e-5 * scale, `${what}: masked and shrunk outputs differ by ${d} (outputs up to ${scale})`);
  // And the pruning did something: the masked network is not the original.
  assert.ok(maxAbsDiff(a, predict(mlp, data.x, data.n)) > 1e-3, `${what}: pruning changed nothing`);
}

describe('applying a plan', () => {
  let data: Dataset;
  before(async () => {
    await initBackend();
    data = await mnistRows(500, 'test');
  });

  it('unstructured: zeroes exactly the masked weights of a copy and reports sparsity and FLOPs', () => {
    const mlp = randomMLP([784, 64, 32, 10], 'relu', 30);
    const before = snapshot(mlp);
    const plan = magnitudeStrategy.plan(mlp, { sparsity: [0.75, 0.5] }) as UnstructuredPlan;
    const res = applyPlan(mlp, plan);
    assert.deepEqual(snapshot(mlp), before, 'source untouched');
    res.mlp.layers.forEach((layer, l) => {
      const m = plan.masks[l];
      layer.weights.forEach((w, i) => assert.equal(w, m && m[i] === 0 ? 0 : mlp.layers[l].weights[i]));
      assert.deepEqual(layer.bias, mlp.layers[l].bias);
    });
    const [s0, s1, s2] = res.layers;
    assert.equal(s0.sparsity, 0.75);
    assert.equal(s1.sparsity, 0.5);
    assert.equal(s2.sparsity, 0);
    assert.equal(s0.flopsBefore, 2 * 784 * 64);
    assert.equal(s0.flops, 2 * 784 * 64 * 0.25);
    assert.equal(s0.params, 784 * 64 + 64);
    assert.equal(s0.nonzeroParams, 784 * 64 * 0.25 + 64);
    assert.equal(s0.unitsAfter, 64);
    assert.equal(res.totals.flops, 2 * (784 * 16 + 32 * 64 * 0.5 + 320));
    // Histogram: shared bins, counts add up, pruned weights sit in the low bins.
    assert.equal(s0.histogram!.edges.length, 33);
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    assert.equal(sum(s0.histogram!.pruned), 784 * 64 * 0.75);
    assert.equal(sum(s0.histogram!.kept), 784 * 64 * 0.25);
    const lastPrunedBin = s0.histogram!.pruned.reduce((last, c, b) => (c > 0 ? b : last), -1);
    const firstKeptBin = s0.histogram!.kept.findIndex((c) => c > 0);
    assert.ok(lastPrunedBin <= firstKeptBin);
    assert.equal(sum(s2.histogram!.pruned), 0);
    // Asked for none: the same model and counts, no histograms.
    const bare = applyPlan(mlp, plan, { histograms: false });
    assert.ok(bare.layers.every((l) => l.histogram === null));
    assert.deepEqual(bare.mlp.layers[0].weights, res.mlp.layers[0].weights);
    assert.equal(bare.totals.flops, res.totals.flops);
  });

  it("structured: removes units, their bias and the next layer's rows", () => {
    const mlp = randomMLP([784, 16, 8, 10], 'relu', 31);
    const plan = randomStrategy.plan(mlp, { sparsity: [0.5, 0.25], seed: 3 }) as StructuredPlan;
    const res = applyPlan(mlp, plan);
    const [l0, l1, l2] = res.mlp.layers;
    assert.deepEqual(
      res.mlp.layers.map((l) => [l.inputSize, l.units]),
      [
        [784, 8],
        [8, 6],
        [6, 10],
      ],
    );
    const keep0 = [...Array(16).keys()].filter((j) => !plan.remove[0].includes(j));
    const keep1 = [...Array(8).keys()].filter((j) => !plan.remove[1].includes(j));
    for (let i = 0; i < 784; i += 97) keep0.forEach((j, q) => assert.equal(l0.weights[i * 8 + q], mlp.layers[0].weights[i * 16 + j]));
    assert.deepEqual(
      [...l0.bias!],
      keep0.map((j) => mlp.layers[0].bias![j]),
    );
    keep0.forEach((i, r) => keep1.forEach((j, q) => assert.equal(l1.weights[r * 6 + q], mlp.layers[1].weights[i * 8 + j])));
    keep1.forEach((i, r) => assert.equal(l2.weights[r * 10 + 3], mlp.layers[2].weights[i * 10 + 3]));
    const s = res.layers;
    assert.deepEqual(
      s.map((x) => [x.unitsBefore, x.unitsAfter, x.inputsBefore, x.inputsAfter]),
      [
        [16, 8, 784, 784],
        [8, 6, 16, 8],
        [10, 10, 8, 6],
      ],
    );
    assert.equal(s[1].flops, 2 * 8 * 6);
    assert.equal(s[1].params, 8 * 6 + 6);
    assert.ok(Math.abs(s[1].sparsity - (1 - 48 / 128)) < 1e-12);
    assert.equal(
      s[1].histogram!.pruned.reduce((a, b) => a + b, 0),
      128 - 48,
    );
    assert.equal(
      s[2].histogram!.pruned.reduce((a, b) => a + b, 0),
      20,
    );
    assert.equal(res.totals.params, 784 * 8 + 8 + 8 * 6 + 6 + 6 * 10 + 10);
  });

  it('structured: the pruned model shares no array with the original, and writing into it leaves the original as it was', () => {
    const mlp = randomMLP([30, 12, 9, 5], 'relu', 8);
    mlp.source = { format: 'test', path: 'x', notes: ['read'] } as unknown as MLP['source'];
    const before = snapshot(mlp);
    // Output layer included; the first layer loses nothing (no unit, no input) and is still a copy.
    const plan = randomStrategy.plan(mlp, { sparsity: [0, 0.5, 0.4], includeOutput: true, seed: 5 }) as StructuredPlan;
    const out = applyPlan(mlp, plan).mlp;
    const arrays = (m: MLP) => m.layers.flatMap((l) => [l.weights.buffer, ...(l.bias ? [l.bias.buffer] : [])]);
    const mine = new Set(arrays(mlp));
    for (const b of arrays(out)) assert.ok(!mine.has(b), "a pruned array is one of the original's");
    assert.notEqual(out.inputShape, mlp.inputShape);
    for (const l of out.layers) {
      l.weights.fill(7);
      l.bias?.fill(7);
    }
    out.inputShape.push(1);
    out.source!.notes.push('changed');
    assert.deepEqual(snapshot(mlp), before);
    assert.deepEqual(mlp.inputShape, [30]);
    assert.deepEqual(mlp.source!.notes, ['read']);
  });

  it('structured relu: constants of removed units with positive bias fold into the next bias (same outputs as masked)', () => {
    const mlp = randomMLP([784, 64, 32, 10], 'relu', 32, 0.5);
    const plan = unitL2Strategy.plan(mlp, { sparsity: [0.5, 0.5] }) as StructuredPlan;
    const folded = plan.remove[0].some((j) => mlp.layers[0].bias![j] > 0);
    assert.ok(folded, 'some removed unit has a positive bias');
    assertSameFunction(mlp, plan, data, 'relu');
    // Without the fold the outputs would differ: drop the constants by hand and compare.
    const shrunk = applyPlan(mlp, plan).mlp;
    const unfolded = applyPlan(
      {
        ...mlp,
        layers: mlp.layers.map((l, i) => (i === 0 ? { ...l, bias: l.bias!.map((b, j) => (plan.remove[0].includes(j) ? -1 : b)) } : l)),
      },
      plan,
    ).mlp;
    assert.ok(maxAbsDiff(predict(shrunk, data.x, data.n), predict(unfolded, data.x, data.n)) > 1e-3);
  });

  it('structured sigmoid, tanh and leaky ReLU layers: same outputs as the masked network', () => {
    for (const act of ['sigmoid', 'tanh', 'leaky_relu'] as const) {
      const mlp = randomMLP([784, 48, 24, 10], act, 33, 0.5);
      const plan = randomStrategy.plan(mlp, { sparsity: [0.5, 0.75], seed: 4 }) as StructuredPlan;
      assertSameFunction(mlp, plan, data, act);
    }
  });

  it('MNIST models: ONNX relu and sigmoid MLPs, and CKA-greedy on the dfdx-layout MLP', async () => {
    const relu = await readModel(built('onnx', 'mnist2x10.onnx'));
    assertSameFunction(relu, randomStrategy.plan(relu, { sparsity: 0.5, seed: 5 }) as StructuredPlan, data, 'mnist2x10');
    const sigmoid = await readModel(built('onnx', 'mnist2x5_sigmoid.onnx'));
    assertSameFunction(sigmoid, randomStrategy.plan(sigmoid, { sparsity: 0.4, seed: 5 }) as StructuredPlan, data, 'mnist2x5_sigmoid');
    const dfdx = await readModel(built('safetensors', 'dfdx-mnist', 'mnist.safetensors'));
    const samples = await mnistRows(512);
    const plan = ckaGreedyStrategy.plan(dfdx, { sparsity: 0.5, samples }) as StructuredPlan;
    assertSameFunction(dfdx, plan, data, 'dfdx cka-greedy');
  });

  it('the output layer shrinks only when the plan includes it', () => {
    const mlp = randomMLP([784, 8, 10], 'relu', 34);
    const plan = unitL2Strategy.plan(mlp, { sparsity: [0.25, 0.3], includeOutput: true }) as StructuredPlan;
    const res = applyPlan(mlp, plan);
    assert.deepEqual(
      res.mlp.layers.map((l) => l.units),
      [6, 7],
    );
    assert.equal(predict(res.mlp, data.x, 3).length, 3 * 7);
  });

  it('a layer keeps at least one unit, with a note', () => {
    const mlp = randomMLP([784, 4, 10], 'relu', 35);
    const plan: StructuredPlan = {
      kind: 'structured',
      strategy: 'hand',
      requested: [1, 0],
      notes: [],
      order: [[2, 0, 3, 1], []],
      remove: [[0, 1, 2, 3], []],
    };
    const res = applyPlan(mlp, plan);
    assert.equal(res.mlp.layers[0].units, 1);
    assert.deepEqual([...res.mlp.layers[0].bias!], [mlp.layers[0].bias![1]]);
    assert.ok(res.notes.some((n) => /layer dense_0: the plan removes all 4 units; unit 1 is kept/.test(n)));
  });

  it('refuses plans that do not fit and hidden softmax layers', () => {
    const mlp = randomMLP([784, 4, 10], 'relu', 36);
    const bad = (remove: number[][]): StructuredPlan => ({
      kind: 'structured',
      strategy: 'hand',
      requested: [0, 0],
      notes: [],
      order: remove,
      remove,
    });
    assert.throws(
      () => applyPlan(mlp, bad([[4], []])),
      (e: Error) => e instanceof PruneScopeError && /layer dense_0 cannot remove unit 4/.test(e.message),
    );
    assert.throws(() => applyPlan(mlp, bad([[1, 1], []])), /cannot remove unit 1/);
    assert.throws(() => applyPlan(mlp, bad([[1]])), /covers 1 layers but model random-784-4-10 has 2/);
    const masks: UnstructuredPlan = {
      kind: 'unstructured',
      strategy: 'hand',
      requested: [0, 0],
      notes: [],
      masks: [new Uint8Array(5), null],
    };
    assert.throws(() => applyPlan(mlp, masks), /mask of layer dense_0 has 5 entries, the layer 3136 weights/);
    const soft = randomMLP([784, 4, 10], ['softmax', 'linear'], 36);
    assert.throws(() => applyPlan(soft, bad([[1], []])), /dense_0 \(position 0\) uses softmax/);
  });
});
