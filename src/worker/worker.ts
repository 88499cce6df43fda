/**
 * The PruneScope worker: a child process (forked by WorkerClient) that runs core jobs one at a
 * time, so a long analysis never blocks the extension host and a crash takes down only this
 * process. It speaks src/shared/worker-protocol.ts over the IPC channel.
 */
import { format } from 'node:util';
import { CancelledError, isPruneScopeError } from '../core/errors';
import { setWriteHookForTests, writeGroup } from '../core/io/atomic';
import { withWriteScope } from '../core/io/scope';
import { dispatch, type MessageHandlers } from '../shared/dispatch';
import { checkJobParams } from '../shared/jobs';
import {
  memoryFailure,
  outOfMemoryMessage,
  parseToWorker,
  type FromWorkerMessage,
  type JobErrorInfo,
  type LogLevel,
  type RunMessage,
  type ToWorkerMessage,
} from '../shared/worker-protocol';
import type { JobContext } from './job-context';
import { JOBS } from './jobs';

function send(message: FromWorkerMessage, then?: () => void): void {
  if (!process.connected) then?.();
  else if (then) process.send!(message, () => then());
  else process.send!(message);
}

function log(level: LogLevel, message: string): void {
  send({ type: 'log', level, message });
}

// Libraries print to the console (tfjs greets on stdout); route it to the extension's log instead.
console.log = (...args: unknown[]) => log('info', format(...args));
console.info = console.log;
console.warn = (...args: unknown[]) => log('warn', format(...args));
console.error = (...args: unknown[]) => log('error', format(...args));

const heartbeatMs = Number(process.env.PRUNESCOPE_HEARTBEAT_MS) > 0 ? Number(process.env.PRUNESCOPE_HEARTBEAT_MS) : 2000;
setInterval(() => send({ type: 'heartbeat' }), heartbeatMs).unref();

const CANCELLED: JobErrorInfo = { kind: 'cancelled', message: new CancelledError().message };

function describeError(
  e: unknown,
  signal: AbortSignal,
  job: RunMessage['job'],
  step: string | undefined,
): JobErrorInfo & { memory?: boolean } {
  if (signal.aborted || e instanceof CancelledError) return CANCELLED;
  if (isPruneScopeError(e)) return { kind: 'input', message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  const memory = memoryFailure(`${err.name}: ${err.message}`);
  if (memory) {
    return { kind: 'crash', message: outOfMemoryMessage(`${memory}: ${err.message}`, job, step), detail: err.stack, memory: true };
  }
  return { kind: 'crash', message: `${err.name}: ${err.message}`, detail: err.stack };
}

// Test hook (worker-client.test.ts): PRUNESCOPE_TEST_PAUSE_WRITE=stage:n stops the nth write stage
// of this process (see setWriteHookForTests) until the running job is cancelled, so a test can
// kill or cancel the worker at an exact point of a write.
let currentSignal: AbortSignal | undefined;
const pauseAt = /^(staged|journaled|renamed):(\d+)$/.exec(process.env.PRUNESCOPE_TEST_PAUSE_WRITE ?? '');
if (pauseAt) {
  let seen = 0;
  setWriteHookForTests(async (stage, path) => {
    if (stage !== pauseAt[1] || ++seen !== Number(pauseAt[2])) return;
    log('info', `test: paused at ${stage} ${seen} (${path})`);
    const signal = currentSignal;
    if (signal && !signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  });
}

const queue: RunMessage[] = [];
const controllers = new Map<number, AbortController>();
let running = false;

async function runOne(msg: RunMessage): Promise<void> {
  const controller = controllers.get(msg.id)!;
  const { signal } = controller;
  const checked = checkJobParams(msg.job, msg.params);
  if (!checked.ok) {
    send({ type: 'error', id: msg.id, error: { kind: 'input', message: checked.problem } });
    return;
  }
  send({ type: 'started', id: msg.id });
  let step: string | undefined;
  const ctx: JobContext = {
    signal,
    progress: (fraction, message) => {
      const f = fraction === null || !Number.isFinite(fraction) ? null : Math.min(1, Math.max(0, fraction));
      step = message;
      send({ type: 'progress', id: msg.id, fraction: f, message });
    },
    log: (message) => log('info', message),
  };
  currentSignal = signal;
  try {
    // The table is indexed by a union key, which TypeScript cannot correlate with params.
    const handler = JOBS[msg.job] as (p: unknown, c: JobContext) => Promise<unknown>;
    // Every file the job writes appears when it returns, or none does (failure, cancel).
    // and none replaces a file the person did not give up, or one the job read.
    const replace = (checked.value as { replace?: boolean }).replace === true;
    const { value: result, files } = await withWriteScope({ replace }, () => writeGroup(() => handler(checked.value, ctx), { signal }));
    // A cancel that came after the files were committed is too late: the job is done.
    if (signal.aborted && files.length === 0) throw new CancelledError();
    send({ type: 'result', id: msg.id, result });
  } catch (e) {
    const { memory, ...error } = describeError(e, signal, msg.job, step);
    if (memory) {
      // Memory that ran out once leaves tfjs (and a wasm heap) in no state to trust: the next job gets a fresh process.
      send({ type: 'error', id: msg.id, error }, () => process.exit(75));
      await new Promise(() => undefined);
    }
    send({ type: 'error', id: msg.id, error });
  } finally {
    currentSignal = undefined;
  }
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (let msg = queue.shift(); msg; msg = queue.shift()) {
      try {
        await runOne(msg);
      } finally {
        controllers.delete(msg.id);
      }
    }
  } finally {
    running = false;
  }
}

/** What the extension may say: run a job (queued behind the running one), cancel one. */
const FROM_EXTENSION: MessageHandlers<ToWorkerMessage> = {
  run(msg) {
    if (controllers.has(msg.id)) {
      log('warn', `ignored a second job with id ${msg.id}`);
      return;
    }
    controllers.set(msg.id, new AbortController());
    queue.push(msg);
    void drain();
  },
  cancel(msg) {
    const waiting = queue.findIndex((q) => q.id === msg.id);
    if (waiting >= 0) {
      queue.splice(waiting, 1);
      controllers.delete(msg.id);
      send({ type: 'error', id: msg.id, error: CANCELLED });
    } else {
      controllers.get(msg.id)?.abort(new CancelledError());
    }
  },
};

process.on('message', (raw: unknown) => {
  const msg = parseToWorker(raw);
  if (msg) dispatch(FROM_EXTENSION, msg);
  else log('warn', 'ignored a message that is not part of the worker protocol');
});

// The extension went away: nothing will read our results.
process.on('disconnect', () => process.exit(0));

process.on('uncaughtException', (e) => {
  process.stderr.write(`uncaught exception in the PruneScope worker: ${e.stack ?? e.message}\n`);
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`unhandled rejection in the PruneScope worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(70);
});

if (!process.send) {
  process.stderr.write('the PruneScope worker must be started by the extension (child_process.fork)\n');
  process.exit(64);
}
send({ type: 'ready', pid: process.pid, node: process.version });
