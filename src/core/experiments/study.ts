import { makeStudyDir, removeStudyDir, sweepStudyDirs } from './study-workdir';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../backend';
import { sliceRows, type Dataset, type DatasetSplits, type Normalization } from '../data/dataset';
import { getSplit, loadDataset } from '../data/load';
import { PruneScopeError } from '../errors';
import { writeModel } from '../formats/registry';
import { writeNpzFile, type NpzArrays } from '../io/npy';
import { strategyById } from '../prune/registry';
import type { AnalysisResults, StudyFactor, StudyGap, StudyResults } from '../results/format';
import { trainMLP } from '../train/fit';
import { checkCancelled, resultsHeader, runAnalysis, type JobHooks, type PreparedData } from './analysis';
import { roundTargets } from './schedules';

/**
 * The CKA-pruning study's experiment as one job: baselines trained one factor at a time around a
 * base model (dropout, width, depth), each pruned iteratively with retraining by two strategies
 * through `runAnalysis`, and per factor the accuracy gap between them at every sparsity.
 */

export const STUDY_FACTORS: readonly StudyFactor[] = ['dropout', 'width', 'depth'];

/** A baseline: `depth` hidden ReLU layers of `width` units, each followed by dropout at `dropout`. */
export interface StudyConfig {
  width: number;
  depth: number;
  dropout: number;
}

/** 784-512-512-10 without dropout, the study's base network. */
export const DEFAULT_STUDY_BASE: StudyConfig = { width: 512, depth: 2, dropout: 0 };
export const DEFAULT_STUDY_FACTORS: Record<StudyFactor, number[]> = {
  dropout: [0, 0.25, 0.5],
  width: [128, 256, 512],
  depth: [1, 2, 3],
};
export const DEFAULT_STUDY_STRATEGIES: [string, string] = ['cka', 'unit-l1'];
export const DEFAULT_STUDY_SPARSITIES = [0.5, 0.75, 0.9];

export interface StudyOptions {
  /** "mnist" or a path, as analyze takes it. */
  data: string;
  normalize?: Normalization;
  base?: StudyConfig;
  /** Values per factor; a factor left out is not varied. Default DEFAULT_STUDY_FACTORS. */
  factors?: Partial<Record<StudyFactor, number[]>>;
  /** Most training epochs per baseline (default 5; early stopping may end sooner). */
  epochs?: number;
  /** First rows of the training split every baseline trains and fine-tunes on (default 20000). */
  trainSamples?: number;
  /** First rows of the validation split, for early stopping and the activations (default 2000). */
  validationSamples?: number;
  /** Rows of the test split evaluated on (default 5000). */
  testSamples?: number;
  /** Activation rows the strategies score on (default 512, at most validationSamples). */
  samples?: number;
  sparsities?: number[];
  /** Fine-tuning epochs after every round (default 1). */
  finetuneEpochs?: number;
  /** Rounds of the iterative schedule (default 2). */
  iterations?: number;
  seed?: number;
  /** Default 1800 (30 minutes). */
  budgetSeconds?: number;
  /** The gap is the first's accuracy minus the second's. Default cka, unit-l1. */
  strategies?: [string, string];
  /** Where the data subset and the baselines go while the study runs (default: a fresh temporary folder, removed after). */
  workDir?: string;
}

/** The options with their defaults, checked. */
export interface StudySettings {
  data: string;
  normalize?: Normalization;
  base: StudyConfig;
  factors: { factor: StudyFactor; values: number[] }[];
  epochs: number;
  trainSamples: number;
  validationSamples: number;
  testSamples: number;
  samples: number;
  sparsities: number[];
  finetuneEpochs: number;
  iterations: number;
  seed: number;
  budgetSeconds: number;
  strategies: [string, string];
}

export interface FactorValue {
  factor: StudyFactor;
  value: number;
}

export interface PlannedModel {
  id: string;
  config: StudyConfig;
  factors: FactorValue[];
  estimatedSeconds: number;
}

export interface StudyPlan {
  /** Models that fit the budget, in the order they run (the base model first). */
  models: PlannedModel[];
  /** Models of the grid the budget leaves out. */
  skipped: PlannedModel[];
  /** Pruned points per model: strategies x sparsities x rounds. */
  pointsPerModel: number;
  epochSeconds: number;
  estimatedSeconds: number;
  budgetSeconds: number;
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new PruneScopeError(`study: ${what} must be a positive integer (got ${v})`);
  return v;
}

function checkConfig(c: StudyConfig, what: string): StudyConfig {
  positiveInt(c.width, `${what} width`);
  positiveInt(c.depth, `${what} depth`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new PruneScopeError(`study: ${what} dropout must be in [0, 1) (got ${c.dropout})`);
  return c;
}

/** The options with their defaults; every value of every factor checked as a model it would make. */
export function studySettings(options: StudyOptions): StudySettings {
  const base = checkConfig({ ...(options.base ?? DEFAULT_STUDY_BASE) }, 'base');
  const given = options.factors ?? DEFAULT_STUDY_FACTORS;
  const factors = STUDY_FACTORS.filter((f) => given[f]?.length).map((factor) => {
    const values = [...new Set(given[factor])];
    for (const value of values) checkConfig({ ...base, [factor]: value }, `${factor} ${value}:`);
    return { factor, values };
  });
  const sparsities = options.sparsities ?? DEFAULT_STUDY_SPARSITIES;
  if (sparsities.length === 0) throw new PruneScopeError('study: no sparsities given');
  for (const s of sparsities) if (!(s >= 0 && s < 1)) throw new PruneScopeError(`study: sparsity ${s} is not a share in [0, 1)`);
  const strategies = options.strategies ?? DEFAULT_STUDY_STRATEGIES;
  strategies.forEach(strategyById);
  const validationSamples = positiveInt(options.validationSamples ?? 2000, 'validation samples');
  const budgetSeconds = options.budgetSeconds ?? 1800;
  if (!(budgetSeconds > 0)) throw new PruneScopeError(`study: the time budget must be positive (got ${budgetSeconds} s)`);
  return {
    data: options.data,
    normalize: options.normalize,
    base,
    factors,
    epochs: positiveInt(options.epochs ?? 5, 'epochs'),
    trainSamples: positiveInt(options.trainSamples ?? 20000, 'training samples'),
    validationSamples,
    testSamples: positiveInt(options.testSamples ?? 5000, 'test samples'),
    samples: Math.min(positiveInt(options.samples ?? 512, 'activation samples'), validationSamples),
    sparsities,
    finetuneEpochs: positiveInt(options.finetuneEpochs ?? 1, 'fine-tuning epochs'),
    iterations: positiveInt(options.iterations ?? 2, 'iterations'),
    seed: options.seed ?? 1,
    budgetSeconds,
    strategies,
  };
}

export function modelId(c: StudyConfig): string {
  return `w${c.width}-d${c.depth}-p${c.dropout}`;
}

/** Weights and biases of a baseline on `inputs` features and `classes` outputs: what an epoch's cost grows with. */
export function studyParameters(c: StudyConfig, inputs: number, classes: number): number {
  const sizes = [inputs, ...Array<number>(c.depth).fill(c.width), classes];
  let p = 0;
  for (let i = 1; i < sizes.length; i++) p += sizes[i - 1] * sizes[i] + sizes[i];
  return p;
}

/**
 * Every model of the grid once, the base model first, then the factors' values taken in turn
 * (first value of each factor, then the second, ...), so that a budget that cuts the grid short
 * still leaves every factor some values.
 */
export function gridModels(settings: StudySettings): { id: string; config: StudyConfig; factors: FactorValue[] }[] {
  const models = new Map<string, { id: string; config: StudyConfig; factors: FactorValue[] }>();
  const add = (config: StudyConfig, fv?: FactorValue) => {
    const id = modelId(config);
    const m = models.get(id) ?? { id, config, factors: [] };
    if (fv) m.factors.push(fv);
    models.set(id, m);
  };
  add(settings.base);
  const longest = Math.max(0, ...settings.factors.map((f) => f.values.length));
  for (let i = 0; i < longest; i++) {
    for (const { factor, values } of settings.factors) {
      if (i < values.length) add({ ...settings.base, [factor]: values[i] }, { factor, value: values[i] });
    }
  }
  const all = [...models.values()];
  // The base model stands for a factor only where that factor lists the base value.
  return all.filter((m, i) => i > 0 || m.factors.length > 0 || settings.factors.length === 0);
}

/**
 * Measuring a point (evaluation, activations, similarity, latency, a strategy's scoring), and the
 * original once per model, in epochs of the model: what the estimate adds to the training epochs.
 * Rough figures from runs on MNIST subsets; the run corrects the plan by what it measures.
 */
export const POINT_EPOCHS = 0.5;
export const ORIGINAL_EPOCHS = 1;
/** CKA strategies score every unit against Gram matrices of the activation rows each round: about this much more per point. */
export const CKA_SCORING_EPOCHS = 1.25;

/**
 * Seconds a model should take, from the base model's measured epoch scaled by parameters:
 * training epochs, the original's measures, then per strategy, sparsity and round the fine-tuning
 * epochs (on what that round leaves of the weights) and measuring the point (and scoring it, for CKA).
 */
export function estimateSeconds(settings: StudySettings, config: StudyConfig, epochSeconds: number, shape: DataShape): number {
  const scale = studyParameters(config, shape.inputs, shape.classes) / studyParameters(settings.base, shape.inputs, shape.classes);
  let epochs = settings.epochs + ORIGINAL_EPOCHS;
  for (const strategy of settings.strategies) {
    const perPoint = POINT_EPOCHS + (strategy.startsWith('cka') ? CKA_SCORING_EPOCHS : 0);
    for (const s of settings.sparsities) {
      for (const t of roundTargets('iterative', s, settings.iterations)) epochs += settings.finetuneEpochs * (1 - t) + perPoint;
    }
  }
  return epochSeconds * scale * epochs;
}

/** Points one strategy records on one model: a round each (a sparsity of 0 has one). */
export function pointsPerStrategy(settings: StudySettings): number {
  return settings.sparsities.reduce((a, s) => a + roundTargets('iterative', s, settings.iterations).length, 0);
}

interface DataShape {
  inputs: number;
  classes: number;
}

/** The grid cut to the budget: models are added in order while the running estimate stays within it. */
export function planStudy(settings: StudySettings, epochSeconds: number, shape: DataShape): StudyPlan {
  const models: PlannedModel[] = [];
  const skipped: PlannedModel[] = [];
  let total = 0;
  for (const m of gridModels(settings)) {
    const planned = { ...m, estimatedSeconds: estimateSeconds(settings, m.config, epochSeconds, shape) };
    if (skipped.length === 0 && total + planned.estimatedSeconds <= settings.budgetSeconds) {
      models.push(planned);
      total += planned.estimatedSeconds;
    } else {
      skipped.push(planned);
    }
  }
  return {
    models,
    skipped,
    pointsPerModel: pointsPerStrategy(settings) * settings.strategies.length,
    epochSeconds,
    estimatedSeconds: total,
    budgetSeconds: settings.budgetSeconds,
  };
}

/** A study ready to run: its settings, the data subset written where runAnalysis reads it, and the plan. */
export interface PreparedStudy {
  settings: StudySettings;
  plan: StudyPlan;
  splits: DatasetSplits;
  dataName: string;
  dataPath: string;
  workDir: string;
  /** Removes the work folder when the study made it. */
  cleanup(): Promise<void>;
}

function firstRows(ds: Dataset, n: number, what: string): Dataset {
  if (ds.n < n) throw new PruneScopeError(`study: ${ds.source} has ${ds.n} rows, fewer than the ${n} ${what} asked for`);
  return sliceRows(ds, 0, n, `${ds.source} rows 0-${n - 1}`);
}

/** The first rows of each split, as the study uses them, and written as .npz for runAnalysis. */
async function studyData(settings: StudySettings, dataPath: string): Promise<{ splits: DatasetSplits; name: string }> {
  const all = await loadDataset(settings.data, { normalize: settings.normalize });
  const splits: DatasetSplits = {
    name: all.name,
    normalization: all.normalization,
    train: firstRows(getSplit(all, 'train'), settings.trainSamples, 'training samples'),
    validation: firstRows(getSplit(all, 'validation'), settings.validationSamples, 'validation samples'),
    test: firstRows(getSplit(all, 'test'), settings.testSamples, 'test samples'),
  };
  const arrays: NpzArrays = {};
  for (const [key, ds] of [
    ['train', splits.train!],
    ['val', splits.validation!],
    ['test', splits.test!],
  ] as const) {
    arrays[`x_${key}`] = { dtype: 'float32', shape: [ds.n, ds.features], data: ds.x };
    arrays[`y_${key}`] = { dtype: 'int32', shape: [ds.n], data: ds.y! };
  }
  // Stored: the values are already normalized floats and written once.
  await writeNpzFile(dataPath, arrays, false);
  return { splits, name: all.name };
}

/**
 * Loads the data, writes its subset, times one epoch of the base model on it, and plans the grid
 * within the budget. Nothing is trained for keeps yet: a dry run stops here.
 */
export async function prepareStudy(options: StudyOptions, hooks: JobHooks = {}): Promise<PreparedStudy> {
  const settings = studySettings(options);
  await initBackend();
  const made = options.workDir === undefined;
  if (made) await sweepStudyDirs();
  const workDir = options.workDir ?? makeStudyDir();
  const cleanup = async () => {
    if (made) await removeStudyDir(workDir);
  };
  try {
    await fs.mkdir(workDir, { recursive: true });
    hooks.onProgress?.({ fraction: 0, message: `loading ${settings.data}` });
    const dataPath = join(workDir, 'data.npz');
    const { splits, name } = await studyData(settings, dataPath);
    checkCancelled(hooks.signal);
    hooks.onProgress?.({ fraction: 0, message: `timing one epoch of ${modelId(settings.base)} on ${settings.trainSamples} rows` });
    // Two epochs, the second timed: the first pays for setting the engine up.
    const timing = await trainMLP(splits, { ...trainOptions(settings, settings.base), epochs: 2, patience: 2, signal: hooks.signal });
    const epochSeconds = timing.history.epochs[timing.history.epochs.length - 1].seconds;
    const shape = { inputs: splits.train!.features, classes: Math.max(splits.train!.classes, splits.test!.classes) };
    const plan = planStudy(settings, epochSeconds, shape);
    return { settings, plan, splits, dataName: name, dataPath, workDir, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function trainOptions(settings: StudySettings, config: StudyConfig) {
  return {
    hidden: Array<number>(config.depth).fill(config.width),
    dropout: config.dropout,
    epochs: settings.epochs,
    seed: settings.seed,
    name: modelId(config),
  };
}

type StudyModel = StudyResults['models'][number];

/** Trains one baseline, writes it, and runs the two strategies' iterative prune-and-retrain analysis on it. */
async function runModel(prepared: PreparedStudy, m: PlannedModel, hooks: JobHooks): Promise<StudyModel> {
  const { settings } = prepared;
  const started = performance.now();
  const fit = await trainMLP(prepared.splits, {
    ...trainOptions(settings, m.config),
    signal: hooks.signal,
    onEpoch: (e) =>
      hooks.onProgress?.({
        fraction: 0,
        message: `${m.id}: training epoch ${e.epoch}/${e.epochs}, validation accuracy ${(e.valAccuracy * 100).toFixed(2)}%`,
      }),
  });
  const h = fit.history;
  const trained = (performance.now() - started) / 1000;
  const path = join(prepared.workDir, m.id, 'model.json');
  await fs.mkdir(join(prepared.workDir, m.id), { recursive: true });
  await writeModel(fit.mlp, path);
  checkCancelled(hooks.signal);
  const analysis = await runAnalysis(
    {
      model: path,
      data: prepared.dataPath,
      normalize: 'none',
      split: 'test',
      samples: settings.samples,
      strategies: [...settings.strategies],
      sparsities: settings.sparsities,
      schedule: 'iterative',
      iterations: settings.iterations,
      finetuneEpochs: settings.finetuneEpochs,
      seed: settings.seed,
      geometry: false,
      weightMapUnits: 0,
    },
    { onProgress: (p) => hooks.onProgress?.({ fraction: p.fraction, message: `${m.id}: ${p.message}` }), signal: hooks.signal },
  );
  // The files lived in the work folder only: name the model and the data as the study knows them.
  analysis.model.path = `${m.id} (${analysis.model.inputSize}-${analysis.model.layerSizes.join('-')}, dropout ${m.config.dropout})`;
  analysis.dataset.name = `${prepared.dataName} (study subset)`;
  analysis.dataset.normalization = prepared.splits.normalization;
  const best = h.epochs[h.bestEpoch - 1];
  return {
    id: m.id,
    hidden: trainOptions(settings, m.config).hidden,
    dropout: m.config.dropout,
    factors: m.factors,
    training: { epochs: h.epochs.length, bestEpoch: h.bestEpoch, validationAccuracy: best?.valAccuracy ?? 0, seconds: trained },
    estimatedSeconds: m.estimatedSeconds,
    seconds: (performance.now() - started) / 1000,
    analysis,
  };
}

/** Accuracy of a strategy's run at a sparsity, at its last round; null when it has none. */
export function runAccuracy(analysis: AnalysisResults, strategy: string, sparsity: number): number | null {
  const run = analysis.runs.find((r) => r.strategy === strategy && !r.compensated);
  const points = run?.points.filter((p) => p.sparsity === sparsity) ?? [];
  if (points.length === 0) return null;
  return points.reduce((last, p) => (p.iteration > last.iteration ? p : last)).accuracy;
}

/** Per factor and value that ran: the first strategy's accuracy minus the second's, at every sparsity. */
export function studySummary(settings: StudySettings, models: StudyModel[]): StudyResults['summary'] {
  const [a, b] = settings.strategies;
  return settings.factors.map(({ factor, values }) => ({
    factor,
    values: values.flatMap((value) => {
      const model = models.find((m) => m.factors.some((f) => f.factor === factor && f.value === value));
      if (!model) return [];
      const gaps: StudyGap[] = settings.sparsities.map((sparsity) => {
        const accA = runAccuracy(model.analysis, a, sparsity);
        const accB = runAccuracy(model.analysis, b, sparsity);
        return { sparsity, gap: accA !== null && accB !== null ? accA - accB : null, a: accA, b: accB };
      });
      return [{ value, model: model.id, gaps }];
    }),
  }));
}

/**
 * Runs the planned models in order. Before each, the plan's estimate is scaled by how the models
 * so far compared with theirs; a model that would end past the budget is skipped, and so is
 * every one after it, each saying why.
 */
export async function runPreparedStudy(prepared: PreparedStudy, hooks: JobHooks = {}): Promise<StudyResults> {
  const { settings, plan } = prepared;
  const started = performance.now();
  const models: StudyModel[] = [];
  const skipped: StudyResults['skipped'] = plan.skipped.map((m) => ({
    id: m.id,
    factors: m.factors,
    estimatedSeconds: m.estimatedSeconds,
    reason: `the plan's estimate passed the budget of ${Math.round(settings.budgetSeconds)} s`,
  }));
  const late: StudyResults['skipped'] = [];
  for (const [i, m] of plan.models.entries()) {
    const elapsed = (performance.now() - started) / 1000;
    const ratio = models.length ? models.reduce((a, x) => a + x.seconds, 0) / models.reduce((a, x) => a + x.estimatedSeconds, 0) : 1;
    if (late.length > 0 || elapsed + m.estimatedSeconds * ratio > settings.budgetSeconds) {
      const reason = late.length
        ? `the study stopped adding models at ${late[0].id}`
        : `after ${Math.round(elapsed)} s, its estimate (${Math.round(m.estimatedSeconds * ratio)} s, corrected by the models so far) would pass the budget of ${Math.round(settings.budgetSeconds)} s`;
      late.push({ id: m.id, factors: m.factors, estimatedSeconds: m.estimatedSeconds * ratio, reason });
      continue;
    }
    const sub: JobHooks = {
      signal: hooks.signal,
      onProgress: (p) =>
        hooks.onProgress?.({ fraction: (i + p.fraction) / plan.models.length, message: `[${i + 1}/${plan.models.length}] ${p.message}` }),
    };
    models.push(await runModel(prepared, m, sub));
  }
  return studyResults(prepared, models, [...late, ...skipped], (performance.now() - started) / 1000);
}

function studyResults(prepared: PreparedStudy, models: StudyModel[], skipped: StudyResults['skipped'], seconds: number): StudyResults {
  const { settings, plan, splits } = prepared;
  const data: PreparedData = {
    splits,
    evalSet: splits.test!,
    activationSet: splits.validation!,
    activationSplit: 'validation',
    samples: settings.samples,
  };
  const header = resultsHeader(data, { split: 'test', samples: settings.testSamples });
  return {
    ...header,
    kind: 'study',
    settings: {
      strategies: settings.strategies,
      base: settings.base,
      factors: settings.factors,
      sparsities: settings.sparsities,
      schedule: 'iterative',
      iterations: settings.iterations,
      finetuneEpochs: settings.finetuneEpochs,
      epochs: settings.epochs,
      trainSamples: settings.trainSamples,
      validationSamples: settings.validationSamples,
      seed: settings.seed,
      budgetSeconds: settings.budgetSeconds,
    },
    plan: { epochSeconds: plan.epochSeconds, estimatedSeconds: plan.estimatedSeconds },
    models,
    skipped,
    summary: studySummary(settings, models),
    seconds,
  };
}

/** Prepares, plans and runs a study; the work folder is removed afterwards when the study made it. */
export async function runStudy(options: StudyOptions, hooks: JobHooks = {}): Promise<StudyResults> {
  const prepared = await prepareStudy(options, hooks);
  try {
    if (prepared.plan.models.length === 0) throw noModelFits(prepared.plan);
    return await runPreparedStudy(prepared, hooks);
  } finally {
    await prepared.cleanup();
  }
}

/** The error when not even the first model fits the budget. */
export function noModelFits(plan: StudyPlan): PruneScopeError {
  const first = plan.skipped[0];
  return new PruneScopeError(
    `study: not even ${first?.id ?? 'the base model'} fits the time budget of ${Math.round(plan.budgetSeconds)} s (estimated ${Math.round(first?.estimatedSeconds ?? 0)} s from one epoch of ${plan.epochSeconds.toFixed(1)} s): raise the budget or lower epochs, samples or sparsities`,
  );
}
