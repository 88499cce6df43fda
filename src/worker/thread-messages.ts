/**
 * What the worker's two threads say to each other (host.ts <-> job-thread.ts). Both ends are this
 * process's own code, built from one bundle, so these are plain types, not validated schemas; what
 * crosses to the extension is still worker-protocol.ts.
 */
import type { FromWorkerMessage, RunMessage } from '../shared/worker-protocol';

/** Host -> job thread: run one job (the host sends the next only after this one ended), or cancel it. */
export type ToJobThread = RunMessage | { type: 'cancel'; id: number };

type JobReport = Extract<FromWorkerMessage, { type: 'started' | 'progress' | 'result' | 'log' }>;

/**
 * Job thread -> host: what the extension is to hear (passed on as it is), plus
 * `committing` (the job's files are being put in place: let it finish rather than stop the
 * thread) and, on an error, `fresh` (memory ran out: run the next job on a new thread).
 */
export type FromJobThread =
  JobReport | (Extract<FromWorkerMessage, { type: 'error' }> & { fresh?: boolean }) | { type: 'committing'; id: number };
