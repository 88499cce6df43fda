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
  }),
  layers: z.array(layerPointSchema),
  /** Rows: layers of the original; columns: layers of the pruned model. */
  similarityMatrix: matrix,
  /** Epochs of fine-tuning spent to reach this point. */
  finetuneEpochs: z.number().int().nonnegative(),
  /** Bytes of weights, biases and sparse indices the pruned model takes as ONNX; absent in older files. */
  onnxBytes: z.number().int().nonnegative().optional(),
});

export const scheduleSchema = z.enum(['one-shot', 'iterative', 'imp-rewind', 'trimming', 'gradual']);

export const strategyRunSchema = z.object({
  strategy: z.string(),
  /**
   * The series' name where the strategy alone does not tell runs apart: "wanda + compensation",
   * "magnitude 2:4". Readers show `label ?? strategy`. Absent in files written before it existed.
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
});

export const baselineSchema = z.object({
  accuracy: share,
  loss: num,
  parameters: z.number().int().nonnegative(),
  flops: z.number().nonnegative(),
  latency: z.object({ denseMsPer100: num, onnxruntimeMsPer100: num.nullable().optional() }),
  /** As a point's onnxBytes, for the original. */
  onnxBytes: z.number().int().nonnegative().optional(),
  apoz: z.array(layerApozSchema),
  /** The original against itself, layer by layer. */
  similarityMatrix: matrix,
  /** One per hidden layer; absent in files written before it existed (or when skipped). */
  geometry: z.array(layerGeometrySchema).optional(),
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
  /** `engine`: what ran the dense work (onnxruntime, wasm, tfjs-node, tfjs-cpu); absent in files before it was recorded. */
  backend: z.object({ name: z.string(), tfjsVersion: z.string(), engine: z.string().optional() }),
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
  a: comparisonSideSchema,
  b: comparisonSideSchema,
  /** Rows: layers of A; columns: layers of B. */
  cross: matrix,
});

export const resultsSchema = z.discriminatedUnion('kind', [analysisResultsSchema, comparisonResultsSchema]);

export type Histogram = z.infer<typeof histogramSchema>;
export type LayerApoz = z.infer<typeof layerApozSchema>;
export type CurvePointInfo = z.infer<typeof curvePointSchema>;
export type LayerGeometry = z.infer<typeof layerGeometrySchema>;
export type ModelInfo = z.infer<typeof modelInfoSchema>;
export type DatasetInfo = z.infer<typeof datasetInfoSchema>;
export type LayerPoint = z.infer<typeof layerPointSchema>;
export type Point = z.infer<typeof pointSchema>;
export type ScheduleName = z.infer<typeof scheduleSchema>;
export type StrategyRun = z.infer<typeof strategyRunSchema>;
export type Baseline = z.infer<typeof baselineSchema>;
export type AnalysisSettings = z.infer<typeof analysisSettingsSchema>;
export type ComparisonSide = z.infer<typeof comparisonSideSchema>;
export type AnalysisResults = z.infer<typeof analysisResultsSchema>;
export type ComparisonResults = z.infer<typeof comparisonResultsSchema>;
export type Results = z.infer<typeof resultsSchema>;

export class ResultsFormatError extends PruneScopeError {
  override name = 'ResultsFormatError';
}

/**
 * Reads results text from any source (file, webview message). Refuses, with a message naming
 * `source`, anything that is not this format, a version it cannot read, or a malformed field.
 */
export function parseResults(text: string, source: string): Results {
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
  const parsed = resultsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ResultsFormatError(`${source}: malformed results at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}
