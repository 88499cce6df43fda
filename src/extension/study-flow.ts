/**
 * What Run Study runs: a grid (the study's default one, or a quick one), a time budget, and the
 * plan's estimate of them, as the question shows it. No vscode here, so it is tested directly.
 */
import { promises as fs } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { z } from 'zod';
import {
  planStudy,
  studyParameters,
  studySettings,
  type StudyOptions,
  type StudyPlan,
  type StudySettings,
} from '../core/experiments/study';
import { percentLabel } from './naming';

/** MNIST's shape: the study runs on MNIST from the editor. */
const MNIST = { inputs: 784, classes: 10 };

/** A study's fields the person (or a caller's options) chooses; the rest are the worker's. */
export type StudyChoice = Pick<
  StudyOptions,
  | 'base'
  | 'factors'
  | 'epochs'
  | 'trainSamples'
  | 'validationSamples'
  | 'testSamples'
  | 'samples'
  | 'sparsities'
  | 'finetuneEpochs'
  | 'iterations'
  | 'strategies'
  | 'seed'
>;

export const STUDY_GRIDS = ['default', 'quick'] as const;
export type StudyGrid = (typeof STUDY_GRIDS)[number];

/** The default grid is the study's own (core defaults); the quick one is a first look in a few minutes of a laptop. */
export const GRID_CHOICES: Record<StudyGrid, StudyChoice> = {
  default: {},
  quick: {
    base: { width: 128, depth: 2, dropout: 0 },
    factors: { dropout: [0, 0.5], width: [64, 128], depth: [1, 2] },
    epochs: 2,
    trainSamples: 5000,
    validationSamples: 1000,
    testSamples: 2000,
    samples: 256,
    sparsities: [0.5, 0.9],
  },
};

export const DEFAULT_BUDGET_MINUTES = 30;

/**
 * Seconds per training epoch, per parameter of the base model and per training row, before this
 * machine has run a study: one epoch of 784-512-512-10 on 20000 MNIST rows took 1.3 s on the
 * tfjs-node backend of a 2-core machine. A study that ran replaces it with what it measured.
 */
export const ASSUMED_SECONDS_PER_PARAMETER_ROW = 1.3 / (669_706 * 20_000);

const factorsSchema = z.strictObject({
  dropout: z.array(z.number().min(0).max(0.99)).min(1).optional(),
  width: z.array(z.number().int().positive()).min(1).optional(),
  depth: z.array(z.number().int().positive()).min(1).optional(),
});

/** Run Study's options argument: `{ useDefaults: true }` runs the default grid in 30 minutes, asking nothing. */
export const studyArgsSchema = z.strictObject({
  useDefaults: z.boolean().optional(),
  grid: z.enum(STUDY_GRIDS).optional(),
  budgetMinutes: z.number().positive().optional(),
  /** The folder results.json and report.html go into; it must not hold them yet. Default: a free name under studies/. */
  out: z.string().refine(isAbsolute, 'an absolute path').optional(),
  base: z
    .strictObject({ width: z.number().int().positive(), depth: z.number().int().positive(), dropout: z.number().min(0).max(0.99) })
    .optional(),
  factors: factorsSchema.optional(),
  epochs: z.number().int().positive().optional(),
  trainSamples: z.number().int().positive().optional(),
  validationSamples: z.number().int().min(2).optional(),
  testSamples: z.number().int().positive().optional(),
  samples: z.number().int().min(2).optional(),
  sparsities: z.array(z.number().min(0).max(0.99)).min(1).optional(),
  finetuneEpochs: z.number().int().positive().optional(),
  iterations: z.number().int().positive().optional(),
  strategies: z.tuple([z.string().min(1), z.string().min(1)]).optional(),
  seed: z.number().int().nonnegative().optional(),
});

/** What a call with options runs: its grid with its fields over it, its budget and folder. */
export interface StudyCall {
  choice: StudyChoice;
  budgetSeconds: number;
  out?: string;
}

/** The options object among a command's arguments, checked; undefined when it was given none (the person is asked). */
export function studyCallFromArgs(args: readonly unknown[]): StudyCall | undefined {
  const raw = args.find((a) => typeof a === 'object' && a !== null && !Array.isArray(a) && !('fsPath' in a));
  if (raw === undefined) return undefined;
  const r = studyArgsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`the command's options are not valid: ${issue.path.join('.') || 'options'}: ${issue.message}`);
  }
  const { useDefaults: _, grid, budgetMinutes, out, ...fields } = r.data;
  return { choice: { ...GRID_CHOICES[grid ?? 'default'], ...fields }, budgetSeconds: 60 * (budgetMinutes ?? DEFAULT_BUDGET_MINUTES), out };
}

/** The grid's settings and the plan's estimate on MNIST, from seconds per parameter and row of an epoch. */
export function studyEstimate(
  choice: StudyChoice,
  budgetSeconds: number,
  secondsPerParameterRow: number,
): { settings: StudySettings; plan: StudyPlan } {
  const settings = studySettings({ data: 'mnist', ...choice, budgetSeconds });
  const epochSeconds = secondsPerParameterRow * studyParameters(settings.base, MNIST.inputs, MNIST.classes) * settings.trainSamples;
  return { settings, plan: planStudy(settings, epochSeconds, MNIST) };
}

/** Seconds per parameter and row that a finished study measured (its base model's timed epoch). */
export function measuredRate(settings: { base: StudySettings['base']; trainSamples: number }, epochSeconds: number): number {
  return epochSeconds / (studyParameters(settings.base, MNIST.inputs, MNIST.classes) * settings.trainSamples);
}

export function minutesText(seconds: number): string {
  return seconds < 90 ? `${Math.max(1, Math.round(seconds))} s` : `${Math.round(seconds / 60)} min`;
}

/** "dropout 0, 0.25, 0.5 · width 128, 256, 512 · depth 1, 2, 3 around 784-512-512-10; cka vs unit-l1 at 50, 75, 90 %". */
export function gridText(settings: StudySettings): string {
  const b = settings.base;
  const layers = [MNIST.inputs, ...Array<number>(b.depth).fill(b.width), MNIST.classes].join('-');
  const factors = settings.factors.map((f) => `${f.factor} ${f.values.join(', ')}`).join(' · ') || 'no factor varied';
  const dropout = b.dropout > 0 ? ` (dropout ${b.dropout})` : '';
  const [a, c] = settings.strategies;
  return `${factors} around ${layers}${dropout}; ${a} vs ${c} at ${settings.sparsities.map(percentLabel).join(', ')} %, ${settings.epochs} epochs on ${settings.trainSamples} rows`;
}

/** "7 models, about 3 min" or "5 of 7 models fit, about 28 min". */
export function planText(plan: StudyPlan): string {
  const all = plan.models.length + plan.skipped.length;
  if (plan.models.length === 0)
    return `not even the base model fits (it needs about ${minutesText(plan.skipped[0]?.estimatedSeconds ?? 0)})`;
  const fit = plan.skipped.length ? `${plan.models.length} of ${all} models fit` : `${all} model${all === 1 ? '' : 's'}`;
  return `${fit}, about ${minutesText(plan.estimatedSeconds)}`;
}

/** A budget typed in minutes ("30", "7.5"); undefined when it is not a positive number. */
export function parseBudgetMinutes(text: string): number | undefined {
  const t = text.trim().replace(/\s*min(utes?)?$/i, '');
  const n = Number(t);
  return t !== '' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The rate the last study on this machine measured (kept beside the results cache), or undefined. */
export async function readStudyRate(file: string): Promise<number | undefined> {
  try {
    const { secondsPerParameterRow: r } = JSON.parse(await fs.readFile(file, 'utf8')) as { secondsPerParameterRow?: unknown };
    return typeof r === 'number' && Number.isFinite(r) && r > 0 ? r : undefined;
  } catch {
    return undefined;
  }
}

export async function writeStudyRate(file: string, secondsPerParameterRow: number): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify({ secondsPerParameterRow, measuredAt: new Date().toISOString() })}\n`);
}
