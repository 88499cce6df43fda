import assert from 'node:assert/strict';
import { test } from 'node:test';
import { built } from '../../../test/kits/encode/models';
import { readModel } from '../formats/registry';
import { summarizeModel } from './summary';
import { weightHistogram, weightHistograms } from './weight-histogram';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('linear and log bins of a hand-worked kernel', () => {
  const w = new Float32Array([0, -0, 0.1, -0.2, 0.4, 1, -1, 0.05]);
  const h = weightHistogram('dense', w, 4);
  assert.equal(h.weights, 8);
  assert.equal(h.zeros, 2);
  assert.equal(h.nonFinite, 0);
  // |w| / 1 * 4, floored, the largest into the last bin: 0 0 0.4 0.8 1.6 4 4 0.2.
  assert.deepEqual(h.linear.counts, [5, 1, 0, 2]);
  assert.deepEqual(h.linear.edges, [0, 0.25, 0.5, 0.75, 1]);
  // log10 from log10(0.05) = -1.301 to 0, four bins of 0.325: 0.05 and 0.1 -> 0, 0.2 -> 1, 0.4 -> 2, 1 and 1 -> 3.
  assert.ok(h.log);
  assert.deepEqual(h.log.counts, [2, 1, 1, 2]);
  close(h.log.edges[0], 0.05);
  close(h.log.edges[1], 10 ** (-1.30103 * 0.75), 1e-5);
  close(h.log.edges[2], 10 ** (-1.30103 * 0.5), 1e-5);
  assert.equal(h.log.edges[4], 1);
});

test('NaN and infinite weights are counted apart; all-zero kernels have no log bins', () => {
  const h = weightHistogram('odd', new Float32Array([NaN, Infinity, -Infinity, 0.5]), 2);
  assert.equal(h.nonFinite, 3);
  assert.deepEqual(h.linear.counts, [0, 1]);
  assert.deepEqual(h.log?.counts, [1]);
  const zero = weightHistogram('pruned', new Float32Array(6), 3);
  assert.equal(zero.zeros, 6);
  assert.deepEqual(zero.linear.counts, [6, 0, 0]);
  assert.equal(zero.log, null);
  assert.throws(() => weightHistogram('x', new Float32Array(1), 0), /not a positive integer/);
});

test("a real model's bins hold every weight, and its zeros are the summary's", async () => {
  const mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
  // Prune a few weights so the zeros count is not trivially 0.
  mlp.layers[0].weights.fill(0, 0, 100);
  const summary = summarizeModel(mlp);
  const hs = weightHistograms(mlp);
  assert.deepEqual(
    hs.map((h) => [h.layer, h.weights]),
    [
      ['Gemm_2', 7840],
      ['Gemm_4', 100],
      ['Gemm_6', 100],
    ],
  );
  hs.forEach((h, i) => {
    assert.equal(h.zeros, summary.layers[i].zeroWeights);
    assert.equal(sum(h.linear.counts), h.weights);
    assert.equal(sum(h.log!.counts) + h.zeros, h.weights);
    assert.equal(h.linear.counts.length, 40);
    let max = 0;
    for (const w of mlp.layers[i].weights) max = Math.max(max, Math.abs(w));
    assert.equal(h.linear.edges[40], max);
    assert.equal(h.log!.edges[40], max);
  });
  assert.ok(hs[0].zeros >= 100);
});
