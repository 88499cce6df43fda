/**
 * Runs jobs in the worker process (dist/worker.js). Node only, no vscode: the tests drive it with
 * the real worker. Jobs run one after another; a worker that crashes, is killed or stops sending
 * heartbeats fails the job it was running with the cause, and the next job starts a fresh one.
 * A job that is cancelled (or still waiting when PruneScope shuts down) ends with a CancelledError,
 * the one cancellation error of the engine, the worker and the extension.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { withLargePages } from '../shared/large-pages';
import { CancelledError } from '../core/errors';
import { cleanUpOutputs, recordOutputs, type OutputRecord } from '../core/io/atomic';
import { dispatch, type MessageHandlers } from '../shared/dispatch';
import { checkJobResult, jobOutputs, type JobKind, type JobParamsInput, type JobResult } from '../shared/jobs';
import {
  memoryFailure,
  outOfMemoryMessage,
  parseFromWorker,
  type ErrorKind,
  type FromWorkerMessage,
  type LogLevel,
  type ToWorkerMessage,
} from '../shared/worker-protocol';

export interface WorkerClientOptions {
  /** The worker script (dist/worker.js). */
  workerPath: string;
  /** Node flags for the worker; nothing is inherited (no --inspect port clashes). */
  execArgv?: string[];
  /** The worker's JavaScript heap limit (--max-old-space-size) in MB, unless execArgv sets one. Default 8192. */
  maxOldSpaceMb?: number;
  env?: NodeJS.ProcessEnv;
  /** No message from the worker for this long: it is killed. Default 120 s (one synchronous tfjs step can be long). */
  heartbeatTimeoutMs?: number;
  /** How often the worker sends a heartbeat. Default 2 s. */
  heartbeatIntervalMs?: number;
  /** A cancelled job that has not stopped after this long is ended by killing the worker. Default 10 s. */
  cancelGraceMs?: number;
  /** Log lines: the worker's own, its stdout/stderr, and this client's notes on starts and exits. */
  onLog?(level: LogLevel, message: string): void;
}

export interface JobProgress {
  fraction: number | null;
  message: string;
}

export interface RunOptions {
  onProgress?(p: JobProgress): void;
  /** Called when the worker begins the job (after the jobs queued before it). */
  onStart?(): void;
}

export interface JobHandle<K extends JobKind> {
  id: number;
  job: K;
  result: Promise<JobResult<K>>;
  cancel(): void;
}

/** A failed job. `kind` tells an input problem (show the message) from a crash (see the log); a cancelled job ends with a CancelledError instead. */
export class JobError extends Error {
  override name = 'JobError';
  constructor(
    readonly kind: Exclude<ErrorKind, 'cancelled'>,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

interface Pending {
  id: number;
  job: JobKind;
  params: unknown;
  options: RunOptions;
  resolve(value: unknown): void;
  reject(error: JobError | CancelledError): void;
  cancelled: boolean;
  /** The job's last progress message: what it was doing, for a failure message. */
  step?: string;
  /** What existed of the job's outputs when it was sent, for the cleanup after a failure. */
  outputs?: OutputRecord[];
  /** Failed, its outputs being cleaned up: nothing else may end it again. */
  ending?: boolean;
}

type StopReason = { kind: 'cancelled' } | { kind: 'timeout'; ms: number } | { kind: 'disposed' };

const SHUTTING_DOWN = 'PruneScope is shutting down';

const DEFAULT_HEAP_MB = 8192;
const HEAP_FLAG = /^--max-old-space-size=(\d+)$/;
const STDERR_TAIL = 4000;
/** Enough of the stderr stream to find a message split across two chunks. */
const CHUNK_OVERLAP = 200;

export class WorkerClient {
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private child: ChildProcess | undefined;
  private ready = false;
  private stderrTail = '';
  /** Set when the worker's stderr says memory ran out (V8 prints that, then a native stack that can push it out of the tail). */
  private stderrMemory: string | undefined;
  private lastMessageAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private cancelTimer: NodeJS.Timeout | undefined;
  private stopReason: StopReason | undefined;
  private nextId = 1;
  private disposed = false;
  private readonly heartbeatTimeoutMs: number;
  private readonly cancelGraceMs: number;
  private readonly execArgv: string[];

  constructor(private readonly options: WorkerClientOptions) {
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 120_000;
    this.cancelGraceMs = options.cancelGraceMs ?? 10_000;
    const flags = options.execArgv ?? [];
    this.execArgv = flags.some((f) => HEAP_FLAG.test(f))
      ? flags
      : [...flags, `--max-old-space-size=${options.maxOldSpaceMb ?? DEFAULT_HEAP_MB}`];
  }

  /** The worker's JavaScript heap limit in MB. */
  get heapLimitMb(): number {
    const flag = this.execArgv.map((f) => HEAP_FLAG.exec(f)).find((m) => m);
    return Number(flag![1]);
  }

  /** The worker's process id, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get busy(): boolean {
    return this.current !== undefined || this.queue.length > 0;
  }

  /** Jobs waiting behind the running one. */
  get queued(): number {
    return this.queue.length;
  }

  get running(): { id: number; job: JobKind } | undefined {
    return this.current && { id: this.current.id, job: this.current.job };
  }

  run<K extends JobKind>(job: K, params: JobParamsInput<K>, options: RunOptions = {}): JobHandle<K> {
    const id = this.nextId++;
    let pending!: Pending;
    const result = new Promise<JobResult<K>>((resolve, reject) => {
      pending = { id, job, params, options, resolve: resolve, reject, cancelled: false };
    });
    if (this.disposed) {
      pending.reject(new CancelledError(SHUTTING_DOWN));
    } else {
      this.queue.push(pending);
      this.pump();
    }
    return { id, job, result, cancel: () => this.cancel(id) };
  }

  /** Cancels a queued or running job. A running job gets `cancelGraceMs` to stop before the worker is killed. */
  cancel(id: number): void {
    const waiting = this.queue.findIndex((p) => p.id === id);
    if (waiting >= 0) {
      const [p] = this.queue.splice(waiting, 1);
      p.reject(new CancelledError());
      return;
    }
    const cur = this.current;
    if (!cur || cur.id !== id || cur.cancelled || cur.ending) return;
    cur.cancelled = true;
    this.post({ type: 'cancel', id });
    this.cancelTimer = setTimeout(() => {
      if (this.current === cur) {
        this.log('warn', `job ${cur.job} did not stop within ${this.cancelGraceMs} ms of being cancelled; stopping the worker`);
        this.kill({ kind: 'cancelled' });
      }
    }, this.cancelGraceMs);
    this.cancelTimer.unref();
  }

  cancelAll(): void {
    for (const p of [...this.queue]) this.cancel(p.id);
    if (this.current) this.cancel(this.current.id);
  }

  /** Fails every job and stops the worker. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.queue.splice(0)) p.reject(new CancelledError(SHUTTING_DOWN));
    if (this.child) this.kill({ kind: 'disposed' });
    this.stopWatchdog();
  }

  // ---- internals ----

  private log(level: LogLevel, message: string): void {
    this.options.onLog?.(level, message);
  }

  private post(message: ToWorkerMessage): void {
    const child = this.child;
    if (child?.connected) {
      child.send(message, (err) => {
        if (err) this.log('warn', `could not send ${message.type} to the worker: ${err.message}`);
      });
    }
  }

  private pump(): void {
    if (this.current || this.queue.length === 0 || this.disposed) return;
    if (!this.child) {
      this.spawn();
      return; // continues on 'ready'
    }
    if (!this.ready) return;
    const cur = this.queue.shift()!;
    this.current = cur;
    try {
      cur.outputs = recordOutputs(jobOutputs(cur.job, cur.params));
    } catch (e) {
      this.log('warn', `could not look at the outputs of ${cur.job}: ${(e as Error).message}`);
    }
    this.post({ type: 'run', id: cur.id, job: cur.job, params: cur.params });
  }

  private spawn(): void {
    this.ready = false;
    this.stderrTail = '';
    this.stderrMemory = undefined;
    this.stopReason = undefined;
    const env: NodeJS.ProcessEnv = {
      ...withLargePages(this.options.env ?? process.env),
      // Inside VS Code process.execPath is Electron: make it behave as Node.
      ELECTRON_RUN_AS_NODE: '1',
    };
    if (this.options.heartbeatIntervalMs) env.PRUNESCOPE_HEARTBEAT_MS = String(this.options.heartbeatIntervalMs);
    let child: ChildProcess;
    try {
      child = fork(this.options.workerPath, [], {
        execArgv: this.execArgv,
        env,
        silent: true,
        serialization: 'json',
      });
    } catch (e) {
      this.failAll(new JobError('crash', `could not start the PruneScope worker: ${(e as Error).message}`));
      return;
    }
    this.child = child;
    this.lastMessageAt = Date.now();
    this.startWatchdog();
    this.log('info', `worker started (pid ${child.pid})`);

    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) this.log('info', `[worker stdout] ${line}`);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrMemory ??= memoryFailure(this.stderrTail.slice(-CHUNK_OVERLAP) + chunk);
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      for (const line of chunk.split('\n')) if (line.trim()) this.log('warn', `[worker stderr] ${line}`);
    });
    child.on('message', (raw: unknown) => this.onMessage(child, raw));
    child.on('error', (err) => {
      // Spawn failures and failed kills; an exit (if any) follows separately.
      this.log('error', `worker process error: ${err.message}`);
      if (child.pid === undefined && this.child === child) this.onExit(child, null, null, err.message);
    });
    child.on('close', (code, signal) => this.onExit(child, code, signal));
  }

  private onMessage(child: ChildProcess, raw: unknown): void {
    if (child !== this.child) return;
    this.lastMessageAt = Date.now();
    const msg = parseFromWorker(raw);
    if (msg) dispatch(this.fromWorker, msg);
    else this.log('warn', 'ignored a message from the worker that is not part of the protocol');
  }

  /** What the worker may say; every message type has its handler here. */
  private readonly fromWorker: MessageHandlers<FromWorkerMessage> = {
    ready: () => {
      this.ready = true;
      this.pump();
    },
    heartbeat: () => undefined,
    log: (msg) => this.log(msg.level, msg.message),
    started: (msg) => this.runningJob(msg.id)?.options.onStart?.(),
    progress: (msg) => {
      const cur = this.runningJob(msg.id);
      if (!cur) return;
      cur.step = msg.message;
      cur.options.onProgress?.({ fraction: msg.fraction, message: msg.message });
    },
    result: (msg) => {
      const cur = this.runningJob(msg.id);
      if (!cur) return;
      const checked = checkJobResult(cur.job, msg.result);
      if (checked.ok) this.settle(cur, () => cur.resolve(checked.value));
      else this.settle(cur, () => cur.reject(new JobError('crash', checked.problem)));
    },
    error: (msg) => {
      const cur = this.runningJob(msg.id);
      if (!cur) return;
      const error =
        cur.cancelled || msg.error.kind === 'cancelled'
          ? new CancelledError(msg.error.message)
          : new JobError(msg.error.kind, msg.error.message, msg.error.detail);
      this.fail(cur, error, this.child?.pid);
    },
  };

  /** The running job with this id, unless it has settled already (a late reply is ignored). */
  private runningJob(id: number): Pending | undefined {
    const cur = this.current;
    return cur && cur.id === id && !cur.ending ? cur : undefined;
  }

  /**
   * Ends a job that did not succeed. Its outputs are cleaned first (temporaries of the worker that
   * ran it, folders it created and left empty), so whoever hears of the failure finds nothing
   * partial; the next job waits for that.
   */
  private fail(p: Pending, error: JobError | CancelledError, workerPid: number | undefined): void {
    if (p.ending) return;
    p.ending = true;
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
    this.cancelTimer = undefined;
    const outputs = p.outputs ?? [];
    if (outputs.length === 0) {
      this.settle(p, () => p.reject(error));
      return;
    }
    void cleanUpOutputs(outputs, (pid) => pid === workerPid)
      .then(
        (removed) => removed.length > 0 && this.log('info', `removed what the unfinished ${p.job} job left: ${removed.join(', ')}`),
        (e: Error) => this.log('warn', `could not clean up after the ${p.job} job: ${e.message}`),
      )
      .finally(() => this.settle(p, () => p.reject(error)));
  }

  private settle(p: Pending, fn: () => void): void {
    if (this.current === p) this.current = undefined;
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
    this.cancelTimer = undefined;
    fn();
    this.pump();
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    if (child !== this.child) return;
    const wasReady = this.ready;
    this.child = undefined;
    this.ready = false;
    this.stopWatchdog();
    const reason = this.stopReason;
    this.stopReason = undefined;
    const how = spawnError ? `could not start (${spawnError})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
    this.log(reason || code === 0 ? 'info' : 'error', `worker (pid ${child.pid ?? '-'}) ${how}`);
    const cur = this.current;
    if (cur?.ending) {
      // Its failure came first (e.g. a worker that reported running out of memory and exited): the settle that follows the cleanup starts the next job.
      return;
    } else if (cur) {
      let error: JobError | CancelledError;
      if (reason?.kind === 'cancelled' || cur.cancelled) error = new CancelledError();
      else if (reason?.kind === 'disposed') error = new CancelledError(SHUTTING_DOWN);
      else {
        const tail = this.stderrTail.trim();
        const memory = reason ? undefined : this.memoryCause(tail);
        const cause =
          reason?.kind === 'timeout' ? `stopped answering (no heartbeat for ${Math.round(reason.ms / 1000)} s) and was stopped` : how;
        const message = memory
          ? `${outOfMemoryMessage(memory, cur.job, cur.step)}; the worker ${how}`
          : `the PruneScope worker ${cause} while running ${cur.job}${tail ? `; last output: ${lastLines(tail, 5)}` : ''}`;
        error = new JobError('crash', message, tail || undefined);
      }
      this.fail(cur, error, child.pid);
    } else if (!wasReady && !reason) {
      // A worker that dies before it is ready would die again: fail what waits rather than loop.
      const tail = this.stderrTail.trim();
      const memory = this.memoryCause(tail);
      const what = memory ? `ran out of memory (${memory}) and ${how}` : how;
      this.failAll(
        new JobError(
          'crash',
          `the PruneScope worker ${what} before it was ready${tail ? `; last output: ${lastLines(tail, 5)}` : ''}`,
          tail || undefined,
        ),
      );
    } else {
      this.pump();
    }
  }

  /** Which memory ran out, from what the dead worker printed (V8 prints a fatal heap OOM on stderr, then aborts). */
  private memoryCause(stderrTail: string): string | undefined {
    const memory = this.stderrMemory ?? memoryFailure(stderrTail);
    return memory === 'JavaScript heap' ? `JavaScript heap limit of ${this.heapLimitMb} MB reached` : memory;
  }

  private failAll(error: JobError): void {
    for (const p of this.queue.splice(0)) p.reject(error);
  }

  private kill(reason: StopReason): void {
    const child = this.child;
    if (!child) return;
    this.stopReason = reason;
    child.kill('SIGKILL');
  }

  private startWatchdog(): void {
    this.stopWatchdog();
    const every = Math.max(50, Math.min(1000, this.heartbeatTimeoutMs / 4));
    this.watchdog = setInterval(() => {
      const silent = Date.now() - this.lastMessageAt;
      if (this.child && !this.stopReason && silent > this.heartbeatTimeoutMs) {
        this.log('error', `worker (pid ${this.child.pid}) sent nothing for ${silent} ms; stopping it`);
        this.kill({ kind: 'timeout', ms: silent });
      }
    }, every);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }
}

function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .slice(-n)
    .join(' | ');
}
