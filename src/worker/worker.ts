/**
 * The PruneScope worker: a child process (forked by WorkerClient) that runs core jobs one at a
 * time, so a long analysis never blocks the extension host and a crash takes down only this
 * process. Its main thread (host.ts) speaks src/shared/worker-protocol.ts over the IPC channel
 * and runs each job on a job thread (job-thread.ts) started from this same script, so that no
 * computation keeps it from answering heartbeats and cancellations.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type * as HostModule from './host';
import type * as JobThreadModule from './job-thread';

function fail(what: string, code: number): (e: unknown) => never {
  return (e) => {
    process.stderr.write(`${what} in the PruneScope worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(code);
  };
}

const data = workerData as { prunescope?: string; flags?: Int32Array } | null;

if (!isMainThread && data?.prunescope === 'job-thread' && data.flags && parentPort) {
  // Loaded here, not on the main thread: the engine, tfjs and the formats are the job thread's alone.
  // An uncaught exception here ends the thread; the host hears it as the thread's 'error' and fails the job with it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on the thread that runs jobs only
  (require('./job-thread') as typeof JobThreadModule).startJobThread(parentPort, data.flags);
} else if (!process.send) {
  process.stderr.write('the PruneScope worker must be started by the extension (child_process.fork)\n');
  process.exit(64);
} else {
  process.on('uncaughtException', fail('uncaught exception', 70));
  process.on('unhandledRejection', fail('unhandled rejection', 70));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the main thread never loads the job code
  (require('./host') as typeof HostModule).startHost(__filename);
}
