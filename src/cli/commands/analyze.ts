import { runAnalysis } from '../../core/experiments';
import { isSimilarityMetricId, SIMILARITY_METRIC_IDS, type SimilarityMetricId } from '../../core/metrics/similarity';
import { PRUNE_STRATEGY_IDS } from '../../core/prune/registry';
import type { PruneStrategyId } from '../../core/prune/strategy';
import { seriesName, type AnalysisResults } from '../../core/results/format';
import { UsageError } from '../../core/errors';
import { assertOutputFolder } from '../../core/io/atomic';
import { choiceOption, intOption, parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, percent, printJson, table } from '../output';
import { resultsPaths, writeResultsAndReport } from '../report';
import {
  dataOptionsFrom,
  experimentOptions,
  imageShapeFlag,
  noteSamples,
  progressPrinter,
  PRUNING_USAGE,
  pruningFlags,
  pruningOptionsFrom,
  scheduleFrom,
} from './experiment-options';
import { geometryFrom, geometryOptions, geometrySummary } from './geometry';
import { modelReadOptions, readOptionsFrom } from './inspect';

export const DEFAULT_STRATEGIES: PruneStrategyId[] = ['magnitude', 'unit-l1', 'unit-l2', 'apoz', 'cka', 'cka-greedy', 'random'];
export const DEFAULT_SPARSITIES = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99];

export function listOption(value: string | boolean | undefined, flag: string, allowed: readonly string[], fallback: string[]): string[] {
  if (value === undefined) return fallback;
  const items = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items)
    if (!allowed.includes(item)) throw new UsageError(`--${flag}: unknown "${item}" (expected some of ${allowed.join(', ')})`);
  if (items.length === 0) throw new UsageError(`--${flag} is empty`);
  return items;
}

export function sharesOption(value: string | boolean | undefined, flag: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const parts = String(value)
    .split(',')
    .map((s) => s.trim());
  const shares = parts.map((p) => (p.endsWith('%') ? Number(p.slice(0, -1)) / 100 : Number(p)));
  if (parts.some((p) => p === '') || shares.some((s) => !(s >= 0 && s < 1))) {
    throw new UsageError(`--${flag} must be shares from 0 up to 1 (not included), e.g. 0,0.5,0.9 or 50%; got "${value}"`);
  }
  return shares;
}

export function metricOption(value: string | boolean | undefined): SimilarityMetricId {
  const m = choiceOption<string>(value, 'metric', SIMILARITY_METRIC_IDS, 'linear-cka');
  if (!isSimilarityMetricId(m)) throw new UsageError(`unknown metric ${m}`);
  return m;
}

export function summaryTable(r: AnalysisResults): string {
  const sparsities = r.settings.sparsities;
  const rows = r.runs.flatMap((run) => {
    const last = Math.max(...run.points.map((p) => p.iteration));
    return [
      [
        seriesName(run),
        ...sparsities.map((s) => {
          const p = run.points.find((q) => q.sparsity === s && q.iteration === last);
          return p ? percent(p.accuracy, 1) : '-';
        }),
      ],
    ];
  });
  return table(['accuracy', ...sparsities.map((s) => percent(s, 0))], rows);
}

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'run pruning strategies at several sparsities, measure everything, write results.json and report.html',
  usage: `prunescope analyze MODEL --data mnist|PATH [--strategies a,b,...] [--sparsities 0,0.25,...] [--finetune-epochs E] [--iterations J] [--schedule ...] [--samples N] ${PRUNING_USAGE} [--metric linear-cka] [--geometry-samples 500|0] [--geometry-step S] [--image-shape HxW[xC]] [--json] [--force] --out DIR`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...modelReadOptions,
        ...experimentOptions,
        ...imageShapeFlag,
        ...pruningFlags,
        ...geometryOptions,
        strategies: { type: 'string' },
        sparsities: { type: 'string' },
        metric: { type: 'string' },
        out: { type: 'string' },
        ...FORCE_OPTION,
      },
      { min: 1, max: 1, names: 'MODEL' },
    );
    const out = requireString(values.out, 'out');
    // Before the work: a file where the folder should go would only fail it at the end.
    assertOutputFolder(out);
    await claimOutputs(values, Object.values(resultsPaths(out)), positionals);
    const options = {
      model: positionals[0],
      readOptions: readOptionsFrom(values),
      ...dataOptionsFrom(values),
      strategies: listOption(values.strategies, 'strategies', PRUNE_STRATEGY_IDS, DEFAULT_STRATEGIES),
      sparsities: sharesOption(values.sparsities, 'sparsities', DEFAULT_SPARSITIES),
      finetuneEpochs: intOption(values['finetune-epochs'], 'finetune-epochs', 0, 0),
      iterations: intOption(values.iterations, 'iterations', 1),
      schedule: scheduleFrom(values),
      metric: metricOption(values.metric),
      seed: intOption(values.seed, 'seed', 1, 0),
      includeOutput: values['include-output'] === true,
      ...pruningOptionsFrom(values),
      geometry: geometryFrom(values),
    };
    await startBackend(values);
    const results = await runAnalysis(options, { onProgress: progressPrinter() });
    noteSamples(values, results.dataset);
    const { results: resultsPath, report: reportPath } = await writeResultsAndReport(results, out);
    if (values.json) {
      printJson({ results: resultsPath, report: reportPath });
      return;
    }
    info(`\nbaseline accuracy ${percent(results.baseline.accuracy)} on ${results.dataset.samples} ${results.dataset.split} samples\n`);
    info(summaryTable(results));
    const trends = results.runs.filter((r) => r.layerTrend);
    if (trends.length > 0) {
      info(`\nlayer similarity (${results.settings.metric} of each layer to the original's):\n`);
      for (const r of trends) info(`  ${seriesName(r)}: ${r.layerTrend!.summary}`);
    }
    if (results.baseline.geometry?.length) {
      info(`\nrepresentational geometry of the original (R^2 of the RDM with about half the units, added by APoZ):\n`);
      info(geometrySummary(results.baseline.geometry));
    }
    info(`\nwrote ${resultsPath} and ${reportPath}`);
  },
};
