/** The pruning experiments of src/core/experiments as worker jobs: analyze, prune, compare. */
import { initEngine } from '../core/backend';
import { PruneScopeError } from '../core/errors';
import { pruneModel, runAnalysis, runComparison, type AnalysisOptions, type JobHooks } from '../core/experiments';
import { parsePattern, type PruningOptions } from '../core/experiments/pruning-options';
import { isSimilarityMetricId, SIMILARITY_METRIC_IDS, type SimilarityMetricId } from '../core/metrics/similarity';
import type { JobContext, JobTable } from './job-context';
import type { JobParams } from '../shared/jobs';

function hooks(ctx: JobContext): JobHooks {
  return {
    onProgress: (p) => ctx.progress(p.fraction, p.message),
    signal: ctx.signal,
  };
}

function readOptions(p: { activation?: JobParams<'inspect'>['activation']; outputActivation?: JobParams<'inspect'>['activation'] }) {
  return { activation: p.activation, outputActivation: p.outputActivation };
}

function metricId(metric: string | undefined): SimilarityMetricId | undefined {
  if (metric === undefined) return undefined;
  if (!isSimilarityMetricId(metric)) {
    throw new PruneScopeError(`unknown similarity metric "${metric}" (expected one of ${SIMILARITY_METRIC_IDS.join(', ')})`);
  }
  return metric;
}

/** The pruning fields of an analyze or prune job as the core takes them (the pattern parsed from "N:M"). */
export function pruningOptions(p: Pick<JobParams<'prune'>, 'compensate' | 'calibration' | 'removedUnits' | 'pattern'>): PruningOptions {
  return {
    compensate: p.compensate,
    calibration: p.calibration,
    removedUnits: p.removedUnits,
    pattern: p.pattern === undefined ? undefined : parsePattern(p.pattern),
  };
}

export function analysisOptions(p: JobParams<'analyze'>): AnalysisOptions {
  return {
    model: p.model,
    data: p.dataset,
    normalize: p.normalization,
    samples: p.samples,
    readOptions: readOptions(p),
    strategies: p.strategies,
    sparsities: p.sparsities,
    finetuneEpochs: p.finetuneEpochs,
    iterations: p.iterations,
    metric: metricId(p.metric),
    seed: p.seed,
    ...pruningOptions(p),
  };
}

/** The results with the engine that ran them in their backend record. */
function withEngine<T extends { backend: { name: string; tfjsVersion: string; engine?: string } }>(results: T, engine: string): T {
  return { ...results, backend: { ...results.backend, engine } };
}

export const EXPERIMENT_JOBS: JobTable<'analyze' | 'prune' | 'compare'> = {
  async analyze(p, ctx) {
    const engine = await initEngine(p.engine, p.backend);
    return withEngine(await runAnalysis(analysisOptions(p), hooks(ctx)), engine.name);
  },
  async prune(p, ctx) {
    const engine = await initEngine(p.engine, p.backend);
    const result = await pruneModel(
      {
        model: p.model,
        out: p.out,
        strategy: p.strategy,
        sparsity: p.sparsity,
        data: p.dataset,
        normalize: p.normalization,
        samples: p.samples,
        finetuneEpochs: p.finetuneEpochs,
        ...((p.iterations ?? 1) > 1 ? { schedule: 'iterative' as const, iterations: p.iterations } : {}),
        seed: p.seed,
        readOptions: readOptions(p),
        ...pruningOptions(p),
      },
      hooks(ctx),
    );
    return { ...result, engine: engine.name };
  },
  async compare(p, ctx) {
    const engine = await initEngine(p.engine, p.backend);
    const results = await runComparison(
      {
        modelA: p.a,
        modelB: p.b,
        data: p.dataset,
        normalize: p.normalization,
        samples: p.samples,
        metric: metricId(p.metric),
        readOptions: readOptions(p),
        previous: p.previous,
      },
      hooks(ctx),
    );
    return withEngine(results, engine.name);
  },
};
