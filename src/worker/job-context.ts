/**
 * What a job handler is: the types the job tables (jobs-core.ts, jobs-experiments.ts) implement
 * and jobs.ts assembles. Kept apart from jobs.ts so that the tables do not import the module that
 * imports them.
 */
import type { JobKind, JobParams, JobResult } from '../shared/jobs';

/** What a running job may use: its cancellation signal and a way to report progress and log. */
export interface JobContext {
  signal: AbortSignal;
  /** `fraction` in [0, 1], or null when the job cannot tell. */
  progress(fraction: number | null, message: string): void;
  log(message: string): void;
}

export type JobHandler<K extends JobKind> = (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>>;
export type JobTable<K extends JobKind = JobKind> = { [P in K]: JobHandler<P> };
