/**
 * Engines benchmark (issue 15): the 6 x 6 layer-by-layer linear-CKA matrix of two
 * 784-1000-1000-500-200-10 ReLU networks (He-initialised, seeds 1 and 2, as similarity.bench.ts)
 * on the 10,000 MNIST test images, on each dense engine in one process: onnxruntime-node (when it
 * loads) and the wasm engine (tfjs-backend-wasm, all cores). Also the forward passes that give the
 * activations on each engine, and, when python3 with numpy is present, the same 6 x 6 matrix in
 * NumPy in a child process (compute time only, data handed over as raw float32 files), reported
 * as a ratio. Writes bench-results/engines.json.
 *
 * Run alone: node --import tsx bench/engines.bench.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/core/backend';
import { loadDataset } from '../src/core/data/load';
import { mnistDir } from '../src/core/data/mnist';
import { onnxRuntimeEngine } from '../src/core/engine/ort-engine';
import { onnxRuntimeNote, ortThreads } from '../src/core/engine/onnxruntime';
import { wasmEngine } from '../src/core/engine/wasm-engine';
import type { DenseEngine } from '../src/core/engine/dense';
import { writeFilesAtomically } from '../src/core/io/atomic';
import { linearCKAMatrix } from '../src/core/metrics/cka';
import type { Matrix } from '../src/core/metrics/matrix';
import type { MLP } from '../src/core/model/mlp';
import { CHALLENGE_ARCH, randomNetwork } from './networks';

const ARCH = CHALLENGE_ARCH;
const root = resolve(__dirname, '..');
const TARGET = { seconds: 3, ratioOverWasm: 5 };

/**
 * Wall time and this process's CPU time (all threads). On the shared, loaded machines the wall
 * time swings with other people's jobs; the CPU time is the work done, so the ratio of CPU times
 * is the steadier comparison of two engines.
 */
async function timed<T>(f: () => Promise<T> | T): Promise<{ value: T; seconds: number; cpuSeconds: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return { value, seconds: Math.round(performance.now() - t0) / 1000, cpuSeconds: Math.round((c.user + c.system) / 1000) / 1000 };
}

async function representations(e: DenseEngine, mlp: MLP, x: Float32Array, n: number): Promise<Matrix[]> {
  const r = await e.forward(mlp, x, n, { activations: true });
  return [{ rows: n, cols: 784, data: x }, ...r.activations!.map((a, l) => ({ rows: n, cols: ARCH[l + 1], data: a }))];
}

const NUMPY = `
import sys, time, numpy as np
d, n = sys.argv[1], int(sys.argv[2]); arch = [int(v) for v in sys.argv[3].split(',')]
load = lambda s, k: np.fromfile(f'{d}/{s}{k}.f32', dtype=np.float32).reshape(n, arch[k])
xs = [load('x', k) for k in range(6)]; ys = [load('y', k) for k in range(6)]
t = time.perf_counter(); c = time.process_time()
xc = [a - a.mean(0) for a in xs]; yc = [b - b.mean(0) for b in ys]
nx = [np.linalg.norm(a.T @ a) for a in xc]; ny = [np.linalg.norm(b.T @ b) for b in yc]
X = np.concatenate(xc, 1); C = X.T @ np.concatenate(yc, 1)
o = np.cumsum([0] + arch)
m = [[float(np.linalg.norm(C[o[i]:o[i+1], o[j]:o[j+1]]) ** 2 / (nx[i] * ny[j])) for j in range(6)] for i in range(6)]
print('RESULT', time.perf_counter() - t, time.process_time() - c, m)
`;

/** The same matrix in NumPy (float32 matmuls, as a NumPy user writes it); undefined without numpy. */
function numpyCKA(
  xs: Matrix[],
  ys: Matrix[],
  n: number,
): { seconds: number; cpuSeconds: number; values: number[][] } | { skipped: string } {
  const probe = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return { skipped: 'python3 with numpy not found' };
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-engines-'));
  try {
    xs.forEach((m, k) => writeFileSync(join(dir, `x${k}.f32`), m.data as Float32Array));
    ys.forEach((m, k) => writeFileSync(join(dir, `y${k}.f32`), m.data as Float32Array));
    const r = spawnSync('python3', ['-c', NUMPY, dir, String(n), ARCH.join(',')], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (r.status !== 0 || !line) return { skipped: `numpy run failed: ${r.stderr.slice(-300)}` };
    const [, secs, cpu, ...rest] = line.split(' ');
    const r3 = (v: string) => Math.round(Number(v) * 1000) / 1000;
    return { seconds: r3(secs), cpuSeconds: r3(cpu), values: JSON.parse(rest.join(' ')) as number[][] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function maxDiff(a: (number | null)[][], b: (number | null)[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs((v ?? NaN) - (b[i][j] ?? NaN))))));
  return m;
}

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  const test = (await loadDataset(join(mnistDir(), 't10k-images-idx3-ubyte'))).test!;
  const n = test.n;
  const [a, b] = [randomNetwork(1), randomNetwork(2)];
  const ort = onnxRuntimeEngine();
  const wasm = wasmEngine();
  const fwdWasm = await timed(async () => [await representations(wasm, a, test.x, n), await representations(wasm, b, test.x, n)]);
  const fwdOrt = ort ? await timed(async () => [await representations(ort, a, test.x, n), await representations(ort, b, test.x, n)]) : null;
  const [xs, ys] = fwdWasm.value;
  const ckaOrt = ort ? await timed(() => linearCKAMatrix(xs, ys, { engine: 'onnxruntime' })) : null;
  const ckaWasm = await timed(() => linearCKAMatrix(xs, ys, { engine: 'float32' }));
  const numpy = numpyCKA(xs, ys, n);
  const report = {
    bench: 'engines',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    networks: 'two 784-1000-1000-500-200-10 ReLU networks, He-initialised (seeds 1, 2); representations: input + 5 layer outputs',
    data: `MNIST t10k images, n = ${n}`,
    engines: {
      onnxruntime: ort ? { threads: ortThreads() } : { skipped: onnxRuntimeNote() },
      wasm: { backend: backend.name, threads: backend.threads },
    },
    forwardSeconds: { wasm: fwdWasm.seconds, onnxruntime: fwdOrt?.seconds ?? null },
    ckaSeconds: { onnxruntime: ckaOrt?.seconds ?? null, wasm: ckaWasm.seconds, numpy: 'seconds' in numpy ? numpy.seconds : null },
    ckaCpuSeconds: {
      onnxruntime: ckaOrt?.cpuSeconds ?? null,
      wasm: ckaWasm.cpuSeconds,
      numpy: 'cpuSeconds' in numpy ? numpy.cpuSeconds : null,
    },
    loadAverage: loadavg()[0],
    maxAbsDiff: {
      onnxruntimeVsWasm: ckaOrt ? maxDiff(ckaOrt.value.values, ckaWasm.value.values) : null,
      numpyVsWasm: 'values' in numpy ? maxDiff(numpy.values, ckaWasm.value.values) : null,
    },
    numpy,
    target: TARGET,
    summary: summary(ckaOrt, ckaWasm, numpy, fwdOrt?.seconds, fwdWasm.seconds),
  };
  const out = join(root, 'bench-results', 'engines.json');
  await writeFilesAtomically([{ path: out, data: `${JSON.stringify(report, null, 1)}\n` }]);
  for (const r of report.summary) console.log(`  ${r.metric}: ${r.value}${r.unit ? ` ${r.unit}` : ''}`);
  console.log(
    `  max |diff| onnxruntime vs wasm ${report.maxAbsDiff.onnxruntimeVsWasm}, numpy vs wasm ${report.maxAbsDiff.numpyVsWasm} (${out})`,
  );
}

type Row = { metric: string; value: number | string | null; unit?: string };

type Timing = { seconds: number; cpuSeconds: number };

function summary(ortT: Timing | null, wasmT: Timing, numpy: Timing | { skipped: string }, fOrt: number | undefined, fWasm: number): Row[] {
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const ort = ortT?.seconds;
  const wasm = wasmT.seconds;
  const rows: Row[] = [
    { metric: '6x6 linear CKA n=10000, onnxruntime', value: ort ?? 'not loaded', unit: 's' },
    { metric: '6x6 linear CKA n=10000, wasm', value: wasm, unit: 's' },
    { metric: 'wasm / onnxruntime (same process)', value: ort ? r2(wasm / ort) : null, unit: 'x' },
    {
      metric: `target met (<= ${TARGET.seconds} s, >= ${TARGET.ratioOverWasm}x wasm)`,
      value: String(!!ort && ort <= TARGET.seconds && wasm / ort >= TARGET.ratioOverWasm),
    },
    { metric: 'CPU time wasm / onnxruntime', value: ortT ? r2(wasmT.cpuSeconds / ortT.cpuSeconds) : null, unit: 'x' },
    { metric: 'forward passes (2 networks, activations), onnxruntime', value: fOrt ?? null, unit: 's' },
    { metric: 'forward passes (2 networks, activations), wasm', value: fWasm, unit: 's' },
  ];
  if ('seconds' in numpy) {
    rows.push({ metric: '6x6 linear CKA n=10000, numpy', value: numpy.seconds, unit: 's' });
    if (ortT) {
      rows.push({ metric: 'onnxruntime / numpy', value: r2(ortT.seconds / numpy.seconds), unit: 'x' });
      rows.push({ metric: 'CPU time onnxruntime / numpy', value: r2(ortT.cpuSeconds / numpy.cpuSeconds), unit: 'x' });
    }
  } else rows.push({ metric: 'numpy', value: numpy.skipped });
  return rows;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
