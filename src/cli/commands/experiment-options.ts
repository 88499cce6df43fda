import type { DataOptions } from '../../core/experiments';
import type { ScheduleName } from '../../core/results/format';
import { SPLIT_NAMES, type SplitName } from '../../core/data/dataset';
import { UsageError } from '../../core/errors';
import { DEFAULT_CALIBRATION, parsePattern, type PruningOptions } from '../../core/experiments/pruning-options';
import { REMOVED_UNITS } from '../../core/prune/apply';
import { choiceOption, imageShapeOption, intOption, numberOption } from '../args';
import { info } from '../output';
import { dataOptions, loadOptionsFrom } from './evaluate';

/** Which rows a command measures: the data, its split and how many samples (compare takes only these). */
export const sampleOptions = {
  ...dataOptions,
  split: { type: 'string' },
  samples: { type: 'string' },
} as const;

/** Options shared by prune and analyze. */
export const experimentOptions = {
  ...sampleOptions,
  'finetune-epochs': { type: 'string' },
  iterations: { type: 'string' },
  schedule: { type: 'string' },
  seed: { type: 'string' },
  'include-output': { type: 'boolean' },
} as const;

/** analyze only: how flat samples lay out an image, for locality and weight maps (prune measures neither). */
export const imageShapeFlag = { 'image-shape': { type: 'string' } } as const;

/** Flags of prune and analyze only (compare prunes nothing). */
export const pruningFlags = {
  compensate: { type: 'boolean' },
  calibration: { type: 'string' },
  damping: { type: 'string' },
  'removed-units': { type: 'string' },
  pattern: { type: 'string' },
} as const;

/** The flags of `pruningOptionsFrom`, for usage lines. */
export const PRUNING_USAGE = '[--compensate] [--calibration N] [--damping D] [--removed-units constant|silent] [--pattern N:M]';

const SCHEDULES: readonly ScheduleName[] = ['one-shot', 'iterative', 'imp-rewind', 'trimming', 'gradual'];

type Values = Record<string, string | boolean | undefined>;

export function scheduleFrom(values: Values): ScheduleName | undefined {
  return values.schedule === undefined ? undefined : choiceOption(values.schedule, 'schedule', SCHEDULES, 'one-shot');
}

/**
 * The data options, and with --image-shape how its flat samples lay out an image (analyze's
 * locality and weight maps use it when neither the model nor the dataset says).
 */
export function dataOptionsFrom(values: Values): DataOptions & { imageShape?: number[] } {
  const imageShape = imageShapeOption(values['image-shape'], 'image-shape');
  return {
    ...loadOptionsFrom(values),
    split: choiceOption<SplitName>(values.split, 'split', SPLIT_NAMES, 'test'),
    samples: values.samples === undefined ? undefined : intOption(values.samples, 'samples', 512, 2),
    ...(imageShape ? { imageShape } : {}),
  };
}

/**
 * Says when --samples asked for more rows than the split holds: the run used them all, and the
 * results record how many, but a number the user typed is not cut down silently.
 */
export function noteSamples(values: Values, dataset: { activationSplit?: string; activationSamples?: number }): void {
  if (values.samples === undefined || dataset.activationSamples === undefined) return;
  const asked = Number(values.samples);
  if (asked > dataset.activationSamples) {
    info(
      `note: --samples ${asked}, but the ${dataset.activationSplit} split has ${dataset.activationSamples} rows: all ${dataset.activationSamples} were used`,
    );
  }
}

/** Compensation, calibration rows, removed units and N:M pattern, as prune and analyze take them. */
export function pruningOptionsFrom(values: Values): PruningOptions {
  let pattern: PruningOptions['pattern'];
  if (values.pattern !== undefined) {
    try {
      pattern = parsePattern(String(values.pattern));
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`);
    }
  }
  return {
    compensate: values.compensate === true,
    calibration: values.calibration === undefined ? undefined : intOption(values.calibration, 'calibration', DEFAULT_CALIBRATION, 2),
    damping: values.damping === undefined ? undefined : numberOption(values.damping, 'damping', 0.01, 1e-12, 1e6),
    removedUnits: choiceOption(values['removed-units'], 'removed-units', REMOVED_UNITS, 'constant'),
    pattern,
  };
}

/** Progress lines on stderr, at most one per message. */
export function progressPrinter(): (p: { fraction: number; message: string }) => void {
  let last = '';
  return (p) => {
    if (p.message === last) return;
    last = p.message;
    info(`[${String(Math.round(p.fraction * 100)).padStart(3)}%] ${p.message}`);
  };
}
