import * as tf from '../tfjs';
import { onnxRuntime, OrtSession } from '../engine/onnxruntime';
import { buildOnnxModel, encodeOnnxModel } from '../formats/onnx/write';
import { forward, mlpTensors } from '../model/forward';
import type { Activation, MLP } from '../model/mlp';
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

/** A layer's weights in compressed sparse row form over the transposed kernel: row j = unit j's inputs. */
export interface CsrLayer {
  units: number;
  inputSize: number;
  rowPtr: Int32Array;
  cols: Int32Array;
  values: Float32Array;
  bias: Float32Array | null;
  activation: Activation;
  alpha: number;
}

export function toCsr(mlp: MLP): CsrLayer[] {
  return mlp.layers.map((l) => {
    // Two row-major passes over the [in, units] kernel (count per unit, then fill), so the
    // weights are read in memory order; each unit's inputs come out in ascending order.
    const rowPtr = new Int32Array(l.units + 1);
    for (let i = 0; i < l.inputSize; i++) {
      const o = i * l.units;
      for (let j = 0; j < l.units; j++) if (l.weights[o + j] !== 0) rowPtr[j + 1]++;
    }
    for (let j = 0; j < l.units; j++) rowPtr[j + 1] += rowPtr[j];
    const nnz = rowPtr[l.units];
    const cols = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    const next = rowPtr.slice(0, l.units);
    for (let i = 0; i < l.inputSize; i++) {
      const o = i * l.units;
      for (let j = 0; j < l.units; j++) {
        const w = l.weights[o + j];
        if (w !== 0) {
          cols[next[j]] = i;
          values[next[j]++] = w;
        }
      }
    }
    return { units: l.units, inputSize: l.inputSize, rowPtr, cols, values, bias: l.bias, activation: l.activation, alpha: l.alpha ?? 0.01 };
  });
}

function activateRow(row: Float32Array, activation: Activation, alpha: number): void {
  switch (activation) {
    case 'linear':
      return;
    case 'relu':
      for (let i = 0; i < row.length; i++) if (row[i] < 0) row[i] = 0;
      return;
    case 'relu6':
      for (let i = 0; i < row.length; i++) row[i] = Math.min(6, Math.max(0, row[i]));
      return;
    case 'leaky_relu':
      for (let i = 0; i < row.length; i++) if (row[i] < 0) row[i] *= alpha;
      return;
    case 'sigmoid':
      for (let i = 0; i < row.length; i++) row[i] = 1 / (1 + Math.exp(-row[i]));
      return;
    case 'tanh':
      for (let i = 0; i < row.length; i++) row[i] = Math.tanh(row[i]);
      return;
    case 'softmax':
    case 'log_softmax': {
      let max = -Infinity;
      for (const v of row) if (v > max) max = v;
      let sum = 0;
      for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
      const logSum = Math.log(sum) + max;
      for (let i = 0; i < row.length; i++) row[i] = activation === 'softmax' ? Math.exp(row[i] - logSum) : row[i] - logSum;
      return;
    }
  }
}

/**
 * One layer's x W + b, feature-major in and out. Eight stored weights per pass over a unit's
 * `rows` sums: each sum is loaded and stored once per eight products instead of once per product
 * (V8 does not vectorise the plain axpy). Four per pass made the product 2.2x (90% sparse) to
 * 3.4x (50%) faster than one on the demo model; eight took 0.67-0.86 of four's time from 0 to
 * 95% sparsity (medians of seven alternated runs, session 17) and the same at 99%, where rows are short.
 */
function csrLayer(l: CsrLayer, h: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(l.units * rows);
  const { values, cols, rowPtr } = l;
  for (let j = 0; j < l.units; j++) {
    const o = j * rows;
    out.fill(l.bias ? l.bias[j] : 0, o, o + rows);
    let k = rowPtr[j];
    const end = rowPtr[j + 1];
    for (; k + 7 < end; k += 8) addEight(out, o, h, rows, values, cols, k);
    for (; k < end; k++) {
      const v = values[k];
      const c = cols[k] * rows;
      for (let r = 0; r < rows; r++) out[o + r] += v * h[c + r];
    }
  }
  return out;
}

/** out[o..o+rows) += the stored weights k..k+7 times their inputs' rows of h. */
function addEight(out: Float32Array, o: number, h: Float32Array, rows: number, values: Float32Array, cols: Int32Array, k: number): void {
  const v0 = values[k];
  const v1 = values[k + 1];
  const v2 = values[k + 2];
  const v3 = values[k + 3];
  const v4 = values[k + 4];
  const v5 = values[k + 5];
  const v6 = values[k + 6];
  const v7 = values[k + 7];
  const c0 = cols[k] * rows;
  const c1 = cols[k + 1] * rows;
  const c2 = cols[k + 2] * rows;
  const c3 = cols[k + 3] * rows;
  const c4 = cols[k + 4] * rows;
  const c5 = cols[k + 5] * rows;
  const c6 = cols[k + 6] * rows;
  const c7 = cols[k + 7] * rows;
  for (let r = 0; r < rows; r++) {
    out[o + r] +=
      v0 * h[c0 + r] +
      v1 * h[c1 + r] +
      v2 * h[c2 + r] +
      v3 * h[c3 + r] +
      (v4 * h[c4 + r] + v5 * h[c5 + r] + v6 * h[c6 + r] + v7 * h[c7 + r]);
  }
}

/**
 * y = act(x W + b) for every layer with CSR weights; rows of x are samples. Activations are kept
 * feature-major ([features][rows]) between layers, so each stored weight updates a contiguous
 * run of `rows` sums: a sparse-times-dense product whose inner loop is a plain axpy.
 */
export function csrForward(layers: CsrLayer[], x: Float32Array, rows: number): Float32Array {
  const inSize = layers[0]?.inputSize ?? 0;
  let h: Float32Array = new Float32Array(inSize * rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inSize; i++) h[i * rows + r] = x[r * inSize + i];
  for (const l of layers) {
    h = csrLayer(l, h, rows);
    if (l.activation === 'softmax' || l.activation === 'log_softmax') {
      // Normalised per sample: back to sample-major for this one.
      const y = new Float32Array(l.units * rows);
      for (let r = 0; r < rows; r++) {
        const row = y.subarray(r * l.units, (r + 1) * l.units);
        for (let j = 0; j < l.units; j++) row[j] = h[j * rows + r];
        activateRow(row, l.activation, l.alpha);
        for (let j = 0; j < l.units; j++) h[j * rows + r] = row[j];
      }
    } else {
      activateRow(h, l.activation, l.alpha);
    }
  }
  const units = layers[layers.length - 1]?.units ?? 0;
  const y = new Float32Array(rows * units);
  for (let j = 0; j < units; j++) for (let r = 0; r < rows; r++) y[r * units + j] = h[j * rows + r];
  return y;
}

/**
 * Runs until `budgetMs` is spent (at least one, at most `maxRuns`): the product is slow in JS on
 * dense weights (~0.2 s a run at 50% sparsity on the 784-1000-1000-500-200-10 MLP, 50 ms at 90%,
 * on the AVX2 machines of sessions 12-17) and fast when sparse, and a sweep measures it at every
 * point, so the run count varies and is recorded.
 */
export function sparseLatency(mlp: MLP, x: Float32Array, n: number, budgetMs = 150, maxRuns = 5): LatencyRuns {
  const layers = toCsr(mlp);
  const input = sampleBatch(x, n, mlp.inputSize);
  const times: number[] = [];
  // No separate warm-up: the loop is compiled during the first layer of the first run.
  let spent = 0;
  while (times.length < maxRuns && (times.length === 0 || spent < budgetMs)) {
    const start = performance.now();
    csrForward(layers, input, BATCH);
    const t = performance.now() - start;
    times.push(t);
    spent += t;
  }
  return summarizeRuns(times);
}

/** The median of `sparseLatency`. */
export function sparseLatencyMs(mlp: MLP, x: Float32Array, n: number, budgetMs = 150, maxRuns = 5): number {
  return sparseLatency(mlp, x, n, budgetMs, maxRuns).medianMs;
}
