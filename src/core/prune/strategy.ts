import type { Dataset } from '../data/dataset';
import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';

/**
 * The contract of pruning, split the way Torch-Pruning splits importance from pruner:
 *
 * - A criterion (one file each: magnitude.ts, unit-norm.ts, apoz.ts, cka.ts, cka-greedy.ts,
 *   random.ts, random-weights.ts) only scores. It gives, per layer, either scores of units or
 *   weights (`ScoringCriterion`), or, when its ranking is sequential and cannot come from
 *   independent scores (greedy CKA, a seeded shuffle), an order (`OrderingCriterion`).
 * - The selector (select.ts, with rank.ts) is shared: it validates the shares, rounds them to
 *   counts, keeps a unit in every layer, ranks scores per layer or globally with one tie rule
 *   (rank.ts says which), applies N:M patterns, and builds the plan. An ordering criterion is
 *   told the counts before it runs and ranks with the selector's tie rule (`pickNext`), so
 *   rounding and ties stay the selector's whichever way a criterion answers.
 * - A strategy (registry.ts) is a criterion, a scope and the user-visible id, label and
 *   description; `plan` is always the selector's.
 * - `applyPlan` (apply.ts) turns a plan into a new model. Nothing here changes the model given.
 *
 * Conventions shared by every strategy:
 * - Prunable layers are the hidden layers, plus the output layer when `includeOutput` is set.
 * - `sparsity` is one share in [0, 1] for every prunable layer, or an array with one share per
 *   prunable layer in layer order. Structured strategies remove round(share * units) units of a
 *   layer (at most units - 1: a layer keeps at least one unit, and the plan's notes say so);
 *   unstructured ones zero round(share * weights) weights. Global strategies
 *   (`magnitude-global`) take one number: the share of all prunable weights (or units).
 * - Ties are broken by index: among equal scores the lowest unit (or weight, flat [in, out]
 *   row-major index; for global ranking the lowest layer first) is removed first.
 */

/** Every strategy a user can name (command line, settings, results); registry.ts defines each one. */
export type PruneStrategyId =
  | 'magnitude'
  | 'magnitude-global'
  | 'unit-l1'
  | 'unit-l2'
  | 'apoz'
  | 'cka'
  | 'cka-greedy'
  | 'random'
  | 'random-weights'
  | 'taylor'
  | 'taylor-units'
  | 'obd'
  | 'wanda'
  | 'lamp'
  | 'sparsegpt';

export type PruneKind = 'structured' | 'unstructured';

/** What a criterion scores: whole units (structured pruning) or single weights (unstructured). */
export type PruneTarget = 'units' | 'weights';

/**
 * 'layer': each layer loses its own share; 'global': one share of all prunable layers, ranked
 * together; 'output' (weights only): each output unit loses its own share of its incoming weights,
 * round(share * inputs) of them, ranked among that unit's weights (Wanda's comparison group).
 */
export type PruneScope = 'layer' | 'global' | 'output';

/** Which end of a criterion's scores goes first. */
export type RemoveFirst = 'lowest' | 'highest';

/** N:M sparsity: of every `m` consecutive inputs of a unit, the `n` best-scored weights stay. */
export interface NMPattern {
  n: number;
  m: number;
}

export interface PruneOptions {
  /** One share for every prunable layer, or one per prunable layer in layer order. */
  sparsity: number | number[];
  /** Also prune the output layer (default false). */
  includeOutput?: boolean;
  /** Samples for data-driven strategies (apoz, cka), e.g. the validation split. */
  samples?: Dataset;
  /** Rows of `samples` to use, from the first (cka default 512, apoz default all). */
  sampleCount?: number;
  /**
   * Rows of `samples` for criteria that calibrate on data to fit the pruned network (wanda,
   * sparsegpt, taylor, obd; they read it through `calibrationRows`); cka and apoz use `sampleCount`.
   */
  calibration?: number;
  /** Seed for random strategies (default 1). */
  seed?: number;
  /** Rows per forward pass when activations are needed (default 1000). */
  batchSize?: number;
  /**
   * N:M pattern for strategies that score weights per layer: every layer with a share above 0
   * gets the pattern, which then decides how many weights go (the plan's notes say when that
   * differs from the share). Not for unit strategies, global ranking or ordering criteria
   * (except those that apply the pattern themselves: `handlesPattern`, sparsegpt).
   */
  pattern?: NMPattern;
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
  /**
   * Per model layer: the kernel to prune instead of the layer's own, when the criterion updated
   * the weights that stay (sparsegpt's OBS update), else null; the mask applies on top.
   */
  updated?: (Float32Array | null)[];
}

export interface StructuredPlan extends PlanBase {
  kind: 'structured';
  /** Per model layer: unit indices to remove, ascending (empty for an untouched layer). */
  remove: number[][];
  /** Per model layer: the same units in the order the strategy chose them (first = most removable). */
  order: number[][];
  /**
   * Per model layer: the score each unit was ranked by, when the criterion has one (else null).
   * cka-greedy: the score a unit was removed with (NaN for kept units).
   */
  scores?: (Float64Array | null)[];
  /** CKA strategies, per model layer: linear CKA to the original outputs after the first t+1 removals. */
  curves?: (Float64Array | null)[];
}

export type PrunePlan = UnstructuredPlan | StructuredPlan;

/** What the selector asks a criterion for. */
export interface ScoreRequest {
  /** The strategy being planned, for messages. */
  strategy: string;
  mlp: MLP;
  options: PruneOptions;
  /** Model layers to score, ascending: those with a share above 0 (global ranking: every prunable layer). */
  layers: number[];
  /**
   * Per model layer: how many units or weights the selector removes, already rounded and with a
   * unit kept (0 where not pruned; for global ranking the layer's size, since the split between
   * layers comes from the scores). An ordering criterion's order must be at least this long.
   */
  counts: number[];
  /** Notes of the criterion (e.g. the samples it scored on); the plan lists them before the selector's. */
  notes: string[];
}

/** A scoring criterion's answer for one layer. */
export interface LayerScores {
  /** One score per unit, or per weight in [in, out] row-major order. */
  scores: Float64Array;
  /** Numbers to record along the removal order the selector chose (cka: CKA after each removal). */
  curveFor?: (order: readonly number[]) => Float64Array;
}

/** An ordering criterion's answer for one layer. */
export interface LayerOrder {
  /** Units or weights, most removable first, without repeats; at least `counts[layer]` of them. */
  order: readonly number[];
  /** Per unit, a score to record in the plan (cka-greedy: the score each unit was removed with). */
  scores?: Float64Array;
  /** Per removal step, a number to record in the plan (cka-greedy: CKA after each step). */
  curve?: Float64Array;
  /**
   * Weights only: the layer's kernel ([in, out] row-major) after the criterion's own weight
   * update, e.g. sparsegpt's OBS update; the selector's mask applies on top.
   */
  weights?: Float32Array;
}

interface CriterionBase {
  target: PruneTarget;
  /** True when `options.samples` must be given. */
  needsSamples: boolean;
}

/** Scores units or weights independently; the selector ranks them. */
export interface ScoringCriterion extends CriterionBase {
  gives: 'scores';
  removeFirst: RemoveFirst;
  /**
   * Scores closer than this to the best so far count as tied, and the lowest index wins
   * (default 0: only equal scores tie). For criteria whose scores carry rounding noise (cka).
   * Unit scores only: it ranks by repeated scans, too slow for millions of weights.
   */
  tieTolerance?: number;
  /** One entry per layer of `request.layers`. */
  score(request: ScoreRequest): Map<number, LayerScores>;
}

/**
 * Orders units or weights itself, for sequential rankings (each choice depends on the previous
 * ones, as in cka-greedy) or ones with no scores (a seeded shuffle). It is told the counts
 * (`request.counts`), so rounding stays the selector's, and a criterion that picks among
 * scores breaks ties with the selector's rule, `pickNext` in rank.ts (cka-greedy does).
 */
export interface OrderingCriterion extends CriterionBase {
  gives: 'order';
  /**
   * True when the criterion applies `options.pattern` (N:M) itself, per layer: its order then
   * removes exactly the pattern's count (nmRemovedCount), which is what `counts` says.
   */
  handlesPattern?: boolean;
  /** One entry per layer of `request.layers`. */
  order(request: ScoreRequest): Map<number, LayerOrder>;
}

export type Criterion = ScoringCriterion | OrderingCriterion;

/** A criterion with a scope under a user-visible name: what the registry lists and callers run. */
export interface PruneStrategy<Id extends PruneStrategyId = PruneStrategyId> {
  readonly id: Id;
  /** Short human name. */
  readonly label: string;
  readonly kind: PruneKind;
  /** One line on what it removes, for help texts. */
  readonly description: string;
  /** True when `samples` must be given. */
  readonly needsSamples: boolean;
  readonly criterion: Criterion;
  readonly scope: PruneScope;
  /** The shared selector's plan (select.ts) for this criterion and scope. */
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

/** The calibration rows of a criterion that fits the pruned network: `calibration` rows, else `sampleCount`, else `fallback`. */
export function calibrationRows(strategy: string, mlp: MLP, options: PruneOptions, fallback: number): { x: Float32Array; n: number } {
  return requireSamples(strategy, mlp, { ...options, sampleCount: options.calibration ?? options.sampleCount }, fallback);
}
