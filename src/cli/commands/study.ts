import {
  DEFAULT_STUDY_BASE,
  DEFAULT_STUDY_FACTORS,
  DEFAULT_STUDY_SPARSITIES,
  DEFAULT_STUDY_STRATEGIES,
  noModelFits,
  prepareStudy,
  runPreparedStudy,
  STUDY_FACTORS,
  type PreparedStudy,
  type StudyOptions,
} from '../../core/experiments/study';
import { UsageError } from '../../core/errors';
import { assertOutputFolder } from '../../core/io/atomic';
import { PRUNE_STRATEGY_IDS } from '../../core/prune/registry';
import type { StudyFactor, StudyResults } from '../../core/results/format';
import { intOption, numberOption, parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, printJson, table } from '../output';
import { resultsPaths } from '../report';
import { writeStudyResultsAndReport } from '../report-study';
import { listOption, sharesOption } from './analyze';
import { dataOptions, loadOptionsFrom } from './evaluate';
import { progressPrinter } from './experiment-options';

type Values = Record<string, string | boolean | undefined>;

const FLAG_OF: Record<StudyFactor, string> = { dropout: 'dropouts', width: 'widths', depth: 'depths' };

/** A comma-separated list of numbers from `min` to `max`. */
function numberList(value: string | boolean | undefined, flag: string, fallback: number[], min: number, max: number): number[] {
  if (value === undefined) return fallback;
  const parts = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [];
  const nums = parts.map(Number);
  if (parts.length === 0 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || n < min || n > max)) {
    throw new UsageError(
      `--${flag} must be a comma-separated list of numbers from ${min} to ${max}, e.g. ${fallback.join(',')}; got "${value}"`,
    );
  }
  return nums;
}

/** The values of each factor that varies (--factors picks which; --dropouts, --widths, --depths their values). */
function factorsFrom(values: Values): Partial<Record<StudyFactor, number[]>> {
  const varied = listOption(values.factors, 'factors', STUDY_FACTORS, [...STUDY_FACTORS]) as StudyFactor[];
  const factors: Partial<Record<StudyFactor, number[]>> = {};
  for (const f of varied) {
    const whole = f !== 'dropout';
    const list = numberList(values[FLAG_OF[f]], FLAG_OF[f], DEFAULT_STUDY_FACTORS[f], whole ? 1 : 0, whole ? 1e6 : 0.99);
    if (whole && list.some((n) => !Number.isInteger(n)))
      throw new UsageError(`--${FLAG_OF[f]} must be whole numbers, got "${values[FLAG_OF[f]]}"`);
    factors[f] = list;
  }
  return factors;
}

function strategiesFrom(values: Values): [string, string] {
  const list = listOption(values.strategies, 'strategies', PRUNE_STRATEGY_IDS, [...DEFAULT_STUDY_STRATEGIES]);
  if (list.length !== 2)
    throw new UsageError(`--strategies takes two strategies, the gap being the first minus the second; got ${list.length}`);
  return [list[0], list[1]];
}

function studyOptionsFrom(values: Values): StudyOptions {
  const { data, normalize } = loadOptionsFrom({ ...values, data: values.data ?? 'mnist' });
  return {
    data,
    normalize,
    base: {
      width: intOption(values.width, 'width', DEFAULT_STUDY_BASE.width),
      depth: intOption(values.depth, 'depth', DEFAULT_STUDY_BASE.depth),
      dropout: numberOption(values.dropout, 'dropout', DEFAULT_STUDY_BASE.dropout, 0, 0.99),
    },
    factors: factorsFrom(values),
    epochs: intOption(values.epochs, 'epochs', 5),
    trainSamples: intOption(values['train-samples'], 'train-samples', 20000),
    validationSamples: intOption(values['validation-samples'], 'validation-samples', 2000, 2),
    testSamples: intOption(values['test-samples'], 'test-samples', 5000),
    samples: intOption(values.samples, 'samples', 512, 2),
    sparsities: sharesOption(values.sparsities, 'sparsities', DEFAULT_STUDY_SPARSITIES),
    finetuneEpochs: intOption(values['finetune-epochs'], 'finetune-epochs', 1),
    iterations: intOption(values.iterations, 'iterations', 2),
    strategies: strategiesFrom(values),
    seed: intOption(values.seed, 'seed', 1, 0),
    budgetSeconds: 60 * numberOption(values.budget, 'budget', 30, 0.01, 1e6),
  };
}

function minutes(seconds: number): string {
  return seconds < 90 ? `${Math.round(seconds)} s` : `${(seconds / 60).toFixed(1)} min`;
}

/** The plan as the person reads it before the work: models, points, the estimate and the budget. */
function planText(prepared: PreparedStudy): string {
  const { plan, settings } = prepared;
  const inputs = prepared.splits.train!.features;
  const classes = Math.max(prepared.splits.train!.classes, prepared.splits.test!.classes);
  const rows = [...plan.models.map((m) => ({ m, runs: true })), ...plan.skipped.map((m) => ({ m, runs: false }))].map(({ m, runs }) => [
    m.id,
    [inputs, ...Array<number>(m.config.depth).fill(m.config.width), classes].join('-'),
    m.factors.map((f) => `${f.factor} ${f.value}`).join(', ') || '-',
    minutes(m.estimatedSeconds),
    runs ? 'yes' : 'no: past the budget',
  ]);
  const points = plan.models.length * plan.pointsPerModel;
  return [
    `plan: ${plan.models.length} model${plan.models.length === 1 ? '' : 's'}, ${points} pruned points (${settings.strategies.join(' and ')}, ${settings.sparsities.length} sparsities x ${settings.iterations} rounds each), about ${minutes(plan.estimatedSeconds)} of a budget of ${minutes(plan.budgetSeconds)}`,
    `(one epoch of ${settings.trainSamples} rows on the base model took ${plan.epochSeconds.toFixed(1)} s; estimates scale it by parameters)`,
    table(['model', 'layers', 'stands for', 'estimate', 'runs'], rows),
    ...(plan.skipped.length
      ? [
          `${plan.skipped.length} model${plan.skipped.length === 1 ? '' : 's'} left out: adding them would pass the budget (--budget MINUTES)`,
        ]
      : []),
  ].join('\n');
}

/** Per factor: the gap in percentage points at every sparsity, a row per value. */
export function gapTables(r: StudyResults): string {
  const pts = (v: number | null) => (v === null ? '-' : `${v > 0 ? '+' : ''}${(v * 100).toFixed(2)}`);
  return r.summary
    .map((s) => {
      const head = [s.factor, ...r.settings.sparsities.map((x) => `${Math.round(x * 1000) / 10}%`)];
      return table(
        head,
        s.values.map((v) => [String(v.value), ...v.gaps.map((g) => pts(g.gap))]),
      );
    })
    .join('\n\n');
}

async function runAndWrite(prepared: PreparedStudy, out: string, values: Values): Promise<void> {
  const results = await runPreparedStudy(prepared, { onProgress: progressPrinter() });
  const paths = await writeStudyResultsAndReport(results, out);
  if (values.json) {
    printJson({ results: paths.results, report: paths.report, summary: results.summary, skipped: results.skipped });
    return;
  }
  const [a, b] = results.settings.strategies;
  info(`\naccuracy gap, ${a} minus ${b}, in percentage points (last round at each sparsity):\n`);
  info(gapTables(results));
  for (const s of results.skipped) info(`skipped ${s.id}: ${s.reason}`);
  info(`\n${results.models.length} models in ${minutes(results.seconds)}; wrote ${paths.results} and ${paths.report}`);
}

export const studyCommand: Command = {
  name: 'study',
  summary: 'train a grid of baselines (dropout, width, depth), prune and retrain each with cka and unit-l1, write the gaps per factor',
  usage:
    'prunescope study [--data mnist|PATH] [--width 512] [--depth 2] [--dropout 0] [--factors dropout,width,depth] [--dropouts 0,0.25,0.5] [--widths 128,256,512] [--depths 1,2,3] [--epochs 5] [--train-samples 20000] [--validation-samples 2000] [--test-samples 5000] [--samples 512] [--sparsities 0.5,0.75,0.9] [--finetune-epochs 1] [--iterations 2] [--strategies cka,unit-l1] [--seed 1] [--budget 30 (minutes)] [--dry-run] [--json] [--force] --out DIR',
  async run(argv) {
    const { values } = parse(
      argv,
      {
        ...dataOptions,
        width: { type: 'string' },
        depth: { type: 'string' },
        dropout: { type: 'string' },
        factors: { type: 'string' },
        dropouts: { type: 'string' },
        widths: { type: 'string' },
        depths: { type: 'string' },
        epochs: { type: 'string' },
        'train-samples': { type: 'string' },
        'validation-samples': { type: 'string' },
        'test-samples': { type: 'string' },
        samples: { type: 'string' },
        sparsities: { type: 'string' },
        'finetune-epochs': { type: 'string' },
        iterations: { type: 'string' },
        strategies: { type: 'string' },
        seed: { type: 'string' },
        budget: { type: 'string' },
        'dry-run': { type: 'boolean' },
        out: { type: 'string' },
        ...FORCE_OPTION,
      },
      { min: 0, max: 0, names: '' },
    );
    const dryRun = values['dry-run'] === true;
    const options = studyOptionsFrom(values);
    const out = dryRun ? undefined : requireString(values.out, 'out');
    if (out !== undefined) {
      // Before the work: a file where the folder should go, or results already there, would only fail it at the end.
      assertOutputFolder(out);
      await claimOutputs(values, Object.values(resultsPaths(out)));
    }
    await startBackend(values);
    const prepared = await prepareStudy(options, { onProgress: progressPrinter() });
    try {
      if (dryRun && values.json) printJson({ plan: prepared.plan });
      else info(planText(prepared));
      if (out === undefined) return;
      if (prepared.plan.models.length === 0) throw noModelFits(prepared.plan);
      await runAndWrite(prepared, out, values);
    } finally {
      await prepared.cleanup();
    }
  },
};
