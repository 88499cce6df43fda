import { resolve } from 'node:path';
import { availableBackends, backendInfo, initBackend, initEngine } from '../core/backend';
import { SIMILARITY_METRICS } from '../core/metrics/similarity';
import { PRUNE_STRATEGIES } from '../core/prune/registry';
import { checkFits, getSplit, loadDataset } from '../core/data/load';
import { readModel } from '../core/formats/registry';
import { outputSize, type MLP } from '../core/model/mlp';
import { summarizeModel } from '../core/model/summary';
import { weightHistograms } from '../core/model/weight-histogram';
import { evaluate } from '../core/train/evaluate';
import { trainMLP } from '../core/train/fit';
import { saveTraining, trainingFiles } from '../core/train/save';
import { assertMayWriteAll } from '../core/io/scope';
import { totalBytes } from '../core/formats/model-files';
import type { JobTable } from './job-context';
import type { JobResult } from '../shared/jobs';

const nullable = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);

/** The files the reader read the model from, main file first, each once and absolute. */
function sourceFiles(mlp: MLP, path: string): string[] {
  return [...new Set((mlp.source?.files ?? [path]).map((f) => resolve(f)))];
}

/** The jobs over the core's model, data and training APIs. */
export const CORE_JOBS: JobTable<'describe' | 'inspect' | 'evaluate' | 'train'> = {
  // eslint-disable-next-line @typescript-eslint/require-await -- every job handler returns a promise (JobTable)
  async describe() {
    return {
      strategies: PRUNE_STRATEGIES.map((s) => ({
        id: s.id,
        label: s.label,
        kind: s.kind,
        description: s.description,
        needsSamples: s.needsSamples,
      })),
      metrics: Object.values(SIMILARITY_METRICS).map((m) => ({ id: m.id, label: m.label, description: m.description })),
      backends: availableBackends(),
    };
  },

  async inspect(p) {
    const mlp = await readModel(p.model, { activation: p.activation, outputActivation: p.outputActivation });
    const files = sourceFiles(mlp, p.model);
    return { summary: summarizeModel(mlp), files, bytes: await totalBytes(files), histograms: weightHistograms(mlp) };
  },

  async evaluate(p, ctx) {
    const engine = await initEngine(p.engine, p.backend);
    const backend = backendInfo();
    ctx.progress(0.05, 'reading the model');
    const read = { activation: p.activation, outputActivation: p.outputActivation };
    const mlp = await readModel(p.model, read);
    const reference = p.reference ? await readModel(p.reference, read) : undefined;
    ctx.signal.throwIfAborted();
    ctx.progress(0.2, `loading ${p.dataset}`);
    const data = getSplit(await loadDataset(p.dataset, { normalize: p.normalization }), p.split);
    checkFits(data, mlp.inputSize, outputSize(mlp), p.model, mlp.inputShape);
    if (reference) checkFits(data, reference.inputSize, outputSize(reference), p.reference, reference.inputShape);
    ctx.signal.throwIfAborted();
    ctx.progress(0.5, `evaluating on ${data.n} samples`);
    const r = await evaluate(mlp, data, { reference });
    return {
      data: data.source,
      samples: r.samples,
      accuracy: nullable(r.accuracy),
      loss: nullable(r.loss),
      agreement: nullable(r.agreement),
      backend: backend.name,
      engine: engine.name,
    };
  },

  async train(p, ctx) {
    const backend = await initBackend(p.backend);
    ctx.progress(null, `loading ${p.dataset}`);
    const splits = await loadDataset(p.dataset, { normalize: p.normalization });
    getSplit(splits, 'train');
    // Before the training, not after it: a model already in that folder is replaced only when asked.
    await assertMayWriteAll(trainingFiles(p.out));
    ctx.signal.throwIfAborted();
    const epochs: JobResult<'train'>['epochs'] = [];
    const result = await trainMLP(splits, {
      hidden: p.hidden,
      dropout: p.dropout,
      epochs: p.epochs,
      patience: p.patience,
      batchSize: p.batchSize,
      learningRate: p.learningRate,
      seed: p.seed,
      signal: ctx.signal,
      onEpoch: (e) => {
        epochs.push({
          epoch: e.epoch,
          epochs: e.epochs,
          loss: nullable(e.loss),
          accuracy: nullable(e.accuracy),
          valLoss: nullable(e.valLoss),
          valAccuracy: nullable(e.valAccuracy),
        });
        const acc = Number.isFinite(e.valAccuracy) ? `, val_acc ${(e.valAccuracy * 100).toFixed(2)}%` : '';
        ctx.progress(e.epoch / e.epochs, `epoch ${e.epoch}/${e.epochs}${acc}`);
        ctx.log(`epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} val_loss ${e.valLoss.toFixed(4)}${acc}`);
      },
    });
    ctx.signal.throwIfAborted();
    const saved = await saveTraining(p.out, result.mlp, result.history);
    return { out: p.out, files: saved.files, epochs, backend: backend.name };
  },
};
