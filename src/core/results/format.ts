import { z } from 'zod';
import { PruneScopeError } from '../errors';

/**
 * The one results format: written by `prunescope analyze` and `compare`, read by the webview,
 * the HTML report and the tests. The schemas below are the definition (types are inferred from
 * them); docs/results-format.md explains them. Bump RESULTS_VERSION on any change a reader of the
 * previous version would misread, and teach `parseResults` to read or refuse the old one.
 */
export const RESULTS_FORMAT = 'prunescope-results';
export const RESULTS_VERSION = 1;

// JSON has no NaN/Infinity; a metric that is undefined is written as null.
const num = z.number().finite();
const share = num.min(0).max(1);
const matrix = z.array(z.array(num.nullable()));

export const histogramSchema = z.object({
  /** Bin edges, length bins + 1, ascending. */
  edges: z.array(num),
  counts: z.array(z.number().int().nonnegative()),
});

export const layerApozSchema = z.object({
  layer: z.string(),
  applies: z.boolean(),
  /** Why APoZ does not apply (e.g. a sigmoid layer), when it does not. */
  reason: z.string().optional(),
  /** Mean APoZ over the layer's neurons. */
  mean: share.optional(),
  /** Per-neuron APoZ over [0, 1]. */
  histogram: histogramSchema.optional(),
});

export const curvePointSchema = z.object({
  /** Units kept (added so far). */
  k: z.number().int().positive(),
  /** R^2 between the RDM of those units and the RDM of the whole layer. */
  r2: share,
});

/**
 * Representational geometry of one hidden layer (src/core/metrics/geometry.ts): units added one
 * at a time in APoZ order, R^2 of the partial RDM against the full layer's after every `step`.
 * Ordered by APoZ, so layers APoZ does not apply to (not ReLU-like), or without any geometry
 * (e.g. a dead layer), record `applies: false` and why.
 */
export const layerGeometrySchema = z.discriminatedUnion('applies', [
  z.object({
    layer: z.string(),
    applies: z.literal(true),
    /** Samples (activation rows) the APoZ order and the RDMs were computed on. */
    samples: z.number().int().min(3),
    units: z.number().int().positive(),
    step: z.number().int().positive(),
    /** Units added from lowest to highest APoZ (most active first). */
    ascending: z.array(curvePointSchema),
    /** Units added from highest to lowest APoZ (most often silent first). */
    descending: z.array(curvePointSchema),
  }),
  z.object({
    layer: z.string(),
    applies: z.literal(false),
    reason: z.string(),
  }),
]);

export const modelInfoSchema = z.object({
  path: z.string(),
  /** sha256 of the model's bytes (all files, for multi-file formats). */
  sha256: z.string(),
  format: z.string(),
  producer: z.string().nullable(),
  inputSize: z.number().int().positive(),
  /** Units per layer, input excluded. */
  layerSizes: z.array(z.number().int().positive()),
  layerNames: z.array(z.string()),
  activations: z.array(z.string()),
  parameters: z.number().int().nonnegative(),
});

export const datasetInfoSchema = z.object({
  name: z.string(),
  /** Split evaluated on. */
  split: z.string(),
  samples: z.number().int().nonnegative(),
  normalization: z.string(),
  /** Split the activation samples came from, and how many of its first rows. */
  activationSplit: z.string(),
  activationSamples: z.number().int().nonnegative(),
});

export const layerPointSchema = z.object({
  name: z.string(),
  /** Units left (structured) or all units (unstructured). */
  units: z.number().int().nonnegative(),
  /** Share of the original layer's weights that are zero or removed. */
  sparsity: share,
  /** Parameters left (nonzero ones for unstructured). */
  parameters: z.number().int().nonnegative(),
  /** 2 x multiply-adds per sample: dense FLOPs of the shrunk layer, nonzero ones for sparse. */
  flops: z.number().nonnegative(),
  /** |w| of the original layer's weights, pruned and kept, on shared bins. */
  magnitudes: z.object({ pruned: histogramSchema, kept: histogramSchema }),
  /**
   * Two-sample Kolmogorov-Smirnov statistic between |w| of the original weights pruned and kept:
   * 1 when every pruned weight is smaller than every kept one (magnitude pruning), low when the
   * mask ignores magnitude. Null when nothing (or everything) was pruned; absent in older files.
   */
  magnitudeKS: num.nullable().optional(),
  /** Similarity of this layer's output to the original layer's output (settings.metric). */
  similarity: num.nullable(),
  apoz: layerApozSchema,
});

/**
 * How the timed runs behind a latency median spread: their count and the fastest and slowest, in
 * the same unit (ms per 100 samples). Optional beside each median: files written before it lack it.
 */
export const latencySpreadSchema = z
  .object({ runs: z.number().int().positive(), minMs: num, maxMs: num })
  .refine((s) => s.minMs <= s.maxMs, { message: 'minMs must not exceed maxMs' });

/**
 * How local a first layer's kept weights are in its input image (src/core/metrics/locality.ts):
 * per unit, the |w|-weighted RMS distance (pixels) of the kept weights' positions from their
 * weighted centroid, over the mean of `draws` random masks keeping as many weights (ratio < 1:
 * more local than chance). Medians over the `measured` units. Absent when the inputs are not an
 * image, and in older files.
 */
export const localitySchema = z.object({
  layer: z.string(),
  /** How the inputs were read as an image, and whether the model, the dataset or the user said so. */
  image: z.object({
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    channels: z.number().int().positive(),
    layout: z.enum(['hwc', 'chw']),
    source: z.enum(['model', 'dataset', 'option']),
  }),
  units: z.number().int().nonnegative(),
  /** Units measured (evenly spaced by index, at most 200 by default); measured, empty and degenerate count among them. Absent: all. */
  sampled: z.number().int().nonnegative().optional(),
  measured: z.number().int().nonnegative(),
  /** Units with no kept weights (removed units), left out of the medians. */
  empty: z.number().int().nonnegative(),
  /** Units whose ratio is undefined (a single kept weight, or no |w| mass), left out too. */
  degenerate: z.number().int().nonnegative(),
  medianSpread: num.nullable(),
  medianRandomSpread: num.nullable(),
  medianRatio: num.nullable(),
  /** The same against masks drawn as often as the whole layer keeps each input: below 1 only when units are more local than the layer's shared preference (e.g. for the centre). */
  medianLayerRatio: num.nullable(),
  /** Share of the measured units with ratio below `threshold`. */
  localShare: share.nullable(),
  threshold: num,
  draws: z.number().int().positive(),
});

/**
 * A sample of the first layer's incoming weight maps: base64 of height x width int8 values per
 * unit of the baseline's `units`, one map after the other, row-major. -128 marks a pruned weight;
 * any other byte q is a kept weight of about q / 127 x `scale` (with several channels, the sum of
 * the pixel's kept channels).
 */
export const weightMapsSchema = z.object({ scale: num.positive(), data: z.string() });

/** The byte (as int8) of a pruned weight in a stored weight map. */
export const WEIGHT_MAP_PRUNED = -128;

export const pointSchema = z.object({
  /** Share asked for. */
  sparsity: share,
  /** Share of all prunable weights that are zero or removed. */
  actualSparsity: share,
  /** Round of an iterative schedule (0 for one-shot). */
  iteration: z.number().int().nonnegative(),
  accuracy: share,
  loss: num,
  /** Share of evaluation samples on which the pruned model predicts what the original predicts. */
  agreement: share,
  parameters: z.number().int().nonnegative(),
  flops: z.number().nonnegative(),
  latency: z.object({
    /** Milliseconds per forward pass of 100 samples through the dense (shrunk) model. */
    denseMsPer100: num,
    /** The same through a CSR sparse matrix product (unstructured sparsity only). */
    sparseMsPer100: num.nullable(),
    /** The same batch through onnxruntime running the model's written ONNX file; null without onnxruntime, absent in older files. */
    onnxruntimeMsPer100: num.nullable().optional(),
    /** The runs behind each median; absent in older files, null where the median is. */
    denseSpread: latencySpreadSchema.optional(),
    sparseSpread: latencySpreadSchema.nullable().optional(),
    onnxruntimeSpread: latencySpreadSchema.nullable().optional(),
  }),
  layers: z.array(layerPointSchema),
  /** Rows: layers of the original; columns: layers of the pruned model. */
  similarityMatrix: matrix,
  /** Epochs of fine-tuning spent to reach this point. */
  finetuneEpochs: z.number().int().nonnegative(),
  /** Bytes of weights, biases and sparse indices the pruned model takes as ONNX; absent in older files. */
  onnxBytes: z.number().int().nonnegative().optional(),
  /** The first layer's locality under this point's mask; absent when it does not apply and in older files. */
  locality: localitySchema.optional(),
  /** The maps of the baseline's weightMaps.units in this point's first layer; absent as there. */
  weightMaps: weightMapsSchema.optional(),
});

export const scheduleSchema = z.enum(['one-shot', 'iterative', 'imp-rewind', 'trimming', 'gradual']);

/**
 * How each layer's similarity to the original's same layer fell over a run, in one line
 * (src/core/experiments/layer-trend.ts): read at the highest sparsity where every layer has one.
 */
export const layerTrendSchema = z.object({
  /** The requested sparsity the values are read at. */
  sparsity: share,
  /** Per layer, first to last: its similarity to the original's layer there. */
  values: z.array(num),
  /** True when no layer is more similar than the one before it (0.005 of slack for noise). */
  fallsWithDepth: z.boolean(),
  /** The layer least similar there. */
  lowest: z.string(),
  /** As sparsity grows, the first layer whose similarity drops below `threshold` (the deeper one on a tie); null: none does. */
  firstBelow: z.object({ layer: z.string(), sparsity: share }).nullable(),
  threshold: num,
  summary: z.string(),
});

export const strategyRunSchema = z.object({
  strategy: z.string(),
  /**
   * The series' name where the strategy alone does not tell runs apart: "wanda + compensation",
   * "magnitude 2:4". Readers show `label ?? strategy` (`seriesName`). Absent in files written before it existed.
   */
  label: z.string().optional(),
  /** True when compensation refit the weights that stay at every point (absent: false). */
  compensated: z.boolean().optional(),
  /** The N:M pattern the strategy applied, e.g. "2:4". */
  pattern: z.string().optional(),
  /** Structured runs: what removed units left behind ('constant': activation(bias) folded into the next bias; 'silent': nothing). */
  removedUnits: z.enum(['constant', 'silent']).optional(),
  kind: z.enum(['structured', 'unstructured']),
  schedule: scheduleSchema,
  points: z.array(pointSchema),
  seconds: num,
  notes: z.array(z.string()),
  /** Absent when no point has every layer's similarity, and in files written before it existed. */
  layerTrend: layerTrendSchema.optional(),
});

export const baselineSchema = z.object({
  accuracy: share,
  loss: num,
  parameters: z.number().int().nonnegative(),
  flops: z.number().nonnegative(),
  latency: z.object({
    denseMsPer100: num,
    onnxruntimeMsPer100: num.nullable().optional(),
    denseSpread: latencySpreadSchema.optional(),
    onnxruntimeSpread: latencySpreadSchema.nullable().optional(),
  }),
  /** As a point's onnxBytes, for the original. */
  onnxBytes: z.number().int().nonnegative().optional(),
  apoz: z.array(layerApozSchema),
  /** The original against itself, layer by layer. */
  similarityMatrix: matrix,
  /** One per hidden layer; absent in files written before it existed (or when skipped). */
  geometry: z.array(layerGeometrySchema).optional(),
  /** The original's first-layer locality (every weight kept, so its ratio is 1; its spread is the reference). */
  locality: localitySchema.optional(),
  /** Which units' maps every point stores (original indices, heaviest first), the image, and the original's maps. */
  weightMaps: weightMapsSchema
    .extend({
      layer: z.string(),
      height: z.number().int().positive(),
      width: z.number().int().positive(),
      units: z.array(z.number().int().nonnegative()),
    })
    .optional(),
});

export const analysisSettingsSchema = z.object({
  strategies: z.array(z.string()),
  sparsities: z.array(share),
  schedule: scheduleSchema,
  finetuneEpochs: z.number().int().nonnegative(),
  iterations: z.number().int().positive(),
  samples: z.number().int().positive(),
  metric: z.string(),
  seed: z.number().int(),
  includeOutput: z.boolean(),
  /** Rows of the activation split compensation (and calibrating criteria) used, and the ridge damping; absent without compensation. */
  compensation: z.object({ calibration: z.number().int().positive(), damping: num.positive() }).optional(),
  /** Rows of the activation split the calibrating criteria (wanda, sparsegpt, taylor, obd) scored on. */
  calibration: z.number().int().positive().optional(),
  removedUnits: z.enum(['constant', 'silent']).optional(),
  pattern: z.string().optional(),
});

export const comparisonSideSchema = z.object({
  model: modelInfoSchema,
  /**
   * Accuracy and mean cross-entropy on the compared rows (dataset.activationSplit, its first
   * activationSamples); absent without labels, when the model has fewer outputs than the labels
   * need, and in files written before it existed.
   */
  evaluation: z.object({ accuracy: share, loss: num }).optional(),
  /**
   * All parameters, those a sparse kernel keeps (non-zero weights and every bias), FLOPs per
   * sample (2 x non-zero weights) and ONNX weight bytes, as an analysis counts its points; absent
   * in older files.
   */
  size: z
    .object({
      parameters: z.number().int().nonnegative(),
      nonzeroParameters: z.number().int().nonnegative(),
      flops: z.number().nonnegative(),
      onnxBytes: z.number().int().nonnegative().optional(),
    })
    .optional(),
  apoz: z.array(layerApozSchema),
  /** The model's layers against themselves. */
  selfSimilarity: matrix,
  /** One per hidden layer; absent in files written before it existed (or when skipped). */
  geometry: z.array(layerGeometrySchema).optional(),
});

const base = {
  format: z.literal(RESULTS_FORMAT),
  version: z.literal(RESULTS_VERSION),
  createdAt: z.string(),
  tool: z.object({ name: z.literal('prunescope'), version: z.string() }),
  /**
   * `engine`: what ran the dense work (onnxruntime, wasm, tfjs-node, tfjs-cpu); absent in files
   * before it was recorded. `sparseKernel` (analyses): what timed the CSR latency, `wasm-simd128`;
   * absent in files before it was recorded, whose CSR timings are of a JavaScript loop 4-9x slower.
   */
  backend: z.object({ name: z.string(), tfjsVersion: z.string(), engine: z.string().optional(), sparseKernel: z.string().optional() }),
  dataset: datasetInfoSchema,
};

export const analysisResultsSchema = z.object({
  ...base,
  kind: z.literal('analysis'),
  model: modelInfoSchema,
  settings: analysisSettingsSchema,
  baseline: baselineSchema,
  runs: z.array(strategyRunSchema),
});

export const comparisonResultsSchema = z.object({
  ...base,
  kind: z.literal('comparison'),
  metric: z.string(),
  /** Share of the compared rows on which B predicts the class A predicts; absent as a side's evaluation is. */
  agreement: share.optional(),
  a: comparisonSideSchema,
  b: comparisonSideSchema,
  /** Rows: layers of A; columns: layers of B. */
  cross: matrix,
});

export const resultsSchema = z.discriminatedUnion('kind', [analysisResultsSchema, comparisonResultsSchema]);

/** What `prunescope study` varies one at a time around its base model. */
export const studyFactorSchema = z.enum(['dropout', 'width', 'depth']);

/** The accuracy of the study's two strategies at one sparsity (their last round) and the gap, first minus second. */
export const studyGapSchema = z.object({
  sparsity: share,
  /** Null when either strategy has no point there. */
  gap: num.nullable(),
  a: share.nullable(),
  b: share.nullable(),
});

/**
 * A study (`prunescope study`, src/core/experiments/study.ts): baselines trained one factor at a
 * time around a base model, each pruned and retrained with two strategies, as an analysis. Not a
 * member of `resultsSchema`: readers of analyses and comparisons refuse it by name; `parseAnyResults` reads it.
 */
export const studyResultsSchema = z.object({
  ...base,
  kind: z.literal('study'),
  settings: z.object({
    /** The gap is strategies[0]'s accuracy minus strategies[1]'s. */
    strategies: z.tuple([z.string(), z.string()]),
    base: z.object({ width: z.number().int().positive(), depth: z.number().int().positive(), dropout: share }),
    factors: z.array(z.object({ factor: studyFactorSchema, values: z.array(num) })),
    sparsities: z.array(share),
    schedule: scheduleSchema,
    iterations: z.number().int().positive(),
    finetuneEpochs: z.number().int().nonnegative(),
    /** Most training epochs of each baseline (early stopping may end it sooner). */
    epochs: z.number().int().positive(),
    trainSamples: z.number().int().positive(),
    validationSamples: z.number().int().positive(),
    seed: z.number().int(),
    budgetSeconds: num.positive(),
  }),
  /** Seconds of one training epoch of the base model, measured first, and what the plan extrapolated from it. */
  plan: z.object({ epochSeconds: num.nonnegative(), estimatedSeconds: num.nonnegative() }),
  models: z.array(
    z.object({
      id: z.string(),
      hidden: z.array(z.number().int().positive()),
      dropout: share,
      /** The factor values this model stands for (the base model for every factor's base value). */
      factors: z.array(z.object({ factor: studyFactorSchema, value: num })),
      training: z.object({
        epochs: z.number().int().nonnegative(),
        bestEpoch: z.number().int().nonnegative(),
        validationAccuracy: share,
        seconds: num.nonnegative(),
      }),
      estimatedSeconds: num.nonnegative(),
      /** Training, pruning and measuring, in seconds. */
      seconds: num.nonnegative(),
      analysis: analysisResultsSchema,
    }),
  ),
  /** Models of the grid left out, and why (the time budget). */
  skipped: z.array(
    z.object({
      id: z.string(),
      factors: z.array(z.object({ factor: studyFactorSchema, value: num })),
      estimatedSeconds: num.nonnegative(),
      reason: z.string(),
    }),
  ),
  /** Per factor, per value that ran: the gap at every sparsity. */
  summary: z.array(
    z.object({
      factor: studyFactorSchema,
      values: z.array(z.object({ value: num, model: z.string(), gaps: z.array(studyGapSchema) })),
    }),
  ),
  seconds: num.nonnegative(),
});

export type Histogram = z.infer<typeof histogramSchema>;
export type LayerApoz = z.infer<typeof layerApozSchema>;
export type CurvePointInfo = z.infer<typeof curvePointSchema>;
export type LayerGeometry = z.infer<typeof layerGeometrySchema>;
export type ModelInfo = z.infer<typeof modelInfoSchema>;
export type DatasetInfo = z.infer<typeof datasetInfoSchema>;
export type LayerPoint = z.infer<typeof layerPointSchema>;
export type Point = z.infer<typeof pointSchema>;
export type Locality = z.infer<typeof localitySchema>;
export type WeightMaps = z.infer<typeof weightMapsSchema>;
export type LatencySpread = z.infer<typeof latencySpreadSchema>;
export type ScheduleName = z.infer<typeof scheduleSchema>;
export type StrategyRun = z.infer<typeof strategyRunSchema>;
export type Baseline = z.infer<typeof baselineSchema>;
export type AnalysisSettings = z.infer<typeof analysisSettingsSchema>;
export type ComparisonSide = z.infer<typeof comparisonSideSchema>;
export type AnalysisResults = z.infer<typeof analysisResultsSchema>;
export type ComparisonResults = z.infer<typeof comparisonResultsSchema>;
export type Results = z.infer<typeof resultsSchema>;
export type StudyFactor = z.infer<typeof studyFactorSchema>;
export type StudyGap = z.infer<typeof studyGapSchema>;
export type StudyResults = z.infer<typeof studyResultsSchema>;
/** Everything a results file may hold. */
export type AnyResults = Results | StudyResults;

/**
 * A run's series name: its label ("wanda + compensation", "magnitude 2:4") or, without one, its
 * strategy. Analyses with compensation hold two runs of one strategy, told apart only by this.
 */
export function seriesName(run: Pick<StrategyRun, 'label' | 'strategy'>): string {
  return run.label ?? run.strategy;
}

export class ResultsFormatError extends PruneScopeError {
  override name = 'ResultsFormatError';
}

/**
 * Reads results text from any source (file, webview message). Refuses, with a message naming
 * `source`, anything that is not this format, a version it cannot read, or a malformed field.
 */
export function parseResults(text: string, source: string): Results {
  const json = resultsJson(text, source);
  if ((json as { kind?: unknown }).kind === 'study') {
    throw new ResultsFormatError(`${source}: holds a study (prunescope study), not an analysis or a comparison`);
  }
  return validated(resultsSchema, json, source);
}

/** Any results file, a study included. */
export function parseAnyResults(text: string, source: string): AnyResults {
  const json = resultsJson(text, source);
  if ((json as { kind?: unknown }).kind === 'study') return validated(studyResultsSchema, json, source);
  return validated(resultsSchema, json, source);
}

function validated<T>(schema: z.ZodType<T>, json: unknown, source: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ResultsFormatError(`${source}: malformed results at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The JSON of a results file whose format and version this PruneScope reads. */
function resultsJson(text: string, source: string): object {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ResultsFormatError(`${source}: not a PruneScope results file: invalid JSON (${(e as Error).message})`);
  }
  const head = json as { format?: unknown; version?: unknown } | null;
  if (!head || typeof head !== 'object' || head.format !== RESULTS_FORMAT) {
    throw new ResultsFormatError(`${source}: not a PruneScope results file (no "format": "${RESULTS_FORMAT}")`);
  }
  if (typeof head.version !== 'number' || !Number.isInteger(head.version)) {
    throw new ResultsFormatError(`${source}: results file has no version number`);
  }
  if (head.version > RESULTS_VERSION) {
    throw new ResultsFormatError(
      `${source}: results format version ${head.version} was written by a newer PruneScope; this one reads version ${RESULTS_VERSION}`,
    );
  }
  if (head.version < 1) throw new ResultsFormatError(`${source}: unknown results format version ${head.version}`);
  return head;
}
