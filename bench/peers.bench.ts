/**
 * Peers benchmark (issue 15): PruneScope against the same jobs written in NumPy, the tool its users
 * would otherwise reach for, timed in the same run on the same machine.
 *
 * 1. Forward pass of a 784-1000-1000-500-200-10 ReLU network on the 10,000 MNIST test images
 *    (PruneScope: the process's engine, as evaluate runs it; NumPy: x @ W + b per layer, float32).
 * 2. The 6 x 6 layer-by-layer linear-CKA matrix of two such networks (input + 5 layers) on those
 *    images, from activations already in memory (PruneScope: linearCKAMatrix on the engine).
 * 3. `prunescope compare A B --data mnist --metric linear-cka --samples 5000` as a whole process
 *    (reading the two safetensors files and MNIST, both forward passes, A against B and each
 *    against itself, APoZ; geometry off) against a NumPy script doing the same from the same
 *    files; the matrices must agree. The command starts as a user's does: bin/prunescope.js in
 *    the environment the benchmark was started with, without the large-page tunables
 *    scripts/bench.mjs adds, so its relaunch (src/cli/relaunch.ts) is timed too; the NumPy
 *    script gets that same environment.
 *
 * Times are medians of RUNS runs, each pair taken in turn so the machine's load moves both alike.
 * Writes bench-results/peers.json. Without python3 and numpy the NumPy side is reported skipped.
 *
 * Run alone: npm run bench -- peers
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { forwardOnEngine, initEngine } from '../src/core/backend';
import { loadDataset } from '../src/core/data/load';
import { mnistDir } from '../src/core/data/mnist';
import { writeModel } from '../src/core/formats/registry';
import { writeFilesAtomically } from '../src/core/io/atomic';
import { linearCKAMatrix } from '../src/core/metrics/cka';
import type { Matrix } from '../src/core/metrics/matrix';
import type { MLP } from '../src/core/model/mlp';
import { LARGE_PAGE_TUNABLES } from '../src/shared/large-pages';
import { ortActivations } from '../src/core/engine/ort-engine';
import { machine, machineRow } from './machine';
import { CHALLENGE_ARCH, randomNetwork } from './networks';

const RUNS = 3;
/** The whole-process comparison varies most from run to run (page faults; see docs/benchmarks.md). */
const COMPARE_RUNS = 5;
const root = resolve(__dirname, '..');

const PY_HELPERS = `
import sys, time, json, numpy as np
def relu(a): return np.maximum(a, 0, out=a)
def forward(x, layers):
    outs = []; h = x
    for k, (w, b) in enumerate(layers):
        h = h @ w + b
        if k < len(layers) - 1: h = relu(h)
        outs.append(h)
    return outs
def cka_matrix(xs, ys, same=False):
    xc = [a - a.mean(0) for a in xs]; yc = xc if same else [b - b.mean(0) for b in ys]
    nx = [np.linalg.norm(a.T @ a) for a in xc]; ny = nx if same else [np.linalg.norm(b.T @ b) for b in yc]
    C = np.concatenate(xc, 1).T @ np.concatenate(yc, 1)
    ox = np.cumsum([0] + [a.shape[1] for a in xc]); oy = np.cumsum([0] + [b.shape[1] for b in yc])
    return [[float(np.linalg.norm(C[ox[i]:ox[i+1], oy[j]:oy[j+1]]) ** 2 / (nx[i] * ny[j])) for j in range(len(yc))] for i in range(len(xc))]
`;

/** Forward pass and CKA from raw float32 files (compute time only). */
const PY_KERNELS = `${PY_HELPERS}
d, n = sys.argv[1], int(sys.argv[2]); arch = [int(v) for v in sys.argv[3].split(',')]; runs = int(sys.argv[4])
x = np.fromfile(f'{d}/x.f32', dtype=np.float32).reshape(n, arch[0])
layers = [(np.fromfile(f'{d}/w{k}.f32', dtype=np.float32).reshape(arch[k], arch[k+1]), np.fromfile(f'{d}/b{k}.f32', dtype=np.float32)) for k in range(len(arch) - 1)]
fw = []
for r in range(runs):
    t = time.perf_counter(); forward(x, layers); fw.append(time.perf_counter() - t)
load = lambda s, k: np.fromfile(f'{d}/{s}{k}.f32', dtype=np.float32).reshape(n, arch[k])
xs = [load('repA', k) for k in range(len(arch))]; ys = [load('repB', k) for k in range(len(arch))]
ck = []
for r in range(runs):
    t = time.perf_counter(); m = cka_matrix(xs, ys); ck.append(time.perf_counter() - t)
print('RESULT ' + json.dumps({'forward': fw, 'cka': ck, 'matrix': m}))
`;

/** The whole compare job from the files, as a NumPy user would write it. */
const PY_COMPARE = `${PY_HELPERS}
import struct
def safetensors(path):
    with open(path, 'rb') as f: raw = f.read()
    k = struct.unpack('<Q', raw[:8])[0]; head = json.loads(raw[8:8 + k]); base = 8 + k
    t = {name: np.frombuffer(raw, np.float32, int(np.prod(v['shape'])), base + v['data_offsets'][0]).reshape(v['shape'])
         for name, v in head.items() if name != '__metadata__'}
    idx = sorted({int(name.split('.')[0]) for name in t})
    return [(t[f'{i}.weight'].T, t[f'{i}.bias']) for i in idx]
def idx_images(path, start, count):
    with open(path, 'rb') as f: raw = f.read()
    return np.frombuffer(raw, np.uint8, count * 784, 16 + start * 784).reshape(count, 784).astype(np.float32) / 255
a, b, mnist = safetensors(sys.argv[1]), safetensors(sys.argv[2]), sys.argv[3]
x = idx_images(f'{mnist}/train-images-idx3-ubyte', 55000, 5000)
ra, rb = forward(x, a), forward(x, b)
cross = cka_matrix(ra, rb); selfa = cka_matrix(ra, ra, True); selfb = cka_matrix(rb, rb, True)
apoz = [[float((h <= 0).mean()) for h in r[:-1]] for r in (ra, rb)]
print('RESULT ' + json.dumps({'cross': cross, 'selfA': selfa, 'selfB': selfb, 'apoz': apoz}))
`;

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return Math.round(s[Math.floor(s.length / 2)] * 1000) / 1000;
}

/** process.env without the large-page tunables scripts/bench.mjs added: what a user's shell has. */
function userEnv(): NodeJS.ProcessEnv {
  const own = (process.env.GLIBC_TUNABLES ?? '')
    .split(':')
    .filter((t) => t !== '' && !(LARGE_PAGE_TUNABLES as readonly string[]).includes(t));
  const env = { ...process.env };
  if (own.length) env.GLIBC_TUNABLES = own.join(':');
  else delete env.GLIBC_TUNABLES;
  return env;
}

function python(
  args: string[],
  env = process.env,
): { ok: true; json: Record<string, unknown>; seconds: number } | { ok: false; why: string } {
  const t0 = performance.now();
  const r = spawnSync('python3', args, { encoding: 'utf8', maxBuffer: 1 << 26, env });
  const seconds = (performance.now() - t0) / 1000;
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) return { ok: false, why: `python3 failed: ${(r.stderr ?? String(r.error)).slice(-300)}` };
  return { ok: true, json: JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>, seconds };
}

function numpyPresent(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

function maxDiff(a: (number | null)[][], b: (number | null)[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs((v ?? NaN) - (b[i]?.[j] ?? NaN))))));
  return m;
}

/** Input + every layer's output of a network on the engine (what the CKA part compares). */
function reps(mlp: MLP, x: Float32Array, n: number): Matrix[] {
  const acts = ortActivations(mlp, x, n);
  return [{ rows: n, cols: mlp.inputSize, data: x }, ...acts.map((a, l) => ({ rows: n, cols: mlp.layers[l].units, data: a }))];
}

async function timeRuns(f: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    await f();
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

/** Parts 1 and 2: in-process kernels against NumPy's on the same arrays. */
async function kernels(dir: string, a: MLP, b: MLP, x: Float32Array, n: number) {
  const forward = await timeRuns(() => forwardOnEngine(a, x, n));
  const [xs, ys] = [reps(a, x, n), reps(b, x, n)];
  let values: (number | null)[][] = [];
  const cka = await timeRuns(() => (values = linearCKAMatrix(xs, ys).values));
  writeFileSync(join(dir, 'x.f32'), x.subarray(0, n * 784));
  a.layers.forEach((l, k) => {
    const wT = new Float32Array(l.inputSize * l.units);
    for (let o = 0; o < l.units; o++) for (let i = 0; i < l.inputSize; i++) wT[i * l.units + o] = l.weights[o * l.inputSize + i];
    writeFileSync(join(dir, `w${k}.f32`), wT);
    writeFileSync(join(dir, `b${k}.f32`), l.bias!);
  });
  xs.forEach((m, k) => writeFileSync(join(dir, `repA${k}.f32`), m.data as Float32Array));
  ys.forEach((m, k) => writeFileSync(join(dir, `repB${k}.f32`), m.data as Float32Array));
  const py = python(['-c', PY_KERNELS, dir, String(n), CHALLENGE_ARCH.join(','), String(RUNS)]);
  return { forward, cka, values, py };
}

/** Part 3: the whole compare process against the NumPy script, in turn, RUNS times. */
function wholeCompare(dir: string, fileA: string, fileB: string) {
  const cli = join(root, 'bin', 'prunescope.js');
  const env = userEnv();
  const args = [cli, 'compare', fileA, fileB, '--data', 'mnist', '--metric', 'linear-cka', '--samples', '5000'];
  const prune: number[] = [];
  const numpy: number[] = [];
  let results: { cross?: number[][]; selfA?: number[][] } = {};
  let py: ReturnType<typeof python> = { ok: false, why: 'not run' };
  for (let r = 0; r < COMPARE_RUNS; r++) {
    const out = join(dir, `cmp${r}`);
    const t0 = performance.now();
    const c = spawnSync(process.execPath, [...args, '--geometry-samples', '0', '--json', '--out', out], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      env,
    });
    prune.push((performance.now() - t0) / 1000);
    if (c.status !== 0) throw new Error(`prunescope compare failed: ${c.stderr.slice(-500)}`);
    results = JSON.parse(c.stdout) as typeof results;
    py = python(['-c', PY_COMPARE, fileA, fileB, mnistDir()], env);
    if (!py.ok) break;
    numpy.push(py.seconds);
  }
  return { prune, numpy, results, py };
}

type Row = { metric: string; value: number | string | null; unit?: string };

function ratioRows(name: string, ours: number[], theirs: number[] | undefined): Row[] {
  const o = median(ours);
  if (!theirs?.length) return [{ metric: `${name}, PruneScope`, value: o, unit: 's' }];
  const t = median(theirs);
  return [
    { metric: `${name}, PruneScope`, value: o, unit: 's' },
    { metric: `${name}, NumPy`, value: t, unit: 's' },
    { metric: `${name}, PruneScope / NumPy`, value: Math.round((o / t) * 100) / 100, unit: 'x' },
  ];
}

async function main(): Promise<void> {
  const engine = await initEngine('auto');
  const numpyVersion = numpyPresent();
  if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  const test = (await loadDataset(join(mnistDir(), 't10k-images-idx3-ubyte'))).test!;
  const [a, b] = [randomNetwork(1), randomNetwork(2)];
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-peers-'));
  try {
    const [fileA, fileB] = [join(dir, 'a.safetensors'), join(dir, 'b.safetensors')];
    await writeModel(a, fileA);
    await writeModel(b, fileB);
    const k = await kernels(dir, a, b, test.x, test.n);
    const whole = numpyVersion ? wholeCompare(dir, fileA, fileB) : undefined;
    if (!k.py.ok) console.log(`  NumPy kernels: ${k.py.why}`);
    const kpy = numpyVersion && k.py.ok ? (k.py.json as { forward: number[]; cka: number[]; matrix: number[][] }) : undefined;
    const cpy = whole?.py.ok ? (whole.py.json as { cross: number[][]; selfA: number[][] }) : undefined;
    const summary: Row[] = [
      ...ratioRows('forward pass, 10000 images', k.forward, kpy?.forward),
      ...ratioRows('6x6 linear CKA n=10000', k.cka, kpy?.cka),
      ...(whole ? ratioRows('compare (whole process, 5000 images)', whole.prune, whole.numpy) : []),
      machineRow(),
    ];
    if (!numpyVersion) summary.push({ metric: 'numpy', value: 'skipped: python3 with numpy not found' });
    const report = {
      bench: 'peers',
      date: new Date().toISOString(),
      machine: machine(),
      engine: engine.name,
      numpy: numpyVersion ?? null,
      runs: { kernels: RUNS, compare: COMPARE_RUNS },
      loadAverage: loadavg()[0],
      seconds: {
        forward: { prunescope: k.forward, numpy: kpy?.forward ?? null },
        cka: { prunescope: k.cka, numpy: kpy?.cka ?? null },
        compare: { prunescope: whole?.prune ?? null, numpy: whole?.numpy ?? null },
      },
      maxAbsDiff: {
        cka: kpy ? maxDiff(k.values, kpy.matrix) : null,
        compareCross: cpy && whole?.results.cross ? maxDiff(whole.results.cross, cpy.cross) : null,
        compareSelfA: cpy && whole?.results.selfA ? maxDiff(whole.results.selfA, cpy.selfA) : null,
      },
      goal: 'PruneScope at most as long as NumPy (ratio <= 1) on each job',
      summary,
    };
    await writeFilesAtomically([{ path: join(root, 'bench-results', 'peers.json'), data: `${JSON.stringify(report, null, 1)}\n` }]);
    for (const r of summary) console.log(`  ${r.metric}: ${r.value}${r.unit ? ` ${r.unit}` : ''}`);
    console.log(`  max |diff| against NumPy: ${JSON.stringify(report.maxAbsDiff)}; load average ${report.loadAverage}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
