import { PruneScopeError } from '../errors';
import { choleskyInPlace } from '../metrics/cholesky';
import { streamActivations } from '../model/activations';
import { cloneMLP, type MLP } from '../model/mlp';
import { gramInputBuffer, gramOfColumns } from './gram';
import { removalComparator, removalMasks } from './rank';
import { calibrationRows, type LayerOrder, type NMPattern, type OrderingCriterion, type ScoreRequest } from './strategy';

/**
 * SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately
 * Pruned in One-Shot"), as `fasterprune` of the reference code (IST-DASLab/sparsegpt) does it:
 * per layer, the Hessian of the layer-wise reconstruction error H = X^T X over the layer's
 * inputs, dampened by 1% of its mean diagonal; the upper Cholesky factor U of H^-1
 * (H^-1 = U^T U); then blocks of 128 inputs, left to right: each block chooses its mask (the
 * smallest w^2 / U_ii^2 of the block, or per N:M group as the group is reached) and walks its
 * inputs one at a time, zeroing the masked weights and spreading their error over the inputs
 * still to come with the Optimal Brain Surgeon update (row i of U); the block's accumulated error
 * then updates everything right of it at once.
 *
 * Layout: our kernels are [in, out] row-major, so the paper's column i (input i, one weight per
 * output unit) is kernel row i, contiguous: every update is a run of axpys over whole rows.
 *
 * Layers go in order, and layer l's inputs come from the network as already pruned and updated
 * in the earlier layers (the paper's sequential calibration), so later layers correct the error
 * earlier ones left.
 *
 * Counts: the selector's count for a layer is split over the blocks in proportion to their
 * weights, by largest remainder (ties to the earlier block), so every block gets the same
 * sparsity up to one weight and the total is exact. With an N:M pattern every group of m inputs
 * of a unit keeps its n weights with the largest w^2 / U_ii^2 when the walk reaches the group (a
 * last, shorter group keeps up to n, as the selector's nmMask); blocks are then a multiple of m so
 * no group straddles two.
 *
 * Dead inputs (zero on every calibration row, H_ii = 0) get H_ii = 1 and their weights are set
 * to zero, as the reference does: their loss is then 0, so they are the first the mask takes.
 *
 * The answer per layer is the removed weights, block by block and in ascending index within a
 * block (a block's mask is chosen at once), and the updated kernel, whose removed weights are 0.
 */

/** Inputs per block (the reference's default `blocksize`). */
export const SPARSEGPT_BLOCK_SIZE = 128;
/** Dampening: this share of the mean diagonal of H is added to its diagonal (`percdamp`). */
export const SPARSEGPT_DAMPING = 0.01;
/**
 * Calibration rows used when the caller gives no count: more rows than the inputs of a
 * 1000-wide layer, so H is well estimated, while X^T X stays near a second for such a layer.
 */
export const SPARSEGPT_DEFAULT_SAMPLES = 1024;

/** One layer's problem, in the paper's terms with our layout. */
export interface ObsLayer {
  /** Kernel [inputs, units] row-major, float64; updated in place. */
  weights: Float64Array;
  inputs: number;
  units: number;
  /** H = X^T X over the layer's inputs (inputs x inputs); overwritten. */
  hessian: Float64Array;
}

export interface ObsOptions {
  /** Weights to remove (ignored with a pattern, which decides). */
  count: number;
  pattern?: NMPattern;
  /** Default SPARSEGPT_BLOCK_SIZE. */
  blockSize?: number;
  /** Default SPARSEGPT_DAMPING. */
  damping?: number;
}

export interface ObsResult {
  /** Removed weights (flat [in, out] indices): block by block, ascending within a block. */
  removed: number[];
  /** Inputs with H_ii = 0 on the calibration rows (their weights were zeroed). */
  deadInputs: number;
}

/**
 * The upper triangular U with H^-1 = U^T U (what the reference gets from cholesky, then
 * cholesky_inverse, then an upper cholesky), from one Cholesky and one triangular inverse:
 * with P the reversal, P H P = L L^T gives H = (P L P)(P L P)^T, so H^-1 = U^T U for
 * U = (P L P)^-1 = P L^-1 P, upper triangular with a positive diagonal, hence the same factor.
 * Reversing a row-major p x p matrix in both indices is reversing its flat array. About
 * p^3 / 3 multiply-adds (0.4 s for p = 1000 in V8), half of what the reference's three steps take.
 * Returns null when H is not positive definite in float64.
 */
export function inverseUpperFactor(h: Float64Array, p: number): Float64Array | null {
  const l = h.slice().reverse();
  if (!choleskyInPlace(l, p)) return null;
  const y = transposedLowerInverse(l, p);
  // U = P L^-1 P = P Y^T P: U_ab = Y_(p-1-b),(p-1-a).
  const u = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    const ra = a * p;
    for (let b = a; b < p; b++) u[ra + b] = y[(p - 1 - b) * p + p - 1 - a];
  }
  return u;
}

/**
 * Y = (L^-1)^T (upper) for the lower triangle of L (its upper triangle is not read). Row i of
 * L L^-1 = I gives Y_ji = -(sum_{k=j}^{i-1} L_ik Y_jk) / L_ii: dot products of two contiguous
 * rows, four rows of Y at a time (entries left of a row's diagonal are 0, so they may share the
 * range), about twice as fast as the column-axpy form.
 */
function transposedLowerInverse(l: Float64Array, p: number): Float64Array {
  const y = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    const ri = i * p;
    const d = 1 / l[ri + i];
    let j = 0;
    for (; j + 4 <= i; j += 4) {
      const r0 = j * p;
      const r1 = r0 + p;
      const r2 = r1 + p;
      const r3 = r2 + p;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let k = j; k < i; k++) {
        const c = l[ri + k];
        s0 += c * y[r0 + k];
        s1 += c * y[r1 + k];
        s2 += c * y[r2 + k];
        s3 += c * y[r3 + k];
      }
      y[r0 + i] = -s0 * d;
      y[r1 + i] = -s1 * d;
      y[r2 + i] = -s2 * d;
      y[r3 + i] = -s3 * d;
    }
    for (; j < i; j++) {
      const rj = j * p;
      let s = 0;
      for (let k = j; k < i; k++) s += l[ri + k] * y[rj + k];
      y[rj + i] = -s * d;
    }
    y[ri + i] = d;
  }
  return y;
}

/** Dead inputs as the reference handles them, then the dampening; returns how many were dead. */
function prepareHessian(layer: ObsLayer, damping: number): number {
  const { weights, inputs: p, units, hessian: h } = layer;
  let dead = 0;
  let trace = 0;
  for (let i = 0; i < p; i++) {
    if (h[i * p + i] === 0) {
      h[i * p + i] = 1;
      weights.fill(0, i * units, (i + 1) * units);
      dead++;
    }
    trace += h[i * p + i];
  }
  const damp = (damping * trace) / p;
  for (let i = 0; i < p; i++) h[i * p + i] += damp;
  return dead;
}

/**
 * How many of `count` weights each block removes: in proportion to the block's weights, largest
 * remainder first (ties to the earlier block), so the total is exactly `count`. Products stay
 * below 2^53 for any layer that fits in memory, so the integer arithmetic is exact.
 */
export function blockCounts(count: number, inputs: number, units: number, blockSize: number): number[] {
  const total = inputs * units;
  const blocks: { size: number; base: number; rest: number }[] = [];
  let given = 0;
  for (let i1 = 0; i1 < inputs; i1 += blockSize) {
    const size = (Math.min(i1 + blockSize, inputs) - i1) * units;
    const rest = (count * size) % total;
    const base = (count * size - rest) / total;
    blocks.push({ size, base, rest });
    given += base;
  }
  const byRest = blocks.map((_, b) => b).sort((a, b) => blocks[b].rest - blocks[a].rest || a - b);
  for (let t = 0; t < count - given; t++) blocks[byRest[t]].base++;
  return blocks.map((b) => b.base);
}

/** Block mask (1 = keep) removing the `k` smallest w^2 / U_ii^2 of inputs [i1, i2), lowest index first among ties. */
function blockMask(layer: ObsLayer, u: Float64Array, i1: number, i2: number, k: number): Uint8Array {
  const { weights, inputs: p, units } = layer;
  const scores = new Float64Array((i2 - i1) * units);
  for (let i = i1; i < i2; i++) {
    const d = u[i * p + i];
    const d2 = d * d;
    const o = (i - i1) * units;
    const r = i * units;
    for (let j = 0; j < units; j++) scores[o + j] = (weights[r + j] * weights[r + j]) / d2;
  }
  return removalMasks([scores], k, 'lowest')[0];
}

/** N:M: in the group of inputs [g0, g1) of every unit, the smallest w^2 / U_ii^2 go until n stay. */
function groupMask(layer: ObsLayer, u: Float64Array, g0: number, g1: number, keep: number, mask: Uint8Array, i1: number): void {
  const { weights, inputs: p, units } = layer;
  const len = g1 - g0;
  if (len <= keep) return;
  const scores = new Float64Array(len);
  const compare = removalComparator(scores, 'lowest');
  const idx = Array.from({ length: len }, (_, t) => t);
  for (let j = 0; j < units; j++) {
    for (let t = 0; t < len; t++) {
      const i = g0 + t;
      const d = u[i * p + i];
      scores[t] = (weights[i * units + j] * weights[i * units + j]) / (d * d);
      idx[t] = t;
    }
    idx.sort(compare);
    for (let t = 0; t < len - keep; t++) mask[(g0 + idx[t] - i1) * units + j] = 0;
  }
}

/**
 * One block, input by input: zero the masked weights of input i, err = w / U_ii for them, and
 * subtract err * U_ik from every later input k of the block. `err` receives the block's error
 * rows; returns which rows have any.
 */
function pruneBlock(
  layer: ObsLayer,
  u: Float64Array,
  i1: number,
  i2: number,
  mask: Uint8Array,
  err: Float64Array,
  pattern?: NMPattern,
): Uint8Array {
  const { weights: w, inputs: p, units } = layer;
  const any = new Uint8Array(i2 - i1);
  for (let i = i1; i < i2; i++) {
    if (pattern && (i - i1) % pattern.m === 0) groupMask(layer, u, i, Math.min(i + pattern.m, i2), pattern.n, mask, i1);
    const d = u[i * p + i];
    const r = i * units;
    const e = (i - i1) * units;
    for (let j = 0; j < units; j++) {
      if (mask[e + j]) {
        err[e + j] = 0;
      } else {
        err[e + j] = w[r + j] / d;
        w[r + j] = 0;
        any[i - i1] = 1;
      }
    }
    if (!any[i - i1]) continue;
    for (let k = i + 1; k < i2; k++) {
      const c = u[i * p + k];
      if (c === 0) continue;
      const rk = k * units;
      for (let j = 0; j < units; j++) w[rk + j] -= c * err[e + j];
    }
  }
  return any;
}

/**
 * The lazy batch update: W_k -= sum over the block's inputs i of U_ik err_i, for every input k
 * right of the block. Row k stays in cache while four error rows at a time stream past it.
 */
function propagateBlock(layer: ObsLayer, u: Float64Array, i1: number, i2: number, err: Float64Array, any: Uint8Array): void {
  const { weights: w, inputs: p, units } = layer;
  const rows: number[] = [];
  for (let t = 0; t < i2 - i1; t++) if (any[t]) rows.push(t);
  for (let k = i2; k < p; k++) {
    const rk = k * units;
    let s = 0;
    for (; s + 4 <= rows.length; s += 4) {
      const c0 = u[(i1 + rows[s]) * p + k];
      const c1 = u[(i1 + rows[s + 1]) * p + k];
      const c2 = u[(i1 + rows[s + 2]) * p + k];
      const c3 = u[(i1 + rows[s + 3]) * p + k];
      const e0 = rows[s] * units;
      const e1 = rows[s + 1] * units;
      const e2 = rows[s + 2] * units;
      const e3 = rows[s + 3] * units;
      for (let j = 0; j < units; j++) w[rk + j] -= c0 * err[e0 + j] + c1 * err[e1 + j] + c2 * err[e2 + j] + c3 * err[e3 + j];
    }
    for (; s < rows.length; s++) {
      const c = u[(i1 + rows[s]) * p + k];
      const e = rows[s] * units;
      for (let j = 0; j < units; j++) w[rk + j] -= c * err[e + j];
    }
  }
}

/**
 * SparseGPT on one layer: prunes `layer.weights` in place (removed weights exactly 0, the others
 * updated) and returns what was removed. Throws when H is not positive definite (non-finite inputs).
 */
export function sparseGptLayer(layer: ObsLayer, options: ObsOptions): ObsResult {
  const { inputs: p, units } = layer;
  const pattern = options.pattern;
  const bs = options.blockSize ?? SPARSEGPT_BLOCK_SIZE;
  // N:M groups start at multiples of m; a block that is one too keeps each group whole.
  const size = pattern ? Math.max(pattern.m, bs - (bs % pattern.m)) : bs;
  const deadInputs = prepareHessian(layer, options.damping ?? SPARSEGPT_DAMPING);
  const u = inverseUpperFactor(layer.hessian, p);
  if (!u) throw new PruneScopeError('the Hessian of the layer inputs is not positive definite (are the calibration samples finite?)');
  const shares = pattern ? null : blockCounts(options.count, p, units, size);
  const err = new Float64Array(size * units);
  const removed: number[] = [];
  for (let i1 = 0, b = 0; i1 < p; i1 += size, b++) {
    const i2 = Math.min(i1 + size, p);
    const mask = shares ? blockMask(layer, u, i1, i2, shares[b]) : new Uint8Array((i2 - i1) * units).fill(1);
    const any = pruneBlock(layer, u, i1, i2, mask, err, pattern);
    propagateBlock(layer, u, i1, i2, err, any);
    for (let t = 0; t < mask.length; t++) if (!mask[t]) removed.push(i1 * units + t);
  }
  return { removed, deadInputs };
}

/** H = X^T X (float64) of layer l's inputs in `mlp` over the n rows of x, accumulated batch by batch. */
export function inputHessian(mlp: MLP, x: Float32Array, n: number, l: number, batchSize = 1000): Float64Array {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PruneScopeError(`batch size ${batchSize} is not a positive integer`);
  const p = mlp.layers[l].inputSize;
  const h = new Float64Array(p * p);
  const add = (rows: number, z: Float32Array) => {
    // Column-major copy (p x rows) in the buffer the shared Gram code takes (shared memory when it splits the work).
    const xt = gramInputBuffer(p, rows);
    for (let r = 0; r < rows; r++) for (let i = 0; i < p; i++) xt[i * rows + r] = z[r * p + i];
    const g = gramOfColumns(xt, p, rows);
    for (let t = 0; t < h.length; t++) h[t] += g[t];
  };
  if (l === 0) {
    for (let start = 0; start < n; start += batchSize) {
      const rows = Math.min(n, start + batchSize) - start;
      add(rows, x.subarray(start * p, (start + rows) * p));
    }
  } else {
    streamActivations(mlp, x, n, { layers: [l - 1], post: true, batchSize }, (batch) => add(batch.rows, batch.layers[0].post!));
  }
  return h;
}

/** The criterion: every layer asked for in order, each fed by the layers already pruned and updated. */
function sparseGptOrders(request: ScoreRequest): Map<number, LayerOrder> {
  const { strategy, mlp, layers, counts, options, notes } = request;
  const { x, n } = calibrationRows(strategy, mlp, options, SPARSEGPT_DEFAULT_SAMPLES);
  notes.push(`${strategy}: calibrated on the first ${n} samples of ${options.samples!.source}`);
  const work = cloneMLP(mlp);
  const out = new Map<number, LayerOrder>();
  for (const l of layers) {
    const layer = work.layers[l];
    // Nothing to remove: the layer stays as it is (no dead-input zeroing either).
    if (counts[l] === 0) {
      out.set(l, { order: [] });
      continue;
    }
    const obs: ObsLayer = {
      weights: Float64Array.from(layer.weights),
      inputs: layer.inputSize,
      units: layer.units,
      hessian: inputHessian(work, x, n, l, options.batchSize),
    };
    let result: ObsResult;
    try {
      result = sparseGptLayer(obs, { count: counts[l], pattern: options.pattern });
    } catch (e) {
      throw e instanceof PruneScopeError ? new PruneScopeError(`${strategy}: layer ${layer.name}: ${e.message}`) : e;
    }
    if (result.removed.length !== counts[l]) {
      throw new Error(`${strategy}: layer ${layer.name} removed ${result.removed.length} weights, the selector asked ${counts[l]}`);
    }
    if (result.deadInputs > 0) {
      notes.push(
        `${strategy}: layer ${layer.name}: ${result.deadInputs} inputs are 0 on every calibration sample; their weights were zeroed`,
      );
    }
    layer.weights = Float32Array.from(obs.weights);
    out.set(l, { order: result.removed, weights: layer.weights });
  }
  return out;
}

/** SparseGPT as an ordering criterion of weights that also hands back the updated kernels. */
export const sparseGpt: OrderingCriterion = {
  gives: 'order',
  target: 'weights',
  needsSamples: true,
  handlesPattern: true,
  order: sparseGptOrders,
};
