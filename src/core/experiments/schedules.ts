import type { Dataset, DatasetSplits } from '../data/dataset';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { applyPlan } from '../prune/apply';
import type { PrunePlan, PruneStrategy } from '../prune/strategy';
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
    if (this.kind === 'unstructured') return this.masks[l];
    const layer = this.original.layers[l];
    const units = new Uint8Array(layer.units);
    for (const j of this.keptUnits[l]) units[j] = 1;
    const mask = new Uint8Array(layer.weights.length);
    const inputs = l === 0 ? null : this.keptUnits[l - 1];
    const rows = inputs ?? Array.from({ length: layer.inputSize }, (_, i) => i);
    for (const r of rows) for (let j = 0; j < layer.units; j++) mask[r * layer.units + j] = units[j];
    return mask;
  }

  /** Masks for fine-tuning the current (unstructured) model, as 0/1 floats. */
  trainingMasks(): Float32Array[] | null {
    return this.kind === 'unstructured' ? this.masks.map((m) => Float32Array.from(m)) : null;
  }
}

/** The share each round asks the strategy for, and the rounds a schedule takes. */
export function roundTargets(schedule: ScheduleName, target: number, iterations: number): number[] {
  if (schedule === 'one-shot' || target === 0) return [target];
  let rounds = iterations;
  if (schedule === 'imp-rewind') {
    // 20% of the remaining weights per round (Renda et al.), as many rounds as the target needs.
    rounds = Math.max(1, Math.ceil(Math.log(1 - target) / Math.log(0.8) - 1e-9));
  }
  return Array.from({ length: rounds }, (_, r) => 1 - Math.pow(1 - target, (r + 1) / rounds));
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
    });
    if (plan.kind === 'unstructured') plan.masks = lineage.intersect(plan.masks);
    else lineage.removeUnits(plan.remove);
    current = applyPlan(current, plan).mlp;
    if (options.finetuneEpochs > 0) {
      if (!options.splits) throw new PruneScopeError('fine-tuning needs a dataset');
      const fit = await fitMLP(current, options.splits, {
        epochs: options.finetuneEpochs,
        seed: options.seed + r,
        masks: lineage.trainingMasks(),
        signal: options.signal,
      });
      current = fit.mlp;
      epochs += fit.history.epochs.length;
    }
    await onStep(
      {
        mlp: current,
        target: options.target,
        iteration: options.schedule === 'one-shot' ? 0 : r + 1,
        finetuneEpochs: epochs,
        notes: plan.notes,
      },
      lineage,
    );
  }
}
