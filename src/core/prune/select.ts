import { PruneScopeError } from '../errors';
import { selectKth } from '../metrics/gram';
import type { DenseLayer, MLP } from '../model/mlp';
import { nmMask, nmRemovedCount, rankForRemoval, removalMasks, type RankRule } from './rank';
import {
  prunableLayers,
  sharesPerLayer,
  type Criterion,
  type LayerOrder,
  type LayerScores,
  type PruneOptions,
  type PrunePlan,
  type PruneScope,
  type RemoveFirst,
  type ScoreRequest,
  type StructuredPlan,
  type UnstructuredPlan,
} from './strategy';

/**
 * The shared selector: from a criterion's scores (or order) to a plan. It owns everything a
 * criterion should not have to repeat: validating shares, rounding them to counts
 * (round(share * size), a unit kept in every layer), ranking per layer, per output unit or
 * globally with the tie rule of rank.ts, N:M patterns, and the plan's shape. Criteria's notes
 * come first in the plan, then the selector's (which layer kept a unit, what a pattern did).
 */

/** What the selector needs of a strategy. */
export interface SelectionParts {
  id: string;
  criterion: Criterion;
  scope: PruneScope;
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

const percent = (share: number) => `${Math.round(share * 100)}%`;

/** Refuses what the selector cannot do, before any scoring work. */
function checkSelection({ id, criterion, scope }: SelectionParts, options: PruneOptions): void {
  if (scope === 'global' && Array.isArray(options.sparsity)) {
    throw new PruneScopeError(`${id} takes one sparsity: the share of all prunable ${criterion.target}`);
  }
  if (scope === 'global' && criterion.gives === 'order') {
    throw new PruneScopeError(`${id} orders each layer itself, so it cannot be ranked globally`);
  }
  if (scope === 'output' && (criterion.target !== 'weights' || criterion.gives !== 'scores')) {
    throw new PruneScopeError(`${id}: ranking within each output unit needs scores of weights`);
  }
  if (criterion.gives === 'scores' && (criterion.tieTolerance ?? 0) > 0 && criterion.target === 'weights') {
    throw new PruneScopeError(`${id}: a tie tolerance ranks by repeated scans, which is for unit scores, not weights`);
  }
  const pattern = options.pattern;
  if (!pattern) return;
  const { n, m } = pattern;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || n >= m) {
    throw new PruneScopeError(`N:M pattern ${n}:${m} needs whole numbers with 1 <= N < M`);
  }
  // N:M groups lie within one unit's inputs, so per-unit ranking ('output') takes patterns too.
  // An ordering criterion takes one only when it applies it itself (handlesPattern: sparsegpt).
  const patterned = criterion.gives === 'scores' || criterion.handlesPattern === true;
  if (criterion.target !== 'weights' || !patterned || scope === 'global') {
    throw new PruneScopeError(`${id} cannot take an N:M pattern: patterns select among the scored weights of one layer`);
  }
}

/**
 * Weights a layer loses when each unit loses round(share * inputs) of its own: units times that.
 * Notes when this is further from the asked share than rounding the whole layer would be and
 * visibly so: a large layer is always a few weights off, which the note's whole percents hide.
 */
function perUnitCount(layer: DenseLayer, share: number, notes: string[]): number {
  const perUnit = Math.round(share * layer.inputSize);
  const count = perUnit * layer.units;
  const realised = count / layer.weights.length;
  if (Math.abs(count - share * layer.weights.length) > 0.5 + 1e-9 && percent(realised) !== percent(share)) {
    notes.push(
      `layer ${layer.name}: ${perUnit} of ${layer.inputSize} inputs per unit zeroes ${percent(realised)} of its weights (${percent(share)} asked)`,
    );
  }
  return count;
}

/** Per model layer: how many units or weights go (0 where not pruned), with the selector's notes. */
function layerCounts(
  parts: SelectionParts,
  mlp: MLP,
  requested: number[],
  layers: number[],
  options: PruneOptions,
  notes: string[],
): number[] {
  const counts = mlp.layers.map(() => 0);
  for (const l of layers) {
    const layer = mlp.layers[l];
    if (parts.scope === 'global') counts[l] = parts.criterion.target === 'units' ? layer.units : layer.weights.length;
    else if (parts.criterion.target === 'units') counts[l] = unitsToRemove(layer.units, requested[l], layer.name, notes);
    else if (!options.pattern && parts.scope === 'output') counts[l] = perUnitCount(layer, requested[l], notes);
    else if (!options.pattern) counts[l] = Math.round(requested[l] * layer.weights.length);
    else {
      const { n, m } = options.pattern;
      counts[l] = nmRemovedCount(layer.inputSize, layer.units, options.pattern);
      const share = counts[l] / layer.weights.length;
      if (Math.abs(share - requested[l]) > 1e-9) {
        notes.push(`layer ${layer.name}: the ${n}:${m} pattern zeroes ${percent(share)} of its weights (${percent(requested[l])} asked)`);
      }
    }
  }
  return counts;
}

/** The plan of a strategy on a model: the only way strategies plan. Never changes `mlp`. */
export function selectPlan(parts: SelectionParts, mlp: MLP, options: PruneOptions): PrunePlan {
  checkSelection(parts, options);
  const requested = sharesPerLayer(mlp, options);
  const layers = parts.scope === 'global' ? prunableLayers(mlp, options.includeOutput) : requested.flatMap((s, l) => (s > 0 ? [l] : []));
  const selectorNotes: string[] = [];
  const counts = layerCounts(parts, mlp, requested, layers, options, selectorNotes);
  const request: ScoreRequest = { strategy: parts.id, mlp, options, layers, counts, notes: [] };
  const plan = parts.criterion.target === 'weights' ? weightPlan(parts, request) : unitPlan(parts, request, selectorNotes);
  return { ...plan, strategy: parts.id, requested, notes: [...request.notes, ...selectorNotes] };
}

type Answer = LayerScores | LayerOrder;

/** The criterion's answer for layer l, checked: scores of the right length, or an order long enough and without repeats. */
function answerFor(parts: SelectionParts, answers: Map<number, Answer>, l: number, size: number, count: number): Answer {
  const a = answers.get(l);
  const where = `${parts.id}: layer ${l}`;
  if (!a) throw new PruneScopeError(`${where} was not scored`);
  if (!('order' in a) && a.scores.length !== size) {
    throw new PruneScopeError(`${where} got ${a.scores.length} scores for ${size} ${parts.criterion.target}`);
  }
  if ('order' in a) {
    if (a.order.length < count) throw new PruneScopeError(`${where}: order has ${a.order.length} entries, ${count} are removed`);
    const seen = new Uint8Array(size);
    for (let t = 0; t < count; t++) {
      const i = a.order[t];
      if (!Number.isInteger(i) || i < 0 || i >= size || seen[i])
        throw new PruneScopeError(`${where}: order names ${i} twice or out of range`);
      seen[i] = 1;
    }
  }
  return a;
}

function answersOf(parts: SelectionParts, request: ScoreRequest): Map<number, Answer> {
  const c = parts.criterion;
  return c.gives === 'order' ? c.order(request) : c.score(request);
}

function rankRule(criterion: Criterion): RankRule {
  return criterion.gives === 'scores'
    ? { removeFirst: criterion.removeFirst, tieTolerance: criterion.tieTolerance }
    : { removeFirst: 'lowest' };
}

type PlanBody<P extends PrunePlan> = Omit<P, 'strategy' | 'requested' | 'notes'>;

/** Masks for unstructured strategies: per layer (optionally N:M), globally, or from an order. */
function weightPlan(parts: SelectionParts, request: ScoreRequest): PlanBody<UnstructuredPlan> {
  const { mlp, layers, counts, options } = request;
  const answers = answersOf(parts, request);
  const sized = layers.map((l) => answerFor(parts, answers, l, mlp.layers[l].weights.length, counts[l]));
  const masks: (Uint8Array | null)[] = mlp.layers.map(() => null);
  const updated = updatedKernels(parts, request, sized);
  const { removeFirst } = rankRule(parts.criterion);
  const scores = sized.map((a) => ('order' in a ? null : a.scores));
  if (parts.scope === 'global') {
    const total = layers.reduce((s, l) => s + mlp.layers[l].weights.length, 0);
    // Only scoring criteria get here: checkSelection refuses global ranking of orders.
    const all = removalMasks(scores as Float64Array[], Math.round((options.sparsity as number) * total), removeFirst);
    layers.forEach((l, i) => (masks[l] = all[i]));
    return { kind: 'unstructured', masks };
  }
  layers.forEach((l, i) => {
    const a = sized[i];
    const layer = mlp.layers[l];
    if ('order' in a) {
      const mask = new Uint8Array(layer.weights.length).fill(1);
      for (let t = 0; t < counts[l]; t++) mask[a.order[t]] = 0;
      masks[l] = mask;
    } else if (options.pattern) masks[l] = nmMask(a.scores, layer.inputSize, layer.units, options.pattern, removeFirst);
    else if (parts.scope === 'output') masks[l] = perUnitMask(a.scores, layer.inputSize, layer.units, counts[l] / layer.units, removeFirst);
    else masks[l] = removalMasks([a.scores], counts[l], removeFirst)[0];
  });
  return updated ? { kind: 'unstructured', masks, updated } : { kind: 'unstructured', masks };
}

/** Per model layer, the kernels an ordering criterion updated (sparsegpt), checked; null when none did. */
function updatedKernels(parts: SelectionParts, request: ScoreRequest, sized: Answer[]): (Float32Array | null)[] | null {
  const { mlp, layers } = request;
  if (!sized.some((a) => 'order' in a && a.weights)) return null;
  const updated: (Float32Array | null)[] = mlp.layers.map(() => null);
  layers.forEach((l, i) => {
    const a = sized[i];
    if (!('order' in a) || !a.weights) return;
    if (a.weights.length !== mlp.layers[l].weights.length) {
      throw new PruneScopeError(`${parts.id}: layer ${l} got ${a.weights.length} updated weights for ${mlp.layers[l].weights.length}`);
    }
    updated[l] = a.weights;
  });
  return updated;
}

/**
 * Mask of one layer's weight scores ([in, out] row-major, 0 = remove) where every unit (column)
 * loses its `perUnit` first incoming weights by the tie rule (rank.ts): the scores below the
 * column's perUnit-th, then the ones equal to it from the lowest input index. A selection finds
 * that threshold in linear time; sorting every column was most of wanda's selection time.
 */
function perUnitMask(scores: Float64Array, inputSize: number, units: number, perUnit: number, removeFirst: RemoveFirst): Uint8Array {
  const mask = new Uint8Array(inputSize * units).fill(1);
  if (perUnit <= 0) return mask;
  // Negated for 'highest', so ascending order is removal order either way; NaN stays NaN and goes last.
  const sign = removeFirst === 'highest' ? -1 : 1;
  const column = new Float64Array(inputSize);
  const numbers = new Float64Array(inputSize);
  for (let j = 0; j < units; j++) {
    let count = 0;
    for (let i = 0; i < inputSize; i++) {
      column[i] = sign * scores[i * units + j];
      if (!Number.isNaN(column[i])) numbers[count++] = column[i];
    }
    const k = Math.min(perUnit, inputSize);
    const t = k <= count ? selectKth(numbers, count, k - 1) : Number.NaN;
    const tNaN = Number.isNaN(t);
    let removed = 0;
    for (let i = 0; i < inputSize; i++) {
      if (column[i] < t || (tNaN && !Number.isNaN(column[i]))) {
        mask[i * units + j] = 0;
        removed++;
      }
    }
    for (let i = 0; i < inputSize && removed < k; i++) {
      if (column[i] === t || (tNaN && Number.isNaN(column[i]))) {
        mask[i * units + j] = 0;
        removed++;
      }
    }
  }
  return mask;
}

/** Removal orders for structured strategies, per layer or globally, with what the criterion records. */
function unitPlan(parts: SelectionParts, request: ScoreRequest, notes: string[]): PlanBody<StructuredPlan> {
  const { mlp, layers, counts } = request;
  const answers = answersOf(parts, request);
  const sized = layers.map((l) => answerFor(parts, answers, l, mlp.layers[l].units, counts[l]));
  const rule = rankRule(parts.criterion);
  const order: number[][] = mlp.layers.map(() => []);
  const scores: (Float64Array | null)[] = mlp.layers.map(() => null);
  const curves: (Float64Array | null)[] = mlp.layers.map(() => null);
  if (parts.scope === 'global') {
    // Only scoring criteria get here: checkSelection refuses global ranking of orders.
    const ranked = globalUnitOrders(request, sized as LayerScores[], rule, notes);
    layers.forEach((l, i) => (order[l] = ranked[i]));
  } else {
    layers.forEach((l, i) => {
      const a = sized[i];
      order[l] = 'order' in a ? a.order.slice(0, counts[l]) : rankForRemoval(a.scores, counts[l], rule);
    });
  }
  layers.forEach((l, i) => {
    const a = sized[i];
    scores[l] = a.scores ?? null;
    curves[l] = 'order' in a ? (a.curve ?? null) : (a.curveFor?.(order[l]) ?? null);
  });
  const remove = order.map((o) => [...o].sort((a, b) => a - b));
  return { kind: 'structured', order, remove, scores, curves };
}

/**
 * Global unit ranking: every prunable layer's units in one ranking (lower layer first among
 * ties), round(share * all units) removed, but never a layer's last unit: that one is skipped
 * and the next in the ranking goes instead.
 */
function globalUnitOrders(request: ScoreRequest, answers: LayerScores[], rule: RankRule, notes: string[]): number[][] {
  const { mlp, layers, options } = request;
  const sizes = layers.map((l) => mlp.layers[l].units);
  const total = sizes.reduce((s, u) => s + u, 0);
  const pooled = new Float64Array(total);
  const layerOf = new Uint32Array(total);
  const start: number[] = [];
  let p = 0;
  answers.forEach((a, i) => {
    start.push(p);
    pooled.set(a.scores, p);
    layerOf.fill(i, p, (p += sizes[i]));
  });
  const left = [...sizes];
  const orders = layers.map((): number[] => []);
  const kept = new Set<number>();
  rankForRemoval(pooled, Math.round((options.sparsity as number) * total), rule, (u) => {
    const i = layerOf[u];
    if (left[i] <= 1) {
      if (!kept.has(i)) notes.push(`layer ${mlp.layers[layers[i]].name}: the global ranking would remove all ${sizes[i]} units; kept 1`);
      kept.add(i);
      return false;
    }
    left[i]--;
    orders[i].push(u - start[i]);
    return true;
  });
  return orders;
}
