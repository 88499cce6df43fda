import { engineInfo } from '../backend';
import { ortActivations } from '../engine/ort-engine';
import { resolveDenseEngine } from '../engine/resolve';
import { apoz } from '../metrics/apoz';
import { linearCKAMatrix } from '../metrics/cka';
import { centerGram, gramDot } from '../metrics/gram';
import { matrix, SimilarityError, type Matrix } from '../metrics/matrix';
import { SIMILARITY_METRICS, type SimilarityMetricId, type SimilarityOptions } from '../metrics/similarity';
import { layerActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import type { LayerApoz } from '../results/format';

/** Every layer's output after its activation for the first n rows of x, one matrix per layer. */
export function representations(mlp: MLP, x: Float32Array, n: number): Matrix[] {
  // On onnxruntime when the process chose it: the forward passes of compare and of every
  // analysis point, ~2x the wasm engine's here.
  if (engineInfo()?.dense.name === 'onnxruntime') return ortActivations(mlp, x, n).map((a, l) => matrix(a, n, mlp.layers[l].units));
  return layerActivations(mlp, x, n, { post: true }).map((a) => matrix(a.post!, n, a.units));
}

/**
 * One layer's output for the first n rows of x, after its activation or (`pre`) before it: on
 * onnxruntime when the process chose it, as `representations` (so `prunescope geometry` and
 * `activations` see the very numbers an analysis or comparison sees), else on TensorFlow.js.
 */
export function layerOutput(mlp: MLP, x: Float32Array, n: number, layer: number, pre = false): Matrix {
  const units = mlp.layers[layer].units;
  if (!pre && engineInfo()?.dense.name === 'onnxruntime') return matrix(ortActivations(mlp, x, n)[layer], n, units);
  const [a] = layerActivations(mlp, x, n, { layers: [layer], pre, post: !pre });
  return matrix(pre ? a.pre! : a.post!, n, units);
}

/** Up to this many samples, linear CKA matrices go through n x n Gram matrices. */
const GRAM_MAX_ROWS = 1024;

/**
 * Centred linear Gram matrices Kc = H X X^T H of every representation, with their norms. With
 * few samples and wide layers (512 rows of 1000-unit layers) these are far smaller than the
 * cross-covariances, and the original's are computed once per analysis, not once per point.
 */
export class CenteredGrams {
  readonly grams: Float64Array[];
  readonly norms: number[];

  constructor(
    readonly reps: Matrix[],
    readonly names: string[] = [],
  ) {
    this.grams = reps.map((r) => CenteredGrams.centered(r));
    this.norms = this.grams.map((k) => Math.sqrt(gramDot(k, k)));
  }

  get rows(): number {
    return this.reps[0]?.rows ?? 0;
  }

  private static centered(m: Matrix): Float64Array {
    const n = m.rows;
    // X X^T in float32 on the dense engine (onnxruntime when it loads, else tfjs), then centred
    // in float64: the products' rounding stays near 1e-7 relative.
    const x = m.data instanceof Float32Array ? m.data : Float32Array.from(m.data);
    return centerGram(Float64Array.from(resolveDenseEngine('auto').matMul(x, x, n, m.cols, n, { b: true })), n);
  }

  /** Linear CKA of each of these representations against each of `other`'s. */
  ckaAgainst(other: CenteredGrams): { values: (number | null)[][]; problems: string[] } {
    const problems: string[] = [];
    const dead = (name: string | undefined) =>
      `${name ?? 'a layer'} has no variance over the samples (constant outputs), so linear CKA is undefined`;
    const values = this.grams.map((kx, i) =>
      other.grams.map((ky, j) => {
        if (!(this.norms[i] > 0) || !(other.norms[j] > 0)) {
          const why = dead(!(this.norms[i] > 0) ? this.names[i] : other.names[j]);
          if (!problems.includes(why)) problems.push(why);
          return null;
        }
        return Math.min(1, Math.max(0, gramDot(kx, ky) / (this.norms[i] * other.norms[j])));
      }),
    );
    return { values, problems };
  }
}

export function gramFormFits(reps: Matrix[]): boolean {
  const n = reps[0]?.rows ?? 0;
  return n > 0 && n <= GRAM_MAX_ROWS;
}

/**
 * values[i][j] = metric(xs[i], ys[j]); null where the metric is undefined (e.g. a layer whose
 * outputs are constant over the samples), with the reasons collected in `problems`. `onPair` hears
 * after each pair (once for linear CKA, whose matrix is one pass); what it throws ends the matrix.
 */
export function similarityMatrix(
  xs: Matrix[],
  ys: Matrix[],
  metric: SimilarityMetricId,
  options: SimilarityOptions & { xNames?: string[]; yNames?: string[]; onPair?: (done: number, total: number) => void } = {},
): { values: (number | null)[][]; problems: string[] } {
  const total = xs.length * ys.length;
  if (metric === 'linear-cka') {
    // One pass over the samples for every pair instead of one per pair.
    const r = linearCKAMatrix(xs, ys, { xNames: options.xNames, yNames: options.yNames });
    options.onPair?.(total, total);
    return { values: r.values, problems: r.problems };
  }
  const m = SIMILARITY_METRICS[metric];
  const problems: string[] = [];
  let done = 0;
  const values = xs.map((x, i) =>
    ys.map((y, j) => {
      try {
        return m.compute(x, y, { ...options, names: { x: options.xNames?.[i], y: options.yNames?.[j] } });
      } catch (e) {
        if (!(e instanceof SimilarityError)) throw e;
        if (!problems.includes(e.message)) problems.push(e.message);
        return null;
      } finally {
        options.onPair?.(++done, total);
      }
    }),
  );
  return { values, problems };
}

/** APoZ of every layer from its post-activation outputs; layers without a ReLU say why instead. */
export function layerApoz(mlp: MLP, reps: Matrix[]): LayerApoz[] {
  return mlp.layers.map((layer, i) => {
    const r = apoz(reps[i], layer.activation);
    if (!r.applies) return { layer: layer.name, applies: false, reason: r.reason };
    return { layer: layer.name, applies: true, mean: r.mean, histogram: r.histogram };
  });
}
