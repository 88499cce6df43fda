/**
 * CKA pruning benchmark.
 *
 * 1. One layer, n = 512 samples, pruned to 90%: the straightforward reference (cka-reference.ts:
 *    ablate, rebuild the outputs, recompute linear CKA for every candidate) against the fast
 *    algorithm (cka-fast.ts), both timed in this run at p = 64, 128, 256. The reference's growth
 *    is fitted (log-log) and extrapolated to p = 1000, where the fast one is measured.
 *    cka (one-shot) is timed in full; cka-greedy's reference costs one such CKA for each of about
 *    k * p candidates, so its time is the measured per-candidate cost times the candidate count
 *    (run in full at p = 64 to check the estimate). The study's own loop (re-scoring every
 *    candidate against the original at every step) evaluates as many candidates as cka-greedy.
 * 2. The fast algorithm pruning all hidden layers of a 784-1000-1000-500-200-10 ReLU MLP to 90%,
 *    activations included (random-init weights unless --model PATH gives a trained model; real
 *    MNIST samples: the first 512 validation rows). Target: at most 1 s.
 *
 * Run alone: node --import tsx src/bench/cka-prune.bench.ts [--model PATH]
 * (writes bench-results/cka-prune.json)
 * PRUNESCOPE_BENCH_QUICK=1 skips the reference at p = 256 and the full greedy reference run.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { backendInfo, initBackend } from '../src/core/backend';
import { writeFilesAtomically } from '../src/core/io/atomic';
import { layerActivations } from '../src/core/model/activations';
import { centeredGram, ckaOrder, ckaOrderFromGram, pickBest, type CkaVariant } from '../src/core/prune/cka-fast';
import { ckaOrderReference, ckaStepScoresReference } from '../src/core/prune/cka-reference';
import { ckaPlan } from '../src/core/prune/cka-plan';
import { setParallelGram } from '../src/core/prune/gram';
import { readModel } from '../src/core/formats/registry';
import { mnistRows, randomMLP } from '../test/kits/prune';
import { machine } from './machine';

const N = 512;
const SHARE = 0.9;
const PS = [64, 128, 256];
const TARGET_SECONDS = 1;
const root = resolve(__dirname, '..');

function seconds(f: () => void): number {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Least-squares slope of log t against log p. */
function growthExponent(ps: number[], ts: number[]): number {
  const x = ps.map(Math.log);
  const y = ts.map(Math.log);
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let num = 0;
  let den = 0;
  x.forEach((xi, i) => {
    num += (xi - mx) * (y[i] - my);
    den += (xi - mx) ** 2;
  });
  return num / den;
}

/** Candidates a greedy run of k steps over p neurons scores. */
function candidates(p: number, k: number): number {
  let c = 0;
  for (let t = 0; t < k; t++) c += p - t;
  return c;
}

type Samples = Awaited<ReturnType<typeof mnistRows>>;

/** The first p units of a 784-1000 layer's pre-activations, as an N x p matrix. */
type LayerSlice = (p: number) => Float32Array;

interface OneShotRun {
  p: number;
  k: number;
  referenceSeconds: number;
  fastSeconds: number;
  ratio: number;
  sameOrder: boolean;
}

interface GreedyRun {
  p: number;
  k: number;
  candidates: number;
  referenceSecondsPerCandidate: number;
  referenceSecondsEstimated: number;
  fastSeconds: number;
  ratio: number;
  firstStepsAgree: boolean;
}

async function main(): Promise<void> {
  const quick = process.env.PRUNESCOPE_BENCH_QUICK === '1';
  const loadAtStart = loadavg();
  await initBackend();
  const samples = await mnistRows(N);
  const ps = quick ? PS.slice(0, 2) : PS;

  // Real pre-activations of the first layer of a random-init 784-1000 ReLU layer on MNIST;
  // the layer of width p is its first p units.
  const wide = randomMLP([784, 1000, 10], 'relu', 41);
  const z1000 = layerActivations(wide, samples.x, N, { layers: [0], pre: true, post: false })[0].pre!;
  const slice: LayerSlice = (p: number) => {
    const z = new Float32Array(N * p);
    for (let r = 0; r < N; r++) z.set(z1000.subarray(r * 1000, r * 1000 + p), r * p);
    return z;
  };
  const bias = wide.layers[0].bias!;

  ckaOrder(slice(128), N, 128, 115, 'cka-greedy'); // JIT warm-up

  const oneShot: OneShotRun[] = [];
  const greedy: GreedyRun[] = [];
  for (const p of ps) {
    const run = singleLayer(slice(p), bias.subarray(0, p), p);
    oneShot.push(run.oneShot);
    greedy.push(run.greedy);
  }
  const greedyFullCheck = quick ? null : greedyInFull(slice, bias, greedy);
  const extrapolated = extrapolateTo1000(slice, oneShot, greedy);
  const net = await wholeNetwork(samples);
  await writeReport({ quick, loadAtStart, samples, oneShot, greedy, greedyFullCheck, extrapolated, net });
}

/**
 * One layer of p units pruned to 90%: cka, reference against fast, both timed; cka-greedy's
 * reference estimated from the per-candidate cost, its first steps checked against the fast one.
 */
function singleLayer(z: Float32Array, b: Float32Array, p: number): { oneShot: OneShotRun; greedy: GreedyRun } {
  const k = Math.round(SHARE * p);
  let fastOne: number[] = [];
  let fastGreedy: number[] = [];
  const fastOneT = median([0, 1, 2].map(() => seconds(() => (fastOne = ckaOrder(z, N, p, k, 'cka').order))));
  const fastGreedyT = median([0, 1, 2].map(() => seconds(() => (fastGreedy = ckaOrder(z, N, p, k, 'cka-greedy').order))));
  let refOne: number[] = [];
  const refOneT = seconds(() => (refOne = ckaOrderReference(z, N, p, b, k, 'cka').order));
  const oneShot = {
    p,
    k,
    referenceSeconds: refOneT,
    fastSeconds: fastOneT,
    ratio: refOneT / fastOneT,
    sameOrder: refOne.join() === fastOne.join(),
  };
  // Greedy reference: each candidate costs what a one-shot candidate costs (ablate, rebuild,
  // recompute CKA), so its time is the measured per-candidate cost times the candidate count.
  // Its first steps are run (untimed) to check that it picks what the fast one picks.
  let agree = true;
  for (let t = 0; t < 2; t++) {
    const removed = fastGreedy.slice(0, t);
    const alive = new Uint8Array(p).fill(1);
    for (const u of removed) alive[u] = 0;
    if (pickBest(ckaStepScoresReference(z, N, p, b, removed), alive) !== fastGreedy[t]) agree = false;
  }
  const perCandidate = refOneT / p;
  const estimate = perCandidate * candidates(p, k);
  const greedy = {
    p,
    k,
    candidates: candidates(p, k),
    referenceSecondsPerCandidate: perCandidate,
    referenceSecondsEstimated: estimate,
    fastSeconds: fastGreedyT,
    ratio: estimate / fastGreedyT,
    firstStepsAgree: agree,
  };
  console.log(
    `p = ${p}: cka reference ${refOneT.toFixed(2)} s, fast ${(fastOneT * 1000).toFixed(1)} ms (x${(refOneT / fastOneT).toFixed(0)}); ` +
      `cka-greedy reference ~${estimate.toFixed(0)} s (estimated), fast ${(fastGreedyT * 1000).toFixed(1)} ms (x${(estimate / fastGreedyT).toFixed(0)})`,
  );
  return { oneShot, greedy };
}

/** cka-greedy's reference run in full at p = 64, to check the estimate. */
function greedyInFull(slice: LayerSlice, bias: Float32Array, greedy: GreedyRun[]) {
  const p = 64;
  const z = slice(p);
  const k = Math.round(SHARE * p);
  let ref: number[] = [];
  const t = seconds(() => (ref = ckaOrderReference(z, N, p, bias.subarray(0, p), k, 'cka-greedy').order));
  const est = greedy.find((g) => g.p === p)!.referenceSecondsEstimated;
  const check = {
    p,
    referenceSeconds: t,
    estimatedSeconds: est,
    sameOrder: ref.join() === ckaOrder(z, N, p, k, 'cka-greedy').order.join(),
  };
  console.log(`p = 64 cka-greedy reference in full: ${t.toFixed(1)} s (estimated ${est.toFixed(1)} s)`);
  return check;
}

/** Extrapolation to p = 1000 from the measured growth of the reference; the fast one measured there. */
function extrapolateTo1000(slice: LayerSlice, oneShot: OneShotRun[], greedy: GreedyRun[]) {
  const e1 = growthExponent(
    oneShot.map((r) => r.p),
    oneShot.map((r) => r.referenceSeconds),
  );
  const eG = growthExponent(
    greedy.map((r) => r.p),
    greedy.map((r) => r.referenceSecondsEstimated),
  );
  const last = oneShot[oneShot.length - 1];
  const lastG = greedy[greedy.length - 1];
  const z = slice(1000);
  const fast1000 = {
    cka: median([0, 1, 2].map(() => seconds(() => ckaOrder(z, N, 1000, 900, 'cka')))),
    'cka-greedy': median([0, 1, 2].map(() => seconds(() => ckaOrder(z, N, 1000, 900, 'cka-greedy')))),
  };
  const gramT = median([0, 1, 2].map(() => seconds(() => centeredGram(z, N, 1000))));
  const c = centeredGram(z, N, 1000);
  const orderT = (v: CkaVariant) => median([0, 1, 2].map(() => seconds(() => ckaOrderFromGram(c, 1000, 900, v))));
  const ref1000 = {
    cka: last.referenceSeconds * (1000 / last.p) ** e1,
    'cka-greedy': lastG.referenceSecondsEstimated * (1000 / lastG.p) ** eG,
  };
  const extrapolated = {
    p: 1000,
    k: 900,
    growthExponent: { cka: e1, 'cka-greedy': eG },
    referenceSecondsExtrapolated: ref1000,
    fastSeconds: fast1000,
    fastBreakdownSeconds: { centeredGram: gramT, orderCka: orderT('cka'), orderCkaGreedy: orderT('cka-greedy') },
    ratio: { cka: ref1000.cka / fast1000.cka, 'cka-greedy': ref1000['cka-greedy'] / fast1000['cka-greedy'] },
  };
  console.log(
    `p = 1000: reference ~${ref1000.cka.toFixed(0)} s (cka, p^${e1.toFixed(2)}) / ~${(ref1000['cka-greedy'] / 3600).toFixed(1)} h (cka-greedy, p^${eG.toFixed(2)}); ` +
      `fast ${(fast1000.cka * 1000).toFixed(0)} ms / ${(fast1000['cka-greedy'] * 1000).toFixed(0)} ms`,
  );
  return extrapolated;
}

/** Whole network, activations included; with and without the helper thread for C. */
async function wholeNetwork(samples: Samples) {
  const modelArg = process.argv.indexOf('--model');
  const modelPath = modelArg > 0 ? process.argv[modelArg + 1] : undefined;
  const mlp = modelPath ? await readModel(modelPath) : randomMLP([784, 1000, 1000, 500, 200, 10], 'relu', 42);
  const hidden = mlp.layers.slice(0, -1).map((_, i) => i);
  const arch = [mlp.inputSize, ...mlp.layers.map((l) => l.units)];
  const actT = median([0, 1, 2].map(() => seconds(() => layerActivations(mlp, samples.x, N, { layers: hidden, pre: true, post: false }))));
  const network: Record<string, unknown>[] = [];
  for (const parallel of availableParallelism() > 1 ? [true, false] : [false]) {
    setParallelGram(parallel);
    for (const variant of ['cka', 'cka-greedy'] as const) {
      ckaPlan(variant, mlp, { sparsity: SHARE, samples }); // warm-up
      let removed: number[] = [];
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let rep = 0; rep < 7; rep++) {
        const u = process.cpuUsage();
        wall.push(seconds(() => (removed = ckaPlan(variant, mlp, { sparsity: SHARE, samples }).remove.map((r) => r.length))));
        const d = process.cpuUsage(u);
        cpu.push((d.user + d.system) / 1e6);
      }
      network.push({
        variant,
        helperThread: parallel,
        wallSeconds: wall,
        medianSeconds: median(wall),
        minSeconds: Math.min(...wall),
        cpuSeconds: cpu,
        removed,
      });
      console.log(
        `${arch.join('-')} to 90%, ${variant}, ${parallel ? '2 threads' : '1 thread'} for C: median ${(median(wall) * 1000).toFixed(0)} ms, ` +
          `best ${(Math.min(...wall) * 1000).toFixed(0)} ms ` +
          `(activations alone ${(actT * 1000).toFixed(0)} ms) [target ${TARGET_SECONDS} s]`,
      );
    }
  }
  setParallelGram(availableParallelism() > 1);
  return { modelPath, arch, actT, network };
}

/** Writes bench-results/cka-prune.json: a summary first, then every measurement. */
async function writeReport(m: {
  quick: boolean;
  loadAtStart: number[];
  samples: Samples;
  oneShot: OneShotRun[];
  greedy: GreedyRun[];
  greedyFullCheck: ReturnType<typeof greedyInFull> | null;
  extrapolated: ReturnType<typeof extrapolateTo1000>;
  net: Awaited<ReturnType<typeof wholeNetwork>>;
}): Promise<void> {
  const { oneShot, greedy, extrapolated, net } = m;
  const { arch, network } = net;
  const last = oneShot[oneShot.length - 1];
  const defaultRuns = network.filter((r) => r.helperThread === availableParallelism() > 1);
  const networkMedian = (v: string) => defaultRuns.find((r) => r.variant === v)!.medianSeconds as number;
  const summary = [
    { metric: `network to 90%, cka (${arch.join('-')}, activations included)`, value: networkMedian('cka'), unit: 's' },
    { metric: `network to 90%, cka-greedy (${arch.join('-')}, activations included)`, value: networkMedian('cka-greedy'), unit: 's' },
    { metric: 'network target', value: TARGET_SECONDS, unit: 's' },
    { metric: `one layer p = ${last.p}: cka reference / fast`, value: last.ratio, unit: 'x' },
    { metric: 'one layer p = 1000: cka reference (extrapolated) / fast', value: extrapolated.ratio.cka, unit: 'x' },
    { metric: 'one layer p = 1000: cka-greedy reference (extrapolated) / fast', value: extrapolated.ratio['cka-greedy'], unit: 'x' },
    {
      metric: 'fast and reference orders agree',
      value: oneShot.every((r) => r.sameOrder) && greedy.every((r) => r.firstStepsAgree) ? 1 : 0,
    },
  ];
  const report = {
    benchmark: 'cka-prune',
    summary,
    date: new Date().toISOString(),
    backend: backendInfo(),
    machine: { ...machine(), loadAverageAtStart: m.loadAtStart },
    quick: m.quick,
    samples: { source: m.samples.source, n: N },
    singleLayer: {
      what: 'first p units of a random-init 784-1000 ReLU layer, pre-activation outputs on MNIST; pruned to 90%',
      cka: oneShot,
      ckaGreedy: greedy,
      ckaGreedyFullReferenceCheck: m.greedyFullCheck,
      extrapolated,
    },
    network: {
      architecture: arch,
      weights: net.modelPath ? `trained: ${net.modelPath}` : 'random init (no trained model given; --model PATH uses one)',
      sparsity: SHARE,
      targetSeconds: TARGET_SECONDS,
      activationsSeconds: net.actT,
      runs: network,
      withinTarget: defaultRuns.every((r) => (r.medianSeconds as number) <= TARGET_SECONDS),
    },
    loadAverageAtEnd: loadavg(),
  };
  const dir = join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'cka-prune.json');
  await writeFilesAtomically([{ path: out, data: `${JSON.stringify(report, null, 1)}\n` }]);
  console.log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
