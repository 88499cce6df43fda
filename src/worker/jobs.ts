import type { JobTable } from './job-context';
import { CORE_JOBS } from './jobs-core';
import { EXPERIMENT_JOBS } from './jobs-experiments';
import { STUDY_JOBS } from './jobs-study';

/** Every job the worker runs; the type says a protocol job without a handler is a compile error. */
export const JOBS: JobTable = { ...CORE_JOBS, ...EXPERIMENT_JOBS, ...STUDY_JOBS };
