/**
 * LONG check, not part of `npm test`: trains the 784-1000-1000-500-200-10 baseline (ReLU,
 * dropout 0.5, Adam, batch 512, early stopping with patience 3, at most 50 epochs) on MNIST and
 * requires at least 98.0% test accuracy. Takes several minutes on 2 cores.
 *
 *   node --import tsx src/core/train/mnist-baseline.long.ts [OUT_DIR]
 *
 * With OUT_DIR the model and history are saved there (model.json, history.json).
 * PRUNESCOPE_THREADS sets the wasm threads (default: all cores).
 */
import { cpus } from 'node:os';
import { initBackend } from '../backend';
import { getSplit, loadDataset } from '../data/load';
import { evaluate } from './evaluate';
import { trainMLP } from './fit';
import { saveTraining } from './save';
import { initWasmThreads } from '../wasm-threads';

const REQUIRED = 0.98;

async function main(): Promise<void> {
  const threads = await initWasmThreads(Number(process.env.PRUNESCOPE_THREADS ?? cpus().length));
  const backend = await initBackend();
  console.log(`backend ${backend.name}, wasm threads ${threads.threads}${threads.problem ? ` (${threads.problem})` : ''}`);
  const data = await loadDataset('mnist', { normalize: 'unit' });
  const t0 = performance.now();
  const { mlp, history } = await trainMLP(data, {
    hidden: [1000, 1000, 500, 200],
    dropout: 0.5,
    epochs: 50,
    patience: 3,
    batchSize: 512,
    seed: 1,
    name: 'mnist-baseline',
    onEpoch: (m) =>
      console.log(
        `epoch ${m.epoch}/${m.epochs}: loss ${m.loss.toFixed(4)} acc ${m.accuracy.toFixed(4)} ` +
          `val_loss ${m.valLoss.toFixed(4)} val_acc ${m.valAccuracy.toFixed(4)} ` +
          `${m.seconds.toFixed(1)} s (${m.samplesPerSecond.toFixed(0)} samples/s)`,
      ),
  });
  const minutes = (performance.now() - t0) / 60000;
  const test = await evaluate(mlp, getSplit(data, 'test'));
  console.log(
    `best epoch ${history.bestEpoch} of ${history.epochs.length} (stopped early: ${history.stoppedEarly}), ` +
      `${minutes.toFixed(1)} min; test accuracy ${(test.accuracy * 100).toFixed(2)}%, test loss ${test.loss.toFixed(4)}`,
  );
  const out = process.argv[2];
  if (out) {
    const saved = await saveTraining(out, mlp, history);
    console.log(`saved ${saved.files.join(', ')}`);
  }
  if (test.accuracy < REQUIRED) {
    console.error(`FAIL: test accuracy ${(test.accuracy * 100).toFixed(2)}% is below ${REQUIRED * 100}%`);
    process.exit(1);
  }
  console.log(`OK: test accuracy >= ${REQUIRED * 100}%`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
