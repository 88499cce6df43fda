/**
 * What each layer-similarity metric measures and how to read its heatmap, keyed by the metric ids
 * of src/core/metrics/similarity.ts (the webview may not import src/core/metrics).
 */
const NOTES: Record<string, string> = {
  'linear-cka':
    'Linear CKA compares the two layers’ sample-by-sample similarity structure (linear kernels, centred). 1: the same representation up to rotation and scale; it is dominated by the directions of largest variance, so values stay high (often above 0.9) while small directions change. Read differences between cells, not distance from 1.',
  'rbf-cka':
    'RBF CKA is CKA with Gaussian kernels: it compares which samples lie close together in each layer, so it also sees local, non-linear structure. 1: the same neighbourhoods; it drops before linear CKA does when pruning rearranges nearby samples.',
  'debiased-cka':
    'Debiased CKA is linear CKA with an unbiased estimate, so it does not drift towards 1 with few samples or wide layers; values can be slightly below 0. Prefer it to linear CKA when samples are few relative to units.',
  'minibatch-cka':
    'Minibatch CKA accumulates the unbiased linear CKA over minibatches: linear CKA for many samples at little memory. Read it like debiased CKA.',
  'mean-cca':
    'Mean CCA averages the canonical correlations: how well each layer’s directions can be matched linearly by the other’s. Every direction counts equally, the faint ones too, so noise directions pull it down.',
  svcca:
    'SVCCA keeps the principal directions explaining 99% of each layer’s variance, then averages their canonical correlations: mean CCA without the noise directions. 1: the same main subspace.',
  pwcca:
    'PWCCA weights the canonical correlations by how much of the layer each direction accounts for (as google/svcca computes it), so the directions the layer relies on count most. 1: those directions are reproduced.',
  'pwcca-paper':
    'PWCCA by the paper’s formula: weights from the first layer’s centred activations, invariant to the order of units. Read it like PWCCA; it is not symmetric in its two layers.',
  nbs: 'NBS (normalized Bures similarity) compares the centred linear kernels through their shared spectrum; like CKA it is 1 for the same representation up to rotation and scale, and it weighs small directions more than linear CKA does.',
};

/** The note for a metric id; undefined for a metric PruneScope does not describe. */
export function metricNote(metric: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(NOTES, metric) ? NOTES[metric] : undefined;
}

/** What the latency numbers are and why CSR trails dense (issue 17: a 10% point read 60 ms against 17.6). */
export const LATENCY_NOTE =
  'Medians of 7 timed runs of 100 samples after a warm-up (dense, onnxruntime), or of up to 5 within 0.15 s (CSR); ' +
  'other work on the machine moves single points, so compare trends, not neighbours. The CSR product runs on one ' +
  'thread (a WebAssembly SIMD kernel; results without backend.sparseKernel timed a JavaScript loop, 4-9x slower), ' +
  'while the dense kernels use every core and read memory in order, so CSR is slower until most weights are zero.';

/** The spreads a point's latency may record (src/core/results/format.ts). */
interface RunsOf {
  denseSpread?: { runs: number } | null;
  sparseSpread?: { runs: number } | null;
  onnxruntimeSpread?: { runs: number } | null;
}

/**
 * What the latency chart's bars are and how many runs each median is of ("7", or "1–5" when the
 * CSR budget let points run a different number of times); "" when no point records its runs
 * (files written before they were).
 */
export function latencyRunsNote(points: RunsOf[]): string {
  const kinds: [string, keyof RunsOf][] = [
    ['dense', 'denseSpread'],
    ['CSR', 'sparseSpread'],
    ['onnxruntime', 'onnxruntimeSpread'],
  ];
  const parts = kinds.flatMap(([name, key]) => {
    const runs = points.map((p) => p[key]?.runs).filter((n): n is number => n !== undefined);
    if (runs.length === 0) return [];
    const [lo, hi] = [Math.min(...runs), Math.max(...runs)];
    return [`${name} ${lo === hi ? lo : `${lo}–${hi}`} run${hi === 1 ? '' : 's'}`];
  });
  return parts.length ? `Bars: the fastest to the slowest run behind each median (${parts.join(', ')} per point).` : '';
}
