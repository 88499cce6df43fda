import * as tf from '../tfjs';
import { onnxRuntime, OrtSession } from '../engine/onnxruntime';
import { buildOnnxModel, encodeOnnxModel } from '../formats/onnx/write';
import { forward, mlpTensors } from '../model/forward';
import type { MLP } from '../model/mlp';
import { placeCsr, toCsr } from './csr';
import type { LatencySpread } from '../results/format';

/**
 * Forward latency per batch of 100 samples, as the pruning-challenge write-up timed it: the dense
 * (shrunk) model through the compute backend, and for unstructured sparsity a CSR sparse matrix
 * product that skips the zeros. Median of `repeats` runs after a warm-up, so one slow run on a
 * shared machine does not decide the number; the fastest and slowest run are kept beside it, so a
 * reader sees how far that machine's load moved the runs (issue 17: a point read 60 ms against
 * 17.6 ms for the same shapes).
 */

const BATCH = 100;

/** The timed runs of one measurement, summarised: median, count, fastest and slowest (ms per 100 samples). */
export interface LatencyRuns {
  medianMs: number;
  runs: number;
  minMs: number;
  maxMs: number;
}

/** Median, count, minimum and maximum of the run times; throws on no runs (a caller's bug, not a user's). */
export function summarizeRuns(times: number[]): LatencyRuns {
  if (times.length === 0) throw new Error('summarizeRuns: no runs');
  const s = [...times].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { medianMs: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, runs: s.length, minMs: s[0], maxMs: s[s.length - 1] };
}

/** What the results file records beside a median (src/core/results/format.ts `latencySpreadSchema`). */
export function spreadOf(t: LatencyRuns): LatencySpread;
export function spreadOf(t: LatencyRuns | null): LatencySpread | null;
export function spreadOf(t: LatencyRuns | null): LatencySpread | null {
  return t ? { runs: t.runs, minMs: t.minMs, maxMs: t.maxMs } : null;
}

function sampleBatch(x: Float32Array, n: number, inputSize: number): Float32Array {
  const out = new Float32Array(BATCH * inputSize);
  for (let r = 0; r < BATCH; r++) {
    const src = (r % Math.max(1, n)) * inputSize;
    out.set(x.subarray(src, src + inputSize), r * inputSize);
  }
  return out;
}

export function denseLatency(mlp: MLP, x: Float32Array, n: number, repeats = 7): LatencyRuns {
  const t = mlpTensors(mlp);
  const input = tf.tensor2d(sampleBatch(x, n, mlp.inputSize), [BATCH, mlp.inputSize]);
  try {
    const times: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const start = performance.now();
      const y = forward(mlp, t, input);
      y.dataSync();
      y.dispose();
      if (i > 0) times.push(performance.now() - start);
    }
    return summarizeRuns(times);
  } finally {
    input.dispose();
    t.dispose();
  }
}

/** The median of `denseLatency`. */
export function denseLatencyMs(mlp: MLP, x: Float32Array, n: number, repeats = 7): number {
  return denseLatency(mlp, x, n, repeats).medianMs;
}

/**
 * The same batch through onnxruntime running the model as PruneScope writes it to .onnx: what a
 * deployment on onnxruntime sees. The session is made from the graph with every kernel stored
 * dense: the written file stores a mostly-zero kernel as a sparse initializer, which onnxruntime
 * turns into this same dense tensor when it loads the graph, so the session and its runs are the
 * same (latency.test.ts checks the outputs agree bit for bit), while encoding the sparse
 * kernels' int64 indices took up to 0.6 s a point of a sweep. Null when onnxruntime-node does not
 * load here.
 */
export function onnxRuntimeLatency(mlp: MLP, x: Float32Array, n: number, repeats = 7): LatencyRuns | null {
  const ort = onnxRuntime();
  if (!ort) return null;
  const session = new OrtSession(ort, encodeOnnxModel(buildOnnxModel(mlp, 'latency', { dense: true })), ['output']);
  try {
    const input = { input: { data: sampleBatch(x, n, mlp.inputSize), dims: [BATCH, ...mlp.inputShape] } };
    const times: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const start = performance.now();
      session.run(input);
      if (i > 0) times.push(performance.now() - start);
    }
    return summarizeRuns(times);
  } finally {
    session.dispose();
  }
}

/** The median of `onnxRuntimeLatency`, null when onnxruntime-node does not load here. */
export function onnxRuntimeLatencyMs(mlp: MLP, x: Float32Array, n: number, repeats = 7): number | null {
  return onnxRuntimeLatency(mlp, x, n, repeats)?.medianMs ?? null;
}

/**
 * Runs until `budgetMs` is spent (at least one, at most `maxRuns`): the product's time follows
 * the kept weights (~25 ms a run at 50% sparsity on the 784-1000-1000-500-200-10 MLP, 7 ms at 90%,
 * on the AVX2 machines of sessions 12-17), and a sweep measures it at every point, so the run
 * count varies and is recorded. Converting and placing the layers (csr.ts) is not timed. Null when
 * the kept weights do not fit in the kernel's 4 GiB memory.
 */
export function sparseLatency(mlp: MLP, x: Float32Array, n: number, budgetMs = 150, maxRuns = 5): LatencyRuns | null {
  const program = placeCsr(toCsr(mlp), BATCH);
  if (!program) return null;
  const input = sampleBatch(x, n, mlp.inputSize);
  const times: number[] = [];
  // No separate warm-up: the kernel is compiled when its module is, and V8 tiers the JS around
  // it up during the first run.
  let spent = 0;
  while (times.length < maxRuns && (times.length === 0 || spent < budgetMs)) {
    const start = performance.now();
    program.run(input);
    const t = performance.now() - start;
    times.push(t);
    spent += t;
  }
  return summarizeRuns(times);
}

/** The median of `sparseLatency`; null when it is. */
export function sparseLatencyMs(mlp: MLP, x: Float32Array, n: number, budgetMs = 150, maxRuns = 5): number | null {
  return sparseLatency(mlp, x, n, budgetMs, maxRuns)?.medianMs ?? null;
}
