import { countNonzero } from '../model/count';
import { promises as fs } from 'node:fs';
import { initBackend } from '../backend';
import { PruneScopeError } from '../errors';
import type { ReadOptions } from '../formats/format';
import { outputFilesOf, readModel, writeModel, writerFor } from '../formats/registry';
import { assertMayWriteAll } from '../io/scope';
import { assertFolderPossible, assertNotSource, makeFolderFor } from '../io/atomic';
import type { MLP } from '../model/mlp';
import { strategyById } from '../prune/registry';
import type { PruneStrategyId } from '../prune/strategy';
import type { ScheduleName } from '../results/format';
import { evaluate, type Evaluation } from '../train/evaluate';
import {
  calibrationSource,
  checkCancelled,
  prepareData,
  resolveSchedule,
  type DataOptions,
  type JobHooks,
  type PreparedData,
} from './analysis';
import { resolvePruning, scheduleExtras, type PruningOptions } from './pruning-options';
import { pruneWithSchedule, type Lineage } from './schedules';

export interface PruneModelOptions extends Partial<DataOptions>, PruningOptions {
  model: string;
  readOptions?: ReadOptions;
  strategy: string;
  sparsity: number;
  out: string;
  schedule?: ScheduleName;
  finetuneEpochs?: number;
  iterations?: number;
  seed?: number;
  includeOutput?: boolean;
  /** Store every weight, zeros included, even as ONNX (for consumers without sparse initializers). */
  dense?: boolean;
}

export interface PruneModelResult {
  out: string;
  files: string[];
  bytesBefore: number;
  bytesAfter: number;
  strategy: string;
  kind: 'structured' | 'unstructured';
  sparsity: number;
  /** Whether the kept weights were refit on calibration rows. */
  compensated: boolean;
  /** Share of the prunable weights that are gone or zero. */
  actualSparsity: number;
  layers: { name: string; unitsBefore: number; units: number; sparsity: number }[];
  /** On the evaluation split, when data was given. */
  before?: Evaluation;
  after?: Evaluation;
  notes: string[];
}

async function totalBytes(files: string[]): Promise<number> {
  let sum = 0;
  for (const f of files) sum += (await fs.stat(f)).size;
  return sum;
}

/** Prunes one model with one strategy and writes the result in the format the output's extension names. */
export async function pruneModel(options: PruneModelOptions, hooks: JobHooks = {}): Promise<PruneModelResult> {
  await initBackend();
  const auto = options.strategy === AUTO_STRATEGY;
  const strategy = strategyById(auto ? AUTO_CANDIDATES[0] : options.strategy);
  if (!(options.sparsity >= 0 && options.sparsity < 1)) {
    throw new PruneScopeError(`sparsity ${options.sparsity} is not a share from 0 up to (not including) 1`);
  }
  const finetuneEpochs = options.finetuneEpochs ?? 0;
  const progress: Progress = (fraction, message) => hooks.onProgress?.({ fraction, message });

  progress(0, `reading ${options.model}`);
  const original = await readModel(options.model, options.readOptions);
  await checkOutput(options, original);
  const compensate = resolvePruning(options).compensate;
  const needsData = auto || strategy.needsSamples || finetuneEpochs > 0 || compensate;
  if (needsData && !options.data) {
    const why = compensate ? ' with compensation' : finetuneEpochs > 0 ? ' with fine-tuning' : '';
    throw new PruneScopeError(`strategy ${options.strategy}${why} needs a dataset (e.g. --data mnist)`);
  }
  const data = options.data ? await prepareData(options as DataOptions, original, options.model) : undefined;
  checkCancelled(hooks.signal);

  const { pruned, strategy: chosen } = auto
    ? await pruneBest(original, options, data!, hooks.signal, progress)
    : { pruned: await pruneOnce(original, strategy, options, data, hooks.signal, progress), strategy };
  checkCancelled(hooks.signal);
  const { layers, kept, total } = layerSummaries(original, pruned, options.includeOutput);

  let before: Evaluation | undefined;
  let after: Evaluation | undefined;
  if (data) {
    progress(0.85, 'evaluating');
    before = await evaluate(original, data.evalSet);
    after = await evaluate(pruned.mlp, data.evalSet, { reference: original });
  }
  progress(0.95, `writing ${options.out}`);
  const named = { ...pruned.mlp, name: `${original.name}-${chosen.id}-${Math.round(options.sparsity * 100)}` };
  const written = await writePruned(named, options);
  const notes = [...pruned.notes];
  if (chosen.kind === 'unstructured') notes.push(unstructuredNote(options));
  return {
    out: options.out,
    files: written.files,
    bytesBefore: await totalBytes(original.source?.files ?? [options.model]),
    bytesAfter: written.bytes,
    strategy: chosen.id,
    kind: chosen.kind,
    sparsity: options.sparsity,
    compensated: compensate,
    actualSparsity: total ? 1 - kept / total : 0,
    layers,
    before,
    after,
    notes,
  };
}

type Progress = (fraction: number, message: string) => void;

/** `--strategy auto`: each candidate prunes to the asked share and the best on the validation split is kept. */
export const AUTO_STRATEGY = 'auto';

/**
 * Structured candidates (the file shrinks in every format). Compensated, these three kept the most
 * accuracy on the demo model at 70-90% of the units removed, each best somewhere (docs/pruning-challenge.md).
 */
export const AUTO_CANDIDATES: readonly PruneStrategyId[] = ['unit-l2', 'cka-greedy', 'taylor-units'];

/** Prunes with every candidate and keeps the one most accurate on the validation split (never the test split). */
async function pruneBest(
  original: MLP,
  options: PruneModelOptions,
  data: PreparedData,
  signal: AbortSignal | undefined,
  progress: Progress,
): Promise<{ pruned: Pruned; strategy: ReturnType<typeof strategyById> }> {
  const judge = data.splits.validation ?? data.activationSet;
  const tried: { strategy: ReturnType<typeof strategyById>; pruned: Pruned; accuracy: number }[] = [];
  for (const id of AUTO_CANDIDATES) {
    const strategy = strategyById(id);
    const pruned = await pruneOnce(original, strategy, options, data, signal, progress);
    tried.push({ strategy, pruned, accuracy: (await evaluate(pruned.mlp, judge)).accuracy });
    checkCancelled(signal);
  }
  const best = tried.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
  const scores = tried.map((t) => `${t.strategy.id} ${(t.accuracy * 100).toFixed(2)}%`).join(', ');
  best.pruned.notes.unshift(`auto: picked ${best.strategy.id}, the most accurate on ${judge.source} of ${scores}`);
  return best;
}

/** The pruned model of the last round, with which weights survived and the schedule's notes. */
interface Pruned {
  mlp: MLP;
  lineage: Lineage;
  notes: string[];
}

/** The output may be written: not a file of the source, in a folder that can exist, replacing only what may be replaced. */
async function checkOutput(options: PruneModelOptions, original: MLP): Promise<void> {
  assertNotSource(options.out, original.source?.files ?? [options.model]);
  assertFolderPossible(options.out);
  // Every file of the output, before the work: existing ones only when the command may replace
  // them (--force, a confirmation), and never a file of the source (the write checks again).
  await assertMayWriteAll(outputFilesOf(options.out));
}

/** Runs the schedule to the target sparsity; returns the model of its last round. */
async function pruneOnce(
  original: MLP,
  strategy: ReturnType<typeof strategyById>,
  options: PruneModelOptions,
  data: PreparedData | undefined,
  signal: AbortSignal | undefined,
  progress: Progress,
): Promise<Pruned> {
  const finetuneEpochs = options.finetuneEpochs ?? 0;
  const schedule = resolveSchedule(options);
  let final: Pruned | undefined;
  const iterations = schedule === 'one-shot' ? 1 : Math.max(1, options.iterations ?? 3);
  if (schedule !== 'one-shot' && finetuneEpochs === 0) {
    throw new PruneScopeError(`the ${schedule} schedule retrains between rounds: give fine-tuning epochs`);
  }
  progress(0.1, `pruning with ${strategy.id} to ${Math.round(options.sparsity * 100)}%`);
  await pruneWithSchedule(
    original,
    strategy,
    {
      schedule,
      target: options.sparsity,
      iterations,
      finetuneEpochs,
      seed: options.seed ?? 1,
      includeOutput: options.includeOutput ?? false,
      samples: data?.activationSet,
      sampleCount: data?.samples,
      splits: data?.splits,
      signal,
      ...scheduleExtras(options, data && calibrationSource(data, options as DataOptions), resolvePruning(options).compensate),
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- the schedule awaits each step callback
    async (step, lineage) => {
      final = { mlp: step.mlp, lineage, notes: step.notes };
      progress(0.1 + 0.7 * (step.iteration / iterations || 1), `round ${step.iteration || 1} done`);
    },
  );
  return final!;
}

/** Per layer, units before and after and the share of weights gone; with the weights kept out of the prunable ones. */
function layerSummaries(
  original: MLP,
  pruned: Pruned,
  includeOutput: boolean | undefined,
): { layers: PruneModelResult['layers']; kept: number; total: number } {
  const last = original.layers.length - 1;
  let kept = 0;
  let total = 0;
  const layers = original.layers.map((layer, i) => {
    const keep = pruned.lineage.keepMask(i);
    const k = countNonzero(keep);
    if (i < last || includeOutput) {
      kept += k;
      total += layer.weights.length;
    }
    return { name: layer.name, unitsBefore: layer.units, units: pruned.mlp.layers[i].units, sparsity: 1 - k / layer.weights.length };
  });
  return { layers, kept, total };
}

/** Writes the pruned model. As analyze and train do, prune makes the output's folder; one it made goes again if the write fails. */
async function writePruned(named: MLP, options: PruneModelOptions): Promise<Awaited<ReturnType<typeof writeModel>>> {
  const made = await makeFolderFor(options.out);
  try {
    return await writeModel(named, options.out, { dense: options.dense });
  } catch (e) {
    if (made) await fs.rm(made, { recursive: true, force: true });
    throw e;
  }
}

/** What unstructured pruning does to the size of the file written. */
function unstructuredNote(options: PruneModelOptions): string {
  const format = writerFor(options.out);
  const structured = 'a structured strategy (unit-l1, unit-l2, apoz, cka) removes neurons instead';
  return options.dense
    ? `unstructured pruning zeroes weights; written dense as asked, every zero is stored and the file keeps its size (${structured})`
    : format.writesSparse
      ? `unstructured pruning zeroes weights; ${format.label} stores mostly-zero kernels as sparse initializers (values and their positions), so the file shrinks with the sparsity`
      : `unstructured pruning zeroes weights but ${format.label} stores every weight, so the file keeps its size; write .onnx (sparse initializers), or ${structured}`;
}
