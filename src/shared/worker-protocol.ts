/**
 * The extension <-> worker boundary. Every message is a member of a discriminated union on
 * `type`; both sides validate what they receive with the schemas below, ignore anything else, and
 * hand the rest to a handler table (dispatch.ts) that must cover every message type. What a job
 * takes and returns is declared in jobs.ts.
 */
import { z } from 'zod';
import { JOB_KINDS, type JobKind } from './jobs';
import { parserOf } from './parse';

// What V8 and Emscripten print or throw when memory runs out: a fatal heap OOM (on stderr, then
// the process aborts), a wasm memory that cannot grow, a buffer that cannot be allocated.
const MEMORY_FAILURES: [RegExp, string][] = [
  [/Reached heap limit|JavaScript heap out of memory|Ineffective mark-compacts near heap limit/, 'JavaScript heap'],
  [/process out of memory|Fatal process out of memory/i, 'process memory'],
  [
    /WebAssembly\.Memory(?:\.grow)?\(\): (?:Maximum memory size exceeded|could not allocate memory|Out of memory)|Cannot allocate Wasm memory|Cannot enlarge memory|Aborted\(OOM\)/i,
    'WebAssembly memory',
  ],
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
const share = z.number().finite().min(0).max(1);

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

/** The message, or undefined for anything that is not a valid extension -> worker message. */
export const parseToWorker: (value: unknown) => ToWorkerMessage | undefined = parserOf(toWorkerSchema);

/** The message, or undefined for anything that is not a valid worker -> extension message. */
export const parseFromWorker: (value: unknown) => FromWorkerMessage | undefined = parserOf(fromWorkerSchema);
