/**
 * Similarity benchmark: the 6 x 6 layer-by-layer linear-CKA matrix between two
 * 784-1000-1000-500-200-10 ReLU networks (representations: the input and the 5 layer outputs)
 * on MNIST, at n = 10,000 (activations in memory) and n = 60,000 (streamed in batches; no n x n
 * and no n x p matrix of all samples is ever held), plus a naive Gram-form baseline and the
 * float64 engine at a small n for ratios and the float32 engine's error.
 *
 * Run alone: node --import tsx src/bench/similarity.bench.ts   (writes bench-results/similarity.json)
 * Each measurement runs in its own child process so its peak RSS is its own.
 * Environment: PRUNESCOPE_BENCH_THREADS wasm threads (default: all cores, through
 * initWasmThreads; 1 = tfjs-wasm as shipped; with more, the n = 10,000 matrix is also measured on
 * one thread); PRUNESCOPE_BENCH_QUICK=1 skips the n = 60,000 run and the one-thread rerun.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend';
import { loadDataset } from '../src/core/data/load';
import { mnistDir } from '../src/core/data/mnist';
import { writeFilesAtomically } from '../src/core/io/atomic';
import { initWasmThreads } from '../src/core/wasm-threads';
import { CKAMatrixAccumulator, linearCKAMatrix } from '../src/core/metrics/cka';
import { centeredScaled } from '../src/core/metrics/gram';
import type { Matrix } from '../src/core/metrics/matrix';
import { applyActivation, denseLinear, mlpTensors, type MLPTensors } from '../src/core/model/forward';
import type { MLP } from '../src/core/model/mlp';
import { CHALLENGE_ARCH, randomNetwork as challengeNetwork } from './networks';
import { machine } from './machine';

const ARCH = CHALLENGE_ARCH;
const NAMES = ['input', 'dense1', 'dense2', 'dense3', 'dense4', 'logits'];
const randomNetwork = (seed: number): MLP => challengeNetwork(seed, NAMES);
const TARGET = { seconds: 2, bytes: 1e9 };
const root = resolve(__dirname, '..');
const THREADS = Number(process.env.PRUNESCOPE_BENCH_THREADS ?? cpus().length);

/** Input plus every layer's output for one batch of rows. */
function representations(mlp: MLP, t: MLPTensors, x: Float32Array, rows: number): Matrix[] {
  const out: Matrix[] = [{ rows, cols: mlp.inputSize, data: x }];
  tf.tidy(() => {
    let h = tf.tensor2d(x, [rows, mlp.inputSize]);
    mlp.layers.forEach((layer, l) => {
      h = applyActivation(denseLinear(h, t.kernels[l], t.biases[l]), layer.activation, layer.alpha);
      out.push({ rows, cols: layer.units, data: new Float32Array(h.dataSync() as Float32Array) });
    });
  });
  return out;
}

function allRepresentations(mlp: MLP, x: Float32Array, n: number, batch = 1000): Matrix[] {
  const t = mlpTensors(mlp);
  // The input representation is the data itself, shared by both networks.
  const full = ARCH.map((c, k) => ({ rows: n, cols: c, data: k === 0 ? x.subarray(0, n * c) : new Float32Array(n * c) }));
  try {
    for (let s = 0; s < n; s += batch) {
      const rows = Math.min(batch, n - s);
      representations(mlp, t, x.subarray(s * 784, (s + rows) * 784), rows).forEach((m, k) => {
        if (k > 0) full[k].data.set(m.data, s * m.cols);
      });
    }
  } finally {
    t.dispose();
  }
  return full;
}

function head(m: Matrix, rows: number): Matrix {
  return { rows, cols: m.cols, data: m.data.subarray(0, rows * m.cols) };
}

// ---- measurement helpers -----------------------------------------------------------------

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function round(v: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function roundMatrix(values: (number | null)[][]): (number | null)[][] {
  return values.map((r) => r.map((v) => (v === null ? null : round(v, 6))));
}

/**
 * The textbook n x n form: centre, build every Gram matrix with plain loops, then
 * tr(Kx Ky) / sqrt(tr(Kx Kx) tr(Ky Ky)) for every pair.
 */
function naiveGramCKAMatrix(xs: Matrix[], ys: Matrix[]): number[][] {
  const n = xs[0].rows;
  const gram = (m: Matrix) => {
    const c = centeredScaled(m);
    const k = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let f = 0; f < m.cols; f++) s += c[i * m.cols + f] * c[j * m.cols + f];
        k[i * n + j] = s;
      }
    }
    return k;
  };
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  const kx = xs.map(gram);
  const ky = ys.map(gram);
  const nx = kx.map((k) => Math.sqrt(dot(k, k)));
  const ny = ky.map((k) => Math.sqrt(dot(k, k)));
  return kx.map((a, i) => ky.map((b, j) => dot(a, b) / nx[i] / ny[j]));
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---- phases ------------------------------------------------------------------------------

type PhaseResult = Record<string, unknown>;

async function startBackend(): Promise<{ backend: string; threads: number; threadProblem?: string }> {
  if (!Number.isInteger(THREADS) || THREADS < 1) throw new Error(`PRUNESCOPE_BENCH_THREADS must be a positive integer (got ${THREADS})`);
  const t = THREADS > 1 ? await initWasmThreads(THREADS) : { threads: 1, problem: undefined };
  const backend = await initBackend();
  return { backend: backend.name, threads: t.threads, threadProblem: t.problem };
}

/** Only the n = 10,000 matrix, for the one-thread comparison. */
async function phaseN10000Only(): Promise<PhaseResult> {
  const env = await startBackend();
  const test = (await loadDataset(join(mnistDir(), 't10k-images-idx3-ubyte'))).test!;
  const xs = allRepresentations(randomNetwork(1), test.x, test.n);
  const ys = allRepresentations(randomNetwork(2), test.x, test.n);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const r = linearCKAMatrix(xs, ys, { engine: 'auto' });
  return {
    ...env,
    n: test.n,
    engine: r.engine,
    ckaSeconds: round(seconds(t0), 3),
    ckaCpuSeconds: round(cpuSeconds() - c0, 3),
    peakRssBytes: peakRssBytes(),
  };
}

async function phaseN10000(): Promise<PhaseResult> {
  const env = await startBackend();
  const test = (await loadDataset(join(mnistDir(), 't10k-images-idx3-ubyte'))).test!;
  const n = test.n;
  const a = randomNetwork(1);
  const b = randomNetwork(2);
  let t0 = performance.now();
  const xs = allRepresentations(a, test.x, n);
  const ys = allRepresentations(b, test.x, n);
  const forwardSeconds = seconds(t0);
  const rssBefore = peakRssBytes();

  t0 = performance.now();
  const c0 = cpuSeconds();
  const fast = linearCKAMatrix(xs, ys, { engine: 'auto', xNames: NAMES.map((s) => `A.${s}`), yNames: NAMES.map((s) => `B.${s}`) });
  const ckaSeconds = seconds(t0);
  const ckaCpuSeconds = cpuSeconds() - c0;
  const ckaPeak = peakRssBytes();

  const baseline = smallBaseline(xs, ys, n, ckaCpuSeconds);
  // Work actually done: every x-y cross-product, and each representation's Gram matrix (about
  // 5/8 of it, as only blocks on or above the diagonal are multiplied; counted in full here).
  const macs = n * (sum(ARCH) * sum(ARCH) + 2 * sum(ARCH.map((c) => c * c)));
  return {
    ...env,
    n,
    forwardSeconds: round(forwardSeconds, 3),
    engine: fast.engine,
    ckaSeconds: round(ckaSeconds, 3),
    ckaCpuSeconds: round(ckaCpuSeconds, 3),
    multiplyAdds: macs,
    gigaMultiplyAddsPerCpuSecond: round(macs / ckaCpuSeconds / 1e9, 2),
    peakRssBytesBeforeCKA: rssBefore,
    peakRssBytes: ckaPeak,
    values: roundMatrix(fast.values),
    problems: fast.problems,
    meetsTarget: ckaSeconds <= TARGET.seconds && ckaPeak <= TARGET.bytes,
    baseline,
  };
}

/**
 * The same 6 x 6 at a small n three ways: the naive n x n Gram form, and the feature-space
 * matrix with each engine (float64 is also the reference for the float32 error). Ratios use
 * CPU seconds, which other processes on a shared machine do not inflate. The Gram form is also
 * extrapolated to `n`, against the `ckaCpuSeconds` measured there.
 */
function smallBaseline(xs: Matrix[], ys: Matrix[], n: number, ckaCpuSeconds: number) {
  const small = 1000;
  const xsS = xs.map((m) => head(m, small));
  const ysS = ys.map((m) => head(m, small));
  const timed = <T>(f: () => T) => {
    const t = performance.now();
    const c = cpuSeconds();
    const value = f();
    return { value, seconds: round(seconds(t), 3), cpuSeconds: round(cpuSeconds() - c, 3) };
  };
  const f32 = timed(() => linearCKAMatrix(xsS, ysS, { engine: 'float32' }).values as number[][]);
  const f64 = timed(() => linearCKAMatrix(xsS, ysS, { engine: 'float64' }).values as number[][]);
  const naive = timed(() => naiveGramCKAMatrix(xsS, ysS));
  let maxF32Error = 0;
  let maxNaiveDiff = 0;
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 6; j++) {
      maxF32Error = Math.max(maxF32Error, Math.abs(f32.value[i][j] - f64.value[i][j]));
      maxNaiveDiff = Math.max(maxNaiveDiff, Math.abs(naive.value[i][j] - f64.value[i][j]));
    }
  }
  // The Gram form costs n^2 (sum of widths) multiply-adds and holds 12 n x n float64 matrices.
  const naiveAtN = naive.cpuSeconds * (n / small) ** 2;
  return {
    n: small,
    naiveGram: { seconds: naive.seconds, cpuSeconds: naive.cpuSeconds },
    float64Feature: { seconds: f64.seconds, cpuSeconds: f64.cpuSeconds },
    float32Feature: { seconds: f32.seconds, cpuSeconds: f32.cpuSeconds },
    cpuRatioNaiveOverFloat64: round(naive.cpuSeconds / f64.cpuSeconds, 2),
    cpuRatioNaiveOverFloat32: round(naive.cpuSeconds / f32.cpuSeconds, 2),
    cpuRatioFloat64OverFloat32: round(f64.cpuSeconds / f32.cpuSeconds, 2),
    maxAbsDiffNaiveVsFloat64: maxNaiveDiff,
    maxAbsErrorFloat32VsFloat64: maxF32Error,
    naiveGramAtN: {
      n,
      cpuSecondsExtrapolated: round(naiveAtN, 0),
      bytesForGramMatrices: 12 * n * n * 8,
      cpuRatioOverMeasured: round(naiveAtN / ckaCpuSeconds, 0),
    },
  };
}

async function phaseN60000(): Promise<PhaseResult> {
  const env = await startBackend();
  // The training images file read on its own: one 60,000-row split.
  const train = (await loadDataset(join(mnistDir(), 'train-images-idx3-ubyte'))).test!;
  const parts = [train];
  const a = randomNetwork(1);
  const b = randomNetwork(2);
  const ta = mlpTensors(a);
  const tb = mlpTensors(b);
  const acc = new CKAMatrixAccumulator(ARCH, ARCH, { engine: 'auto' });
  const batch = 2000;
  let forwardSeconds = 0;
  let accumulateSeconds = 0;
  let accumulateCpu = 0;
  const t0 = performance.now();
  for (const ds of parts) {
    for (let s = 0; s < ds.n; s += batch) {
      const rows = Math.min(batch, ds.n - s);
      const x = ds.x.subarray(s * 784, (s + rows) * 784);
      let t = performance.now();
      const xs = representations(a, ta, x, rows);
      const ys = representations(b, tb, x, rows);
      forwardSeconds += seconds(t);
      t = performance.now();
      const c = cpuSeconds();
      acc.add(xs, ys);
      accumulateSeconds += seconds(t);
      accumulateCpu += cpuSeconds() - c;
    }
  }
  const t = performance.now();
  const c = cpuSeconds();
  const result = acc.result();
  const finishSeconds = seconds(t);
  const finishCpu = cpuSeconds() - c;
  ta.dispose();
  tb.dispose();
  return {
    ...env,
    n: result.rows,
    batch,
    engine: result.engine,
    totalSeconds: round(seconds(t0), 3),
    forwardSeconds: round(forwardSeconds, 3),
    ckaSeconds: round(accumulateSeconds + finishSeconds, 3),
    ckaCpuSeconds: round(accumulateCpu + finishCpu, 3),
    peakRssBytes: peakRssBytes(),
    largestMatrixHeld: `${sum(ARCH)} x ${sum(ARCH)} float64 cross-products (${((sum(ARCH) ** 2 * 8) / 1e6).toFixed(0)} MB); no n x n matrix`,
    values: roundMatrix(result.values),
    problems: result.problems,
  };
}

function sum(v: number[]): number {
  return v.reduce((x, y) => x + y, 0);
}

const PHASES: Record<string, () => Promise<PhaseResult>> = { n10000: phaseN10000, n10000only: phaseN10000Only, n60000: phaseN60000 };

// ---- driver ------------------------------------------------------------------------------

function runPhase(name: string, env: NodeJS.ProcessEnv = {}): PhaseResult {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--phase', name], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`bench phase ${name} failed (exit ${r.status})\n${r.stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as PhaseResult;
}

function mb(bytes: unknown): string {
  return `${Math.round(Number(bytes) / 1e6)} MB`;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--phase');
  if (i >= 0) {
    const phase = PHASES[process.argv[i + 1]];
    if (!phase) throw new Error(`unknown phase ${process.argv[i + 1]}`);
    process.stdout.write(`RESULT ${JSON.stringify(await phase())}\n`);
    return;
  }
  const quick = process.env.PRUNESCOPE_BENCH_QUICK === '1';
  const n10000 = runPhase('n10000');
  const oneThread = quick || Number(n10000.threads) <= 1 ? null : runPhase('n10000only', { PRUNESCOPE_BENCH_THREADS: '1' });
  const n60000 = quick ? null : runPhase('n60000');
  const report = similarityReport(n10000, oneThread, n60000);
  const out = join(root, 'bench-results', 'similarity.json');
  await writeFilesAtomically([{ path: out, data: `${JSON.stringify(report, null, 1)}\n` }]);
  printSummary(report, out);
}

/** The results file: what was measured on what, a summary, then every phase's numbers. */
function similarityReport(n10000: PhaseResult, oneThread: PhaseResult | null, n60000: PhaseResult | null) {
  return {
    bench: 'similarity',
    date: new Date().toISOString(),
    machine: machine(),
    networks:
      'two 784-1000-1000-500-200-10 networks with random He-initialised weights (seeds 1 and 2; relu hidden layers, linear logits): no trained checkpoint of this shape is available',
    representations: NAMES,
    data: { n10000: 'MNIST t10k images, pixels in [0, 1]', n60000: 'all 60,000 MNIST training images, streamed 2,000 rows at a time' },
    target: { ckaSeconds: TARGET.seconds, peakRssBytes: TARGET.bytes },
    summary: [
      { metric: '6x6 linear CKA n=10000 wall', value: n10000.ckaSeconds, unit: 's' },
      { metric: 'its products ran on', value: String(n10000.engine) },
      { metric: '6x6 linear CKA n=10000 CPU', value: n10000.ckaCpuSeconds, unit: 's' },
      { metric: '6x6 linear CKA n=10000 peak RSS', value: Math.round(Number(n10000.peakRssBytes) / 1e6), unit: 'MB' },
      { metric: `wasm threads (n=10000)`, value: n10000.threads },
      ...(oneThread ? [{ metric: '6x6 linear CKA n=10000 wall, 1 thread', value: oneThread.ckaSeconds, unit: 's' }] : []),
      { metric: 'target met (2 s, 1 GB)', value: String(n10000.meetsTarget) },
      {
        metric: 'float32 max abs error vs float64 (n=1000)',
        value: (n10000.baseline as { maxAbsErrorFloat32VsFloat64: number }).maxAbsErrorFloat32VsFloat64,
      },
      ...(n60000
        ? [
            { metric: '6x6 linear CKA n=60000 streamed wall', value: n60000.ckaSeconds, unit: 's' },
            { metric: '6x6 linear CKA n=60000 peak RSS', value: Math.round(Number(n60000.peakRssBytes) / 1e6), unit: 'MB' },
          ]
        : []),
    ],
    n10000,
    n10000OneThread: oneThread,
    n60000,
  };
}

/** The summary on the console. */
function printSummary(report: ReturnType<typeof similarityReport>, out: string): void {
  const { n10000, n10000OneThread: oneThread, n60000 } = report;
  const base = n10000.baseline as {
    n: number;
    naiveGram: { cpuSeconds: number };
    float64Feature: { cpuSeconds: number };
    float32Feature: { cpuSeconds: number };
    maxAbsErrorFloat32VsFloat64: number;
    naiveGramAtN: { n: number; cpuSecondsExtrapolated: number; bytesForGramMatrices: number; cpuRatioOverMeasured: number };
  };
  console.log(
    `similarity bench (${n10000.backend} backend, ${n10000.threads} thread(s)${n10000.threadProblem ? ` [${n10000.threadProblem}]` : ''}, ` +
      `${report.machine.cpus} cores; random-weight networks, see ${out})`,
  );
  console.log(
    `  6x6 linear CKA, n=10000: ${n10000.ckaSeconds} s wall, ${n10000.ckaCpuSeconds} s CPU (${n10000.engine}), peak RSS ${mb(n10000.peakRssBytes)} ` +
      `[target <= ${TARGET.seconds} s, <= 1 GB: ${n10000.meetsTarget ? 'met' : 'NOT met'}]; forward passes ${n10000.forwardSeconds} s`,
  );
  if (oneThread)
    console.log(
      `  same on 1 thread: ${oneThread.ckaSeconds} s wall, ${oneThread.ckaCpuSeconds} s CPU, peak RSS ${mb(oneThread.peakRssBytes)}`,
    );
  console.log(
    `  n=${base.n} (CPU s): naive Gram ${base.naiveGram.cpuSeconds}, float64 feature ${base.float64Feature.cpuSeconds}, ` +
      `float32 feature ${base.float32Feature.cpuSeconds}; float32 max error ${base.maxAbsErrorFloat32VsFloat64.toExponential(1)}`,
  );
  console.log(
    `  naive Gram at n=${base.naiveGramAtN.n} (n^2 extrapolation): ~${base.naiveGramAtN.cpuSecondsExtrapolated} CPU s and ` +
      `${mb(base.naiveGramAtN.bytesForGramMatrices)} of Gram matrices, ${base.naiveGramAtN.cpuRatioOverMeasured}x the measured CPU time`,
  );
  if (n60000) {
    console.log(
      `  6x6 linear CKA, n=${n60000.n} streamed: ${n60000.ckaSeconds} s wall (${n60000.ckaCpuSeconds} s CPU) CKA + ${n60000.forwardSeconds} s forward, peak RSS ${mb(n60000.peakRssBytes)}; ${n60000.largestMatrixHeld}`,
    );
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
