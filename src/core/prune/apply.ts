import { countNonzero } from '../model/count';
import { PruneScopeError } from '../errors';
import { cloneMLP, type DenseLayer, type MLP } from '../model/mlp';
import type { PrunePlan, StructuredPlan, UnstructuredPlan } from './strategy';
import { magnitudeBins } from './magnitude-bins';

/**
 * Turning a plan into a model.
 *
 * Unstructured plans zero the masked weights (of the criterion's updated kernel when the plan
 * carries one, `updated`: sparsegpt). Structured plans physically remove units: the
 * layer loses the units' weight columns and biases, the next layer the matching input rows.
 * The reference point is the masked network, where a removed unit's incoming weights are zero
 * and its bias stays (what CKA ablation does): such a unit still emits the constant
 * activation(bias) (ReLU of a positive bias, sigmoid of anything), so that constant times the
 * removed row of the next layer is added to the next layer's bias. The shrunk network then
 * computes what the masked one does (`maskedEquivalent`), up to float rounding.
 */

export interface WeightHistogram {
  /** Bin edges over |w| (bins + 1 values), shared by both series of the layer. */
  edges: number[];
  /** Counts of |w| of the weights the pruning removed or zeroed. */
  pruned: number[];
  /** Counts of |w| of the weights that stay. */
  kept: number[];
}

export interface LayerPruneStats {
  index: number;
  name: string;
  unitsBefore: number;
  unitsAfter: number;
  inputsBefore: number;
  inputsAfter: number;
  /** Share of the layer's original weights that are removed or zero afterwards. */
  sparsity: number;
  /** Weights + biases stored, before and after (dense count of the layer as stored). */
  paramsBefore: number;
  params: number;
  /** Non-zero weights + biases after pruning. */
  nonzeroParams: number;
  /**
   * FLOPs per sample of the layer's matrix product: structured plans count the dense shrunk
   * layer (2 * in * out), unstructured ones the multiply-adds of non-zero weights (2 * nnz).
   */
  flopsBefore: number;
  flops: number;
  /** Null when ApplyOptions.histograms is false. */
  histogram: WeightHistogram | null;
}

export interface PruneResult {
  /** The pruned model; the source model is not changed. */
  mlp: MLP;
  strategy: string;
  kind: PrunePlan['kind'];
  layers: LayerPruneStats[];
  totals: { paramsBefore: number; params: number; nonzeroParams: number; flopsBefore: number; flops: number; sparsity: number };
  notes: string[];
}

/**
 * What a removed unit leaves behind. 'constant' (the default, the masked network of CKA ablation):
 * the unit keeps emitting activation(bias), folded into the next layer's bias. 'silent' (what
 * Torch-Pruning and NNI do): the unit goes with its bias and contributes nothing.
 */
export type RemovedUnits = 'constant' | 'silent';

export const REMOVED_UNITS: readonly RemovedUnits[] = ['constant', 'silent'];

export interface ApplyOptions {
  /** Histogram bins per layer (default 32). */
  bins?: number;
  /** Whether to draw each layer's |w| histogram (default true); schedules, which keep only the model, skip it. */
  histograms?: boolean;
  /** Structured plans: what removed units leave behind (default 'constant'). */
  removedUnits?: RemovedUnits;
}

/** activation(b) for a unit whose weights are all zero, in float64. */
export function constantActivation(layer: DenseLayer, b: number): number {
  switch (layer.activation) {
    case 'linear':
      return b;
    case 'relu':
      return Math.max(0, b);
    case 'relu6':
      return Math.min(6, Math.max(0, b));
    case 'leaky_relu':
      return b < 0 ? (layer.alpha ?? 0.01) * b : b;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-b));
    case 'tanh':
      return Math.tanh(b);
    case 'softmax':
    case 'log_softmax':
      throw new PruneScopeError(
        `layer ${layer.name} uses ${layer.activation}, which mixes all its units, so removing one cannot be expressed as a smaller layer`,
      );
  }
}

function checkPlan(mlp: MLP, plan: PrunePlan): void {
  const count = plan.kind === 'structured' ? plan.remove.length : plan.masks.length;
  if (count !== mlp.layers.length) {
    throw new PruneScopeError(`pruning plan (${plan.strategy}) covers ${count} layers but model ${mlp.name} has ${mlp.layers.length}`);
  }
  mlp.layers.forEach((layer, l) => {
    if (plan.kind === 'unstructured') {
      const m = plan.masks[l];
      if (m && m.length !== layer.weights.length) {
        throw new PruneScopeError(
          `pruning plan (${plan.strategy}): mask of layer ${layer.name} has ${m.length} entries, the layer ${layer.weights.length} weights`,
        );
      }
      const w = plan.updated?.[l];
      if (w && w.length !== layer.weights.length) {
        throw new PruneScopeError(
          `pruning plan (${plan.strategy}): updated kernel of layer ${layer.name} has ${w.length} weights, the layer ${layer.weights.length}`,
        );
      }
    } else {
      const seen = new Set<number>();
      for (const u of plan.remove[l]) {
        if (!Number.isInteger(u) || u < 0 || u >= layer.units || seen.has(u)) {
          throw new PruneScopeError(
            `pruning plan (${plan.strategy}): layer ${layer.name} cannot remove unit ${u} (units 0..${layer.units - 1}, each once)`,
          );
        }
        seen.add(u);
      }
    }
  });
}

/** Units removed per layer, keeping at least one unit per layer (the last one the plan would remove). */
function removedUnits(mlp: MLP, plan: StructuredPlan, notes: string[]): Uint8Array[] {
  return mlp.layers.map((layer, l) => {
    const gone = new Uint8Array(layer.units);
    for (const u of plan.remove[l]) gone[u] = 1;
    if (layer.units > 0 && plan.remove[l].length >= layer.units) {
      const order = plan.order?.[l]?.length === plan.remove[l].length ? plan.order[l] : plan.remove[l];
      const keep = order[order.length - 1];
      gone[keep] = 0;
      notes.push(
        `layer ${layer.name}: the plan removes all ${layer.units} units; unit ${keep} is kept so the layer still passes something on`,
      );
    }
    const mixing = layer.activation === 'softmax' || layer.activation === 'log_softmax';
    if (mixing && l < mlp.layers.length - 1 && gone.some((g) => g === 1)) {
      throw new PruneScopeError(
        `layer ${layer.name} (position ${l}) uses ${layer.activation}, which mixes all its units, so removing one cannot be expressed as a smaller layer`,
      );
    }
    return gone;
  });
}

/** The masked network: a structured plan's units get zero incoming weights (bias kept); an unstructured plan's masks are applied. */
export function maskedEquivalent(mlp: MLP, plan: PrunePlan): MLP {
  checkPlan(mlp, plan);
  const out = cloneMLP(mlp);
  if (plan.kind === 'unstructured') {
    out.layers.forEach((layer, l) => {
      // A criterion that updated the weights that stay (sparsegpt) hands its kernel in the plan.
      const w = plan.updated?.[l];
      if (w) layer.weights = new Float32Array(w);
      const m = plan.masks[l];
      if (m) zeroMasked(layer.weights, m);
    });
    return out;
  }
  const gone = removedUnits(mlp, plan, []);
  out.layers.forEach((layer, l) => {
    for (let i = 0; i < layer.inputSize; i++) {
      for (let j = 0; j < layer.units; j++) if (gone[l][j]) layer.weights[i * layer.units + j] = 0;
    }
  });
  return out;
}

/**
 * weights[i] = 0 where mask[i] is 0, as a bitwise AND of the float's bits (all ones or +0's): no
 * branch per weight, which mispredicts on random masks: 2-3x the time at half kept.
 */
function zeroMasked(weights: Float32Array, mask: Uint8Array): void {
  const bits = new Int32Array(weights.buffer, weights.byteOffset, weights.length);
  for (let i = 0; i < mask.length; i++) bits[i] &= -(((mask[i] !== 0) as unknown as number) | 0);
}

function histogram(weights: Float32Array, pruned: (i: number) => boolean, bins: number): WeightHistogram {
  // Not cached: the model being pruned may be one whose weights later change in place.
  const { edges, bin } = magnitudeBins(weights, bins, false);
  const p = new Array<number>(bins).fill(0);
  const k = new Array<number>(bins).fill(0);
  for (let i = 0; i < bin.length; i++) (pruned(i) ? p : k)[bin[i]]++;
  return { edges, pruned: p, kept: k };
}

function layerStats(
  index: number,
  before: DenseLayer,
  after: DenseLayer,
  pruned: (i: number) => boolean,
  structured: boolean,
  bins: number | null,
): LayerPruneStats {
  const nnzW = countNonzero(after.weights);
  return {
    index,
    name: before.name,
    unitsBefore: before.units,
    unitsAfter: after.units,
    inputsBefore: before.inputSize,
    inputsAfter: after.inputSize,
    sparsity: before.weights.length === 0 ? 0 : 1 - nnzW / before.weights.length,
    paramsBefore: before.weights.length + (before.bias?.length ?? 0),
    params: after.weights.length + (after.bias?.length ?? 0),
    nonzeroParams: nnzW + (after.bias ? countNonzero(after.bias) : 0),
    flopsBefore: structured ? 2 * before.weights.length : 2 * countNonzero(before.weights),
    flops: structured ? 2 * after.weights.length : 2 * nnzW,
    histogram: bins === null ? null : histogram(before.weights, pruned, bins),
  };
}

function result(mlp: MLP, out: MLP, plan: PrunePlan, layers: LayerPruneStats[], notes: string[]): PruneResult {
  const sum = (f: (s: LayerPruneStats) => number) => layers.reduce((a, s) => a + f(s), 0);
  const weightsBefore = mlp.layers.reduce((a, l) => a + l.weights.length, 0);
  // Non-zero kernel weights from the layers' counts (biases are short): one pass fewer over 2.4 M weights.
  const nnz = layers.reduce((a, s, l) => a + s.nonzeroParams - (out.layers[l].bias ? countNonzero(out.layers[l].bias) : 0), 0);
  if (out.source) out.source.notes.push(`pruned with ${plan.strategy} (${plan.kind})`);
  return {
    mlp: out,
    strategy: plan.strategy,
    kind: plan.kind,
    layers,
    totals: {
      paramsBefore: sum((s) => s.paramsBefore),
      params: sum((s) => s.params),
      nonzeroParams: sum((s) => s.nonzeroParams),
      flopsBefore: sum((s) => s.flopsBefore),
      flops: sum((s) => s.flops),
      sparsity: weightsBefore === 0 ? 0 : 1 - nnz / weightsBefore,
    },
    notes: [...plan.notes, ...notes],
  };
}

function applyUnstructured(mlp: MLP, plan: UnstructuredPlan, bins: number | null): PruneResult {
  const out = maskedEquivalent(mlp, plan);
  const layers = mlp.layers.map((layer, l) => {
    const m = plan.masks[l];
    return layerStats(l, layer, out.layers[l], (i) => (m ? m[i] === 0 : false), false, bins);
  });
  return result(mlp, out, plan, layers, []);
}

function applyStructured(mlp: MLP, plan: StructuredPlan, bins: number | null, fold: boolean): PruneResult {
  const notes: string[] = [];
  const gone = removedUnits(mlp, plan, notes);
  // Every layer is replaced by its shrunk copy below, so the model's frame is copied, not its
  // weights: cloneMLP's copy of every kernel (9.5 MB for the challenge network) was thrown away.
  const out: MLP = { ...cloneMLP({ ...mlp, layers: [] }), layers: [...mlp.layers] };
  const layers: LayerPruneStats[] = [];
  mlp.layers.forEach((layer, l) => {
    const keepIn = l === 0 ? null : gone[l - 1];
    const inputs = keepIn ? Array.from({ length: layer.inputSize }, (_, i) => i).filter((i) => !keepIn[i]) : null;
    const units = Array.from({ length: layer.units }, (_, j) => j).filter((j) => !gone[l][j]);
    const inSize = inputs ? inputs.length : layer.inputSize;
    const weights = new Float32Array(inSize * units.length);
    for (let r = 0; r < inSize; r++) {
      const src = (inputs ? inputs[r] : r) * layer.units;
      for (let q = 0; q < units.length; q++) weights[r * units.length + q] = layer.weights[src + units[q]];
    }
    // Constants of the previous layer's removed units, folded into this layer's bias (float64).
    let bias: Float32Array | null = layer.bias ? Float32Array.from(units, (j) => layer.bias![j]) : null;
    if (keepIn && fold) {
      const prev = mlp.layers[l - 1];
      const fold = new Float64Array(units.length);
      let any = false;
      for (let i = 0; i < layer.inputSize; i++) {
        if (!keepIn[i]) continue;
        const c = constantActivation(prev, prev.bias ? prev.bias[i] : 0);
        if (c === 0) continue;
        for (let q = 0; q < units.length; q++) fold[q] += c * layer.weights[i * layer.units + units[q]];
        any = true;
      }
      if (any) {
        bias = Float32Array.from(units, (j, q) => (layer.bias ? layer.bias[j] : 0) + fold[q]);
      }
    }
    const shrunk: DenseLayer = { ...out.layers[l], inputSize: inSize, units: units.length, weights, bias };
    out.layers[l] = shrunk;
    const pruned = (i: number) => gone[l][i % layer.units] === 1 || (keepIn !== null && keepIn[Math.floor(i / layer.units)] === 1);
    layers.push(layerStats(l, layer, shrunk, pruned, true, bins));
  });
  return result(mlp, out, plan, layers, notes);
}

/** Applies a plan to a copy of the model and reports what changed per layer. */
export function applyPlan(mlp: MLP, plan: PrunePlan, options: ApplyOptions = {}): PruneResult {
  checkPlan(mlp, plan);
  const bins = options.histograms === false ? null : (options.bins ?? 32);
  if (bins !== null && (!Number.isInteger(bins) || bins < 1)) throw new PruneScopeError(`histogram bins ${bins} is not a positive integer`);
  const removed = options.removedUnits ?? 'constant';
  if (!REMOVED_UNITS.includes(removed))
    throw new PruneScopeError(`removed units "${String(removed)}" is not one of ${REMOVED_UNITS.join(', ')}`);
  if (plan.kind === 'unstructured') return applyUnstructured(mlp, plan, bins);
  const r = applyStructured(mlp, plan, bins, removed === 'constant');
  if (removed === 'silent') r.notes.push('removed units went with their biases (silent): nothing of them was folded into the next layer');
  return r;
}
