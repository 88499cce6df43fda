/**
 * One-shot sweep without retraining: 4 strategies x 10 sparsities of a 784-1000-1000-500-200-10
 * MLP, every point measured on the 10,000 MNIST test images (accuracy, loss, agreement, layer
 * similarity, APoZ, latency), as `prunescope analyze` does. Target: at most 60 s.
 * The same process first times one evaluation of the unpruned model on those 10,000 images (best
 * of 3): the sweep is also reported in units of it, a figure the machine's load changes less.
 * Uses demo-output/baseline/model.json when `npm run demo` has trained it, else a Glorot-initialised
 * network of the same shape (the time does not depend on the weights' values).
 *
 *   node --import tsx src/bench/sweep.bench.ts
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/core/backend';
import { loadDataset } from '../src/core/data/load';
import { runAnalysis } from '../src/core/experiments';
import { readModel, writeModel } from '../src/core/formats/registry';
import { evaluate } from '../src/core/train/evaluate';
import { initMLP } from '../src/core/train/fit';
import { initWasmThreads } from '../src/core/wasm-threads';

const root = join(__dirname, '..');

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
  const test = (await loadDataset('mnist')).test!;
  const original = await readModel(model);
  let evaluationSeconds = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await evaluate(original, test, { keepPredictions: true });
    evaluationSeconds = Math.min(evaluationSeconds, (performance.now() - t0) / 1000);
  }
  const strategies = ['magnitude', 'unit-l1', 'unit-l2', 'random'];
  const sparsities = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99];
  const started = performance.now();
  const results = await runAnalysis({ model, data: 'mnist', strategies, sparsities }, {});
  const seconds = (performance.now() - started) / 1000;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const perStrategy = results.runs.map((r) => ({ strategy: r.strategy, seconds: r.seconds }));
  const out = {
    bench: 'sweep',
    date: new Date().toISOString(),
    backend,
    model: tmp ? 'random-init 784-1000-1000-500-200-10' : trained,
    points: strategies.length * sparsities.length,
    evaluationSamples: results.dataset.samples,
    seconds,
    targetSeconds: 60,
    evaluationSeconds,
    sweepInEvaluations: seconds / evaluationSeconds,
    perStrategy,
    summary: [
      { metric: 'sweep 4 strategies x 10 sparsities', value: seconds, unit: 's' },
      { metric: 'per point', value: seconds / (strategies.length * sparsities.length), unit: 's' },
      { metric: 'target', value: 60, unit: 's' },
      { metric: 'baseline: one evaluation of the original on 10,000 images (best of 3)', value: evaluationSeconds, unit: 's' },
      { metric: 'sweep / one evaluation', value: seconds / evaluationSeconds, unit: 'x' },
    ],
  };
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  writeFileSync(join(root, 'bench-results', 'sweep.json'), `${JSON.stringify(out, null, 1)}\n`);
  console.log(
    `sweep: ${seconds.toFixed(1)} s for ${out.points} points (${(seconds / out.points).toFixed(2)} s each; target 60 s), backend ${backend.name}`,
  );
  console.log(
    `  = ${out.sweepInEvaluations.toFixed(1)} evaluations of the original (${evaluationSeconds.toFixed(2)} s each, same process)`,
  );
  for (const p of perStrategy) console.log(`  ${p.strategy}: ${p.seconds.toFixed(1)} s`);
}

void main();
