/**
 * The worker's job thread: runs the jobs the host thread (host.ts) hands it, one at a time, inside
 * a write scope, and reports back. Everything heavy happens here, so the host stays free to
 * answer the extension (heartbeats, cancellation) however long a synchronous step takes. A job
 * stops through its AbortSignal when it gets back to the event loop, at its next progress report
 * or at its next onnxruntime call (native-gate.ts); one that does not, the host stops by ending
 * this thread, between two native calls.
 */
import { format } from 'node:util';
import type { MessagePort } from 'node:worker_threads';
import { setNativeGate } from '../core/engine/native-gate';
import { CancelledError, isPruneScopeError } from '../core/errors';
import { setWriteHookForTests, writeGroup } from '../core/io/atomic';
import { withWriteScope } from '../core/io/scope';
import { checkJobParams } from '../shared/jobs';
import { memoryFailure, outOfMemoryMessage, type JobErrorInfo, type LogLevel, type RunMessage } from '../shared/worker-protocol';
import type { JobContext } from './job-context';
import { JOBS } from './jobs';
import { CANCELLED_JOB, threadGate } from './native-gate';
import type { FromJobThread, ToJobThread } from './thread-messages';

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

class JobRunner {
  private readonly controllers = new Map<number, AbortController>();
  /** The running job: its id, for the shared cancel flag, and its signal (also read by the write-pause test hook). */
  current: { id: number; signal: AbortSignal } | undefined;

  /**
   * `flags[CANCELLED_JOB]` is set by the host to the id of a job it cancels before the message is
   * sent: read at each progress report and before each native call, it lets a job stop at its
   * next check even inside a synchronous step, when the message itself would wait for the step to end.
   */
  constructor(
    private readonly port: MessagePort,
    private readonly flags: Int32Array,
  ) {}

  /** Throws a CancelledError when the running job was cancelled, even if the message has not arrived yet. */
  stopIfCancelled(): void {
    const job = this.current;
    if (!job) return;
    this.heedCancelFlag(job.id);
    if (job.signal.aborted) throw new CancelledError();
  }

  /** Aborts job `id` if the host flagged it cancelled (its message may still be queued behind a synchronous step). */
  private heedCancelFlag(id: number): void {
    if (Atomics.load(this.flags, CANCELLED_JOB) === id) this.cancel(id);
  }

  send(message: FromJobThread): void {
    this.port.postMessage(message);
  }

  log(level: LogLevel, message: string): void {
    this.send({ type: 'log', level, message });
  }

  cancel(id: number): void {
    this.controllers.get(id)?.abort(new CancelledError());
  }

  async run(msg: RunMessage): Promise<void> {
    const controller = new AbortController();
    this.controllers.set(msg.id, controller);
    this.current = { id: msg.id, signal: controller.signal };
    try {
      await this.runChecked(msg, controller.signal);
    } finally {
      this.current = undefined;
      this.controllers.delete(msg.id);
    }
  }

  private async runChecked(msg: RunMessage, signal: AbortSignal): Promise<void> {
    const checked = checkJobParams(msg.job, msg.params);
    if (!checked.ok) {
      this.send({ type: 'error', id: msg.id, error: { kind: 'input', message: checked.problem } });
      return;
    }
    this.send({ type: 'started', id: msg.id });
    let step: string | undefined;
    const ctx: JobContext = {
      signal,
      progress: (fraction, message) => {
        this.heedCancelFlag(msg.id);
        const f = fraction === null || !Number.isFinite(fraction) ? null : Math.min(1, Math.max(0, fraction));
        step = message;
        this.send({ type: 'progress', id: msg.id, fraction: f, message });
      },
      log: (message) => this.log('info', message),
    };
    try {
      // The table is indexed by a union key, which TypeScript cannot correlate with params.
      const handler = JOBS[msg.job] as (p: unknown, c: JobContext) => Promise<unknown>;
      // Every file the job writes appears when it returns, or none does (failure, cancel),
      // and none replaces a file the person did not give up, or one the job read.
      const replace = (checked.value as { replace?: boolean }).replace === true;
      const work = async () => {
        const value = await handler(checked.value, ctx);
        this.send({ type: 'committing', id: msg.id });
        return value;
      };
      const { value: result, files } = await withWriteScope({ replace }, () => writeGroup(work, { signal }));
      // A cancel that came after the files were committed is too late: the job is done.
      if (signal.aborted && files.length === 0) throw new CancelledError();
      this.send({ type: 'result', id: msg.id, result });
    } catch (e) {
      const { memory, ...error } = describeError(e, signal, msg.job, step);
      // Memory that ran out once leaves tfjs (and a wasm heap) in no state to trust: the next job gets a fresh thread.
      this.send({ type: 'error', id: msg.id, error, ...(memory && { fresh: true }) });
    }
  }
}

/**
 * Test hook (worker-client.test.ts): PRUNESCOPE_TEST_PAUSE_WRITE=stage:n stops the nth write stage
 * of this thread (see setWriteHookForTests) until the running job is cancelled, so a test can
 * kill or cancel the worker at an exact point of a write.
 */
function installWritePause(runner: JobRunner): void {
  const pauseAt = /^(staged|journaled|renamed):(\d+)$/.exec(process.env.PRUNESCOPE_TEST_PAUSE_WRITE ?? '');
  if (!pauseAt) return;
  let seen = 0;
  setWriteHookForTests(async (stage, path) => {
    if (stage !== pauseAt[1] || ++seen !== Number(pauseAt[2])) return;
    runner.log('info', `test: paused at ${stage} ${seen} (${path})`);
    const signal = runner.current?.signal;
    if (signal && !signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  });
}

/** Starts taking jobs from the host on `port`; `flags` are shared with the host (see native-gate.ts). */
export function startJobThread(port: MessagePort, flags: Int32Array): void {
  const runner = new JobRunner(port, flags);
  setNativeGate(threadGate(flags, () => runner.stopIfCancelled()));
  // Libraries print to the console (tfjs greets on stdout); route it to the extension's log instead.
  console.log = (...args: unknown[]) => runner.log('info', format(...args));
  console.info = console.log;
  console.warn = (...args: unknown[]) => runner.log('warn', format(...args));
  console.error = (...args: unknown[]) => runner.log('error', format(...args));
  installWritePause(runner);
  port.on('message', (msg: ToJobThread) => {
    if (msg.type === 'cancel') runner.cancel(msg.id);
    else void runner.run(msg);
  });
}
