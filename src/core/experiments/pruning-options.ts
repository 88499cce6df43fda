import type { Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import { REMOVED_UNITS, type RemovedUnits } from '../prune/apply';
import { DEFAULT_DAMPING } from '../prune/compensate';
import type { NMPattern } from '../prune/strategy';
import type { ScheduleOptions } from './schedules';

/** How pruning is carried out beyond strategy and sparsity; shared by analyze and prune (CLI, worker, extension). */
export interface PruningOptions {
  /** Refit the weights that stay after each pruning step, on calibration rows (compensate.ts). */
  compensate?: boolean;
  /** Rows of the validation split for compensation and for the criteria that calibrate (default 2048). */
  calibration?: number;
  /** Ridge damping of compensation, relative to each layer's mean input variance (default 0.01). */
  damping?: number;
  /** What removed units leave behind (structured strategies; default 'constant'). */
  removedUnits?: RemovedUnits;
  /** N:M pattern for strategies that score weights (e.g. 2:4). */
  pattern?: NMPattern;
}

export const DEFAULT_CALIBRATION = 2048;

/** "2:4" as a pattern; the selector checks that N < M. */
export function parsePattern(text: string): NMPattern {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m) throw new PruneScopeError(`pattern "${text}" is not N:M (e.g. 2:4 keeps 2 of every 4 consecutive weights of a unit)`);
  return { n: Number(m[1]), m: Number(m[2]) };
}

export function patternLabel(p: NMPattern | undefined): string | undefined {
  return p ? `${p.n}:${p.m}` : undefined;
}

/** The checked settings, with defaults. */
export function resolvePruning(options: PruningOptions): Required<Omit<PruningOptions, 'pattern'>> & { pattern?: NMPattern } {
  const calibration = options.calibration ?? DEFAULT_CALIBRATION;
  if (!Number.isInteger(calibration) || calibration < 2)
    throw new PruneScopeError(`calibration ${calibration} is not a whole number of rows >= 2`);
  const damping = options.damping ?? DEFAULT_DAMPING;
  if (!(damping > 0 && Number.isFinite(damping))) throw new PruneScopeError(`damping ${damping} is not a positive number`);
  const removedUnits = options.removedUnits ?? 'constant';
  if (!REMOVED_UNITS.includes(removedUnits))
    throw new PruneScopeError(`removed units "${removedUnits}" is not one of ${REMOVED_UNITS.join(', ')}`);
  return { compensate: options.compensate ?? false, calibration, damping, removedUnits, pattern: options.pattern };
}

/** Where calibration rows come from: the activation split, and the split results are evaluated on. */
export interface CalibrationSource {
  set: Dataset;
  split: string;
  evaluatedOn: string;
}

/**
 * What a schedule needs of these settings. Calibration rows are the first rows of the activation
 * split (validation, else train: prepareData picks it), never the split results are evaluated on.
 */
export function scheduleExtras(
  options: PruningOptions,
  source: CalibrationSource | undefined,
  compensate: boolean,
): Pick<ScheduleOptions, 'pattern' | 'removedUnits' | 'compensation' | 'calibration'> {
  const r = resolvePruning(options);
  if (compensate && !source) throw new PruneScopeError('compensation needs calibration data: give a dataset (e.g. --data mnist)');
  if (compensate && source && source.split === source.evaluatedOn) {
    throw new PruneScopeError(
      `${source.set.source}: compensation refits on calibration rows, which must not come from the ${source.split} split the model is evaluated on, and this dataset has no other split`,
    );
  }
  return {
    pattern: r.pattern,
    removedUnits: r.removedUnits,
    calibration: r.calibration,
    compensation: compensate && source ? { samples: source.set, rows: r.calibration, damping: r.damping } : undefined,
  };
}
