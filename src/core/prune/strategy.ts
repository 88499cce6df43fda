import type { Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';

/**
 * The contract every pruning strategy implements. A strategy only decides what to remove and
 * returns a plan; `applyPlan` (apply.ts) turns a plan into a new model. Strategies never change
 * the model they are given.
 *
 * Conventions shared by every strategy:
 * - Prunable layers are the hidden layers, plus the output layer when `includeOutput` is set.
 * - `sparsity` is one share in [0, 1] for every prunable layer, or an array with one share per
 *   prunable layer in layer order. Structured strategies remove round(share * units) units of a
 *   layer (at most units - 1: a layer keeps at least one unit, and the plan's notes say so);
 *   unstructured ones zero round(share * weights) weights. `magnitude-global` takes one number:
 *   the share of all prunable weights.
 * - Ties are broken by index: among equal scores the lowest unit (or weight, flat [in, out]
 *   row-major index; for magnitude-global the lowest layer first) is removed first.
 */

export type PruneKind = 'structured' | 'unstructured';

export interface PruneOptions {
  /** One share for every prunable layer, or one per prunable layer in layer order. */
  sparsity: number | number[];
  /** Also prune the output layer (default false). */
  includeOutput?: boolean;
  /** Samples for data-driven strategies (apoz, cka), e.g. the validation split. */
  samples?: Dataset;
  /** Rows of `samples` to use, from the first (cka default 512, apoz default all). */
  sampleCount?: number;
  /** Seed for random strategies (default 1). */
  seed?: number;
  /** Rows per forward pass when activations are needed (default 1000). */
  batchSize?: number;
}

interface PlanBase {
  strategy: string;
  /** Per model layer: the share asked for (0 for layers that are not pruned). */
  requested: number[];
  /** Things a person should know, e.g. a layer that kept one unit more than asked. */
  notes: string[];
}

export interface UnstructuredPlan extends PlanBase {
  kind: 'unstructured';
  /** Per model layer: 0/1 over the [in, out] row-major weights (0 = prune), or null for an untouched layer. */
  masks: (Uint8Array | null)[];
}

export interface StructuredPlan extends PlanBase {
  kind: 'structured';
  /** Per model layer: unit indices to remove, ascending (empty for an untouched layer). */
  remove: number[][];
  /** Per model layer: the same units in the order the strategy chose them (first = most removable). */
  order: number[][];
  /**
   * Per model layer: the score each unit was ranked by, when the strategy has one (else null).
   * cka-greedy: the score a unit was removed with (NaN for kept units).
   */
  scores?: (Float64Array | null)[];
  /** CKA strategies, per model layer: linear CKA to the original outputs after the first t+1 removals. */
  curves?: (Float64Array | null)[];
}

export type PrunePlan = UnstructuredPlan | StructuredPlan;

export interface PruneStrategy {
  id: string;
  /** Short human name. */
  label: string;
  kind: PruneKind;
  /** One line on what it removes, for help texts. */
  description: string;
  /** True when `samples` must be given. */
  needsSamples: boolean;
  plan(mlp: MLP, options: PruneOptions): PrunePlan;
}

/** Indices of the layers a strategy may prune. */
export function prunableLayers(mlp: MLP, includeOutput = false): number[] {
  const last = mlp.layers.length - 1;
  return mlp.layers.map((_, i) => i).filter((i) => i < last || includeOutput);
}

function checkShare(share: number, where: string): void {
  if (typeof share !== 'number' || !Number.isFinite(share) || share < 0 || share > 1) {
    throw new PruneScopeError(`sparsity ${share} ${where} is not a share between 0 and 1`);
  }
}

/** The share asked for each model layer (0 where not prunable); validates the option. */
export function sharesPerLayer(mlp: MLP, options: PruneOptions): number[] {
  const prunable = prunableLayers(mlp, options.includeOutput);
  const shares = mlp.layers.map(() => 0);
  const s = options.sparsity;
  if (Array.isArray(s)) {
    if (s.length !== prunable.length) {
      const names = prunable.map((i) => mlp.layers[i].name).join(', ');
      throw new PruneScopeError(
        `${s.length} sparsity values given but model ${mlp.name} has ${prunable.length} prunable layers (${names || 'none'})` +
          (options.includeOutput ? '' : '; the output layer is only pruned with includeOutput'),
      );
    }
    s.forEach((share, k) => {
      checkShare(share, `for layer ${mlp.layers[prunable[k]].name}`);
      shares[prunable[k]] = share;
    });
  } else {
    checkShare(s, 'asked for');
    for (const i of prunable) shares[i] = s;
  }
  if (prunable.length === 0) {
    throw new PruneScopeError(`model ${mlp.name} has a single layer, which is its output; prune it with includeOutput`);
  }
  return shares;
}

/** How many of `count` units a structured strategy removes for `share`; keeps at least one unit. */
export function unitsToRemove(count: number, share: number, layerName: string, notes: string[]): number {
  const k = Math.round(share * count);
  if (k >= count && count > 0) {
    notes.push(`layer ${layerName}: ${Math.round(share * 100)}% would remove all ${count} units; kept 1`);
    return count - 1;
  }
  return k;
}

/** Orders indices by score (ascending, or descending), ties by lowest index: a total, deterministic order. */
export function rankByScore(scores: ArrayLike<number>, descending = false): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  const sign = descending ? -1 : 1;
  idx.sort((a, b) => {
    const d = scores[a] - scores[b];
    return d !== 0 ? sign * d : a - b;
  });
  return idx;
}

/** Builds a structured plan from a removal order per layer (only the first k of each are removed). */
export function structuredPlan(
  strategy: string,
  requested: number[],
  order: number[][],
  notes: string[],
  scores?: (Float64Array | null)[],
): StructuredPlan {
  return {
    kind: 'structured',
    strategy,
    requested,
    notes,
    order,
    remove: order.map((o) => [...o].sort((a, b) => a - b)),
    ...(scores ? { scores } : {}),
  };
}

/** The first `sampleCount` rows of the samples, or a clear error when a strategy needs them. */
export function requireSamples(strategy: string, mlp: MLP, options: PruneOptions, defaultCount?: number): { x: Float32Array; n: number } {
  const ds = options.samples;
  if (!ds) throw new PruneScopeError(`strategy ${strategy} needs samples (e.g. the validation split)`);
  if (ds.features !== mlp.inputSize) {
    throw new PruneScopeError(`${ds.source}: samples have ${ds.features} features but model ${mlp.name} takes ${mlp.inputSize}`);
  }
  const want = options.sampleCount ?? defaultCount ?? ds.n;
  if (!Number.isInteger(want) || want < 1) throw new PruneScopeError(`sample count ${want} is not a positive integer`);
  if (ds.n < 2) throw new PruneScopeError(`${ds.source}: strategy ${strategy} needs at least 2 samples, got ${ds.n}`);
  const n = Math.min(want, ds.n);
  return { x: ds.x.subarray(0, n * ds.features), n };
}
