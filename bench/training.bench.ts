/**
 * Training-throughput benchmark of the 784-1000-1000-500-200-10 MLP (ReLU, dropout 0.5, softmax,
 * Adam, batch 512) on real MNIST rows, in one process:
 *  (a) baseline: a tf.layers Sequential model trained with model.fit, the out-of-the-box way;
 *  (b) ours: fitMLP (hand-written backprop on plain matMuls, see src/core/train/backprop.ts);
 *  (c) bound: the backend's plain forward matMul speed on the network's layer shapes.
 * (a) and (b) train on the same batches (no shuffling) for the same number of steps after a
 * warm-up, alternating over a few repeats because the machine is shared; the best repeat counts
 * (the one least disturbed by other processes) and the median is recorded too.
 * Plus a per-kernel profile of one of our training steps.
 *
 * Run alone: node --import tsx src/bench/training.bench.ts   (writes bench-results/training.json)
 * Environment: PRUNESCOPE_BENCH_THREADS wasm threads (default: all cores; 1 = tfjs-wasm as shipped),
 * PRUNESCOPE_BENCH_STEPS measured steps per repeat (default 10), PRUNESCOPE_BENCH_REPEATS (default 3).
 */
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, initEngine } from '../src/core/backend';
import { onnxRuntime, onnxRuntimeNote } from '../src/core/engine/onnxruntime';
import { sliceRows, type DatasetSplits } from '../src/core/data/dataset';
import { getSplit, loadDataset } from '../src/core/data/load';
import { writeFilesAtomically } from '../src/core/io/atomic';
import type { MLP } from '../src/core/model/mlp';
import { Adam, KERAS_ADAM } from '../src/core/train/adam';
import { lossAndGradients, type LayerSpec } from '../src/core/train/backprop';
import { fitMLP, initMLP } from '../src/core/train/fit';
import { Rng } from '../src/core/train/rng';
import { initWasmThreads } from '../src/core/wasm-threads';
import { machine } from './machine';

const HIDDEN = [1000, 1000, 500, 200];
const SIZES = [784, ...HIDDEN, 10];
const BATCH = 512;
const DROPOUT = 0.5;
const root = resolve(__dirname, '..');

const envInt = (name: string, dflt: number) => {
  const v = process.env[name];
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (got ${v})`);
  return n;
};
const THREADS = envInt('PRUNESCOPE_BENCH_THREADS', cpus().length);
const STEPS = envInt('PRUNESCOPE_BENCH_STEPS', 10);
const REPEATS = envInt('PRUNESCOPE_BENCH_REPEATS', 3);
const WARMUP = 2;

const layerPairs = SIZES.slice(0, -1).map((n, i) => [n, SIZES[i + 1]] as const);
const forwardFlops = layerPairs.reduce((a, [i, o]) => a + 2 * i * o, 0);
// what our step computes: forward, dW of every layer, dx of every layer but the first
const ourTrainingFlops = forwardFlops * 2 + layerPairs.slice(1).reduce((a, [i, o]) => a + 2 * i * o, 0);

function stats(xs: number[]): { best: number; median: number; all: number[] } {
  const s = [...xs].sort((a, b) => b - a);
  return { best: s[0], median: s[Math.floor(s.length / 2)], all: xs };
}

/** Plain matMul [512, in] x [in, out] with a fixed kernel, each layer shape, best of 15. */
function matmulBound(): { gflops: number; perLayer: { shape: string; ms: number; gflops: number }[] } {
  const perLayer = layerPairs.map(([i, o]) => {
    const a = tf.randomUniform([BATCH, i]) as tf.Tensor2D;
    const w = tf.randomUniform([i, o]) as tf.Tensor2D;
    let best = Infinity;
    for (let r = 0; r < 18; r++) {
      const t = performance.now();
      const y = tf.matMul(a, w);
      y.dataSync();
      const ms = performance.now() - t;
      y.dispose();
      if (r >= 3) best = Math.min(best, ms);
    }
    tf.dispose([a, w]);
    return { shape: `[${BATCH},${i}]x[${i},${o}]`, ms: best, gflops: (2 * BATCH * i * o) / best / 1e6 };
  });
  const totalMs = perLayer.reduce((a, l) => a + l.ms, 0);
  return { gflops: (forwardFlops * BATCH) / totalMs / 1e6, perLayer };
}

function baselineModel(): tf.LayersModel {
  const model = tf.sequential();
  HIDDEN.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [784] } : {}) }));
    model.add(tf.layers.dropout({ rate: DROPOUT }));
  });
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-7), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function timeBaseline(model: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D): Promise<{ samplesPerSecond: number; loss: number }> {
  const t = performance.now();
  const h = await model.fit(x, y, { batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0 });
  const seconds = (performance.now() - t) / 1000;
  return { samplesPerSecond: x.shape[0] / seconds, loss: h.history.loss[0] as number };
}

/**
 * fitMLP for one epoch on an engine: wasm (TensorFlow.js) or onnxruntime (one session run per
 * step, src/core/train/ort-step.ts). The rate is the epoch's training phase, as history.json
 * reports it: building the onnxruntime session (once per run) is outside it.
 */
async function timeOurs(mlp: MLP, data: DatasetSplits, engine: 'wasm' | 'onnxruntime' = 'wasm') {
  await initEngine(engine);
  const r = await fitMLP(mlp, data, { epochs: 1, batchSize: BATCH, shuffle: false, seed: 1 });
  await initEngine('wasm');
  return { samplesPerSecond: r.history.epochs[0].samplesPerSecond, loss: r.history.epochs[0].loss, mlp: r.mlp, engine: r.history.engine };
}

/** Kernel times of one of our training steps, by kernel name (tf.profile). */
async function profileStep(mlp: MLP, x: Float32Array, labels: Int32Array): Promise<{ kernel: string; calls: number; ms: number }[]> {
  const specs: LayerSpec[] = mlp.layers.map((l, i) => ({
    activation: l.activation,
    dropout: i < mlp.layers.length - 1 ? (l.dropout ?? 0) : 0,
  }));
  const flat: tf.Tensor[] = mlp.layers.flatMap((l) => [tf.tensor2d(l.weights, [l.inputSize, l.units]), tf.tensor1d(l.bias!)]);
  const adam = new Adam(
    KERAS_ADAM,
    flat.map((t) => t.shape),
  );
  const rng = new Rng(1, 3);
  const step = () =>
    tf.tidy(() => {
      const xb = tf.tensor2d(x.subarray(0, BATCH * 784), [BATCH, 784]);
      const lb = tf.tensor1d(labels.subarray(0, BATCH), 'int32');
      const yb = tf.cast(tf.oneHot(lb, 10), 'float32') as tf.Tensor2D;
      const masks = specs.map((s, l) =>
        s.dropout ? tf.tensor2d(rng.dropoutMask(new Float32Array(BATCH * SIZES[l + 1]), s.dropout), [BATCH, SIZES[l + 1]]) : null,
      );
      const kernels = flat.filter((_, i) => i % 2 === 0) as tf.Tensor2D[];
      const biases = flat.filter((_, i) => i % 2 === 1) as tf.Tensor1D[];
      const r = lossAndGradients(specs, { kernels, biases }, xb, yb, lb, masks);
      const grads = r.grads.kernels.flatMap((g, l) => [g, r.grads.biases[l] as tf.Tensor]);
      const next = adam.update(flat, grads);
      tf.dispose(flat);
      flat.splice(0, flat.length, ...next);
    });
  step();
  const prof = await tf.profile(step);
  const agg = new Map<string, { calls: number; ms: number }>();
  for (const k of prof.kernels) {
    const e = agg.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += k.kernelTimeMs as number;
    agg.set(k.name, e);
  }
  tf.dispose(flat);
  adam.dispose();
  return [...agg].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
  // the machine may be shared: the load before and after says how disturbed the numbers are
  const loadBefore = loadavg()[0];
  const threads = THREADS > 1 ? await initWasmThreads(THREADS) : { threads: 1 };
  const backend = await initBackend();
  const mnist = await loadDataset('mnist', { normalize: 'unit' });
  const train = getSplit(mnist, 'train');
  const rows = (WARMUP + STEPS) * BATCH;
  const warm = sliceRows(train, 0, WARMUP * BATCH);
  const measured = sliceRows(train, WARMUP * BATCH, rows);
  const validation = sliceRows(getSplit(mnist, 'validation'), 0, BATCH);
  const split = (t: typeof train): DatasetSplits => ({ name: 'mnist', normalization: 'unit', train: t, validation });

  console.log(
    `backend ${backend.name}, wasm threads ${threads.threads}${threads.problem ? ` (${threads.problem})` : ''}, ${STEPS} steps x ${REPEATS} repeats`,
  );
  const bound = matmulBound();
  console.log(`bound: plain matMul ${bound.gflops.toFixed(1)} GFLOP/s`);

  const model = baselineModel();
  const tensors = (d: typeof train) =>
    [tf.tensor2d(d.x, [d.n, 784]), tf.cast(tf.oneHot(tf.tensor1d(d.y!, 'int32'), 10), 'float32')] as [tf.Tensor2D, tf.Tensor2D];
  const [wx, wy] = tensors(warm);
  const [mx, my] = tensors(measured);
  await model.fit(wx, wy, { batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0 });
  const warmed = (
    await fitMLP(initMLP({ inputShape: [784], hidden: HIDDEN, classes: 10, dropout: DROPOUT, seed: 1 }), split(warm), {
      epochs: 1,
      shuffle: false,
    })
  ).mlp;

  const runs = await alternateRepeats(model, mx, my, warmed, split(measured));
  const profile = await profileStep(runs.mlp, measured.x, measured.y!);
  tf.dispose([wx, wy, mx, my]);
  model.dispose();
  await writeReport({ loadBefore, backend, threads, bound, runs, profile });
}

/** The baseline and ours, one after the other, REPEATS times; each run of ours continues from the previous one's weights. */
async function alternateRepeats(model: tf.LayersModel, mx: tf.Tensor2D, my: tf.Tensor2D, start: MLP, data: DatasetSplits) {
  let mlp = start;
  const base: number[] = [];
  const ours: number[] = [];
  const ort: number[] = [];
  const losses = { baseline: [] as number[], ours: [] as number[], onnxruntime: [] as number[] };
  for (let r = 0; r < REPEATS; r++) {
    const b = await timeBaseline(model, mx, my);
    const o = await timeOurs(mlp, data);
    // The same weights and batches on onnxruntime: its loss must match ours on wasm.
    const x = onnxRuntime() ? await timeOurs(mlp, data, 'onnxruntime') : undefined;
    mlp = o.mlp;
    base.push(b.samplesPerSecond);
    ours.push(o.samplesPerSecond);
    losses.baseline.push(b.loss);
    losses.ours.push(o.loss);
    if (x) {
      ort.push(x.samplesPerSecond);
      losses.onnxruntime.push(x.loss);
    }
    const line = `baseline ${b.samplesPerSecond.toFixed(0)}, ours ${o.samplesPerSecond.toFixed(0)}`;
    console.log(`repeat ${r + 1}: ${line}${x ? `, ours on onnxruntime ${x.samplesPerSecond.toFixed(0)}` : ''} samples/s`);
  }
  return { base, ours, ort, losses, mlp };
}

/** Writes bench-results/training.json and prints the summary. */
// eslint-disable-next-line max-lines-per-function -- the report object literal, one field a line as Prettier lays it out
async function writeReport(m: {
  loadBefore: number;
  backend: Awaited<ReturnType<typeof initBackend>>;
  threads: { threads: number; problem?: string };
  bound: ReturnType<typeof matmulBound>;
  runs: Awaited<ReturnType<typeof alternateRepeats>>;
  profile: Awaited<ReturnType<typeof profileStep>>;
}): Promise<void> {
  const { backend, threads, bound, profile } = m;
  const { base, ours, ort, losses } = m.runs;
  const b = stats(base);
  const o = stats(ours);
  const x = ort.length ? stats(ort) : undefined;
  const boundSamples = (bound.gflops * 1e9) / (3 * forwardFlops);
  const ourGflops = (o.best * ourTrainingFlops) / 1e9;
  const report = {
    bench: 'training',
    date: new Date().toISOString(),
    machine: {
      ...machine(),
      loadAverage1min: { before: m.loadBefore, after: loadavg()[0] },
    },
    backend,
    wasmThreads: threads.threads,
    model: SIZES.join('-'),
    batchSize: BATCH,
    dropout: DROPOUT,
    stepsPerRepeat: STEPS,
    warmupSteps: WARMUP,
    repeats: REPEATS,
    flopsPerSample: { forward: forwardFlops, training3x: 3 * forwardFlops, oursComputes: ourTrainingFlops },
    bound: { matmulGflops: bound.gflops, samplesPerSecond: boundSamples, perLayer: bound.perLayer },
    baseline: { what: 'tf.layers Sequential model.fit, batch 512, tf.train.adam', ...b, losses: losses.baseline },
    ours: { what: 'fitMLP, batch 512', ...o, gflops: ourGflops, losses: losses.ours },
    onnxruntime: x
      ? { what: 'fitMLP on onnxruntime, batch 512', ...x, gflops: (x.best * ourTrainingFlops) / 1e9, losses: losses.onnxruntime }
      : { skipped: onnxRuntimeNote() ?? 'onnxruntime-node did not load' },
    ratios: {
      oursOverBaseline: o.best / b.best,
      oursOverBound: o.best / boundSamples,
      ourGflopsOverMatmulGflops: ourGflops / bound.gflops,
    },
    profileOfOneStep: profile,
    summary: [
      { metric: 'baseline model.fit', value: b.best, unit: 'samples/s' },
      { metric: 'ours fitMLP', value: o.best, unit: 'samples/s' },
      { metric: 'ours fitMLP on onnxruntime', value: x?.best ?? 'not loaded', unit: x ? 'samples/s' : '' },
      { metric: 'onnxruntime / wasm (same process)', value: x ? x.best / o.best : null, unit: 'x' },
      { metric: 'onnxruntime target (>= 4000 samples/s) met', value: String(!!x && x.best >= 4000) },
      { metric: 'bound (matmul, 3x forward flops)', value: boundSamples, unit: 'samples/s' },
      { metric: 'plain matMul', value: bound.gflops, unit: 'GFLOP/s' },
      { metric: 'ours effective', value: ourGflops, unit: 'GFLOP/s' },
      { metric: 'ours / baseline', value: o.best / b.best, unit: 'x' },
      { metric: 'ours / bound', value: o.best / boundSamples, unit: 'x' },
      { metric: 'wasm threads', value: threads.threads, unit: '' },
    ],
  };
  const out = join(root, 'bench-results', 'training.json');
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  await writeFilesAtomically([{ path: out, data: `${JSON.stringify(report, null, 1)}\n` }]);
  console.log(
    `training bench (${backend.name}, ${threads.threads} thread(s)): baseline ${b.best.toFixed(0)}, ours ${o.best.toFixed(0)}, bound ${boundSamples.toFixed(0)} samples/s; ` +
      `ours/baseline ${(o.best / b.best).toFixed(1)}x, ours/bound ${(o.best / boundSamples).toFixed(2)} -> ${out}`,
  );
  console.log(
    'one step, kernel ms:',
    profile
      .slice(0, 8)
      .map((p) => `${p.kernel} ${p.ms.toFixed(1)}`)
      .join(', '),
  );
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
