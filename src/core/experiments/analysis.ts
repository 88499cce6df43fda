import { countNonzero } from '../model/count';
import { layerTrend } from './layer-trend';
import { backendInfo, engineInfo, initBackend } from '../backend';
import type { Dataset, DatasetSplits, Normalization, SplitName } from '../data/dataset';
import { checkFits, loadDataset } from '../data/load';
import { CancelledError, PruneScopeError } from '../errors';
import { readModel } from '../formats/registry';
import type { ReadOptions } from '../formats/format';
import { onnxWeightBytes } from '../formats/onnx/write';
import { hiddenLayerGeometry, type LayerGeometryOptions } from '../metrics/geometry-layers';
import { keepGridMagnitudes, keepMaskMagnitudes } from '../metrics/ks';
import { keptAndPrunedCounts, magnitudeBins } from '../prune/magnitude-bins';
import { DEFAULT_WEIGHT_MAP_UNITS, localitySetup, pointLocality, resolveImageShape, type LocalitySetup } from '../metrics/locality';
import { isSimilarityMetricId, SIMILARITY_METRIC_IDS, type SimilarityMetricId } from '../metrics/similarity';
import { outputSize, type MLP } from '../model/mlp';
import { strategyById } from '../prune/registry';
import type { Baseline, Histogram, LayerPoint, Point, ScheduleName, StrategyRun, AnalysisResults } from '../results/format';
import { RESULTS_FORMAT, RESULTS_VERSION } from '../results/format';
import { evaluate } from '../train/evaluate';
import { CSR_KERNEL } from './csr';
import { denseLatency, type LatencyRuns, onnxRuntimeLatency, sparseLatency, spreadOf } from './latency';
import { modelInfo } from './model-info';
import { CenteredGrams, gramFormFits, layerApoz, representations, similarityMatrix } from './representations';
import { patternLabel, resolvePruning, scheduleExtras, type CalibrationSource, type PruningOptions } from './pruning-options';
import { pruneWithSchedule, type Lineage, type ScheduleStep } from './schedules';
import { TOOL_VERSION } from './version';

export interface JobHooks {
  onProgress?(p: { fraction: number; message: string }): void;
  signal?: AbortSignal;
}

export interface DataOptions {
  /** "mnist" or a path. */
  data: string;
  normalize?: Normalization;
  labelColumn?: string;
  /** Split evaluated on (default test). */
  split?: 'train' | 'validation' | 'test';
  /** Rows of the validation split whose activations drive cka/apoz and the similarity measures (default 512). */
  samples?: number;
  /**
   * The split whose rows give the activations (default: validation, else train, else the
   * evaluated split). compare sets it to the split the user named.
   */
  activationSplit?: 'train' | 'validation' | 'test';
}

/**
 * With `compensate`, every strategy runs twice, plain and compensated, so that both series sit
 * side by side (the compensated one labelled "<strategy> + compensation").
 */
export interface AnalysisOptions extends DataOptions, PruningOptions {
  model: string;
  readOptions?: ReadOptions;
  strategies: string[];
  sparsities: number[];
  schedule?: ScheduleName;
  /** Fine-tuning epochs after each pruning (iterative schedules: after each round). Default 0. */
  finetuneEpochs?: number;
  /** Rounds of an iterative schedule (default 1; more than 1 makes the default schedule iterative). */
  iterations?: number;
  metric?: SimilarityMetricId;
  seed?: number;
  includeOutput?: boolean;
  /**
   * The original's representational geometry, per hidden layer, on the first
   * min(samples, geometry.samples) activation rows (default 500); false skips it.
   */
  geometry?: LayerGeometryOptions | false;
  /** The image the inputs are, when neither the model nor the dataset says: [height, width] or with channels. */
  imageShape?: number[];
  /** First-layer units whose weight maps every point stores (default 64; 0: none). */
  weightMapUnits?: number;
}

export const DEFAULT_SAMPLES = 512;
const HISTOGRAM_BINS = 32;

/** Throws CancelledError once `signal` is aborted. */
export function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** The rows that feed activations: the validation split's first rows. */
export interface ActivationData {
  splits: DatasetSplits;
  activationSet: Dataset;
  activationSplit: string;
  samples: number;
}

/** The evaluation split too, for jobs that measure accuracy on it. */
export interface PreparedData extends ActivationData {
  evalSet: Dataset;
}

export async function prepareData(options: DataOptions, mlp: MLP, modelLabel: string): Promise<PreparedData> {
  const splits = await loadDataset(options.data, { normalize: options.normalize, labelColumn: options.labelColumn });
  const splitName = options.split ?? 'test';
  const evalSet = splits[splitName];
  if (!evalSet) {
    const has = (['train', 'validation', 'test'] as const).filter((s) => splits[s]);
    throw new PruneScopeError(`${splits.name}: has no ${splitName} split (it has ${has.join(', ') || 'none'})`);
  }
  checkFits(evalSet, mlp.inputSize, outputSize(mlp), modelLabel, mlp.inputShape);
  return { ...activationRows(splits, options, splitName), evalSet };
}

/**
 * Only the activation rows, for jobs that measure nothing on the evaluation split (compare):
 * that split is then never converted (MNIST's test images are 31 MB of fresh float32 memory).
 */
export async function prepareActivationData(options: DataOptions): Promise<ActivationData> {
  const splits = await loadDataset(options.data, { normalize: options.normalize, labelColumn: options.labelColumn });
  return activationRows(splits, options, options.split ?? 'test');
}

/**
 * Activations come from the validation split so that pruning decisions never see the test set;
 * data without one falls back to the training split, then to the evaluation split.
 */
function activationRows(splits: DatasetSplits, options: DataOptions, splitName: SplitName): ActivationData {
  const activationSplit = options.activationSplit ?? (splits.validation ? 'validation' : splits.train ? 'train' : splitName);
  const activationSet = splits[activationSplit];
  if (!activationSet) throw new PruneScopeError(`${splits.name}: has no ${activationSplit} split to take activations from`);
  const samples = Math.min(options.samples ?? DEFAULT_SAMPLES, activationSet.n);
  if (samples < 2) throw new PruneScopeError(`${activationSet.source}: at least 2 samples are needed for activations, got ${samples}`);
  return { splits, activationSet, activationSplit, samples };
}

/** The rows compensation and calibrating criteria learn from, with the split results are evaluated on. */
export function calibrationSource(data: PreparedData, options: DataOptions): CalibrationSource {
  return { set: data.activationSet, split: data.activationSplit, evaluatedOn: options.split ?? 'test' };
}

/**
 * What a lineage kept of layer `layer`'s original weights: how many, the KS statistic between |w|
 * of the pruned and kept ones, and their |w| histograms on shared bins; one read of the keep mask
 * (for unit pruning, of its grid of kept inputs and units) gives all three (ks.ts).
 */
function keptMagnitudes(
  original: Float32Array,
  lineage: Lineage,
  layer: number,
): { kept: number; ks: number | null; magnitudes: { pruned: Histogram; kept: Histogram } } {
  const { bin } = magnitudeBins(original, HISTOGRAM_BINS);
  const bins = { bin, count: HISTOGRAM_BINS };
  const grid = lineage.keepGrid(layer);
  const m = grid ? keepGridMagnitudes(original, grid, bins) : keepMaskMagnitudes(original, lineage.keepMask(layer), bins);
  // The pass gives the kept count per bin unless a NaN or infinite weight broke the bins' runs.
  const mask = m.keptPerBin ? null : lineage.keepMask(layer);
  const { edges, kept, pruned } = keptAndPrunedCounts(original, mask, HISTOGRAM_BINS, m.keptPerBin);
  return { kept: m.kept, ks: m.ks, magnitudes: { pruned: { edges, counts: pruned }, kept: { edges, counts: kept } } };
}

/** The original's measurements, reused by points whose model is the original itself. */
export interface OriginalMeasures {
  evaluation: { accuracy: number; loss: number; agreement: number };
  similarity: { values: (number | null)[][]; problems: string[] };
  onnxBytes: number;
  /** Measured on first use: only unstructured runs need it. */
  sparse?: LatencyRuns | null;
}

/** Same layer shapes, activations and bitwise-equal weights and biases. */
export function sameWeights(a: MLP, b: MLP): boolean {
  if (a === b) return true;
  if (a.layers.length !== b.layers.length || a.inputSize !== b.inputSize) return false;
  const equal = (x: Float32Array | null, y: Float32Array | null) => {
    if (x === y) return true;
    if (!x || !y || x.length !== y.length) return false;
    // Compare bits, so -0 and 0 or two NaNs are judged as the stored floats are.
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const v = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
    return true;
  };
  return a.layers.every((l, i) => {
    const m = b.layers[i];
    return (
      l.units === m.units &&
      l.inputSize === m.inputSize &&
      l.activation === m.activation &&
      l.alpha === m.alpha &&
      equal(l.weights, m.weights) &&
      equal(l.bias, m.bias)
    );
  });
}

export interface Measured {
  point: Point;
}

/** What every point of an analysis is measured against: the original, its measurements, the data and the metric. */
export interface PointContext {
  original: MLP;
  originalReps: ReturnType<typeof representations>;
  /** The original's predictions on the evaluation split, for agreement. */
  originalPredictions: Int32Array;
  /** The original's centred Gram matrices, when linear CKA goes through them. */
  originalGrams?: CenteredGrams;
  /** What the original measured, for points whose model is the original unchanged (k = 0). */
  originalMeasures?: OriginalMeasures;
  data: PreparedData;
  metric: SimilarityMetricId;
  prunable: Set<number>;
  /** The first layer read as an image, when it is one: locality and weight maps per point. */
  locality?: LocalitySetup;
  /** Dense latencies measured so far in this analysis, by architecture (`denseTimings`). */
  denseTimings: Map<string, DenseTimings>;
}

/** The latencies of a model's dense products: the TensorFlow.js backend's and onnxruntime's (null when it does not load). */
interface DenseTimings {
  dense: LatencyRuns;
  ort: LatencyRuns | null;
}

/** What a dense forward pass's time depends on: the layers' sizes, activations and whether they add a bias. */
function architectureOf(mlp: MLP): string {
  return [mlp.inputSize, ...mlp.layers.map((l) => `${l.inputSize}x${l.units} ${l.activation} ${l.alpha ?? ''} ${l.bias ? 'b' : ''}`)].join(
    '|',
  );
}

/**
 * The dense and onnxruntime latency of the model's architecture, measured the first time the
 * analysis meets it. Dense kernels take the same time whatever their values (zeros included): a
 * magnitude-pruned point runs the very products the original does, and unit-pruned points of
 * equal widths run the same ones; measuring them again per point only added the machine's noise
 * to a series that cannot change (and ~4 s to a 40-point sweep). CSR latency depends on the
 * kept weights and stays measured per point.
 */
function denseTimings(ctx: PointContext, model: MLP): DenseTimings {
  const key = architectureOf(model);
  let t = ctx.denseTimings.get(key);
  if (!t) {
    const { x } = ctx.data.activationSet;
    t = { dense: denseLatency(model, x, ctx.data.samples), ort: onnxRuntimeLatency(model, x, ctx.data.samples) };
    ctx.denseTimings.set(key, t);
  }
  return t;
}

/** Everything a point records about one pruned model. */
export async function measurePoint(ctx: PointContext, step: ScheduleStep, lineage: Lineage): Promise<Point> {
  const { original, data } = ctx;
  const model = step.mlp;
  // The unpruned model (k = 0 without fine-tuning) computes what the original does, bit for bit:
  // its numbers are the original's, measured once, not once per strategy.
  const same = ctx.originalMeasures && sameWeights(model, original) ? ctx.originalMeasures : undefined;
  const ev = same?.evaluation ?? (await evaluate(model, data.evalSet, { referencePredictions: ctx.originalPredictions }));
  const x = data.activationSet.x;
  const reps = same ? ctx.originalReps : representations(model, x, data.samples);
  const names = { xNames: original.layers.map((l) => `original ${l.name}`), yNames: model.layers.map((l) => `pruned ${l.name}`) };
  const sim =
    same?.similarity ??
    (ctx.originalGrams
      ? ctx.originalGrams.ckaAgainst(new CenteredGrams(reps, names.yNames))
      : similarityMatrix(ctx.originalReps, reps, ctx.metric, names));
  const apoz = layerApoz(model, reps);
  const { layers, keptWeights, prunableWeights } = layerPoints(ctx, model, lineage, sim.values, apoz);
  const { dense, ort } = denseTimings(ctx, model);
  let sparse: LatencyRuns | null = null;
  if (lineage.kind === 'unstructured') {
    if (same) sparse = same.sparse !== undefined ? same.sparse : (same.sparse = sparseLatency(model, x, data.samples));
    else sparse = sparseLatency(model, x, data.samples);
  }
  return {
    sparsity: step.target,
    actualSparsity: prunableWeights ? 1 - keptWeights / prunableWeights : 0,
    iteration: step.iteration,
    accuracy: ev.accuracy,
    loss: ev.loss,
    agreement: ev.agreement ?? 1,
    parameters: layers.reduce((a, l) => a + l.parameters, 0),
    flops: layers.reduce((a, l) => a + l.flops, 0),
    latency: latencyOf(dense, sparse, ort),
    layers,
    similarityMatrix: sim.values,
    finetuneEpochs: step.finetuneEpochs,
    onnxBytes: same?.onnxBytes ?? onnxWeightBytes(model.layers),
    ...(ctx.locality ? localityOf(ctx.locality, model, lineage) : {}),
  };
}

/** A point's latency: each median with the spread of the runs behind it. */
function latencyOf(dense: LatencyRuns, sparse: LatencyRuns | null, ort: LatencyRuns | null): Point['latency'] {
  return {
    denseMsPer100: dense.medianMs,
    sparseMsPer100: sparse?.medianMs ?? null,
    onnxruntimeMsPer100: ort?.medianMs ?? null,
    denseSpread: spreadOf(dense),
    sparseSpread: spreadOf(sparse),
    onnxruntimeSpread: spreadOf(ort),
  };
}

function baselineLatency(dense: LatencyRuns, ort: LatencyRuns | null): Baseline['latency'] {
  return {
    denseMsPer100: dense.medianMs,
    onnxruntimeMsPer100: ort?.medianMs ?? null,
    denseSpread: spreadOf(dense),
    onnxruntimeSpread: spreadOf(ort),
  };
}

/** The first layer's locality under the point's mask, and its weight maps. */
function localityOf(setup: LocalitySetup, model: MLP, lineage: Lineage): Pick<Point, 'locality' | 'weightMaps'> {
  const units = lineage.kind === 'structured' ? lineage.units()[0] : null;
  return pointLocality(setup, lineage.keepMask(0), model.layers[0], units);
}

/**
 * When the inputs are an image (the model's shape, else the dataset's, else `imageShape`): the
 * original's locality and maps in the baseline, and the setup every point is measured with.
 */
function originalLocality(
  baseline: Baseline,
  original: MLP,
  data: PreparedData,
  options: AnalysisOptions,
  seed: number,
): LocalitySetup | undefined {
  const first = original.layers[0];
  const candidates = { model: original.inputShape, dataset: data.evalSet.sampleShape, option: options.imageShape };
  const resolved = resolveImageShape(first.inputSize, candidates);
  if (!resolved) return undefined;
  const setup = localitySetup(first, { ...resolved.image, source: resolved.source }, options.weightMapUnits ?? DEFAULT_WEIGHT_MAP_UNITS, {
    seed,
  });
  const { locality, weightMaps } = pointLocality(setup, null, first, null);
  baseline.locality = locality;
  if (weightMaps)
    baseline.weightMaps = { layer: first.name, height: setup.image.height, width: setup.image.width, units: setup.mapUnits, ...weightMaps };
  return setup;
}

/** Per layer of the pruned model: what survived of the original, its size and cost, and its similarity to the original layer; with the weights kept out of the prunable ones. */
function layerPoints(
  ctx: PointContext,
  model: MLP,
  lineage: Lineage,
  similarity: (number | null)[][],
  apoz: LayerPoint['apoz'][],
): { layers: LayerPoint[]; keptWeights: number; prunableWeights: number } {
  let keptWeights = 0;
  let prunableWeights = 0;
  const layers: LayerPoint[] = model.layers.map((layer, i) => {
    const orig = ctx.original.layers[i];
    const { kept, ks, magnitudes } = keptMagnitudes(orig.weights, lineage, i);
    if (ctx.prunable.has(i)) {
      keptWeights += kept;
      prunableWeights += orig.weights.length;
    }
    const structured = lineage.kind === 'structured';
    const weightParams = structured ? layer.weights.length : countNonzero(layer.weights);
    return {
      name: layer.name,
      units: layer.units,
      sparsity: 1 - kept / orig.weights.length,
      parameters: weightParams + (layer.bias ? layer.bias.length : 0),
      flops: 2 * weightParams,
      magnitudes,
      magnitudeKS: ks,
      similarity: similarity[i]?.[i] ?? null,
      apoz: apoz[i],
    };
  });
  return { layers, keptWeights, prunableWeights };
}

/** What every results file starts with: format, version, tool, backend and the data used. */
export function resultsHeader(
  data: ActivationData,
  evaluated: { split: string; samples: number },
): Pick<AnalysisResults, 'format' | 'version' | 'createdAt' | 'tool' | 'backend' | 'dataset'> {
  const b = backendInfo();
  return {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    createdAt: new Date().toISOString(),
    tool: { name: 'prunescope', version: TOOL_VERSION },
    backend: { name: b.name, tfjsVersion: b.tfjsVersion, ...(engineInfo() ? { engine: engineInfo()!.name } : {}) },
    dataset: {
      name: data.splits.name,
      split: evaluated.split,
      samples: evaluated.samples,
      normalization: data.splits.normalization,
      activationSplit: data.activationSplit,
      activationSamples: data.samples,
    },
  };
}

export function resolveSchedule(options: { schedule?: ScheduleName; iterations?: number }): ScheduleName {
  if (options.schedule) return options.schedule;
  return (options.iterations ?? 1) > 1 ? 'iterative' : 'one-shot';
}

/** Prunes one model with every strategy at every sparsity and measures each result. */
export async function runAnalysis(options: AnalysisOptions, hooks: JobHooks = {}): Promise<AnalysisResults> {
  await initBackend();
  const settings = analysisSettings(options);
  const progress: Progress = (fraction, message) => hooks.onProgress?.({ fraction, message });

  progress(0, `reading ${options.model}`);
  const original = await readModel(options.model, options.readOptions);
  const data = await prepareData(options, original, options.model);
  // A given image shape that does not fit is refused before the original is measured.
  if (options.imageShape) resolveImageShape(original.layers[0].inputSize, { option: options.imageShape });
  checkCancelled(hooks.signal);

  progress(0.02, 'measuring the original model');
  const { baseline, ctx } = await measureOriginal(original, data, settings, options.geometry, hooks.signal, progress);
  ctx.locality = originalLocality(baseline, original, data, options, settings.seed);
  const { strategies, schedule, iterations, finetuneEpochs, metric, seed, includeOutput } = settings;
  const count = { done: 0, total: strategies.length * settings.variants.length * options.sparsities.length * iterations };
  const runs: StrategyRun[] = [];
  for (const strategy of strategies) {
    for (const compensated of settings.variants) {
      const variant = { options, compensated };
      runs.push(await runStrategy(strategy, variant, ctx, settings, hooks.signal, count, progress));
    }
  }

  const header = resultsHeader(data, { split: options.split ?? 'test', samples: data.evalSet.n });
  return {
    ...header,
    backend: { ...header.backend, sparseKernel: CSR_KERNEL },
    kind: 'analysis',
    model: await modelInfo(original),
    settings: {
      strategies: strategies.map((s) => s.id),
      sparsities: options.sparsities,
      schedule,
      finetuneEpochs,
      iterations,
      samples: data.samples,
      metric,
      seed,
      includeOutput,
      ...pruningSettings(options, data.activationSet.n),
    },
    baseline,
    runs,
  };
}

type Progress = (fraction: number, message: string) => void;

type Strategy = ReturnType<typeof strategyById>;

/** An analysis's settings, checked and with their defaults. */
interface AnalysisSettings {
  metric: SimilarityMetricId;
  strategies: Strategy[];
  schedule: ScheduleName;
  iterations: number;
  finetuneEpochs: number;
  seed: number;
  includeOutput: boolean;
  /** [false], or [false, true] with compensation: each strategy runs plain, then compensated. */
  variants: boolean[];
}

/** Checks the metric, strategies, sparsities and schedule before any model is read. */
function analysisSettings(options: AnalysisOptions): AnalysisSettings {
  const metric = options.metric ?? 'linear-cka';
  if (!isSimilarityMetricId(metric)) {
    throw new PruneScopeError(`unknown similarity metric "${metric}" (expected one of ${SIMILARITY_METRIC_IDS.join(', ')})`);
  }
  if (options.strategies.length === 0) throw new PruneScopeError('no pruning strategies given');
  if (options.sparsities.length === 0) throw new PruneScopeError('no sparsities given');
  for (const s of options.sparsities) {
    if (!(s >= 0 && s < 1)) throw new PruneScopeError(`sparsity ${s} is not a share from 0 up to (not including) 1`);
  }
  const strategies = options.strategies.map(strategyById);
  const schedule = resolveSchedule(options);
  const iterations = schedule === 'one-shot' ? 1 : Math.max(1, options.iterations ?? (schedule === 'imp-rewind' ? 5 : 3));
  const finetuneEpochs = options.finetuneEpochs ?? 0;
  if (schedule !== 'one-shot' && finetuneEpochs === 0) {
    throw new PruneScopeError(`the ${schedule} schedule retrains between rounds: give fine-tuning epochs (e.g. --finetune-epochs 2)`);
  }
  const seed = options.seed ?? 1;
  const includeOutput = options.includeOutput ?? false;
  const variants = resolvePruning(options).compensate ? [false, true] : [false];
  return { metric, strategies, schedule, iterations, finetuneEpochs, seed, includeOutput, variants };
}

/** The original's baseline (and geometry, unless turned off), and the context every pruned point is measured in. */
async function measureOriginal(
  original: MLP,
  data: PreparedData,
  settings: AnalysisSettings,
  geometry: AnalysisOptions['geometry'],
  signal: AbortSignal | undefined,
  progress: Progress,
): Promise<{ baseline: Baseline; ctx: PointContext }> {
  const { metric, includeOutput } = settings;
  const originalReps = representations(original, data.activationSet.x, data.samples);
  const baseEval = await evaluate(original, data.evalSet, { keepPredictions: true });
  const originalGrams =
    metric === 'linear-cka' && gramFormFits(originalReps)
      ? new CenteredGrams(
          originalReps,
          original.layers.map((l) => `original ${l.name}`),
        )
      : undefined;
  const selfSim = originalGrams ? originalGrams.ckaAgainst(originalGrams) : similarityMatrix(originalReps, originalReps, metric);
  const last = original.layers.length - 1;
  const prunable = new Set(original.layers.map((_, i) => i).filter((i) => i < last || includeOutput));
  const baseParams = original.layers.reduce((a, l) => a + l.weights.length + (l.bias ? l.bias.length : 0), 0);
  const originalBytes = onnxWeightBytes(original.layers);
  const ctx: PointContext = {
    original,
    originalReps,
    originalGrams,
    originalPredictions: baseEval.predictions!,
    data,
    metric,
    prunable,
    denseTimings: new Map(),
  };
  const timings = denseTimings(ctx, original);
  const baseline: Baseline = {
    accuracy: baseEval.accuracy,
    loss: baseEval.loss,
    parameters: baseParams,
    flops: original.layers.reduce((a, l) => a + 2 * l.weights.length, 0),
    latency: baselineLatency(timings.dense, timings.ort),
    onnxBytes: originalBytes,
    apoz: layerApoz(original, originalReps),
    similarityMatrix: selfSim.values,
  };
  if (geometry !== false) {
    checkCancelled(signal);
    progress(0.04, 'representational geometry of the original');
    baseline.geometry = hiddenLayerGeometry(original.layers, originalReps, geometry);
  }

  ctx.originalMeasures = {
    evaluation: { accuracy: baseEval.accuracy, loss: baseEval.loss, agreement: 1 },
    similarity: selfSim,
    onnxBytes: originalBytes,
  };
  return { baseline, ctx };
}

/** One strategy at every sparsity, each point measured as its schedule reports it; `count` tracks the points done of all. */
async function runStrategy(
  strategy: Strategy,
  variant: { options: AnalysisOptions; compensated: boolean },
  ctx: PointContext,
  settings: AnalysisSettings,
  signal: AbortSignal | undefined,
  count: { done: number; total: number },
  progress: Progress,
): Promise<StrategyRun> {
  const { schedule, iterations, finetuneEpochs, seed, includeOutput } = settings;
  const data = ctx.data;
  const started = performance.now();
  const notes: string[] = [];
  const points: Point[] = [];
  const sparsities = variant.options.sparsities;
  const extras = scheduleExtras(variant.options, calibrationSource(data, variant.options), variant.compensated);
  const name = runLabel(strategy.id, variant.compensated, extras.pattern);
  for (const target of sparsities) {
    await pruneWithSchedule(
      ctx.original,
      strategy,
      {
        schedule,
        target,
        iterations,
        finetuneEpochs,
        seed,
        includeOutput,
        samples: data.activationSet,
        sampleCount: data.samples,
        splits: data.splits,
        signal,
        ...extras,
      },
      async (step, lineage) => {
        checkCancelled(signal);
        points.push(await measurePoint(ctx, step, lineage));
        for (const n of step.notes) if (!notes.includes(n)) notes.push(n);
        count.done++;
        progress(
          0.05 + (0.95 * count.done) / count.total,
          `${name} at ${Math.round(target * 100)}%${iterations > 1 ? ` (round ${step.iteration}/${iterations})` : ''}: accuracy ${(points[points.length - 1].accuracy * 100).toFixed(2)}%`,
        );
      },
    );
  }
  return {
    strategy: strategy.id,
    ...(name !== strategy.id ? { label: name } : {}),
    kind: strategy.kind,
    schedule,
    points,
    seconds: (performance.now() - started) / 1000,
    notes,
    ...(variant.compensated ? { compensated: true } : {}),
    ...(extras.pattern && strategy.kind === 'unstructured' ? { pattern: patternLabel(extras.pattern) } : {}),
    ...(strategy.kind === 'structured' ? { removedUnits: extras.removedUnits } : {}),
    ...withLayerTrend(points),
  };
}

function withLayerTrend(points: Point[]): Pick<StrategyRun, 'layerTrend'> {
  const trend = layerTrend(points);
  return trend ? { layerTrend: trend } : {};
}

/** A series' name: the strategy, its pattern, and whether it was compensated. */
export function runLabel(strategy: string, compensated: boolean, pattern: { n: number; m: number } | undefined): string {
  return `${strategy}${pattern ? ` ${patternLabel(pattern)}` : ''}${compensated ? ' + compensation' : ''}`;
}

/** The pruning settings a results file records. */
function pruningSettings(options: PruningOptions, rows: number): Partial<AnalysisResults['settings']> {
  const r = resolvePruning(options);
  const calibration = Math.min(r.calibration, rows);
  return {
    calibration,
    removedUnits: r.removedUnits,
    ...(r.compensate ? { compensation: { calibration, damping: r.damping } } : {}),
    ...(r.pattern ? { pattern: patternLabel(r.pattern) } : {}),
  };
}
