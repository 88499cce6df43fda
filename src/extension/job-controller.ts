import * as vscode from 'vscode';
import { CancelledError } from '../core/errors';
import { commandId } from '../shared/commands';
import type { JobKind, JobParamsInput, JobResult } from '../shared/jobs';
import { JobError, type JobHandle, type WorkerClient } from './worker-client';

/** How a job ended, as the person was told (kept for the test-only status command). */
export interface FinishedJob {
  title: string;
  job: JobKind;
  outcome: 'done' | 'cancelled' | 'failed';
  /** The failure as shown in the error notification. */
  message?: string;
}

export interface JobsSnapshot {
  active: { title: string; job: JobKind; progress?: { fraction: number | null; message: string } }[];
  /** The last jobs that ended, oldest first. */
  finished: FinishedJob[];
  /** The status bar item as shown (hidden: undefined). */
  statusItem?: { text: string; command: string | undefined };
}

const HISTORY = 20;

/**
 * Runs worker jobs with a cancellable notification, a status bar item and log lines in the
 * PruneScope output channel. Failures are shown here; callers get undefined for a failed or
 * cancelled job.
 */
export class JobController implements vscode.Disposable {
  private readonly status: vscode.StatusBarItem;
  private readonly active = new Map<
    number,
    { title: string; handle: JobHandle<JobKind>; progress?: { fraction: number | null; message: string } }
  >();
  private readonly finished: FinishedJob[] = [];
  private disposed = false;

  constructor(
    private readonly client: WorkerClient,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.status = vscode.window.createStatusBarItem('prunescope.job', vscode.StatusBarAlignment.Left, 10);
    this.status.name = 'PruneScope job';
    this.status.command = commandId('cancel');
  }

  get running(): boolean {
    return this.active.size > 0;
  }

  async run<K extends JobKind>(title: string, job: K, params: JobParamsInput<K>): Promise<JobResult<K> | undefined> {
    const started = Date.now();
    this.output.info(`${title}: queued`);
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `PruneScope: ${title}`, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        const waiting = this.active.size > 0;
        const handle = this.client.run(job, params, {
          onStart: () => {
            this.output.info(`${title}: started`);
            this.showStatus(title, undefined);
          },
          onProgress: (p) => {
            let increment: number | undefined;
            if (p.fraction !== null) {
              const pct = Math.round(p.fraction * 100);
              increment = Math.max(0, pct - reported);
              reported = Math.max(reported, pct);
            }
            progress.report({ message: p.message, increment });
            const entry = this.active.get(handle.id);
            if (entry) entry.progress = p;
            this.showStatus(title, p.fraction);
          },
        });
        if (waiting) progress.report({ message: 'waiting for the running job' });
        this.active.set(handle.id, { title, handle: handle });
        void vscode.commands.executeCommand('setContext', 'prunescope.jobRunning', true);
        const sub = token.onCancellationRequested(() => handle.cancel());
        try {
          const result = await handle.result;
          this.output.info(`${title}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
          this.remember({ title, job, outcome: 'done' });
          return result;
        } catch (e) {
          const cancelled = e instanceof CancelledError;
          this.remember({ title, job, outcome: cancelled ? 'cancelled' : 'failed', message: (e as Error).message });
          this.report(title, e);
          return undefined;
        } finally {
          sub.dispose();
          this.active.delete(handle.id);
          if (this.active.size === 0) {
            this.showIdle();
            void vscode.commands.executeCommand('setContext', 'prunescope.jobRunning', false);
          }
        }
      },
    );
  }

  /** What runs now and how the last jobs ended. */
  snapshot(): JobsSnapshot {
    return {
      active: [...this.active.values()].map((a) => ({ title: a.title, job: a.handle.job, progress: a.progress })),
      finished: [...this.finished],
      statusItem: this.statusShown ? { text: this.status.text, command: this.status.command as string | undefined } : undefined,
    };
  }

  /** How the last job with this title ended (e.g. for a panel that asked for it), if one did. */
  lastEnded(title: string): FinishedJob | undefined {
    for (let i = this.finished.length - 1; i >= 0; i--) if (this.finished[i].title === title) return this.finished[i];
    return undefined;
  }

  private remember(f: FinishedJob): void {
    this.finished.push(f);
    if (this.finished.length > HISTORY) this.finished.shift();
  }

  /** Cancels every running and queued job started here. */
  cancelAll(): boolean {
    if (this.active.size === 0) return false;
    for (const { handle } of this.active.values()) handle.cancel();
    return true;
  }

  /**
   * Idle: once an analysis or comparison has finished, the item stays as a one-click way back to
   * the recent results (Open Results... lists them newest first); before that, nothing is shown.
   */
  private showIdle(): void {
    if (!this.finished.some((f) => f.outcome === 'done' && (f.job === 'analyze' || f.job === 'compare'))) {
      this.status.hide();
      this.statusShown = false;
      return;
    }
    this.status.text = '$(history) PruneScope';
    this.status.tooltip = 'Open recent PruneScope results';
    this.status.command = commandId('openResults');
    this.status.show();
    this.statusShown = true;
  }

  /** Whether the status item is on screen (StatusBarItem does not say). */
  private statusShown = false;

  private showStatus(title: string, fraction: number | null | undefined): void {
    this.status.command = commandId('cancel');
    const pct = fraction === null || fraction === undefined ? '' : ` ${Math.round(fraction * 100)}%`;
    this.status.text = `$(sync~spin) PruneScope: ${title}${pct}`;
    this.status.tooltip = `${title} — click to cancel`;
    this.status.show();
    this.statusShown = true;
  }

  private report(title: string, e: unknown): void {
    if (e instanceof CancelledError) {
      this.output.info(`${title}: cancelled`);
      // The person asked for it (Cancel Job, the notification's Cancel): say it happened; not while PruneScope shuts down.
      if (!this.disposed) void vscode.window.showInformationMessage(`PruneScope: ${title} cancelled`);
      return;
    }
    if (!(e instanceof JobError)) {
      this.output.error(`${title}: ${(e as Error).stack ?? String(e)}`);
      void vscode.window.showErrorMessage(`PruneScope: ${title} failed: ${(e as Error).message}`);
      return;
    }
    this.output.error(`${title}: ${e.message}`);
    if (e.detail) this.output.error(e.detail);
    if (e.kind === 'input') {
      void vscode.window.showErrorMessage(`PruneScope: ${e.message}`);
    } else {
      void vscode.window.showErrorMessage(`PruneScope: ${title} failed: ${e.message}`, 'Show Log').then((pick) => {
        if (pick) this.output.show(true);
      });
    }
  }

  dispose(): void {
    this.disposed = true;
    this.cancelAll();
    this.status.dispose();
  }
}
