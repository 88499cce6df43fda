import type { DataOptions } from '../../core/experiments';
import type { ScheduleName } from '../../core/results/format';
import { SPLIT_NAMES, type SplitName } from '../../core/data/dataset';
import { choiceOption, intOption } from '../args';
import { info } from '../output';
import { dataOptions, loadOptionsFrom } from './evaluate';

/** Options shared by prune, analyze and compare. */
export const experimentOptions = {
  ...dataOptions,
  split: { type: 'string' },
  samples: { type: 'string' },
  'finetune-epochs': { type: 'string' },
  iterations: { type: 'string' },
  schedule: { type: 'string' },
  seed: { type: 'string' },
  'include-output': { type: 'boolean' },
} as const;

const SCHEDULES: readonly ScheduleName[] = ['one-shot', 'iterative', 'imp-rewind', 'trimming'];

type Values = Record<string, string | boolean | undefined>;

export function scheduleFrom(values: Values): ScheduleName | undefined {
  return values.schedule === undefined ? undefined : choiceOption(values.schedule, 'schedule', SCHEDULES, 'one-shot');
}

export function dataOptionsFrom(values: Values): DataOptions {
  return {
    ...loadOptionsFrom(values),
    split: choiceOption<SplitName>(values.split, 'split', SPLIT_NAMES, 'test'),
    samples: values.samples === undefined ? undefined : intOption(values.samples, 'samples', 512, 2),
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
