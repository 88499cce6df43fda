/**
 * Seeded fuzzing of every reader (models, datasets, .npy inputs, results files). Cases run in a
 * child process with a capped heap; the parent times each case out (a hang), restarts the child
 * after a hang or a crash, and checks afterwards that no seed or original file changed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CaseResult } from './cases';
import type { ChildJob, ChildMessage } from './child';
import { buildSeeds, fingerprint, FUZZ_FORMATS, listFiles, originalFiles, type FuzzFormat } from './seeds';

export interface FuzzOptions {
  cases: number;
  seed: number;
  formats?: readonly FuzzFormat[];
  /** Per-case limit; a case still running after it is a hang. */
  timeoutMs?: number;
  /** Heap cap of the worker process. */
  maxHeapMb?: number;
  onFormatDone?: (stats: FormatStats) => void;
  /** Harness check only: cases run broken readers (see child.ts). */
  selfTest?: boolean;
}

export interface Failure {
  index: number;
  kind: 'crash' | 'hang' | 'unnamed' | 'process-exit';
  seed?: string;
  file?: string;
  ops?: string[];
  message?: string;
}

export interface FormatStats {
  format: FuzzFormat;
  tried: number;
  accepted: number;
  errors: number;
  /** PruneScopeErrors whose message does not name the file. */
  unnamed: number;
  crashes: number;
  hangs: number;
  peakRssMb: number;
  seconds: number;
  failures: Failure[];
  /** A few error messages, to see that they read well. */
  sampleErrors: string[];
}

export interface FuzzReport {
  seed: number;
  casesPerFormat: number;
  timeoutMs: number;
  maxHeapMb: number;
  formats: FormatStats[];
  seedFilesChecked: number;
  /** Originals and seed copies whose bytes changed or vanished during the run. */
  filesLostOrAltered: string[];
}

const repoRoot = resolve(__dirname, '..', '..', '..');

function startChild(job: ChildJob, maxHeapMb: number): ChildProcess {
  const child = fork(join(__dirname, 'child.ts'), [], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx', `--max-old-space-size=${maxHeapMb}`],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.send(job);
  return child;
}

async function fuzzFormat(root: string, format: FuzzFormat, opts: Required<Omit<FuzzOptions, 'onFormatDone' | 'formats'>>): Promise<FormatStats> {
  const stats: FormatStats = { format, tried: 0, accepted: 0, errors: 0, unnamed: 0, crashes: 0, hangs: 0, peakRssMb: 0, seconds: 0, failures: [], sampleErrors: [] };
  const t0 = Date.now();
  let next = 0;
  while (next < opts.cases) {
    // One child per stretch of cases; it ends normally, or is killed by a hang, or dies.
    next = await new Promise<number>((done) => {
      const child = startChild({ root, format, seed: opts.seed, start: next, end: opts.cases, selfTest: opts.selfTest }, opts.maxHeapMb);
      let current = -1;
      let timer: NodeJS.Timeout | undefined;
      let stderr = '';
      let settled = false;
      const finish = (resumeAt: number): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        done(resumeAt);
      };
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      child.on('message', (m: ChildMessage) => {
        if (m.t === 'start') {
          current = m.index;
          timer = setTimeout(() => {
            stats.tried++;
            stats.hangs++;
            stats.failures.push({ index: current, kind: 'hang', message: `still running after ${opts.timeoutMs} ms` });
            child.kill('SIGKILL');
            finish(current + 1);
          }, opts.timeoutMs);
        } else if (m.t === 'done') {
          clearTimeout(timer);
          record(stats, m.result);
          stats.peakRssMb = Math.max(stats.peakRssMb, m.rssMb);
          current = -1;
        } else {
          finish(opts.cases);
        }
      });
      // 'close' rather than 'exit': it comes after the last IPC message, so the case in flight is known.
      child.on('close', (code, signal) => {
        if (settled) return;
        if (current >= 0) {
          stats.tried++;
          stats.crashes++;
          stats.failures.push({ index: current, kind: 'process-exit', message: `worker exited (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}` });
          finish(current + 1);
        } else {
          // Died between cases (e.g. could not start): give up on this format rather than loop.
          stats.failures.push({ index: next, kind: 'process-exit', message: `worker exited outside a case (code ${code}): ${stderr.trim().slice(-500)}` });
          finish(opts.cases);
        }
      });
    });
  }
  stats.seconds = (Date.now() - t0) / 1000;
  return stats;
}

function record(stats: FormatStats, r: CaseResult): void {
  stats.tried++;
  if (r.outcome === 'accepted') stats.accepted++;
  else if (r.outcome === 'error') {
    stats.errors++;
    if (stats.sampleErrors.length < 5 && !stats.sampleErrors.some((s) => s.slice(0, 40) === r.message!.slice(0, 40))) stats.sampleErrors.push(r.message!);
  } else {
    if (r.outcome === 'unnamed') stats.unnamed++;
    else stats.crashes++;
    if (stats.failures.length < 50) stats.failures.push({ index: r.index, kind: r.outcome, seed: r.seed, file: r.file, ops: r.ops, message: r.message });
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const opts = { cases: options.cases, seed: options.seed, timeoutMs: options.timeoutMs ?? 5000, maxHeapMb: options.maxHeapMb ?? 1024, selfTest: options.selfTest ?? false };
  const formats = options.formats ?? FUZZ_FORMATS;
  const originals = originalFiles();
  const before = fingerprint(originals);
  const root = mkdtempSync(join(tmpdir(), 'prunescope-fuzz-'));
  try {
    const manifest = await buildSeeds(join(root, 'seeds'));
    writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest));
    const seedFiles = listFiles(join(root, 'seeds'));
    const seedBefore = fingerprint(seedFiles);
    const results: FormatStats[] = [];
    for (const f of formats) {
      const s = await fuzzFormat(root, f, opts);
      results.push(s);
      options.onFormatDone?.(s);
    }
    const after = { ...fingerprint(originals), ...fingerprint(seedFiles) };
    const expected = { ...before, ...seedBefore };
    const altered = Object.keys(expected).filter((f) => expected[f] !== after[f]);
    return {
      seed: opts.seed,
      casesPerFormat: opts.cases,
      timeoutMs: opts.timeoutMs,
      maxHeapMb: opts.maxHeapMb,
      formats: results,
      seedFilesChecked: Object.keys(expected).length,
      filesLostOrAltered: altered,
    };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

export function formatTable(report: FuzzReport): string {
  const head = ['format', 'tried', 'accepted', 'errors', 'crashes', 'unnamed', 'hangs', 'peak RSS MB', 'seconds'];
  const rows = report.formats.map((s) => [s.format, s.tried, s.accepted, s.errors, s.crashes, s.unnamed, s.hangs, s.peakRssMb.toFixed(0), s.seconds.toFixed(1)].map(String));
  const total = ['total', ...[1, 2, 3, 4, 5, 6].map((i) => String(rows.reduce((a, r) => a + Number(r[i]), 0))), '', String(report.formats.reduce((a, s) => a + s.seconds, 0).toFixed(1))];
  const all = [head, ...rows, total];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}
