import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Matrix, solve } from 'ml-matrix';
import { initBackend } from '../backend';
import { PruneScopeError } from '../errors';
import { cloneMLP, type DenseLayer, type MLP } from '../model/mlp';
import { seededRandom } from '../random';
import { applyPlan } from './apply';
import { compensate } from './compensate';
import { randomMLP } from '../../../test/kits/prune';

/**
 * The refit must equal a direct ridge least-squares solve, computed here independently: the
 * augmented normal equations [[Xs^T Xs + lambda I, Xs^T 1], [1^T Xs, n]] [w; b] = [Xs^T t; 1^T t]
 * solved by ml-matrix (LU), from float64 forward passes written out in this file.
 */

function gaussianRows(n: number, p: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  return Float32Array.from({ length: n * p }, () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  });
}

function act(layer: DenseLayer, z: number): number {
  return layer.activation === 'relu' ? Math.max(0, z) : z;
}

/** Pre-activations (n x units) of one layer, float64. */
function pre(layer: DenseLayer, x: Float64Array, n: number): Float64Array {
  const z = new Float64Array(n * layer.units);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < layer.units; j++) {
      let s = layer.bias ? layer.bias[j] : 0;
      for (let i = 0; i < layer.inputSize; i++) s += x[r * layer.inputSize + i] * layer.weights[i * layer.units + j];
      z[r * layer.units + j] = s;
    }
  }
  return z;
}

function post(layer: DenseLayer, z: Float64Array): Float64Array {
  return z.map((v) => act(layer, v));
}

/** Ridge solution for one unit on inputs `kept`, intercept not damped. */
function ridge(
  x: Float64Array,
  n: number,
  p: number,
  kept: number[],
  t: (r: number) => number,
  dampingShare: number,
): { w: number[]; b: number } {
  const mean = (i: number) => {
    let s = 0;
    for (let r = 0; r < n; r++) s += x[r * p + i];
    return s / n;
  };
  let diag = 0;
  for (let i = 0; i < p; i++) {
    const m = mean(i);
    for (let r = 0; r < n; r++) diag += (x[r * p + i] - m) ** 2;
  }
  const lambda = (dampingShare * diag) / p;
  const s = kept.length;
  const A = Matrix.zeros(s + 1, s + 1);
  const rhs = Matrix.zeros(s + 1, 1);
  for (let r = 0; r < n; r++) {
    const row = [...kept.map((i) => x[r * p + i]), 1];
    for (let a = 0; a <= s; a++) {
      rhs.set(a, 0, rhs.get(a, 0) + row[a] * t(r));
      for (let b = 0; b <= s; b++) A.set(a, b, A.get(a, b) + row[a] * row[b]);
    }
  }
  for (let a = 0; a < s; a++) A.set(a, a, A.get(a, a) + lambda);
  const sol = solve(A, rhs).to1DArray();
  return { w: sol.slice(0, s), b: sol[s] };
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

describe('compensation', () => {
  const n = 64;
  let mlp: MLP;
  let x: Float32Array;
  before(async () => {
    await initBackend();
    mlp = randomMLP([6, 5, 3], ['relu', 'linear'], 7, 0.3);
    x = gaussianRows(n, 6, 11);
  });

  it('refits each unit of a masked layer, and every later layer, to the direct least-squares solution', () => {
    const pruned = cloneMLP(mlp);
    const zeroed = [0, 7, 8, 13, 21, 29]; // [in, out] flat indices of layer 0
    for (const i of zeroed) pruned.layers[0].weights[i] = 0;
    const r = compensate(mlp, pruned, x, n, { damping: 0.01 });
    assert.deepEqual(
      r.layers.map((l) => l.refit),
      [true, true],
    );
    const l0 = mlp.layers[0];
    const x64 = Float64Array.from(x);
    const target0 = pre(l0, x64, n);
    for (let j = 0; j < l0.units; j++) {
      const kept = [...Array(6).keys()].filter((i) => !zeroed.includes(i * l0.units + j));
      const want = ridge(x64, n, 6, kept, (row) => target0[row * l0.units + j], 0.01);
      kept.forEach((i, a) => close(r.mlp.layers[0].weights[i * l0.units + j], want.w[a], 2e-4, `unit ${j} input ${i}`));
      close(r.mlp.layers[0].bias![j], want.b, 2e-4, `unit ${j} bias`);
      for (const z of zeroed.filter((f) => f % l0.units === j)) assert.equal(r.mlp.layers[0].weights[z], 0);
    }
    // Layer 1 sees the refit layer 0's outputs and is refit as a whole to the original's logits.
    const hidden = post(r.mlp.layers[0], pre(r.mlp.layers[0], x64, n));
    const targetHidden = post(l0, target0);
    const target1 = pre(mlp.layers[1], targetHidden, n);
    for (let j = 0; j < 3; j++) {
      const want = ridge(hidden, n, 5, [0, 1, 2, 3, 4], (row) => target1[row * 3 + j], 0.01);
      want.w.forEach((w, i) => close(r.mlp.layers[1].weights[i * 3 + j], w, 5e-4, `output ${j} input ${i}`));
      close(r.mlp.layers[1].bias![j], want.b, 5e-4, `output ${j} bias`);
    }
    assert.ok(r.layers[0].errorAfter < r.layers[0].errorBefore, 'the refit lowers the error');
  });

  it('moves a pruned input onto the inputs it is a combination of, exactly', () => {
    // Input 5 = input 0 + 2 * input 1 on every row, so zeroing its weights loses nothing the others cannot carry.
    const xc = Float32Array.from(x);
    for (let r = 0; r < n; r++) xc[r * 6 + 5] = xc[r * 6] + 2 * xc[r * 6 + 1];
    const pruned = cloneMLP(mlp);
    for (let j = 0; j < 5; j++) pruned.layers[0].weights[5 * 5 + j] = 0;
    const r = compensate(mlp, pruned, xc, n, { damping: 1e-9 });
    assert.ok(r.layers[0].errorBefore > 1e-2, `pruning input 5 costs something (${r.layers[0].errorBefore})`);
    assert.ok(r.layers[0].errorAfter < 1e-8, `and the refit recovers it (${r.layers[0].errorAfter})`);
    for (let j = 0; j < 5; j++) {
      const w5 = mlp.layers[0].weights[25 + j];
      close(r.mlp.layers[0].weights[j], mlp.layers[0].weights[j] + w5, 1e-4, `unit ${j} input 0`);
      close(r.mlp.layers[0].weights[5 + j], mlp.layers[0].weights[5 + j] + 2 * w5, 1e-4, `unit ${j} input 1`);
    }
  });

  it('after structured pruning leaves the shrunk layer alone and refits the next on the units that stay', () => {
    const plan = {
      kind: 'structured' as const,
      strategy: 'hand',
      requested: [0.4, 0],
      notes: [],
      remove: [[1, 3], []],
      order: [[1, 3], []],
    };
    const shrunk = applyPlan(mlp, plan, { removedUnits: 'silent' }).mlp;
    const r = compensate(mlp, shrunk, x, n, {
      damping: 0.01,
      keptUnits: [
        [0, 2, 4],
        [0, 1, 2],
      ],
    });
    assert.deepEqual(
      r.layers.map((l) => l.refit),
      [false, true],
    );
    assert.deepEqual(Array.from(r.mlp.layers[0].weights), Array.from(shrunk.layers[0].weights));
    const x64 = Float64Array.from(x);
    const hidden = post(shrunk.layers[0], pre(shrunk.layers[0], x64, n));
    const target = pre(mlp.layers[1], post(mlp.layers[0], pre(mlp.layers[0], x64, n)), n);
    for (let j = 0; j < 3; j++) {
      const want = ridge(hidden, n, 3, [0, 1, 2], (row) => target[row * 3 + j], 0.01);
      want.w.forEach((w, i) => close(r.mlp.layers[1].weights[i * 3 + j], w, 5e-4, `output ${j} input ${i}`));
      close(r.mlp.layers[1].bias![j], want.b, 5e-4, `output ${j} bias`);
    }
    assert.ok(r.layers[1].errorAfter <= r.layers[1].errorBefore);
  });

  it('leaves an unpruned model as it is', () => {
    const r = compensate(mlp, cloneMLP(mlp), x, n);
    assert.ok(r.layers.every((l) => !l.refit && l.errorBefore < 1e-10));
    assert.deepEqual(Array.from(r.mlp.layers[1].weights), Array.from(mlp.layers[1].weights));
  });

  it('refuses what it cannot refit', () => {
    assert.throws(() => compensate(mlp, cloneMLP(mlp), x, 1), PruneScopeError);
    assert.throws(() => compensate(mlp, cloneMLP(mlp), x, n, { damping: 0 }), /damping/);
    assert.throws(
      () =>
        compensate(mlp, cloneMLP(mlp), x, n, {
          keptUnits: [
            [0, 1],
            [0, 1, 2],
          ],
        }),
      /do not map/,
    );
    assert.throws(() => compensate(mlp, randomMLP([6, 4], 'linear', 1), x, n), /do not match/);
  });
});
