/**
 * The worker's main thread: it speaks src/shared/worker-protocol.ts with the extension and does
 * nothing else, so heartbeats and cancellation are answered within milliseconds whatever a job
 * is doing. Jobs run one at a time on a job thread (job-thread.ts). A cancelled job gets
 * CANCEL_GRACE_MS to stop through its AbortSignal; a job still inside a synchronous step by then
 * (a decomposition, a training batch) is stopped by ending its thread, and the next job gets a new
 * one. A thread inside a call into onnxruntime's native code is ended only once that call returns
 * (native-gate.ts): ending it there would abort the whole process. Files are safe either way: a
 * job writes only temporaries until it commits, the thread is never ended while it commits, and
 * the extension removes what a stopped job left (its cleanup after any failure).
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../core/errors';
import { dispatch, type MessageHandlers } from '../shared/dispatch';
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
import { CANCELLED_JOB, closeGate, sharedFlags } from './native-gate';
import type { FromJobThread, ToJobThread } from './thread-messages';

/** How long a cancelled job may take to stop by itself before its thread is ended. */
export const CANCEL_GRACE_MS = 300;

const CANCELLED: JobErrorInfo = { kind: 'cancelled', message: new CancelledError().message };

function send(message: FromWorkerMessage): void {
  if (process.connected) process.send!(message);
}

function log(level: LogLevel, message: string): void {
  send({ type: 'log', level, message });
}

/** The --max-old-space-size this process runs with (job threads share it), for an out-of-memory message. */
function heapLimit(): string {
  const flag = process.execArgv.map((f) => /^--max-old-space-size=(\d+)$/.exec(f)).find((m) => m);
  return flag ? `JavaScript heap limit of ${flag[1]} MB reached` : 'JavaScript heap';
}

interface Running {
  msg: RunMessage;
  thread: JobThread;
  /** The job's last progress message: what it was doing, for an out-of-memory message. */
  step?: string;
  /** Its files are being put in place: it is not stopped by ending the thread. */
  committing: boolean;
  cancelTimer?: NodeJS.Timeout;
}

/** One job thread; `onMessage`/`onDeath` stop being called once it is retired. */
class JobThread {
  private readonly worker: Worker;
  private retired = false;
  /** Shared with the thread: the job cancelled, and the gate around its native calls (native-gate.ts). */
  private readonly flags = sharedFlags();

  constructor(entry: string, onMessage: (m: FromJobThread) => void, onDeath: (why: Error) => void) {
    const workerData = { prunescope: 'job-thread', flags: this.flags };
    this.worker = new Worker(entry, { workerData, stdout: false, stderr: false });
    this.worker.on('message', (m: FromJobThread) => !this.retired && onMessage(m));
    this.worker.on('error', (e) => !this.retired && onDeath(e));
    this.worker.on('exit', (code) => !this.retired && onDeath(new Error(`the job thread exited with code ${code}`)));
  }

  post(message: ToJobThread): void {
    if (this.retired) return;
    if (message.type === 'cancel') Atomics.store(this.flags, CANCELLED_JOB, message.id);
    this.worker.postMessage(message);
  }

  /**
   * Ends a thread that may be running a job, once no native call is under way (ending it inside
   * one aborts the process). False when `stillWanted` turned false first: the thread is kept.
   */
  async stop(stillWanted: () => boolean): Promise<boolean> {
    if (!(await closeGate(this.flags, stillWanted))) return false;
    await this.retire();
    return true;
  }

  /** Ends the thread; nothing it says afterwards is heard. Only for a thread that runs no job (or is dead). */
  async retire(): Promise<void> {
    this.retired = true;
    await this.worker.terminate();
  }
}

export class WorkerHost {
  private readonly queue: RunMessage[] = [];
  private readonly ids = new Set<number>();
  private running: Running | undefined;
  private thread: JobThread | undefined;

  /** `entry`: the script a job thread starts from (the worker bundle itself). */
  constructor(private readonly entry: string) {}

  /** Starts a thread before the first job asks, so its modules load while the extension gets ready. */
  warmUp(): void {
    this.thread ??= this.newThread();
  }

  /** What the extension may say: run a job (queued behind the running one), cancel one. */
  readonly fromExtension: MessageHandlers<ToWorkerMessage> = {
    run: (msg) => {
      if (this.ids.has(msg.id)) {
        log('warn', `ignored a second job with id ${msg.id}`);
        return;
      }
      this.ids.add(msg.id);
      this.queue.push(msg);
      this.pump();
    },
    cancel: (msg) => this.cancel(msg.id),
  };

  private newThread(): JobThread {
    const thread: JobThread = new JobThread(
      this.entry,
      (m) => this.fromThread(thread, m),
      (e) => this.threadDied(thread, e),
    );
    return thread;
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    const msg = this.queue.shift()!;
    this.thread ??= this.newThread();
    this.running = { msg, thread: this.thread, committing: false };
    this.thread.post(msg);
  }

  private cancel(id: number): void {
    const waiting = this.queue.findIndex((q) => q.id === id);
    if (waiting >= 0) {
      this.queue.splice(waiting, 1);
      this.ids.delete(id);
      send({ type: 'error', id, error: CANCELLED });
      return;
    }
    const run = this.running;
    if (!run || run.msg.id !== id || run.cancelTimer) return;
    run.thread.post({ type: 'cancel', id });
    run.cancelTimer = setTimeout(() => {
      if (this.running === run && !run.committing) void this.stopThread(run, CANCELLED);
    }, CANCEL_GRACE_MS);
  }

  private fromThread(thread: JobThread, m: FromJobThread): void {
    const run = this.running;
    if (m.type === 'log') {
      send(m);
      return;
    }
    if (!run || run.thread !== thread || m.id !== run.msg.id) return;
    if (m.type === 'committing') {
      run.committing = true;
      return;
    }
    if (m.type === 'progress') run.step = m.message;
    if (m.type === 'result') this.finish(run, m);
    else if (m.type === 'error') {
      const { fresh, ...error } = m;
      if (fresh) void this.replaceThread(thread);
      this.finish(run, error);
    } else send(m);
  }

  /** The job's last word, then the next job. */
  private finish(run: Running, last: FromWorkerMessage): void {
    clearTimeout(run.cancelTimer);
    this.running = undefined;
    this.ids.delete(run.msg.id);
    send(last);
    this.pump();
  }

  private async replaceThread(thread: JobThread): Promise<void> {
    if (this.thread === thread) this.thread = undefined;
    await thread.retire();
  }

  /** Ends the thread of a job that does not stop by itself; the job ends with `error`. */
  private async stopThread(run: Running, error: JobErrorInfo): Promise<void> {
    log('info', `job ${run.msg.job} did not stop within ${CANCEL_GRACE_MS} ms of being cancelled; ending its thread`);
    const thread = run.thread;
    // Ended before the job is reported, so nothing it still had in flight lands after the report.
    // Not while it commits its files, and not at all if the job ends by itself while a native call finishes.
    const ended = await thread.stop(() => this.running === run && !run.committing);
    if (!ended) return;
    if (this.thread === thread) this.thread = undefined;
    if (this.running === run) this.finish(run, { type: 'error', id: run.msg.id, error });
  }

  /** The thread died under a job (its heap ran out, an uncaught exception): that job fails with the cause. */
  private threadDied(thread: JobThread, e: Error): void {
    if (this.thread === thread) this.thread = undefined;
    void thread.retire();
    const run = this.running;
    if (!run || run.thread !== thread) {
      log('warn', `a job thread ended between jobs: ${e.message}`);
      return;
    }
    const code = (e as { code?: string }).code;
    const memory = code === 'ERR_WORKER_OUT_OF_MEMORY' ? heapLimit() : memoryFailure(e.message);
    const error: JobErrorInfo = memory
      ? { kind: 'crash', message: outOfMemoryMessage(memory, run.msg.job, run.step), detail: e.message }
      : { kind: 'crash', message: `the job thread failed: ${e.message}`, detail: e.stack };
    this.finish(run, { type: 'error', id: run.msg.id, error });
  }
}

/** Runs the host: IPC with the extension, heartbeats, and the job thread started from `entry`. */
export function startHost(entry: string): void {
  const heartbeatMs = Number(process.env.PRUNESCOPE_HEARTBEAT_MS) > 0 ? Number(process.env.PRUNESCOPE_HEARTBEAT_MS) : 2000;
  setInterval(() => send({ type: 'heartbeat' }), heartbeatMs).unref();
  const host = new WorkerHost(entry);
  process.on('message', (raw: unknown) => {
    const msg = parseToWorker(raw);
    if (msg) dispatch(host.fromExtension, msg);
    else log('warn', 'ignored a message that is not part of the worker protocol');
  });
  // The extension went away: nothing will read our results.
  process.on('disconnect', () => process.exit(0));
  host.warmUp();
  send({ type: 'ready', pid: process.pid, node: process.version });
}
