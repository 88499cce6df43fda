import type { JobKind, JobParams, JobResult } from '../shared/worker-protocol';
import { CORE_JOBS } from './jobs-core';
import { EXPERIMENT_JOBS } from './jobs-experiments';

/** What a running job may use: its cancellation signal and a way to report progress and log. */
export interface JobContext {
  signal: AbortSignal;
  /** `fraction` in [0, 1], or null when the job cannot tell. */
  progress(fraction: number | null, message: string): void;
  log(message: string): void;
}

export type JobHandler<K extends JobKind> = (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>>;
export type JobTable<K extends JobKind = JobKind> = { [P in K]: JobHandler<P> };

/** Every job the worker runs; the type says a protocol job without a handler is a compile error. */
export const JOBS: JobTable = { ...CORE_JOBS, ...EXPERIMENT_JOBS };
