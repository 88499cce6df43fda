/**
 * One-shot sweep without retraining: 4 strategies x 10 sparsities of a 784-1000-1000-500-200-10
 * MLP, every point measured on the 10,000 MNIST test images (accuracy, loss, agreement, layer
 * similarity, APoZ, latency), as `prunescope analyze` does, on each engine in one process:
 * onnxruntime (when it loads; target at most 20 s) and wasm.
 * The same process first times one evaluation of the unpruned model on those 10,000 images (best
 * of 3): the sweep is also reported in units of it, a figure the machine's load changes less.
 * Uses demo-output/baseline/model.json when `npm run demo` has trained it, else a Glorot-initialised
 * network of the same shape (the time does not depend on the weights' values).
 *
 *   node --import tsx src/bench/sweep.bench.ts
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, initEngine } from '../src/core/backend';
import { onnxRuntime } from '../src/core/engine/onnxruntime';
import { loadDataset } from '../src/core/data/load';
import { runAnalysis } from '../src/core/experiments';
import { readModel, writeModel } from '../src/core/formats/registry';
import { evaluate } from '../src/core/train/evaluate';
import { initMLP } from '../src/core/train/fit';
import { initWasmThreads } from '../src/core/wasm-threads';
import { machine, machineRow } from './machine';

const root = join(__dirname, '..');
/** Issue 15: the sweep on onnxruntime in at most 20 s (42 s on wasm before it). */
const TARGET_SECONDS = 20;

type Engine = 'wasm' | 'onnxruntime';

/** The sweep on one engine: initEngine picks it for every forward pass, CKA product and latency of the run. */
async function sweepOn(engine: Engine, model: string, strategies: string[], sparsities: number[]) {
  await initEngine(engine);
  const started = performance.now();
  const results = await runAnalysis({ model, data: 'mnist', strategies, sparsities }, {});
  const seconds = (performance.now() - started) / 1000;
  return {
    engine,
    seconds,
    perStrategy: results.runs.map((r) => ({ strategy: r.strategy, seconds: r.seconds })),
    samples: results.dataset.samples,
  };
}

async function evaluationSecondsOf(model: string): Promise<number> {
  const test = (await loadDataset('mnist')).test!;
  const original = await readModel(model);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await evaluate(original, test, { keepPredictions: true });
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

async function main(): Promise<void> {
  await initWasmThreads();
  const backend = await initBackend();
  const trained = join(root, 'demo-output', 'baseline', 'model.json');
  let model = trained;
  let tmp: string | undefined;
  if (!existsSync(trained)) {
    tmp = mkdtempSync(join(tmpdir(), 'prunescope-sweep-'));
    model = join(tmp, 'model.json');
    await writeModel(initMLP({ inputShape: [28, 28], hidden: [1000, 1000, 500, 200], classes: 10, seed: 1 }), model);
  }
  await initEngine('wasm');
  const evaluationSeconds = await evaluationSecondsOf(model);
  const strategies = ['magnitude', 'unit-l1', 'unit-l2', 'random'];
  const sparsities = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99];
  const engines: Engine[] = onnxRuntime() ? ['onnxruntime', 'wasm'] : ['wasm'];
  const sweeps = [];
  for (const e of engines) sweeps.push(await sweepOn(e, model, strategies, sparsities));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const [first] = sweeps;
  const wasm = sweeps.find((s) => s.engine === 'wasm')!;
  const ort = sweeps.find((s) => s.engine === 'onnxruntime');
  const points = strategies.length * sparsities.length;
  const out = {
    bench: 'sweep',
    date: new Date().toISOString(),
    backend,
    loadAverage: loadavg()[0],
    model: tmp ? 'random-init 784-1000-1000-500-200-10' : trained,
    points,
    evaluationSamples: first.samples,
    seconds: Object.fromEntries(sweeps.map((s) => [s.engine, s.seconds])),
    targetSeconds: TARGET_SECONDS,
    evaluationSeconds,
    perStrategy: Object.fromEntries(sweeps.map((s) => [s.engine, s.perStrategy])),
    machine: machine(),
    summary: [
      ...sweeps.map((s) => ({ metric: `sweep 4 strategies x 10 sparsities, ${s.engine}`, value: s.seconds, unit: 's' })),
      {
        metric: 'wasm / onnxruntime (same process)',
        value: ort ? wasm.seconds / ort.seconds : 'onnxruntime not loaded',
        unit: ort ? 'x' : '',
      },
      { metric: `target met (onnxruntime <= ${TARGET_SECONDS} s)`, value: String(!!ort && ort.seconds <= TARGET_SECONDS) },
      { metric: 'baseline: one evaluation of the original on 10,000 images on wasm (best of 3)', value: evaluationSeconds, unit: 's' },
      machineRow(),
      { metric: 'wasm sweep / one evaluation', value: wasm.seconds / evaluationSeconds, unit: 'x' },
    ],
  };
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  writeFileSync(join(root, 'bench-results', 'sweep.json'), `${JSON.stringify(out, null, 1)}\n`);
  for (const s of sweeps) {
    console.log(`sweep on ${s.engine}: ${s.seconds.toFixed(1)} s for ${points} points (target ${TARGET_SECONDS} s on onnxruntime)`);
    for (const p of s.perStrategy) console.log(`  ${p.strategy}: ${p.seconds.toFixed(1)} s`);
  }
}

void main();
