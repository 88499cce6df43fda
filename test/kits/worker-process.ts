/**
 * The real worker process (dist/worker.js, built by `node scripts/build.mjs`) spoken to over its
 * IPC channel as the extension speaks to it, for the tests of the worker and its jobs.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseFromWorker, type FromWorkerMessage, type ToWorkerMessage } from '../../src/shared/worker-protocol';
import { repoRoot } from '../fixtures';

export const workerPath = join(repoRoot, 'dist', 'worker.js');

/** Every process started, so that a suite's `after` can end those a failed test left running. */
const started: ChildProcess[] = [];

export interface Heard {
  at: number;
  msg: FromWorkerMessage;
}

/** Throws, saying what to run, when dist/worker.js has not been built. */
export function requireBuiltWorker(): void {
  if (!existsSync(workerPath)) throw new Error(`${workerPath} is missing: run node scripts/build.mjs first`);
}

/** The real worker process with everything it said, timestamped; a message outside the protocol fails the test. */
export class WorkerProcess {
  readonly heard: Heard[] = [];
  private readonly waiters: { match: (m: FromWorkerMessage) => boolean; resolve: (m: FromWorkerMessage) => void }[] = [];
  readonly child: ChildProcess;

  constructor(env: Record<string, string> = {}) {
    this.child = fork(workerPath, [], { env: { ...process.env, ...env }, silent: true, serialization: 'json' });
    started.push(this.child);
    this.child.on('message', (raw) => {
      const msg = parseFromWorker(raw);
      assert.ok(msg, `the worker sent a message outside the protocol: ${JSON.stringify(raw)}`);
      this.heard.push({ at: Date.now(), msg });
      for (const w of [...this.waiters]) {
        if (w.match(msg)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      }
    });
  }

  send(msg: ToWorkerMessage): void {
    this.child.send(msg);
  }

  /** The first message that matches, already heard or still to come. */
  next(match: (m: FromWorkerMessage) => boolean): Promise<FromWorkerMessage> {
    const seen = this.heard.find((h) => match(h.msg));
    return seen ? Promise.resolve(seen.msg) : new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Everything said about job `id`. */
  about(id: number): Heard[] {
    return this.heard.filter((h) => 'id' in h.msg && h.msg.id === id);
  }

  progress(id: number): { fraction: number | null; message: string }[] {
    return this.heard.flatMap(({ msg: m }) => (m.type === 'progress' && m.id === id ? [{ fraction: m.fraction, message: m.message }] : []));
  }

  /** When heartbeats came between `from` and `to` (Date.now() times). */
  heartbeats(from: number, to: number): number[] {
    return this.heard.filter((h) => h.msg.type === 'heartbeat' && h.at >= from && h.at <= to).map((h) => h.at);
  }
}

/** Matches the message that ends job `id`, its result or its error. */
export const ended = (id: number) => (m: FromWorkerMessage) => (m.type === 'result' || m.type === 'error') && m.id === id;

/** Kills every worker process the tests started. */
export function killWorkers(): void {
  for (const c of started.splice(0)) c.kill('SIGKILL');
}
