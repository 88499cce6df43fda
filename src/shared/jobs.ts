/**
 * The jobs the worker runs, declared once: each job's parameters and result as a zod schema
 * (JOB_SCHEMAS), from which the types are inferred. The schemas live here, beside the types, so a
 * job has one declaration: the worker checks what it receives with them (checkJobParams), the
 * extension checks what comes back (checkJobResult), and the worker's job table (worker/jobs.ts)
 * must have a handler for every job, which the type checker enforces.
 */
import { z } from 'zod';
import { ACTIVATIONS } from '../core/model/mlp';
import { REMOVED_UNITS } from '../core/prune/apply';
import { analysisResultsSchema, comparisonResultsSchema, studyResultsSchema } from '../core/results/format';
import type { ModelSummary } from '../core/model/summary';
import type { LayerWeightHistogram } from '../core/model/weight-histogram';
import { checked, type Checked } from './parse';

// ---- shared pieces ----

const finite = z.number().finite();
const share = finite.min(0).max(1);
const count = z.number().int().nonnegative();

export const backendPreferenceSchema = z.enum(['auto', 'tensorflow', 'wasm', 'cpu']);
/** core/backend.ts ENGINE_PREFERENCES: who runs the dense work (forward passes, CKA products). */
export const enginePreferenceSchema = z.enum(['auto', 'onnxruntime', 'wasm', 'tfjs-node']);
export const normalizationSchema = z.enum(['unit', 'zscore', 'none']);
export const activationSchema = z.enum(ACTIVATIONS);
export const splitSchema = z.enum(['train', 'validation', 'test']);

/** Where data comes from: "mnist" or an absolute path, plus how to normalise it (loader default when absent). */
const dataFields = {
  dataset: z.string().min(1),
  normalization: normalizationSchema.optional(),
};
const readFields = {
  /** For formats without stored activations (safetensors). */
  activation: activationSchema.optional(),
  outputActivation: activationSchema.optional(),
};
const computeFields = { backend: backendPreferenceSchema.default('auto'), engine: enginePreferenceSchema.default('auto') };

export const removedUnitsSchema = z.enum(REMOVED_UNITS);
/** "N:M" with 0 < N < M: keep N of every M consecutive weights of a unit. */
export const nmPatternSchema = z
  .string()
  .regex(/^\d+:\d+$/, 'not N:M (e.g. 2:4)')
  .refine((t) => {
    const [n, m] = t.split(':').map(Number);
    return n > 0 && n < m;
  }, 'N:M needs 0 < N < M (e.g. 2:4)');

/**
 * How pruning is carried out beyond strategy and sparsity (core/experiments/pruning-options.ts):
 * compensation, its calibration rows of the validation split, what removed units leave, an N:M
 * pattern. Absent fields take the core's defaults (no compensation, 2048 rows, 'constant').
 */
const pruningFields = {
  compensate: z.boolean().optional(),
  calibration: z.number().int().min(2).optional(),
  removedUnits: removedUnitsSchema.optional(),
  pattern: nmPatternSchema.optional(),
};

const weightStatsSchema = z.object({ mean: finite, std: finite, min: finite, max: finite, meanAbs: finite });

export const modelSummarySchema = z.object({
  name: z.string(),
  format: z.string(),
  producer: z.string().nullable(),
  path: z.string().nullable(),
  inputShape: z.array(z.number()),
  inputSize: count,
  outputSize: count,
  parameters: count,
  sparsity: share,
  layers: z.array(
    z.object({
      index: count,
      name: z.string(),
      inputSize: count,
      units: count,
      activation: z.string(),
      hasBias: z.boolean(),
      dropout: finite,
      parameters: count,
      sparsity: share,
      zeroWeights: count,
      weights: weightStatsSchema,
      bias: weightStatsSchema.nullable(),
    }),
  ),
  notes: z.array(z.string()),
});
// Fails to compile when summary.ts changes shape without this schema following.
const _summaryMatches: z.ZodType<ModelSummary> = modelSummarySchema;
void _summaryMatches;

export const epochInfoSchema = z.object({
  epoch: count,
  epochs: count,
  loss: finite.nullable(),
  accuracy: finite.nullable(),
  valLoss: finite.nullable(),
  valAccuracy: finite.nullable(),
});

// ---- jobs ----

/** What this installation offers: strategies, similarity metrics, backends that load. */
export const describeParamsSchema = z.object({});
export const describeResultSchema = z.object({
  strategies: z.array(
    z.object({
      id: z.string(),
      label: z.string(),
      kind: z.enum(['structured', 'unstructured']),
      description: z.string(),
      needsSamples: z.boolean(),
    }),
  ),
  metrics: z.array(z.object({ id: z.string(), label: z.string(), description: z.string() })),
  backends: z.array(z.string()),
});

const histogramSchema = z.object({ edges: z.array(finite), counts: z.array(count) });
export const weightHistogramSchema = z.object({
  layer: z.string(),
  weights: count,
  zeros: count,
  nonFinite: count,
  linear: histogramSchema,
  log: histogramSchema.nullable(),
});
// Fails to compile when weight-histogram.ts changes shape without this schema following.
const _histogramMatches: z.ZodType<LayerWeightHistogram> = weightHistogramSchema;
void _histogramMatches;

export const inspectParamsSchema = z.object({ model: z.string().min(1), ...readFields });
export const inspectResultSchema = z.object({
  summary: modelSummarySchema,
  /** Every file the model consists of (model.json and its weight shards, ...). */
  files: z.array(z.string()),
  bytes: count,
  /** Per layer, how |w| is spread (core/model/weight-histogram.ts); the inspector draws it. */
  histograms: z.array(weightHistogramSchema).optional(),
});

export const evaluateParamsSchema = z.object({
  model: z.string().min(1),
  reference: z.string().min(1).optional(),
  split: splitSchema.default('test'),
  ...dataFields,
  ...readFields,
  ...computeFields,
});
export const evaluateResultSchema = z.object({
  data: z.string(),
  samples: count,
  accuracy: finite.nullable(),
  loss: finite.nullable(),
  agreement: finite.nullable(),
  backend: z.string(),
  /** The engine that ran the forward passes (onnxruntime, wasm, tfjs-node, tfjs-cpu). */
  engine: z.string().optional(),
});

/**
 * Jobs that write files never replace an existing one unless the person gave it up (the
 * extension asked and they confirmed), and never a file the job reads (core/io/scope.ts).
 */
const replaceField = { replace: z.boolean().optional() };

export const trainParamsSchema = z.object({
  ...dataFields,
  ...computeFields,
  hidden: z.array(z.number().int().positive()).min(1),
  dropout: finite.min(0).max(0.99),
  epochs: z.number().int().positive(),
  patience: count,
  batchSize: z.number().int().positive(),
  learningRate: finite.positive(),
  seed: count,
  /** Folder to write model.json, its weights and history.json into. */
  out: z.string().min(1),
  ...replaceField,
});
export const trainResultSchema = z.object({
  out: z.string(),
  files: z.array(z.string()),
  epochs: z.array(epochInfoSchema),
  backend: z.string(),
});

export const analyzeParamsSchema = z.object({
  model: z.string().min(1),
  ...dataFields,
  ...readFields,
  ...computeFields,
  strategies: z.array(z.string().min(1)).min(1),
  sparsities: z.array(share).min(1),
  finetuneEpochs: count,
  iterations: z.number().int().positive(),
  samples: z.number().int().positive(),
  metric: z.string().min(1).optional(),
  seed: count.optional(),
  ...pruningFields,
});

export const pruneParamsSchema = z.object({
  model: z.string().min(1),
  /** Output model file; the extension picks a name that exists nowhere yet. */
  out: z.string().min(1),
  strategy: z.string().min(1),
  sparsity: share,
  ...readFields,
  ...computeFields,
  /** Data for data-driven strategies and fine-tuning; absent for strategies that need none. */
  dataset: z.string().min(1).optional(),
  normalization: normalizationSchema.optional(),
  finetuneEpochs: count,
  /** Rounds of prune-then-fine-tune (iterative schedule); 1 or absent: one-shot. */
  iterations: z.number().int().positive().optional(),
  samples: z.number().int().positive(),
  seed: count.optional(),
  ...pruningFields,
  ...replaceField,
});
const evaluationSchema = z.object({ accuracy: finite, loss: finite, samples: count, agreement: finite.optional() });
export const pruneResultSchema = z.object({
  out: z.string(),
  files: z.array(z.string()),
  bytesBefore: count,
  bytesAfter: count,
  strategy: z.string(),
  kind: z.enum(['structured', 'unstructured']),
  sparsity: finite,
  /** Whether the weights that stay were refit on calibration rows. */
  compensated: z.boolean(),
  actualSparsity: finite,
  layers: z.array(z.object({ name: z.string(), unitsBefore: count, units: count, sparsity: finite })),
  /** The original's and the pruned model's, on the evaluation (test) split, when data was given. */
  before: evaluationSchema.optional(),
  after: evaluationSchema.optional(),
  notes: z.array(z.string()),
  /** The engine that ran the evaluations (onnxruntime, wasm, tfjs-node, tfjs-cpu). */
  engine: z.string().optional(),
});

export const compareParamsSchema = z.object({
  a: z.string().min(1),
  b: z.string().min(1),
  ...dataFields,
  ...readFields,
  ...computeFields,
  samples: z.number().int().positive(),
  metric: z.string().min(1).optional(),
  /** An earlier comparison of these files (the panel's metric switch): its geometry is reused where it still applies. */
  previous: comparisonResultsSchema.optional(),
});

/**
 * `prunescope study` (core/experiments/study.ts) as a job: fields left out take the core's
 * defaults (the default grid around 784-512-512-10, cka against unit-l1). It writes results.json
 * and report.html into `out`, a folder the extension named so that nothing is there yet.
 */
export const studyParamsSchema = z.object({
  ...dataFields,
  ...computeFields,
  base: z.object({ width: z.number().int().positive(), depth: z.number().int().positive(), dropout: finite.min(0).max(0.99) }).optional(),
  /** Values per varied factor; a factor left out is not varied. Absent: the default grid. */
  factors: z
    .strictObject({
      dropout: z.array(finite.min(0).max(0.99)).min(1).optional(),
      width: z.array(z.number().int().positive()).min(1).optional(),
      depth: z.array(z.number().int().positive()).min(1).optional(),
    })
    .optional(),
  epochs: z.number().int().positive().optional(),
  trainSamples: z.number().int().positive().optional(),
  validationSamples: z.number().int().min(2).optional(),
  testSamples: z.number().int().positive().optional(),
  samples: z.number().int().min(2).optional(),
  sparsities: z.array(finite.min(0).max(0.99)).min(1).optional(),
  finetuneEpochs: z.number().int().positive().optional(),
  iterations: z.number().int().positive().optional(),
  strategies: z.tuple([z.string().min(1), z.string().min(1)]).optional(),
  seed: count.optional(),
  budgetSeconds: finite.positive().optional(),
  out: z.string().min(1),
  ...replaceField,
});
export const studyResultSchema = z.object({
  out: z.string(),
  /** results.json, then report.html. */
  files: z.array(z.string()),
  results: studyResultsSchema,
});

/** Every job: its parameters and its result. Adding a job is one entry here and one handler in a table of src/worker/jobs.ts. */
export const JOB_SCHEMAS = {
  describe: { params: describeParamsSchema, result: describeResultSchema },
  inspect: { params: inspectParamsSchema, result: inspectResultSchema },
  evaluate: { params: evaluateParamsSchema, result: evaluateResultSchema },
  train: { params: trainParamsSchema, result: trainResultSchema },
  analyze: { params: analyzeParamsSchema, result: analysisResultsSchema },
  prune: { params: pruneParamsSchema, result: pruneResultSchema },
  compare: { params: compareParamsSchema, result: comparisonResultsSchema },
  study: { params: studyParamsSchema, result: studyResultSchema },
} as const;

export type JobKind = keyof typeof JOB_SCHEMAS;
export const JOB_KINDS = Object.keys(JOB_SCHEMAS) as JobKind[];
/** What a caller passes (fields with defaults may be left out). */
export type JobParamsInput<K extends JobKind> = z.input<(typeof JOB_SCHEMAS)[K]['params']>;
/** What a handler receives, defaults filled in. */
export type JobParams<K extends JobKind> = z.output<(typeof JOB_SCHEMAS)[K]['params']>;
export type JobResult<K extends JobKind> = z.output<(typeof JOB_SCHEMAS)[K]['result']>;

/**
 * The paths a job writes (files or folders), from its parameters. A job that does not succeed
 * leaves none of them behind: the worker stages its writes into one group (writeGroup), and the
 * client cleans these locations after a worker that died midway.
 */
export function jobOutputs(job: JobKind, params: unknown): string[] {
  if (job !== 'prune' && job !== 'train' && job !== 'study') return [];
  const out = (params as { out?: unknown } | null)?.out;
  return typeof out === 'string' && out.length > 0 ? [out] : [];
}

/** The parameters, defaults filled in, or the field at fault. */
export function checkJobParams<K extends JobKind>(job: K, params: unknown): Checked<JobParams<K>> {
  const schema = JOB_SCHEMAS[job].params as unknown as z.ZodType<JobParams<K>>;
  return checked(schema.safeParse(params), `invalid ${job} parameters`);
}

/** The result, or the field at fault (a worker that answers nonsense is a bug, reported as a crash). */
export function checkJobResult<K extends JobKind>(job: K, result: unknown): Checked<JobResult<K>> {
  const schema = JOB_SCHEMAS[job].result as unknown as z.ZodType<JobResult<K>>;
  return checked(schema.safeParse(result), `malformed ${job} result`);
}
