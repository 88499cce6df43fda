/**
 * Do pruned dense layers become convolution-like? For a first layer whose inputs are an image,
 * how concentrated each unit's kept weights are in the image, against random masks of the same
 * size; and a compact sample of the layer's incoming weight maps, for drawing.
 *
 * Spread of a unit: the |w|-weighted RMS distance, in pixels, of its kept weights' pixel positions
 * from their |w|-weighted centroid. |w| is the ORIGINAL weight's magnitude for both the kept and
 * the random positions, so the ratio measures where the mask keeps weights, not how compensation
 * or fine-tuning rescaled them.
 */
import quickselect from 'quickselect';
import { PruneScopeError } from '../errors';
import { countNonzero } from '../model/count';
import { seededRandom } from '../random';
import { WEIGHT_MAP_PRUNED } from '../results/format';

/** How the flat inputs lay out an image: height x width pixels of `channels` values each. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
  /** 'hwc': channels vary fastest (Keras, MNIST's [28, 28]); 'chw': pixels vary fastest (PyTorch's [1, 28, 28]). */
  layout: 'hwc' | 'chw';
}

export type ImageShapeSource = 'model' | 'dataset' | 'option';

export interface LocalityOptions {
  /** Random masks drawn per unit (default 4). */
  draws?: number;
  /** Seed of the random masks (default 1). */
  seed?: number;
  /** A unit counts as local when its ratio is below this (default 0.8). */
  threshold?: number;
  /**
   * Units measured at most (default 200), evenly spaced by index. On the demo model's 784 x 1000
   * first layer, all units with 8 draws took 0.5-0.6 s per point (2-3 s on a loaded machine),
   * 200 units with 4 draws 50-90 ms; at magnitude 80, 90 and 95% the medians moved by at most
   * 0.01 and the local share by at most 0.024.
   */
  maxUnits?: number;
}

export const LOCALITY_DEFAULTS = { draws: 4, seed: 1, threshold: 0.8, maxUnits: 200 } as const;

/** The units measured: all of them, or `max` evenly spaced by index. */
export function sampledUnits(units: number, max: number = LOCALITY_DEFAULTS.maxUnits): number[] {
  const n = Math.min(units, Math.max(1, max));
  return Array.from({ length: n }, (_, t) => Math.floor((t * units) / n));
}

/** Channels a shape's outer or inner dimension may stand for (grey, RGB, RGBA). */
const MAX_CHANNELS = 4;

/**
 * Reads a sample shape as an image, or null when it is not one (a flat vector, rank above 3, a
 * side of one pixel). [h, w] is one channel; [h, w, c] and [c, h, w] are told apart by which end
 * holds at most 4 values (both ends small: channels last, as Keras and tfjs store images).
 */
export function imageShapeOf(shape: readonly number[], inputSize: number): ImageShape | null {
  if (shape.reduce((a, b) => a * b, 1) !== inputSize) return null;
  let image: ImageShape | null = null;
  if (shape.length === 2) image = { height: shape[0], width: shape[1], channels: 1, layout: 'hwc' };
  else if (shape.length === 3 && shape[2] <= MAX_CHANNELS) image = { height: shape[0], width: shape[1], channels: shape[2], layout: 'hwc' };
  else if (shape.length === 3 && shape[0] <= MAX_CHANNELS) image = { height: shape[1], width: shape[2], channels: shape[0], layout: 'chw' };
  return image && image.height >= 2 && image.width >= 2 ? image : null;
}

/**
 * The image the first layer reads: the model's declared input shape when it is an image, else
 * the dataset's sample shape (MNIST's [28, 28]), else the user's `option`. An option that does not
 * fit the inputs is the user's error; no image at all gives null (locality does not apply).
 */
export function resolveImageShape(
  inputSize: number,
  candidates: { model?: readonly number[]; dataset?: readonly number[]; option?: readonly number[] },
): { image: ImageShape; source: ImageShapeSource } | null {
  for (const source of ['model', 'dataset'] as const) {
    const shape = candidates[source];
    const image = shape ? imageShapeOf(shape, inputSize) : null;
    if (image) return { image, source };
  }
  if (!candidates.option) return null;
  const image = imageShapeOf(candidates.option, inputSize);
  if (!image) {
    const given = candidates.option.join('x');
    const values = candidates.option.reduce((a, b) => a * b, 1);
    const why = values === inputSize ? 'is not an image shape' : `has ${values} values but the model has ${inputSize} inputs`;
    throw new PruneScopeError(`image shape ${given} ${why} (give height x width, optionally with channels, whose product is ${inputSize})`);
  }
  return { image, source: 'option' };
}

/** Row and column of every input's pixel. */
export function pixelCoordinates(image: ImageShape): { row: Float64Array; col: Float64Array } {
  const { height, width, channels, layout } = image;
  const n = height * width * channels;
  const row = new Float64Array(n);
  const col = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const pixel = layout === 'hwc' ? Math.floor(i / channels) : i % (height * width);
    row[i] = Math.floor(pixel / width);
    col[i] = pixel % width;
  }
  return { row, col };
}

/** |w|-weighted RMS distance from the weighted centroid of the inputs listed; null without mass. */
function weightedSpread(
  indices: ArrayLike<number>,
  count: number,
  magnitude: Float64Array,
  coords: { row: Float64Array; col: Float64Array },
): number | null {
  let s = 0;
  let sr = 0;
  let sc = 0;
  let sq = 0;
  for (let t = 0; t < count; t++) {
    const i = indices[t];
    const a = magnitude[i];
    const r = coords.row[i];
    const c = coords.col[i];
    s += a;
    sr += a * r;
    sc += a * c;
    sq += a * (r * r + c * c);
  }
  if (!(s > 0)) return null;
  const mr = sr / s;
  const mc = sc / s;
  return Math.sqrt(Math.max(0, sq / s - mr * mr - mc * mc));
}

export interface UnitLocality {
  /** Kept weights of the unit. */
  kept: number;
  /** Spread of the kept weights, in pixels; null without kept mass. */
  spread: number | null;
  /** Mean spread of `draws` uniformly random masks keeping as many weights. */
  randomSpread: number | null;
  /** spread / randomSpread; null when either is null or the random spread is 0 (a single kept weight). */
  ratio: number | null;
  /**
   * The same against masks whose positions are drawn as often as the whole layer keeps them (an
   * input kept by many units is drawn more often): below 1 only when a unit is more local than
   * the layer's shared preference (e.g. for the image's centre).
   */
  layerRandomSpread: number | null;
  layerRatio: number | null;
}

/** Random k-subsets of a layer's inputs: uniform, or weighted by how many units keep each input. */
class MaskSampler {
  // A partial Fisher-Yates shuffle picks a uniform subset from any arrangement, so the pool is never reset.
  private readonly pool: Int32Array;
  private readonly candidates: Int32Array;
  private readonly rates: Float64Array;
  private readonly keys: Float64Array;
  private readonly sorted: Float64Array;
  readonly drawn: Int32Array;
  /** Inputs some unit keeps: the most a weighted mask can hold. */
  get size(): number {
    return this.candidates.length;
  }

  constructor(
    keptBy: Float64Array,
    private readonly uniform: () => number,
    private readonly weighted: () => number,
  ) {
    this.pool = Int32Array.from({ length: keptBy.length }, (_, i) => i);
    this.candidates = Int32Array.from(this.pool.filter((i) => keptBy[i] > 0));
    this.rates = Float64Array.from(this.candidates, (i) => keptBy[i]);
    this.keys = new Float64Array(this.candidates.length);
    this.sorted = new Float64Array(this.candidates.length);
    this.drawn = new Int32Array(keptBy.length);
  }

  /** k inputs drawn uniformly, in `pool`'s first k places. */
  drawUniform(k: number): Int32Array {
    const pool = this.pool;
    for (let t = 0; t < k; t++) {
      const u = t + Math.floor(this.uniform() * (pool.length - t));
      const swap = pool[t];
      pool[t] = pool[u];
      pool[u] = swap;
    }
    return pool;
  }

  /** k inputs drawn without replacement with probability by keep count (Efraimidis-Spirakis keys), in `drawn`'s first k places. */
  drawWeighted(k: number): Int32Array {
    const { keys, sorted, rates } = this;
    // log(u) / rate: the k largest keys are a weighted sample; 1 - u keeps log away from log(0).
    for (let t = 0; t < keys.length; t++) keys[t] = Math.log(1 - this.weighted()) / rates[t];
    // The k-th largest key by selection (a full sort of the keys took most of the point's
    // locality time), then one pass (keys tie with probability 0).
    sorted.set(keys);
    quickselect(sorted, keys.length - k);
    const cut = sorted[keys.length - k];
    let n = 0;
    for (let t = 0; t < keys.length && n < k; t++) if (keys[t] >= cut) this.drawn[n++] = this.candidates[t];
    return this.drawn;
  }
}

/** Mean spread of `draws` masks of k inputs from `draw`; null when none has mass. */
function meanSpread(
  draw: (k: number) => Int32Array,
  k: number,
  draws: number,
  magnitude: Float64Array,
  coords: ReturnType<typeof pixelCoordinates>,
) {
  let total = 0;
  let counted = 0;
  for (let d = 0; d < draws; d++) {
    const s = weightedSpread(draw(k), k, magnitude, coords);
    if (s !== null) {
      total += s;
      counted++;
    }
  }
  return counted ? total / counted : null;
}

const ratioOf = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);

/**
 * Per unit of a layer ([inputs, units] row-major `weights`, the original's), the spread of the
 * weights `keep` marks (all of them when null) and of random masks with as many weights, drawn
 * uniformly and as often as the layer keeps each input.
 */
export function unitLocality(
  weights: ArrayLike<number>,
  keep: ArrayLike<number> | null,
  units: number,
  image: ImageShape,
  options: LocalityOptions = {},
): UnitLocality[] {
  const inputs = image.height * image.width * image.channels;
  if (weights.length !== inputs * units) {
    throw new PruneScopeError(`locality: ${weights.length} weights are not ${inputs} inputs x ${units} units`);
  }
  const draws = options.draws ?? LOCALITY_DEFAULTS.draws;
  const seed = options.seed ?? LOCALITY_DEFAULTS.seed;
  const coords = pixelCoordinates(image);
  const keptBy = new Float64Array(inputs);
  if (!keep) keptBy.fill(units);
  else for (let i = 0; i < inputs; i++) keptBy[i] = countNonzero(keep, i * units, (i + 1) * units);
  // Two generators, so the uniform draws do not depend on whether the weighted ones ran.
  const sampler = new MaskSampler(keptBy, seededRandom(seed), seededRandom(seed ^ 0x5bd1e995));
  const keptIdx = new Int32Array(inputs);
  // The unit's |w| read once, contiguous: its spreads (1 + 2 x draws of them) read it by input.
  const magnitude = new Float64Array(inputs);
  const out: UnitLocality[] = [];
  for (const j of sampledUnits(units, options.maxUnits)) {
    let k = 0;
    for (let i = 0; i < inputs; i++) {
      magnitude[i] = Math.abs(weights[i * units + j]);
      if (!keep || keep[i * units + j]) keptIdx[k++] = i;
    }
    if (k === 0) {
      out.push({ kept: 0, spread: null, randomSpread: null, ratio: null, layerRandomSpread: null, layerRatio: null });
      continue;
    }
    const spread = weightedSpread(keptIdx, k, magnitude, coords);
    // A mask keeping every input it could draw is the kept set itself: no draws needed.
    const randomSpread = k === inputs ? spread : meanSpread((n) => sampler.drawUniform(n), k, draws, magnitude, coords);
    const layerRandomSpread = k === sampler.size ? spread : meanSpread((n) => sampler.drawWeighted(n), k, draws, magnitude, coords);
    out.push({
      kept: k,
      spread,
      randomSpread,
      ratio: ratioOf(spread, randomSpread),
      layerRandomSpread,
      layerRatio: ratioOf(spread, layerRandomSpread),
    });
  }
  return out;
}

/** One layer's locality, as a results file records it (src/core/results/format.ts). */
export interface LayerLocality {
  layer: string;
  image: ImageShape & { source: ImageShapeSource };
  units: number;
  /** Units measured (LocalityOptions.maxUnits, evenly spaced); the counts below are among them. */
  sampled: number;
  /** Units with a ratio: kept weights with mass, and a random spread above 0. */
  measured: number;
  /** Units with no kept weights (removed units, or every weight pruned). */
  empty: number;
  /** Units with kept weights but no ratio (a single kept weight, or all kept weights zero). */
  degenerate: number;
  medianSpread: number | null;
  medianRandomSpread: number | null;
  medianRatio: number | null;
  /** Median of the units' ratios against masks drawn as often as the layer keeps each input (UnitLocality.layerRatio). */
  medianLayerRatio: number | null;
  /** Share of the measured units whose ratio is below `threshold`. */
  localShare: number | null;
  threshold: number;
  draws: number;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The per-unit numbers summarised: medians over the units with a ratio, and the share below the threshold. */
export function summariseLocality(
  layer: string,
  image: ImageShape & { source: ImageShapeSource },
  perUnit: UnitLocality[],
  options: LocalityOptions = {},
  units = perUnit.length,
): LayerLocality {
  const threshold = options.threshold ?? LOCALITY_DEFAULTS.threshold;
  const measured = perUnit.filter((u) => u.ratio !== null);
  const empty = perUnit.filter((u) => u.kept === 0).length;
  return {
    layer,
    image,
    units,
    sampled: perUnit.length,
    measured: measured.length,
    empty,
    degenerate: perUnit.length - empty - measured.length,
    medianSpread: median(measured.map((u) => u.spread!)),
    medianRandomSpread: median(measured.map((u) => u.randomSpread!)),
    medianRatio: median(measured.map((u) => u.ratio!)),
    medianLayerRatio: median(measured.flatMap((u) => (u.layerRatio === null ? [] : [u.layerRatio]))),
    localShare: measured.length ? measured.filter((u) => u.ratio! < threshold).length / measured.length : null,
    threshold,
    draws: options.draws ?? LOCALITY_DEFAULTS.draws,
  };
}

// ---- weight maps ----

// Kept weights are stored as round(127 w / scale), -127..127; -128 is left for pruned ones.
export { WEIGHT_MAP_PRUNED };
export const DEFAULT_WEIGHT_MAP_UNITS = 64;

/** The `count` units with the largest sum of |w| in `weights` ([inputs, units]), largest first (ties: lower index). */
export function weightMapUnits(weights: ArrayLike<number>, units: number, count: number): number[] {
  const mass = new Float64Array(units);
  for (let i = 0; i < weights.length; i++) mass[i % units] += Math.abs(weights[i]);
  const order = Array.from({ length: units }, (_, j) => j).sort((a, b) => mass[b] - mass[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(count, units)));
}

/**
 * The maps of `unitIndices`, height x width int8 values each (row-major, one map after the other),
 * as base64. `value(input, unit)` is a weight, or null when it is pruned; with several channels a
 * pixel shows the sum of its kept channels (pruned when none is kept). `scale` is the largest
 * |pixel| of the sample, so 127 stands for it.
 */
export function encodeWeightMaps(
  image: ImageShape,
  unitIndices: readonly number[],
  value: (input: number, unit: number) => number | null,
): { scale: number; data: string } {
  const pixels = image.height * image.width;
  const sums = new Float64Array(pixels * unitIndices.length);
  const kept = new Uint8Array(sums.length);
  const coords = pixelCoordinates(image);
  unitIndices.forEach((unit, m) => {
    for (let i = 0; i < pixels * image.channels; i++) {
      const v = value(i, unit);
      if (v === null) continue;
      const p = m * pixels + coords.row[i] * image.width + coords.col[i];
      sums[p] += v;
      kept[p] = 1;
    }
  });
  let top = 0;
  for (let p = 0; p < sums.length; p++) if (kept[p]) top = Math.max(top, Math.abs(sums[p]));
  const scale = top > 0 ? top : 1;
  const bytes = new Int8Array(sums.length);
  for (let p = 0; p < sums.length; p++) {
    bytes[p] = kept[p] ? Math.max(-127, Math.min(127, Math.round((127 * sums[p]) / scale))) : WEIGHT_MAP_PRUNED;
  }
  return { scale, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

/** What every point's locality and maps are computed against: the original first layer and its image. */
export interface LocalitySetup {
  layer: string;
  image: ImageShape & { source: ImageShapeSource };
  /** The original first layer's weights, [inputs, units]. */
  weights: Float32Array;
  units: number;
  /** Original indices of the units whose maps are stored. */
  mapUnits: number[];
  options: LocalityOptions;
}

export interface StoredWeightMaps {
  scale: number;
  data: string;
}

/** The setup for a first layer read as `image`, with the maps of its `mapUnits` heaviest units. */
export function localitySetup(
  layer: { name: string; weights: Float32Array; units: number },
  image: ImageShape & { source: ImageShapeSource },
  mapUnits: number,
  options: LocalityOptions = {},
): LocalitySetup {
  return {
    layer: layer.name,
    image,
    weights: layer.weights,
    units: layer.units,
    mapUnits: weightMapUnits(layer.weights, layer.units, mapUnits),
    options,
  };
}

/**
 * A pruned model's first-layer locality (on the original weights under `keep`) and its maps (the
 * pruned model's own weights, so compensation and fine-tuning show). `current` is its first layer;
 * `currentUnits` the original index of each of its units when units were removed (else null: same units).
 */
export function pointLocality(
  setup: LocalitySetup,
  keep: ArrayLike<number> | null,
  current: { weights: Float32Array; units: number },
  currentUnits: readonly number[] | null,
): { locality: LayerLocality; weightMaps?: StoredWeightMaps } {
  const perUnit = unitLocality(setup.weights, keep, setup.units, setup.image, setup.options);
  const locality = summariseLocality(setup.layer, setup.image, perUnit, setup.options, setup.units);
  if (setup.mapUnits.length === 0) return { locality };
  const column = new Int32Array(setup.units).fill(-1);
  if (currentUnits) currentUnits.forEach((orig, c) => (column[orig] = c));
  else for (let j = 0; j < Math.min(setup.units, current.units); j++) column[j] = j;
  const weightMaps = encodeWeightMaps(setup.image, setup.mapUnits, (i, j) => {
    const c = column[j];
    if (c < 0 || (keep && !keep[i * setup.units + j])) return null;
    return current.weights[i * current.units + c];
  });
  return { locality, weightMaps };
}
