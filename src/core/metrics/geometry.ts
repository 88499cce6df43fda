import { checkMatrix, type Matrix, SimilarityError } from './matrix';

/**
 * How much of a layer's representational geometry survives when only some units are kept.
 * The representational dissimilarity matrix (RDM) of a set of units holds, for every pair of
 * samples, 1 - Pearson correlation of their activation vectors over those units. Units are
 * added one at a time in order of APoZ (ascending: the most active first; descending: the
 * most often silent first), and after every `step` units the R^2 (squared Pearson correlation)
 * between the upper triangle of the partial RDM and that of the full layer is recorded.
 *
 * Conventions where a correlation is undefined: a sample whose partial activation vector is
 * constant (always so with one unit) correlates 0 with every other sample, and a partial RDM
 * that is constant has R^2 = 0 with the full one (it carries no geometry).
 */

export interface GeometryOptions {
  /** Record every `step` units (the last point is always the full layer); default ceil(units / 100). */
  step?: number;
  /** Samples used (evenly spaced over the rows); default 500. The cost is O(samples^2 x units). */
  maxSamples?: number;
  name?: string;
  /**
   * X X^T in float64 for X rows x cols, row-major, or undefined where it cannot run: the full
   * layer's pair sums in one product (onnxruntime's, see geometry-layers.ts) instead of the pair
   * loops. The curves keep the loops: their blocks of 2-10 units ran no faster as products.
   */
  rowGram?: (x: Float64Array, rows: number, cols: number) => Float64Array | undefined;
}

export interface CurvePoint {
  k: number;
  r2: number;
}

export interface GeometryResult {
  samples: number;
  units: number;
  step: number;
  /** Units added from lowest to highest APoZ. */
  ascending: CurvePoint[];
  /** Units added from highest to lowest APoZ. */
  descending: CurvePoint[];
}

export const DEFAULT_GEOMETRY_SAMPLES = 500;

/** The default step between recorded points: about 100 points per layer. */
export function defaultGeometryStep(units: number): number {
  return Math.max(1, Math.ceil(units / 100));
}

/** Indices of `count` rows spread evenly over n. */
export function evenRows(n: number, count: number): Int32Array {
  const m = Math.min(n, count);
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) out[i] = Math.floor((i * n) / m);
  return out;
}

/** Incremental per-pair sums for Pearson correlations between samples over a growing unit set. */
class PairSums {
  readonly s1: Float64Array;
  readonly s2: Float64Array;
  /** Upper triangle, row-major: pair (i, j), i < j. */
  readonly cross: Float64Array;
  k = 0;

  constructor(readonly m: number) {
    this.s1 = new Float64Array(m);
    this.s2 = new Float64Array(m);
    this.cross = new Float64Array((m * (m - 1)) / 2);
  }

  /** Pair sums over all `cols` from their product X X^T (rows x rows, row-major: its upper triangle). */
  static fromGram(cols: readonly Float64Array[], gram: Float64Array): PairSums {
    const m = cols[0]?.length ?? 0;
    const sums = new PairSums(m);
    sums.addSampleSums(cols);
    for (let i = 0, o = 0; i < m; i++) {
      sums.cross.set(gram.subarray(i * m + i + 1, (i + 1) * m), o);
      o += m - 1 - i;
    }
    return sums;
  }

  /** Each sample's sum and sum of squares over the units gain these columns. */
  private addSampleSums(cols: readonly Float64Array[]): void {
    const { m, s1, s2 } = this;
    for (const col of cols) {
      for (let i = 0; i < m; i++) {
        s1[i] += col[i];
        s2[i] += col[i] * col[i];
      }
    }
    this.k += cols.length;
  }

  /**
   * Adds units: each column holds one unit's activation on the m samples. Per sample i, the
   * units active there (ReLU layers leave about half at 0, which add nothing) go into the row of
   * pairs (i, j > i) in groups of eight, four, two and one, so each pair sum is loaded and stored
   * once per group: one unit at a time read and wrote the whole ~1 MB triangle (500 samples) per
   * unit. Curves of layers of 1000, 1000, 500 and 200 units, half their activations 0: 2.47 s
   * that way, 1.56 s in groups.
   */
  add(cols: readonly Float64Array[]): void {
    const { m } = this;
    this.addSampleSums(cols);
    const active: Float64Array[] = [];
    const weight: number[] = [];
    for (let i = 0, o = 0; i < m; o += m - 1 - i, i++) {
      active.length = 0;
      weight.length = 0;
      for (const col of cols) {
        if (col[i] !== 0) {
          active.push(col);
          weight.push(col[i]);
        }
      }
      this.addRow(i, o, active, weight);
    }
  }

  /** cross[(i, j)] += sum over u of weight[u] * active[u][j], for j > i; the pairs of row i start at o. */
  private addRow(i: number, o: number, active: Float64Array[], weight: number[]): void {
    const { m, cross } = this;
    const base = o - i - 1;
    let u = 0;
    for (; u + 7 < active.length; u += 8) {
      const [c0, c1, c2, c3, c4, c5, c6, c7] = active.slice(u, u + 8);
      const [w0, w1, w2, w3, w4, w5, w6, w7] = weight.slice(u, u + 8);
      for (let j = i + 1; j < m; j++)
        cross[base + j] += w0 * c0[j] + w1 * c1[j] + w2 * c2[j] + w3 * c3[j] + w4 * c4[j] + w5 * c5[j] + w6 * c6[j] + w7 * c7[j];
    }
    for (; u + 3 < active.length; u += 4) {
      const [c0, c1, c2, c3] = [active[u], active[u + 1], active[u + 2], active[u + 3]];
      const [w0, w1, w2, w3] = [weight[u], weight[u + 1], weight[u + 2], weight[u + 3]];
      for (let j = i + 1; j < m; j++) cross[base + j] += w0 * c0[j] + w1 * c1[j] + w2 * c2[j] + w3 * c3[j];
    }
    if (u + 1 < active.length) {
      const [c0, c1] = [active[u], active[u + 1]];
      const [w0, w1] = [weight[u], weight[u + 1]];
      for (let j = i + 1; j < m; j++) cross[base + j] += w0 * c0[j] + w1 * c1[j];
      u += 2;
    }
    if (u < active.length) {
      const c = active[u];
      const w = weight[u];
      for (let j = i + 1; j < m; j++) cross[base + j] += w * c[j];
    }
  }

  /** Per sample: its mean over the units, and 1 / its root sum of squared deviations (0 when constant). */
  private scales(): { mean: Float64Array; inv: Float64Array } {
    const { m, s1, s2, k } = this;
    const inv = new Float64Array(m);
    const mean = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      mean[i] = s1[i] / k;
      const v = s2[i] - s1[i] * mean[i];
      // Relative test: cancellation leaves ~1e-16 x s2 in a truly constant vector.
      inv[i] = v > 1e-12 * s2[i] && v > 0 ? 1 / Math.sqrt(v) : 0;
    }
    return { mean, inv };
  }

  /** Upper triangle of 1 - correlation into out. */
  rdm(out: Float64Array): void {
    const { m, s1, cross } = this;
    const { mean, inv } = this.scales();
    let o = 0;
    for (let i = 0; i < m; i++) {
      const si = s1[i];
      const ii = inv[i];
      for (let j = i + 1; j < m; j++) {
        out[o] = 1 - (cross[o] - si * mean[j]) * ii * inv[j];
        o++;
      }
    }
  }

  /**
   * R^2 of this RDM against a full one, in one pass that never writes the RDM. Writing it, then
   * reading it twice for the correlation, made the points cost most of a 200-unit layer's
   * curves (one every 2 units): 390-430 ms there before, 250-290 ms now, on 500 samples.
   */
  r2Against(full: FullRdm): number {
    const { m, s1, cross } = this;
    const { mean, inv } = this.scales();
    const { centred } = full;
    // Sums of d = RDM - its first value: little cancellation in the variance below, and a
    // constant RDM (every sample constant, as with one unit) gives exact zeros: R^2 = 0.
    const first = 1 - (cross[0] - s1[0] * mean[1]) * inv[0] * inv[1];
    let sd = 0;
    let sdd = 0;
    let sdf = 0;
    let o = 0;
    for (let i = 0; i < m; i++) {
      const si = s1[i];
      const ii = inv[i];
      for (let j = i + 1; j < m; j++) {
        const d = 1 - (cross[o] - si * mean[j]) * ii * inv[j] - first;
        sd += d;
        sdd += d * d;
        sdf += d * centred[o];
        o++;
      }
    }
    const varD = sdd - (sd * sd) / centred.length;
    if (!(varD > 0) || !(full.sumSquares > 0)) return 0;
    return Math.min(1, (sdf * sdf) / varD / full.sumSquares);
  }
}

/** The full RDM as R^2 against it needs: centred on its mean, and its sum of squares. */
interface FullRdm {
  centred: Float64Array;
  sumSquares: number;
}

function fullRdm(rdm: Float64Array): FullRdm {
  let mean = 0;
  for (let o = 0; o < rdm.length; o++) mean += rdm[o];
  mean /= rdm.length;
  const centred = new Float64Array(rdm.length);
  let sumSquares = 0;
  for (let o = 0; o < rdm.length; o++) {
    centred[o] = rdm[o] - mean;
    sumSquares += centred[o] * centred[o];
  }
  return { centred, sumSquares };
}

/** Pair sums over every unit: by `rowGram` over the sampled rows when it runs, else by the pair loops. */
function fullPairSums(
  activations: Matrix,
  idx: Int32Array,
  columns: readonly Float64Array[],
  rowGram: GeometryOptions['rowGram'],
): PairSums {
  const { cols } = activations;
  const m = idx.length;
  if (rowGram) {
    const x = new Float64Array(m * cols);
    for (let i = 0; i < m; i++) x.set(activations.data.subarray(idx[i] * cols, (idx[i] + 1) * cols), i * cols);
    const gram = rowGram(x, m, cols);
    if (gram) return PairSums.fromGram(columns, gram);
  }
  const all = new PairSums(m);
  all.add(columns);
  return all;
}

/**
 * R^2 curves between partial and full RDMs, adding units by APoZ (see the module comment).
 * `apoz` holds one value per column of `activations`; ties keep unit order.
 */
export function apozGeometry(activations: Matrix, apoz: ArrayLike<number>, options: GeometryOptions = {}): GeometryResult {
  const name = options.name ?? 'layer';
  const { rows, cols } = activations;
  checkMatrix(activations, name, 3);
  if (apoz.length !== cols) throw new SimilarityError(`${name}: ${apoz.length} APoZ values for ${cols} units`);
  for (let j = 0; j < cols; j++) {
    if (!(apoz[j] >= 0 && apoz[j] <= 1)) throw new SimilarityError(`${name}: APoZ of unit ${j} is ${apoz[j]}, not in [0, 1]`);
  }
  const maxSamples = options.maxSamples ?? DEFAULT_GEOMETRY_SAMPLES;
  if (!Number.isInteger(maxSamples) || maxSamples < 3) {
    throw new SimilarityError(`representational geometry needs maxSamples of at least 3, got ${maxSamples}`);
  }
  const step = options.step ?? defaultGeometryStep(cols);
  if (!Number.isInteger(step) || step < 1)
    throw new SimilarityError(`representational geometry: step must be a positive whole number, got ${step}`);
  const idx = evenRows(rows, maxSamples);
  const m = idx.length;
  // Columns of the sampled rows, so adding a unit reads contiguous memory.
  const columns: Float64Array[] = [];
  for (let j = 0; j < cols; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = activations.data[idx[i] * cols + j];
    columns.push(c);
  }
  const pairs = (m * (m - 1)) / 2;
  const full = new Float64Array(pairs);
  fullPairSums(activations, idx, columns, options.rowGram).rdm(full);
  let fullConstant = true;
  for (let o = 1; o < pairs && fullConstant; o++) if (full[o] !== full[0]) fullConstant = false;
  if (fullConstant) {
    throw new SimilarityError(
      `${name}: every sample has the same dissimilarity to every other over all ${cols} units (e.g. a dead layer), so there is no geometry to compare against`,
    );
  }
  const order = Array.from({ length: cols }, (_, j) => j);
  const ascendingOrder = [...order].sort((a, b) => apoz[a] - apoz[b] || a - b);
  const descendingOrder = [...order].sort((a, b) => apoz[b] - apoz[a] || a - b);
  const target = fullRdm(full);
  const curve = (ord: number[]): CurvePoint[] => {
    const sums = new PairSums(m);
    const points: CurvePoint[] = [];
    for (let k = Math.min(step, cols), done = 0; done < cols; done = k, k = Math.min(k + step, cols)) {
      sums.add(ord.slice(done, k).map((j) => columns[j]));
      points.push({ k, r2: sums.r2Against(target) });
    }
    return points;
  };
  return { samples: m, units: cols, step, ascending: curve(ascendingOrder), descending: curve(descendingOrder) };
}
