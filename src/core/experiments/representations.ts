import { apoz } from '../metrics/apoz';
import { linearCKAMatrix } from '../metrics/cka';
import { matrix, SimilarityError, type Matrix } from '../metrics/matrix';
import { SIMILARITY_METRICS, type SimilarityMetricId, type SimilarityOptions } from '../metrics/similarity';
import { layerActivations } from '../model/activations';
import type { MLP } from '../model/mlp';
import type { LayerApoz } from '../results/format';

/** Every layer's output after its activation for the first n rows of x, one matrix per layer. */
export function representations(mlp: MLP, x: Float32Array, n: number): Matrix[] {
  return layerActivations(mlp, x, n, { post: true }).map((a) => matrix(a.post!, n, a.units));
}

/**
 * values[i][j] = metric(xs[i], ys[j]); null where the metric is undefined (e.g. a layer whose
 * outputs are constant over the samples), with the reasons collected in `problems`.
 */
export function similarityMatrix(
  xs: Matrix[],
  ys: Matrix[],
  metric: SimilarityMetricId,
  options: SimilarityOptions & { xNames?: string[]; yNames?: string[] } = {},
): { values: (number | null)[][]; problems: string[] } {
  if (metric === 'linear-cka') {
    // One pass over the samples for every pair instead of one per pair.
    const r = linearCKAMatrix(xs, ys, { xNames: options.xNames, yNames: options.yNames });
    return { values: r.values, problems: r.problems };
  }
  const m = SIMILARITY_METRICS[metric];
  const problems: string[] = [];
  const values = xs.map((x, i) =>
    ys.map((y, j) => {
      try {
        return m.compute(x, y, { ...options, names: { x: options.xNames?.[i], y: options.yNames?.[j] } });
      } catch (e) {
        if (!(e instanceof SimilarityError)) throw e;
        if (!problems.includes(e.message)) problems.push(e.message);
        return null;
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
