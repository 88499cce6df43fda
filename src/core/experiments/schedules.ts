import type { Dataset, DatasetSplits } from '../data/dataset';
import { PruneScopeError } from '../errors';
import type { KeepGrid } from '../metrics/ks';
import type { MLP } from '../model/mlp';
import { applyPlan, type RemovedUnits } from '../prune/apply';
import { compensate } from '../prune/compensate';
import type { NMPattern, PrunePlan, PruneStrategy } from '../prune/strategy';
import type { ScheduleName } from '../results/format';
import { fitMLP } from '../train/fit';

/**
 * Pruning schedules:
 * - one-shot: prune the original to the target, then (optionally) fine-tune.
 * - iterative: `iterations` rounds of "prune a share of what remains, then retrain", as in the
 *   CKA-pruning study; round r reaches 1 - (1 - target)^(r / iterations) of the original.
 * - imp-rewind: iterative magnitude pruning with learning-rate rewinding (Renda et al. 2020):
 *   20% of what remains per round until the target, and each round retrains with the original
 *   learning rate and a fresh optimizer (our schedule is constant Adam, so rewinding the
 *   learning rate means restarting it) instead of continuing at a decayed one.
 * - trimming: network trimming (Hu et al. 2016): alternate APoZ pruning and retraining from the
 *   kept weights, in `iterations` rounds.
 * - gradual: Zhu & Gupta 2017's ramp (TF-MOT's PolynomialDecay with power 3, NNI's AGP):
 *   s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3 from s_i = 0 to the target s_f in n =
 *   `iterations` steps, the `finetuneEpochs` epochs spread evenly over them (fractions of an
 *   epoch allowed, see gradualFinetune), the masks kept and only growing from step to step.
 * Every round's model is reported through `onStep`.
 */

export interface ScheduleOptions {
  schedule: ScheduleName;
  target: number;
  iterations: number;
  finetuneEpochs: number;
  seed: number;
  includeOutput: boolean;
  /** Rows for data-driven strategies (apoz, cka); absent for data-free ones. */
  samples?: Dataset;
  sampleCount?: number;
  /** Training data for fine-tuning; needed when finetuneEpochs > 0. */
  splits?: DatasetSplits;
  signal?: AbortSignal;
  onEpoch?: (epoch: number, epochs: number) => void;
  /** Rows of `samples` that calibrating criteria (wanda, sparsegpt, taylor, obd) use; `sampleCount` otherwise. */
  calibration?: number;
  /** N:M pattern, for strategies that score weights within a layer or unit. */
  pattern?: NMPattern;
  /** What removed units leave behind (structured strategies; default 'constant'). */
  removedUnits?: RemovedUnits;
  /** Refit the weights that stay after every pruning step, before any fine-tuning (compensate.ts). */
  compensation?: CompensationSetup;
}

/** Calibration rows for compensation: the first `rows` of `samples` (a validation split, never the test split). */
export interface CompensationSetup {
  samples: Dataset;
  rows: number;
  damping?: number;
}

export interface ScheduleStep {
  mlp: MLP;
  target: number;
  /** 0 for one-shot, else the 1-based round. */
  iteration: number;
  /** Fine-tuning epochs spent so far on this model. */
  finetuneEpochs: number;
  notes: string[];
}

/**
 * Which of the original weights survive in the current model, through every round: units kept
 * (by original index) for structured pruning, a mask over the original weights for unstructured.
 */
export class Lineage {
  private readonly keptUnits: number[][];
  private readonly masks: Uint8Array[];

  constructor(
    private readonly original: MLP,
    readonly kind: PruneStrategy['kind'],
  ) {
    this.keptUnits = original.layers.map((l) => Array.from({ length: l.units }, (_, j) => j));
    this.masks = original.layers.map((l) => new Uint8Array(l.weights.length).fill(1));
  }

  /** Records a structured removal (indices of the current model's units). */
  removeUnits(remove: number[][]): void {
    remove.forEach((idx, l) => {
      if (idx.length === 0) return;
      const gone = new Set(idx);
      this.keptUnits[l] = this.keptUnits[l].filter((_, j) => !gone.has(j));
    });
  }

  /** Combines a round's masks with the earlier ones; returns the masks to apply. */
  intersect(masks: (Uint8Array | null)[]): (Uint8Array | null)[] {
    return masks.map((m, l) => {
      if (!m) return this.masks[l].every((v) => v === 1) ? null : Uint8Array.from(this.masks[l]);
      const combined = this.masks[l];
      for (let i = 0; i < m.length; i++) combined[i] &= m[i];
      return Uint8Array.from(combined);
    });
  }

  /** 1 where the original weight of layer l is still in the model. */
  keepMask(l: number): Uint8Array {
    const grid = this.keepGrid(l);
    if (!grid) return this.masks[l];
    const { rows, units } = grid;
    const mask = new Uint8Array(rows.length * units.length);
    for (let r = 0; r < rows.length; r++) if (rows[r]) mask.set(units, r * units.length);
    return mask;
  }

  /**
   * For structured pruning, the rows (inputs) and columns (units) of layer l's original kernel
   * still in the model, 1 where kept: the keep mask as what it is, a grid; null when unstructured.
   */
  keepGrid(l: number): KeepGrid | null {
    if (this.kind === 'unstructured') return null;
    const layer = this.original.layers[l];
    const units = new Uint8Array(layer.units);
    for (const j of this.keptUnits[l]) units[j] = 1;
    const rows = new Uint8Array(layer.inputSize);
    if (l === 0) rows.fill(1);
    else for (const r of this.keptUnits[l - 1]) rows[r] = 1;
    return { rows, units };
  }

  /** Per layer, the original indices of the units still in the model. */
  units(): number[][] {
    return this.keptUnits.map((k) => [...k]);
  }

  /** Masks for fine-tuning the current (unstructured) model, as 0/1 floats. */
  trainingMasks(): Float32Array[] | null {
    return this.kind === 'unstructured' ? this.masks.map((m) => Float32Array.from(m)) : null;
  }
}

/** The share each round asks the strategy for, and the rounds a schedule takes. */
export function roundTargets(schedule: ScheduleName, target: number, iterations: number): number[] {
  if (schedule === 'one-shot' || target === 0) return [target];
  if (schedule === 'gradual') return gradualTargets(target, iterations);
  let rounds = iterations;
  if (schedule === 'imp-rewind') {
    // 20% of the remaining weights per round (Renda et al.), as many rounds as the target needs.
    rounds = Math.max(1, Math.ceil(Math.log(1 - target) / Math.log(0.8) - 1e-9));
  }
  return Array.from({ length: rounds }, (_, r) => 1 - Math.pow(1 - target, (r + 1) / rounds));
}

/**
 * The cubic ramp at the end of each of `steps` intervals: s_f (1 - (1 - k/n)^3), k = 1..n, the
 * last exactly s_f. Step k prunes at the start of its interval to the ramp's value at its end
 * (the ramp's t0 is one interval before fine-tuning starts, the trained original standing for
 * the dense training before it), so the last interval fine-tunes with the final mask.
 */
export function gradualTargets(target: number, steps: number): number[] {
  const n = Math.max(1, steps);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? target : target * (1 - Math.pow(1 - (i + 1) / n, 3))));
}

/**
 * How a gradual step fine-tunes: finetuneEpochs / steps epochs, as whole epochs and the share of
 * its batches the last one trains. Pruning happens between fitMLP runs, not from a per-batch hook
 * inside one: a structured step changes the layers' shapes (optimizer moments, batch buffers),
 * and every step is reported and measured as a point; on MNIST (55,000 rows, batches of 512) an
 * epoch is ~108 batches, about TF-MOT's default of pruning every 100 steps, so steps of an epoch
 * or a fraction of one give the same granularity. Each run starts a fresh Adam.
 */
export function gradualFinetune(finetuneEpochs: number, steps: number): { epochs: number; lastEpochShare: number } {
  const perStep = finetuneEpochs / Math.max(1, steps);
  const epochs = Math.max(1, Math.ceil(perStep - 1e-9));
  return { epochs, lastEpochShare: Math.min(1, perStep - (epochs - 1)) };
}

export async function pruneWithSchedule(
  original: MLP,
  strategy: PruneStrategy,
  options: ScheduleOptions,
  onStep: (step: ScheduleStep, lineage: Lineage) => Promise<void>,
): Promise<void> {
  if (options.schedule === 'trimming' && strategy.id !== 'apoz') {
    throw new PruneScopeError(`the trimming schedule (network trimming) prunes with apoz, not ${strategy.id}`);
  }
  if (options.schedule === 'gradual' && !(options.finetuneEpochs > 0)) {
    throw new PruneScopeError(
      `the gradual schedule prunes during fine-tuning: give fine-tuning epochs to spread over its ${options.iterations} steps (e.g. --finetune-epochs ${Math.max(1, options.iterations)})`,
    );
  }
  const lineage = new Lineage(original, strategy.kind);
  const targets = roundTargets(options.schedule, options.target, options.iterations);
  let current = original;
  let before = 0;
  let epochs = 0;
  for (let r = 0; r < targets.length; r++) {
    const cumulative = targets[r];
    // Structured strategies see the shrunk model, so they are asked for a share of what is left;
    // unstructured ones see the zeros too, which they rank first, so they get the cumulative share.
    const share = strategy.kind === 'structured' ? 1 - (1 - cumulative) / (1 - before) : cumulative;
    before = cumulative;
    const plan: PrunePlan = strategy.plan(current, {
      sparsity: share,
      includeOutput: options.includeOutput,
      samples: options.samples,
      sampleCount: options.sampleCount,
      seed: options.seed + r,
      pattern: options.pattern,
      calibration: options.calibration,
    });
    if (plan.kind === 'unstructured') plan.masks = lineage.intersect(plan.masks);
    else lineage.removeUnits(plan.remove);
    current = applyPlan(current, plan, { removedUnits: options.removedUnits, histograms: false }).mlp;
    const notes = [...plan.notes];
    if (options.compensation) current = compensateStep(original, current, lineage, options.compensation, options.signal, notes);
    if (options.finetuneEpochs > 0) {
      const fit = await finetune(current, lineage, options, targets.length, r);
      current = fit.mlp;
      epochs += fit.epochs;
    }
    await onStep(
      {
        mlp: current,
        target: options.target,
        iteration: options.schedule === 'one-shot' ? 0 : r + 1,
        // Whole epochs in the results; a gradual step may train a fraction of one.
        finetuneEpochs: Math.round(epochs),
        notes,
      },
      lineage,
    );
  }
}

/** Fine-tunes round r's model with the lineage's masks; returns it and the epochs it trained (fractional for gradual steps). */
async function finetune(
  current: MLP,
  lineage: Lineage,
  options: ScheduleOptions,
  steps: number,
  r: number,
): Promise<{ mlp: MLP; epochs: number }> {
  if (!options.splits) throw new PruneScopeError('fine-tuning needs a dataset');
  const gradual = options.schedule === 'gradual' ? gradualFinetune(options.finetuneEpochs, steps) : undefined;
  const fit = await fitMLP(current, options.splits, {
    epochs: gradual?.epochs ?? options.finetuneEpochs,
    lastEpochShare: gradual && gradual.lastEpochShare < 1 ? gradual.lastEpochShare : undefined,
    seed: options.seed + r,
    masks: lineage.trainingMasks(),
    signal: options.signal,
  });
  const h = fit.history;
  // Early stopping ends a run before its (partial) last epoch; otherwise that epoch counts for its share.
  const epochs = gradual && !h.stoppedEarly ? h.epochs.length - 1 + gradual.lastEpochShare : h.epochs.length;
  return { mlp: fit.mlp, epochs };
}

/** The pruned model refit against the original on the calibration rows; what it did goes into `notes`. */
function compensateStep(
  original: MLP,
  pruned: MLP,
  lineage: Lineage,
  setup: CompensationSetup,
  signal: AbortSignal | undefined,
  notes: string[],
): MLP {
  const { samples, rows } = setup;
  if (samples.features !== original.inputSize) {
    throw new PruneScopeError(
      `${samples.source}: calibration rows have ${samples.features} features but model ${original.name} takes ${original.inputSize}`,
    );
  }
  const n = Math.min(rows, samples.n);
  const keptUnits = lineage.kind === 'structured' ? lineage.units() : undefined;
  const r = compensate(original, pruned, samples.x, n, { keptUnits, damping: setup.damping, signal });
  const refit = r.layers.filter((l) => l.refit);
  const errors = refit.map((l) => `${l.name} ${l.errorBefore.toPrecision(2)} -> ${l.errorAfter.toPrecision(2)}`).join(', ');
  notes.push(
    `compensated on ${n} rows of ${samples.source} (damping ${r.damping}): relative error of the pre-activations ${errors || 'unchanged'}`,
  );
  const extra = r.layers.reduce((a, l) => a + l.extraDamped, 0);
  if (extra > 0) notes.push(`compensation: ${extra} units had nearly singular inputs and were solved with more damping`);
  return r.mlp;
}
