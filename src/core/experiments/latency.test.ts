import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import type { MLP } from '../model/mlp';
import { seededRandom } from '../prune/rng';
import { onnxRuntime, OrtSession } from '../engine/onnxruntime';
import { buildOnnxModel, encodeOnnxModel } from '../formats/onnx/write';
import { baselineSchema, latencySpreadSchema, pointSchema } from '../results/format';
import {
  denseLatency,
  denseLatencyMs,
  onnxRuntimeLatency,
  onnxRuntimeLatencyMs,
  sparseLatency,
  sparseLatencyMs,
  spreadOf,
  summarizeRuns,
} from './latency';

function sparseMlp(): MLP {
  const next = seededRandom(3);
  const layer = (name: string, inputSize: number, units: number, activation: MLP['layers'][number]['activation']) => ({
    name,
    inputSize,
    units,
    weights: new Float32Array(inputSize * units).map(() => (next() < 0.7 ? 0 : next() - 0.5)),
    bias: new Float32Array(units).map(() => next() - 0.5),
    activation,
  });
  return {
    name: 'sparse',
    inputShape: [12],
    inputSize: 12,
    layers: [layer('a', 12, 9, 'relu'), layer('b', 9, 7, 'tanh'), layer('c', 7, 4, 'softmax')],
  };
}

describe('latency', () => {
  before(async () => {
    await initBackend();
  });

  it('reports positive times per batch of 100', () => {
    const mlp = sparseMlp();
    const x = new Float32Array(3 * 12).fill(0.5);
    assert.ok(denseLatencyMs(mlp, x, 3, 2) > 0);
    assert.ok(sparseLatencyMs(mlp, x, 3)! > 0);
  });

  it('times the written .onnx on onnxruntime when it loads, and says null when it does not', () => {
    const mlp = sparseMlp();
    const x = new Float32Array(3 * 12).fill(0.5);
    const ms = onnxRuntimeLatencyMs(mlp, x, 3, 2);
    if (onnxRuntime()) assert.ok(ms !== null && ms > 0 && Number.isFinite(ms), `got ${ms}`);
    else assert.equal(ms, null);
  });
  it('onnxruntime computes the same outputs, bit for bit, from the written file (sparse kernels) and from the dense graph it is timed on', (t) => {
    const ort = onnxRuntime();
    if (!ort) return t.skip('onnxruntime-node does not load here');
    const mlp = sparseMlp();
    // 90% zeros: every kernel is small enough sparse for the writer to store it so.
    const next = seededRandom(5);
    for (const l of mlp.layers) for (let i = 0; i < l.weights.length; i++) if (next() < 0.9) l.weights[i] = 0;
    const written = buildOnnxModel(mlp, 'written');
    assert.equal(written.graph?.sparseInitializer?.length, mlp.layers.length);
    const rows = 5;
    const input = { input: { data: new Float32Array(rows * 12).map(() => next() * 2 - 1), dims: [rows, 12] } };
    const outputs = [written, buildOnnxModel(mlp, 'timed', { dense: true })].map((m) => {
      const session = new OrtSession(ort, encodeOnnxModel(m), ['output']);
      try {
        return session.run(input).output.data;
      } finally {
        session.dispose();
      }
    });
    assert.ok(
      outputs[0].some((v) => v !== outputs[0][0]),
      'outputs vary with the input',
    );
    assert.deepEqual(new Uint32Array(outputs[0].buffer), new Uint32Array(outputs[1].buffer));
  });

  it('summarizes runs as median, count, fastest and slowest (odd and even counts, any order)', () => {
    // By hand: sorted 1, 2, 3, 9, 60 -> median 3; sorted 2, 4, 10, 30 -> median (4 + 10) / 2 = 7.
    assert.deepEqual(summarizeRuns([9, 1, 60, 3, 2]), { medianMs: 3, runs: 5, minMs: 1, maxMs: 60 });
    assert.deepEqual(summarizeRuns([30, 4, 2, 10]), { medianMs: 7, runs: 4, minMs: 2, maxMs: 30 });
    assert.deepEqual(summarizeRuns([17.6]), { medianMs: 17.6, runs: 1, minMs: 17.6, maxMs: 17.6 });
    assert.throws(() => summarizeRuns([]), /no runs/);
    assert.deepEqual(spreadOf(summarizeRuns([9, 1, 60])), { runs: 3, minMs: 1, maxMs: 60 });
    assert.equal(spreadOf(null), null);
  });

  it('each timing records its runs: dense repeats, CSR within its budget, onnxruntime when it loads; min <= median <= max', () => {
    const mlp = sparseMlp();
    const x = new Float32Array(3 * 12).fill(0.5);
    const check = (t: { medianMs: number; runs: number; minMs: number; maxMs: number }, runs: number | [number, number], what: string) => {
      assert.ok(
        t.minMs >= 0 && t.minMs <= t.medianMs && t.medianMs <= t.maxMs && Number.isFinite(t.maxMs),
        `${what}: ${JSON.stringify(t)}`,
      );
      if (typeof runs === 'number') assert.equal(t.runs, runs, what);
      else assert.ok(t.runs >= runs[0] && t.runs <= runs[1], `${what}: ${t.runs} runs`);
      // What the results file records parses as such.
      assert.deepEqual(latencySpreadSchema.parse(spreadOf(t)), { runs: t.runs, minMs: t.minMs, maxMs: t.maxMs });
    };
    check(denseLatency(mlp, x, 3, 5), 5, 'dense');
    // A tiny model takes far less than the 150 ms budget: every one of maxRuns runs happens.
    check(sparseLatency(mlp, x, 3, 250, 4)!, 4, 'sparse');
    // A budget of 0 stops after the one run that is always made.
    check(sparseLatency(mlp, x, 3, 0, 5)!, 1, 'sparse, no budget');
    const ort = onnxRuntimeLatency(mlp, x, 3, 3);
    if (onnxRuntime()) check(ort!, 3, 'onnxruntime');
    else assert.equal(ort, null);
  });

  it('a spread whose minimum exceeds its maximum, or with no runs, is refused; files without spreads still parse', () => {
    assert.equal(latencySpreadSchema.safeParse({ runs: 3, minMs: 2, maxMs: 1 }).success, false);
    assert.equal(latencySpreadSchema.safeParse({ runs: 0, minMs: 1, maxMs: 2 }).success, false);
    assert.equal(latencySpreadSchema.safeParse({ runs: 2.5, minMs: 1, maxMs: 2 }).success, false);
    // Files written before spreads were recorded still read: the spreads are optional.
    assert.deepEqual(pointSchema.shape.latency.parse({ denseMsPer100: 3, sparseMsPer100: null }), {
      denseMsPer100: 3,
      sparseMsPer100: null,
    });
    assert.deepEqual(baselineSchema.shape.latency.parse({ denseMsPer100: 3 }), { denseMsPer100: 3 });
    assert.equal(
      pointSchema.shape.latency.safeParse({ denseMsPer100: 3, sparseMsPer100: null, denseSpread: { runs: 7, minMs: 4, maxMs: 2 } }).success,
      false,
    );
  });
});
