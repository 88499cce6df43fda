/**
 * Reads the history.json that saveTraining (save.ts) writes beside a trained model, for the
 * inspector's training curves. Only the per-epoch metrics are read; a file that does not fit
 * gives one line naming the file and what is wrong.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { PruneScopeError } from '../errors';
import { ContainmentError, openContained } from '../io/contained';
import type { EpochMetrics, TrainingHistory } from './fit';

export const HISTORY_FILE = 'history.json';
/** A history of a few hundred epochs is tens of KB; anything this large is not one. */
const MAX_HISTORY_BYTES = 8 * 1024 * 1024;

/** NaN and infinite metrics reach the file as null (JSON.stringify), so null is a gap, not an error. */
const metric = z.number().finite().nullable();
const epochSchema = z.object({
  epoch: z.number().int().positive(),
  loss: metric,
  accuracy: metric,
  valLoss: metric,
  valAccuracy: metric,
});
const historySchema = z.object({
  epochs: z.array(epochSchema),
  bestEpoch: z.number().int().nonnegative().optional(),
  model: z.object({ sizes: z.array(z.number().int().positive()) }).optional(),
});

export type EpochCurvePoint = z.infer<typeof epochSchema>;

/** What the inspector draws of a training run. */
export interface TrainingCurves {
  epochs: EpochCurvePoint[];
  /** 1-based epoch whose weights were kept (lowest validation loss), when recorded. */
  bestEpoch: number | null;
  /** Layer sizes of the trained model, input first, when recorded. */
  sizes: number[] | null;
}

// Fails to compile when fit.ts renames what this reads.
type Read<T> = { [K in keyof T]: T[K] | null };
const _epochFits: (e: EpochMetrics) => Read<Pick<EpochMetrics, 'epoch' | 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy'>> = (e) => e;
const _historyFits: (h: TrainingHistory) => Pick<TrainingHistory, 'bestEpoch' | 'model'> = (h) => h;
void _epochFits;
void _historyFits;

function describeIssue(issue: z.ZodIssue): string {
  const at = issue.path.length ? issue.path.join('.') : 'the top level';
  return `${at}: ${issue.message}`;
}

/** The curves of a history.json's text; throws PruneScopeError naming `file` and what is wrong. */
export function parseTrainingHistory(text: string, file: string): TrainingCurves {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PruneScopeError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PruneScopeError(`${file}: not a training history (expected an object with "epochs")`);
  }
  const r = historySchema.safeParse(json);
  if (!r.success) throw new PruneScopeError(`${file}: not a training history: ${describeIssue(r.error.issues[0])}`);
  const { epochs, bestEpoch, model } = r.data;
  if (epochs.length === 0) throw new PruneScopeError(`${file}: records no epochs`);
  epochs.forEach((e, i) => {
    if (i > 0 && e.epoch <= epochs[i - 1].epoch) {
      throw new PruneScopeError(`${file}: epochs.${i}: epoch ${e.epoch} does not follow epoch ${epochs[i - 1].epoch}`);
    }
  });
  return { epochs, bestEpoch: bestEpoch && bestEpoch > 0 ? bestEpoch : null, sizes: model?.sizes ?? null };
}

export type HistoryRead =
  { state: 'none' } | { state: 'ok'; file: string; curves: TrainingCurves } | { state: 'error'; file: string; message: string };

/**
 * The history.json in the folder of `modelFile`, if there is one. It is opened like a file the
 * model names (openContained): a link out of the model's folder is refused, not followed.
 * Never throws for what the file holds.
 */
export async function readTrainingHistory(modelFile: string): Promise<HistoryRead> {
  const dir = dirname(modelFile);
  const file = join(dir, HISTORY_FILE);
  try {
    await fs.lstat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'none' };
    return { state: 'error', file, message: `${file}: cannot be read (${(e as Error).message})` };
  }
  try {
    const opened = await openContained(dir, HISTORY_FILE);
    try {
      if (opened.size > MAX_HISTORY_BYTES) {
        return { state: 'error', file, message: `${file}: ${opened.size} bytes, too large for a training history` };
      }
      const text = await opened.handle.readFile({ encoding: 'utf8' });
      return { state: 'ok', file, curves: parseTrainingHistory(text, file) };
    } finally {
      await opened.handle.close();
    }
  } catch (e) {
    if (e instanceof PruneScopeError || e instanceof ContainmentError) {
      const message = e instanceof ContainmentError ? `${file}: not read: ${e.message}` : e.message;
      return { state: 'error', file, message };
    }
    return { state: 'error', file, message: `${file}: cannot be read (${(e as Error).message})` };
  }
}
