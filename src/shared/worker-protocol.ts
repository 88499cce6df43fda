/**
 * The extension <-> worker boundary. Every message is a member of a discriminated union on
 * `type`; both sides validate what they receive with the schemas below and ignore anything else.
 * A job is declared once in JOB_SCHEMAS (its parameters and its result); the worker's job table
 * (jobs.ts) must then have a handler for it, which the type checker enforces.
 */
import { z } from 'zod';
import { ACTIVATIONS } from '../core/model/mlp';
import { analysisResultsSchema, comparisonResultsSchema } from '../core/results/format';
import type { ModelSummary } from '../core/model/summary';

// ---- shared pieces ----

const finite = z.number().finite();
const share = finite.min(0).max(1);
const count = z.number().int().nonnegative();

export const backendPreferenceSchema = z.enum(['auto', 'tensorflow', 'wasm', 'cpu']);
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
const computeFields = { backend: backendPreferenceSchema.default('auto') };

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
    z.object({ id: z.string(), label: z.string(), kind: z.enum(['structured', 'unstructured']), description: z.string(), needsSamples: z.boolean() }),
  ),
  metrics: z.array(z.object({ id: z.string(), label: z.string(), description: z.string() })),
  backends: z.array(z.string()),
});

export const inspectParamsSchema = z.object({ model: z.string().min(1), ...readFields });
export const inspectResultSchema = z.object({
  summary: modelSummarySchema,
  /** Every file the model consists of (model.json and its weight shards, ...). */
  files: z.array(z.string()),
  bytes: count,
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
  samples: z.number().int().positive(),
  seed: count.optional(),
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
  actualSparsity: finite,
  layers: z.array(z.object({ name: z.string(), unitsBefore: count, units: count, sparsity: finite })),
  before: evaluationSchema.optional(),
  after: evaluationSchema.optional(),
  notes: z.array(z.string()),
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

/** Every job: its parameters and its result. Adding a job is one entry here and one handler in jobs.ts. */
export const JOB_SCHEMAS = {
  describe: { params: describeParamsSchema, result: describeResultSchema },
  inspect: { params: inspectParamsSchema, result: inspectResultSchema },
  evaluate: { params: evaluateParamsSchema, result: evaluateResultSchema },
  train: { params: trainParamsSchema, result: trainResultSchema },
  analyze: { params: analyzeParamsSchema, result: analysisResultsSchema },
  prune: { params: pruneParamsSchema, result: pruneResultSchema },
  compare: { params: compareParamsSchema, result: comparisonResultsSchema },
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
  if (job !== 'prune' && job !== 'train') return [];
  const out = (params as { out?: unknown } | null)?.out;
  return typeof out === 'string' && out.length > 0 ? [out] : [];
}

// What V8 and Emscripten print or throw when memory runs out: a fatal heap OOM (on stderr, then
// the process aborts), a wasm memory that cannot grow, a buffer that cannot be allocated.
const MEMORY_FAILURES: [RegExp, string][] = [
  [/Reached heap limit|JavaScript heap out of memory|Ineffective mark-compacts near heap limit/, 'JavaScript heap'],
  [/process out of memory|Fatal process out of memory/i, 'process memory'],
  [/WebAssembly\.Memory(?:\.grow)?\(\): (?:Maximum memory size exceeded|could not allocate memory|Out of memory)|Cannot allocate Wasm memory|Cannot enlarge memory|Aborted\(OOM\)/i, 'WebAssembly memory'],
  [/Array buffer allocation failed|ArrayBuffer allocation failed/, 'buffer allocation'],
];

/** Which memory ran out, when `text` (an error message or a stderr tail) says memory ran out. */
export function memoryFailure(text: string): string | undefined {
  for (const [pattern, what] of MEMORY_FAILURES) if (pattern.test(text)) return what;
  return undefined;
}

/** The message a job gets when the worker ran out of memory: which memory, the job and its last step. */
export function outOfMemoryMessage(what: string, job: JobKind, step?: string): string {
  return `the background process ran out of memory (${what}) while running ${job}${step ? ` (${step})` : ''}`;
}

// ---- messages: extension -> worker ----

const jobKindSchema = z.enum(JOB_KINDS as [JobKind, ...JobKind[]]);
const idSchema = z.number().int().nonnegative();

export const toWorkerSchema = z.discriminatedUnion('type', [
  /** `params` is checked against the job's schema by the worker, which answers an input error when it does not fit. */
  z.object({ type: z.literal('run'), id: idSchema, job: jobKindSchema, params: z.unknown() }),
  z.object({ type: z.literal('cancel'), id: idSchema }),
]);
export type ToWorkerMessage = z.infer<typeof toWorkerSchema>;
export type RunMessage = Extract<ToWorkerMessage, { type: 'run' }>;

// ---- messages: worker -> extension ----

/**
 * input: the job's input is wrong (a file, a setting); show the message alone.
 * crash: a bug or the worker died; the message says so and the log has the rest.
 * cancelled: someone asked the job to stop.
 */
export const ERROR_KINDS = ['input', 'crash', 'cancelled'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export const jobErrorSchema = z.object({
  kind: z.enum(ERROR_KINDS),
  message: z.string(),
  /** Stack of a crash, for the log. */
  detail: z.string().optional(),
});
export type JobErrorInfo = z.infer<typeof jobErrorSchema>;

export const LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const fromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int(), node: z.string() }),
  z.object({ type: z.literal('heartbeat') }),
  z.object({ type: z.literal('started'), id: idSchema }),
  z.object({
    type: z.literal('progress'),
    id: idSchema,
    /** Share of the job done, or null when unknown. */
    fraction: share.nullable(),
    message: z.string(),
  }),
  /** `result` is checked against the job's result schema by the receiver (it knows the job of `id`). */
  z.object({ type: z.literal('result'), id: idSchema, result: z.unknown() }),
  z.object({ type: z.literal('error'), id: idSchema, error: jobErrorSchema }),
  z.object({ type: z.literal('log'), level: z.enum(LOG_LEVELS), message: z.string() }),
]);
export type FromWorkerMessage = z.infer<typeof fromWorkerSchema>;

/** A parser that returns the value when it fits the schema, else undefined (receivers ignore what does not fit). */
export function parserOf<T>(schema: z.ZodType<T>): (value: unknown) => T | undefined {
  return (value) => {
    const r = schema.safeParse(value);
    return r.success ? r.data : undefined;
  };
}

/** The message, or undefined for anything that is not a valid extension -> worker message. */
export const parseToWorker: (value: unknown) => ToWorkerMessage | undefined = parserOf(toWorkerSchema);

/** The message, or undefined for anything that is not a valid worker -> extension message. */
export const parseFromWorker: (value: unknown) => FromWorkerMessage | undefined = parserOf(fromWorkerSchema);

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

function checked<T>(r: { success: true; data: T } | { success: false; error: z.ZodError }, what: string): Checked<T> {
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const at = issue.path.length ? issue.path.join('.') : '(top)';
  return { ok: false, problem: `${what}: ${at}: ${issue.message}` };
}

export function checkJobParams<K extends JobKind>(job: K, params: unknown): Checked<JobParams<K>> {
  const schema = JOB_SCHEMAS[job].params as unknown as z.ZodType<JobParams<K>>;
  return checked(schema.safeParse(params), `invalid ${job} parameters`);
}

export function checkJobResult<K extends JobKind>(job: K, result: unknown): Checked<JobResult<K>> {
  const schema = JOB_SCHEMAS[job].result as unknown as z.ZodType<JobResult<K>>;
  return checked(schema.safeParse(result), `malformed ${job} result`);
}
