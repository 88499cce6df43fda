import * as tf from '../tfjs';
import { CancelledError, PruneScopeError } from '../errors';
import { engineInfo } from '../backend';
import { ROW_BLOCK, type DenseEngine } from '../engine/dense';
import { resolveDenseEngine } from '../engine/resolve';
import { choleskyInPlace, choleskySolveInPlace } from '../metrics/cholesky';
import { applyActivation } from '../model/forward';
import { cloneMLP, type DenseLayer, type MLP } from '../model/mlp';
import { constantActivation } from './apply';

/**
 * Compensation: after a strategy has chosen what goes, the weights that stay are refit so that
 * the pruned network reproduces the original's pre-activations on calibration rows (least
 * squares, as ThiNet and SparseGPT's layer-wise objective; the prototype of issue 14).
 *
 * Layer by layer, each layer is fed the PRUNED network's own inputs (after the earlier layers'
 * refits), so an error made early is corrected by the layers after it rather than compounded.
 * The target of pruned layer l is the original layer's pre-activation on the same rows, for the
 * units the pruned layer kept. A weight that is zero in the pruned layer stays zero: for
 * unstructured pruning each unit refits its kept incoming weights and its bias; for structured
 * pruning the layers after a shrunk one refit all their (fewer) inputs.
 *
 * Each unit's problem is a ridge regression on centred data (the bias is the intercept, not
 * damped): (Xs^T Xs + lambda I) w = Xs^T t, lambda = damping * mean diagonal of the layer's
 * centred Gram matrix, solved in float64 by Cholesky. The forward passes, Gram and cross products
 * run on the dense engine (src/core/engine/: onnxruntime when it runs, else tfjs-wasm) in float32,
 * on blocks of rows whose results are summed in float64 (as the CKA engine does), which keeps the
 * products fast and their rounding far below the damping.
 */

export interface CompensationOptions {
  /** Ridge damping relative to the mean diagonal of each layer's centred input Gram matrix (default 0.01). */
  damping?: number;
  /**
   * Per pruned layer, the ORIGINAL indices of the units it kept (structured pruning removed the
   * others); absent when every layer kept all its units.
   */
  keptUnits?: readonly (readonly number[])[];
  /** Rows per float32 block of the products (default 1024). */
  blockRows?: number;
  signal?: AbortSignal;
}

export interface LayerCompensation {
  name: string;
  /**
   * False when the layer was left as it was: its inputs and weights were still the original's, or
   * the refit did not lower its error on the calibration rows (the damping can cost more than it gains).
   */
  refit: boolean;
  /** Squared error of the layer's pre-activations against the original's, relative to their variance, before the refit. */
  errorBefore: number;
  /** The same after the refit (equal to errorBefore when the layer was left alone). */
  errorAfter: number;
  /** Units whose system needed more damping than asked to be solved (nearly singular inputs). */
  extraDamped: number;
}

export interface CompensationResult {
  mlp: MLP;
  samples: number;
  damping: number;
  layers: LayerCompensation[];
}

export const DEFAULT_DAMPING = 0.01;

/** The refit network; `original` and `pruned` are not changed. */
export function compensate(original: MLP, pruned: MLP, x: Float32Array, n: number, options: CompensationOptions = {}): CompensationResult {
  const damping = options.damping ?? DEFAULT_DAMPING;
  checkInputs(original, pruned, x, n, options, damping);
  const out = cloneMLP(pruned);
  const layers: LayerCompensation[] = [];
  const engine = engineInfo()?.dense ?? resolveDenseEngine();
  const walk = new Walk(original, x, n, engine);
  const settings = { damping, blockRows: options.blockRows ?? ROW_BLOCK, engine };
  let inputsChanged = false;
  out.layers.forEach((layer, l) => {
    if (options.signal?.aborted) throw new CancelledError();
    const keptIn = l === 0 ? null : (options.keptUnits?.[l - 1] ?? null);
    const keptOut = options.keptUnits?.[l] ?? null;
    const changed = weightsChanged(original.layers[l], layer, keptIn, keptOut);
    const refit = inputsChanged || changed;
    layers.push(walk.step(l, layer, keptOut, refit, settings));
    inputsChanged = refit || layer.units !== original.layers[l].units;
  });
  return { mlp: out, samples: n, damping, layers };
}

function checkInputs(original: MLP, pruned: MLP, x: Float32Array, n: number, options: CompensationOptions, damping: number): void {
  const where = `compensation of ${pruned.name}`;
  if (!(damping > 0) || !Number.isFinite(damping)) throw new PruneScopeError(`${where}: damping ${damping} is not a positive number`);
  if (!Number.isInteger(n) || n < 2) throw new PruneScopeError(`${where} needs at least 2 calibration rows, got ${n}`);
  if (x.length < n * original.inputSize) throw new PruneScopeError(`${where}: ${n} calibration rows need ${n * original.inputSize} values`);
  if (pruned.layers.length !== original.layers.length || pruned.inputSize !== original.inputSize) {
    throw new PruneScopeError(`${where}: the pruned model's layers do not match the original ${original.name}`);
  }
  pruned.layers.forEach((layer, l) => {
    const kept = options.keptUnits?.[l];
    const units = original.layers[l].units;
    if (kept ? kept.length !== layer.units || kept.some((u) => !(u >= 0 && u < units)) : layer.units !== units) {
      throw new PruneScopeError(`${where}: layer ${layer.name} has ${layer.units} units, which do not map onto the original's ${units}`);
    }
  });
}

/** Whether a pruned layer's weights differ from the original's at the positions it kept. */
function weightsChanged(o: DenseLayer, p: DenseLayer, keptIn: readonly number[] | null, keptOut: readonly number[] | null): boolean {
  for (let i = 0; i < p.inputSize; i++) {
    const oi = (keptIn ? keptIn[i] : i) * o.units;
    for (let j = 0; j < p.units; j++) {
      if (p.weights[i * p.units + j] !== o.weights[oi + (keptOut ? keptOut[j] : j)]) return true;
    }
  }
  for (let j = 0; j < p.units; j++) {
    if ((p.bias?.[j] ?? 0) !== (o.bias?.[keptOut ? keptOut[j] : j] ?? 0)) return true;
  }
  return false;
}

interface RefitSettings {
  damping: number;
  blockRows: number;
  engine: DenseEngine;
}

/** A row-major [rows, cols] float32 matrix: activations or pre-activations of the calibration rows. */
interface Rows {
  data: Float32Array;
  cols: number;
}

/**
 * The two forward passes, original and pruned, one layer at a time on the calibration rows, as
 * plain arrays multiplied by the dense engine (onnxruntime when it runs, else tfjs-wasm).
 */
class Walk {
  private original: Rows;
  private pruned: Rows;

  constructor(
    private readonly mlp: MLP,
    x: Float32Array,
    readonly n: number,
    private readonly engine: DenseEngine,
  ) {
    this.original = { data: x.subarray(0, n * mlp.inputSize), cols: mlp.inputSize };
    this.pruned = this.original;
  }

  /** Refits `layer` in place when asked, then moves both passes past layer l. */
  step(l: number, layer: DenseLayer, keptOut: readonly number[] | null, refit: boolean, settings: RefitSettings): LayerCompensation {
    const o = this.mlp.layers[l];
    // Each product is computed once: the original's pre-activations serve as target and as the next
    // layer's input; the pruned layer's, after the refit, as its error and its next input.
    const zo = this.preActivation(this.original, o);
    const target = keptOut ? gatherColumns(zo, this.n, keptOut) : zo;
    const errorBefore = refit ? relativeError(this.preActivation(this.pruned, layer), target, this.n) : undefined;
    const kept = refit ? { weights: layer.weights.slice(), bias: layer.bias?.slice() ?? null } : null;
    const extraDamped = refit ? refitLayer(layer, this.pruned, target, this.n, settings) : 0;
    let zp = this.preActivation(this.pruned, layer);
    let errorAfter = relativeError(zp, target, this.n);
    if (kept && errorBefore !== undefined && !(errorAfter <= errorBefore)) {
      // The damping can cost more than the refit gains on a layer that already matched: keep what was there.
      Object.assign(layer, kept);
      zp = this.preActivation(this.pruned, layer);
      errorAfter = errorBefore;
    }
    if (l < this.mlp.layers.length - 1) {
      this.original = activated(zo, this.n, o);
      this.pruned = activated(zp, this.n, layer);
    }
    const improved = refit && errorAfter < (errorBefore ?? Infinity);
    return { name: layer.name, refit: improved, errorBefore: errorBefore ?? errorAfter, errorAfter, extraDamped };
  }

  private preActivation(x: Rows, layer: DenseLayer): Rows {
    const z = this.engine.matMul(x.data, layer.weights, this.n, layer.inputSize, layer.units);
    if (layer.bias) {
      for (let r = 0; r < this.n; r++) {
        const o = r * layer.units;
        for (let j = 0; j < layer.units; j++) z[o + j] += layer.bias[j];
      }
    }
    return { data: z, cols: layer.units };
  }
}

function gatherColumns(z: Rows, n: number, columns: readonly number[]): Rows {
  const q = columns.length;
  const out = new Float32Array(n * q);
  for (let r = 0; r < n; r++) for (let c = 0; c < q; c++) out[r * q + c] = z.data[r * z.cols + columns[c]];
  return { data: out, cols: q };
}

/** The layer's activation applied to its pre-activations (in place for elementwise ones). */
function activated(z: Rows, n: number, layer: DenseLayer): Rows {
  if (layer.activation === 'softmax' || layer.activation === 'log_softmax') {
    const t = tf.tidy(() => applyActivation(tf.tensor2d(z.data, [n, z.cols]), layer.activation, layer.alpha));
    try {
      return { data: t.dataSync() as Float32Array, cols: z.cols };
    } finally {
      t.dispose();
    }
  }
  if (layer.activation !== 'linear') for (let i = 0; i < z.data.length; i++) z.data[i] = constantActivation(layer, z.data[i]);
  return z;
}

/** ||z - t||^2 / ||t - mean(t)||^2 over all units of the layer (the plain squared error when the target is constant). */
function relativeError(z: Rows, t: Rows, n: number): number {
  const q = t.cols;
  const mean = columnMeans(t.data, n, q);
  let err = 0;
  let spread = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < q; j++) {
      const v = t.data[r * q + j];
      err += (z.data[r * q + j] - v) ** 2;
      spread += (v - mean[j]) ** 2;
    }
  }
  return spread > 0 ? err / spread : err;
}

/** Centred Gram matrix of the inputs, their cross products with the targets, and both means. */
interface Moments {
  p: number;
  q: number;
  gram: Float64Array;
  cross: Float64Array;
  inMean: Float64Array;
  outMean: Float64Array;
}

function moments(x: Rows, t: Rows, n: number, center: boolean, settings: RefitSettings): Moments {
  const p = x.cols;
  const q = t.cols;
  const inMean = center ? columnMeans(x.data, n, p) : new Float64Array(p);
  const outMean = center ? columnMeans(t.data, n, q) : new Float64Array(q);
  const gram = new Float64Array(p * p);
  const cross = new Float64Array(p * q);
  for (let s = 0; s < n; s += settings.blockRows) {
    const rows = Math.min(settings.blockRows, n - s);
    // Centred in float64 before the float32 products, so the products carry no cancellation.
    const xb = centredBlock(x.data, s, rows, p, inMean);
    const tb = centredBlock(t.data, s, rows, q, outMean);
    addTo(gram, settings.engine.matMul(xb, xb, p, rows, p, { a: true }));
    addTo(cross, settings.engine.matMul(xb, tb, p, rows, q, { a: true }));
  }
  return { p, q, gram, cross, inMean, outMean };
}

function addTo(sum: Float64Array, part: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] += part[i];
}

function columnMeans(a: Float32Array, n: number, p: number): Float64Array {
  const mean = new Float64Array(p);
  for (let r = 0; r < n; r++) for (let j = 0; j < p; j++) mean[j] += a[r * p + j];
  for (let j = 0; j < p; j++) mean[j] /= n;
  return mean;
}

/** Rows s..s+rows of a row-major [n, p] matrix minus the column means, still row-major. */
function centredBlock(a: Float32Array, s: number, rows: number, p: number, mean: Float64Array): Float32Array {
  const out = new Float32Array(rows * p);
  for (let r = 0; r < rows; r++) {
    const o = (s + r) * p;
    for (let j = 0; j < p; j++) out[r * p + j] = a[o + j] - mean[j];
  }
  return out;
}

/** Refits the layer's kept weights (and bias) in place; returns how many units needed extra damping. */
function refitLayer(layer: DenseLayer, x: Rows, target: Rows, n: number, settings: RefitSettings): number {
  const m = moments(x, target, n, layer.bias !== null, settings);
  let diag = 0;
  for (let i = 0; i < m.p; i++) diag += m.gram[i * m.p + i];
  const lambda = (settings.damping * diag) / m.p;
  // Starts from the current weights, so a unit whose system cannot be solved keeps them.
  const w = Float64Array.from(layer.weights);
  let extra = 0;
  const full: number[] = [];
  for (let j = 0; j < m.q; j++) {
    const kept = keptInputs(layer, j);
    if (kept.length === m.p) full.push(j);
    else if (!solveUnit(m, lambda, kept, j, w)) extra++;
  }
  if (full.length > 0) extra += solveShared(m, lambda, full, w);
  writeBack(layer, m, w);
  return extra;
}

function keptInputs(layer: DenseLayer, j: number): number[] {
  const kept: number[] = [];
  for (let i = 0; i < layer.inputSize; i++) if (layer.weights[i * layer.units + j] !== 0) kept.push(i);
  return kept;
}

/** The damped Gram sub-matrix on `kept`, factorised; more damping (x10 each time) when float64 finds it singular. */
function factor(m: Moments, lambda: number, kept: readonly number[]): { L: Float64Array; extra: boolean } | null {
  const s = kept.length;
  const L = new Float64Array(s * s);
  // lambda is 0 only when every input is constant on the calibration rows: then the bias carries all.
  let damp = lambda > 0 ? lambda : 1;
  for (let attempt = 0; attempt < 6; attempt++, damp *= 10) {
    for (let a = 0; a < s; a++) {
      const ga = kept[a] * m.p;
      for (let b = 0; b <= a; b++) L[a * s + b] = m.gram[ga + kept[b]];
      L[a * s + a] += damp;
    }
    if (choleskyInPlace(L, s)) return { L, extra: attempt > 0 };
  }
  return null;
}

/** One unit's kept weights; false when it needed extra damping or could not be solved (then left at zero). */
function solveUnit(m: Moments, lambda: number, kept: readonly number[], j: number, w: Float64Array): boolean {
  if (kept.length === 0) return true;
  const f = factor(m, lambda, kept);
  if (!f) return false;
  const rhs = Float64Array.from(kept, (i) => m.cross[i * m.q + j]);
  choleskySolveInPlace(f.L, kept.length, rhs, 1);
  kept.forEach((i, a) => (w[i * m.q + j] = rhs[a]));
  return !f.extra;
}

/** Units that kept every input share one factorisation, solved for all of them at once. */
function solveShared(m: Moments, lambda: number, units: readonly number[], w: Float64Array): number {
  const all = Array.from({ length: m.p }, (_, i) => i);
  const f = factor(m, lambda, all);
  if (!f) return units.length;
  const k = units.length;
  const rhs = new Float64Array(m.p * k);
  for (let i = 0; i < m.p; i++) units.forEach((j, c) => (rhs[i * k + c] = m.cross[i * m.q + j]));
  choleskySolveInPlace(f.L, m.p, rhs, k);
  for (let i = 0; i < m.p; i++) units.forEach((j, c) => (w[i * m.q + j] = rhs[i * k + c]));
  return f.extra ? k : 0;
}

/** The solved weights into the layer, and the intercept: mean target minus mean input times w. */
function writeBack(layer: DenseLayer, m: Moments, w: Float64Array): void {
  for (let i = 0; i < w.length; i++) layer.weights[i] = w[i];
  if (!layer.bias) return;
  for (let j = 0; j < m.q; j++) {
    let b = m.outMean[j];
    for (let i = 0; i < m.p; i++) b -= m.inMean[i] * w[i * m.q + j];
    layer.bias[j] = b;
  }
}
