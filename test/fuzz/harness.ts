/**
 * Seeded fuzzing of every reader (models, datasets, .npy inputs, results files). Cases run in a
 * child process with a capped heap; the parent times each case out (a hang), watches the child's
 * resident memory (Buffers and other memory off the V8 heap escape --max-old-space-size) and kills
 * it past a ceiling, restarts the child after a hang, a crash or a kill, and checks afterwards
 * that no seed or original file changed. A share of the cases are hostile (hostile.ts): deep
 * nesting, links out of the model's folder, declared sizes that lie, and decompression bombs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../fixtures';
import { DEFAULT_HOSTILE, type CaseResult, type HostilePlan } from './cases';
import type { ChildJob, ChildMessage } from './child';
import { buildSeeds, fingerprint, FUZZ_FORMATS, listFiles, originalFiles, thirdPartySeeds, type FuzzFormat } from './seeds';

export interface FuzzOptions {
  cases: number;
  seed: number;
  formats?: readonly FuzzFormat[];
  /** Per-case limit; a case still running after it is a hang. */
  timeoutMs?: number;
  /** Heap cap of the worker process. */
  maxHeapMb?: number;
  /** Resident-memory ceiling of the worker during a case; past it the case is a crash of kind 'memory'. */
  maxRssMb?: number;
  /** Which cases are hostile (default: every 8th, all classes). */
  hostile?: HostilePlan;
  onFormatDone?: (stats: FormatStats) => void;
  /** Harness check only: cases run broken readers (see child.ts). */
  selfTest?: boolean | 'memory';
}

export interface Failure {
  index: number;
  kind: 'crash' | 'hang' | 'unnamed' | 'process-exit' | 'memory' | 'escape';
  /** class/name of the hostile mutation, for hostile cases. */
  hostile?: string;
  seed?: string;
  file?: string;
  ops?: string[];
  message?: string;
}

/** Outcomes of one group of cases (a hostile class, a mutation, or the generic cases). */
export interface OutcomeCounts {
  tried: number;
  accepted: number;
  errors: number;
  unnamed: number;
  /** Includes 'memory' kills and dead workers. */
  crashes: number;
  hangs: number;
  memory: number;
  escapes: number;
}

export interface FormatStats {
  format: FuzzFormat;
  tried: number;
  accepted: number;
  errors: number;
  /** PruneScopeErrors whose message does not name the file. */
  unnamed: number;
  /** Exceptions other than PruneScopeError, dead workers, and workers killed over the memory ceiling. */
  crashes: number;
  hangs: number;
  /** Cases killed for passing the resident-memory ceiling (also counted in crashes). */
  memory: number;
  /** Hostile cases whose model pointed outside its folder and was accepted, or whose output held the sentinel's bytes. */
  escapes: number;
  /** The largest resident memory seen, by the worker after a case or by the parent's watchdog during one. */
  peakRssMb: number;
  /** The case where peakRssMb was seen, when known. */
  peakCase?: { index: number; plan?: string; ops?: string[] };
  /** 'generic' and each hostile class. */
  byClass: Record<string, OutcomeCounts>;
  /** Each hostile mutation, as class/name. */
  byMutation: Record<string, OutcomeCounts>;
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
  maxRssMb: number;
  hostile: HostilePlan;
  formats: FormatStats[];
  seedFilesChecked: number;
  /** Whether the third-party files were extra seeds: 'used <folder>' or 'skipped: <reason>'. */
  thirdPartySeeds: string;
  /** Originals and seed copies whose bytes changed or vanished during the run. */
  filesLostOrAltered: string[];
}

function startChild(job: ChildJob, maxHeapMb: number): ChildProcess {
  const child = fork(join(__dirname, 'child.ts'), [], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx', `--max-old-space-size=${maxHeapMb}`],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.send(job);
  return child;
}

/** Resident memory of a process in MB, from /proc (Linux); undefined elsewhere or once it is gone. */
function rssMbOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Time allowed to prepare a case (hostile cases write up to tens of MB); the read itself gets timeoutMs. */
const PREPARE_TIMEOUT_MS = 120_000;
/** How often the watchdog looks at the worker's resident memory. */
const WATCH_MS = 20;

const emptyCounts = (): OutcomeCounts => ({ tried: 0, accepted: 0, errors: 0, unnamed: 0, crashes: 0, hangs: 0, memory: 0, escapes: 0 });

type Kind = 'accepted' | 'error' | 'unnamed' | 'crash' | 'hang' | 'memory' | 'escape';

function count(stats: FormatStats, plan: string | undefined, kind: Kind): void {
  const groups = [(stats.byClass[plan ? plan.split('/')[0] : 'generic'] ??= emptyCounts())];
  if (plan) groups.push((stats.byMutation[plan] ??= emptyCounts()));
  for (const g of [stats, ...groups]) {
    g.tried++;
    if (kind === 'accepted') g.accepted++;
    else if (kind === 'error') g.errors++;
    else if (kind === 'unnamed') g.unnamed++;
    else if (kind === 'hang') g.hangs++;
    else if (kind === 'escape') g.escapes++;
    else {
      g.crashes++;
      if (kind === 'memory') g.memory++;
    }
  }
}

type RunOptions = Required<Omit<FuzzOptions, 'onFormatDone' | 'formats'>>;

function newStats(format: FuzzFormat): FormatStats {
  return {
    format,
    tried: 0,
    accepted: 0,
    errors: 0,
    unnamed: 0,
    crashes: 0,
    hangs: 0,
    memory: 0,
    escapes: 0,
    peakRssMb: 0,
    byClass: {},
    byMutation: {},
    seconds: 0,
    failures: [],
    sampleErrors: [],
  };
}

/**
 * One worker running cases from `start` on: it ends normally, or is killed by a hang or by the
 * memory ceiling, or dies; `done` gets the case to resume at.
 */
class Stretch {
  private readonly child: ChildProcess;
  private current = -1;
  private plan: string | undefined;
  private info: { seed?: string; file?: string; ops?: string[] } = {};
  private timer: NodeJS.Timeout | undefined;
  private readonly watch: NodeJS.Timeout;
  private stderr = '';
  private settled = false;

  constructor(
    root: string,
    format: FuzzFormat,
    private readonly opts: RunOptions,
    private readonly stats: FormatStats,
    private readonly start: number,
    private readonly done: (resumeAt: number) => void,
  ) {
    const job: ChildJob = { root, format, seed: opts.seed, start, end: opts.cases, selfTest: opts.selfTest, hostile: opts.hostile };
    this.child = startChild(job, opts.maxHeapMb);
    this.watch = setInterval(() => this.checkMemory(), WATCH_MS);
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.child.on('message', (m: ChildMessage) => this.onMessage(m));
    // 'close' rather than 'exit': it comes after the last IPC message, so the case in flight is known.
    this.child.on('close', (code, signal) => this.onClose(code, signal));
  }

  private fail(kind: 'hang' | 'memory' | 'process-exit', message: string): void {
    count(this.stats, this.plan, kind === 'process-exit' ? 'crash' : kind);
    this.stats.failures.push({ index: this.current, kind, hostile: this.plan, ...this.info, message });
  }

  private finish(resumeAt: number): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    clearInterval(this.watch);
    this.done(resumeAt);
  }

  private kill(kind: 'hang' | 'memory', message: string): void {
    this.fail(kind, message);
    this.child.kill('SIGKILL');
    this.finish(this.current + 1);
  }

  /** Times the current phase of a case out after `ms`. */
  private arm(ms: number, what: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.settled) this.kill('hang', `${what} still running after ${ms} ms`);
    }, ms);
  }

  private peak(rssMb: number, index: number, ops: string[] | undefined): void {
    if (rssMb <= this.stats.peakRssMb) return;
    this.stats.peakRssMb = rssMb;
    this.stats.peakCase = { index, plan: this.plan, ops };
  }

  /** The watchdog: resident memory of the worker while a case runs (Buffers escape the heap cap). */
  private checkMemory(): void {
    if (this.current < 0 || this.settled) return;
    const rss = rssMbOf(this.child.pid);
    if (rss === undefined) return;
    this.peak(rss, this.current, this.info.ops);
    if (rss > this.opts.maxRssMb)
      this.kill('memory', `resident memory reached ${rss.toFixed(1)} MB, over the ${this.opts.maxRssMb} MB ceiling per case`);
  }

  private onMessage(m: ChildMessage): void {
    if (this.settled) return;
    if (m.t === 'start') {
      this.current = m.index;
      this.plan = m.plan;
      this.info = {};
      this.arm(PREPARE_TIMEOUT_MS, 'preparing the case');
    } else if (m.t === 'read') {
      this.info = { seed: m.seed, file: m.file, ops: m.ops };
      this.arm(this.opts.timeoutMs, 'the reader');
    } else if (m.t === 'done') {
      clearTimeout(this.timer);
      record(this.stats, m.result, this.plan);
      this.peak(m.rssMb, m.result.index, m.result.ops);
      this.current = -1;
      this.plan = undefined;
    } else {
      this.finish(this.opts.cases);
    }
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.settled) return;
    if (this.current >= 0) {
      this.fail('process-exit', `worker exited (code ${code}, signal ${signal}): ${this.stderr.trim().slice(-500)}`);
      this.finish(this.current + 1);
    } else {
      // Died between cases (e.g. could not start): give up on this format rather than loop.
      const message = `worker exited outside a case (code ${code}): ${this.stderr.trim().slice(-500)}`;
      this.stats.failures.push({ index: this.start, kind: 'process-exit', message });
      this.finish(this.opts.cases);
    }
  }
}

async function fuzzFormat(root: string, format: FuzzFormat, opts: RunOptions): Promise<FormatStats> {
  const stats = newStats(format);
  const t0 = Date.now();
  let next = 0;
  while (next < opts.cases) {
    const start = next;
    next = await new Promise<number>((done) => new Stretch(root, format, opts, stats, start, done));
  }
  stats.seconds = (Date.now() - t0) / 1000;
  return stats;
}

function record(stats: FormatStats, r: CaseResult, plan: string | undefined): void {
  count(stats, r.hostile ?? plan, r.outcome);
  if (r.outcome === 'error') {
    if (stats.sampleErrors.length < 5 && !stats.sampleErrors.some((s) => s.slice(0, 40) === r.message!.slice(0, 40)))
      stats.sampleErrors.push(r.message!);
  } else if (r.outcome !== 'accepted') {
    if (stats.failures.length < 50)
      stats.failures.push({
        index: r.index,
        kind: r.outcome,
        hostile: r.hostile,
        seed: r.seed,
        file: r.file,
        ops: r.ops,
        message: r.message,
      });
  }
}

/** The third-party seeds for the report: where they came from, or why there were none. */
export function describeThirdParty(): string {
  const t = thirdPartySeeds();
  return t.state === 'used' ? `used ${t.dir}` : `skipped: ${t.reason}`;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const maxHeapMb = options.maxHeapMb ?? 1024;
  const opts = {
    cases: options.cases,
    seed: options.seed,
    timeoutMs: options.timeoutMs ?? 5000,
    maxHeapMb,
    maxRssMb: options.maxRssMb ?? maxHeapMb + 512,
    selfTest: options.selfTest ?? false,
    hostile: options.hostile ?? (options.selfTest ? { share: 0 } : DEFAULT_HOSTILE),
  };
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
      maxRssMb: opts.maxRssMb,
      hostile: opts.hostile,
      formats: results,
      seedFilesChecked: Object.keys(expected).length,
      thirdPartySeeds: describeThirdParty(),
      filesLostOrAltered: altered,
    };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

function table(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}

const COUNT_KEYS = ['tried', 'accepted', 'errors', 'crashes', 'unnamed', 'hangs', 'memory', 'escapes'] as const;

export function formatTable(report: FuzzReport): string {
  const head = ['format', ...COUNT_KEYS, 'peak RSS MB', 'seconds'];
  const rows = report.formats.map((s) => [s.format, ...COUNT_KEYS.map((k) => String(s[k])), s.peakRssMb.toFixed(0), s.seconds.toFixed(1)]);
  const total = [
    'total',
    ...COUNT_KEYS.map((k) => String(report.formats.reduce((a, s) => a + s[k], 0))),
    '',
    report.formats.reduce((a, s) => a + s.seconds, 0).toFixed(1),
  ];
  return table(head, [...rows, total]);
}

/** Outcomes per case class (generic and each hostile class) and format; with `mutations`, per hostile mutation. */
export function formatClassTable(report: FuzzReport, mutations = false): string {
  const head = [mutations ? 'format class/mutation' : 'class format', ...COUNT_KEYS];
  const rows: string[][] = [];
  if (mutations) {
    for (const s of report.formats)
      for (const [k, c] of Object.entries(s.byMutation).sort()) rows.push([`${s.format} ${k}`, ...COUNT_KEYS.map((x) => String(c[x]))]);
  } else {
    for (const cls of ['generic', 'nesting', 'links', 'sizes', 'bombs']) {
      for (const s of report.formats) {
        const c = s.byClass[cls];
        if (c) rows.push([`${cls} ${s.format}`, ...COUNT_KEYS.map((x) => String(c[x]))]);
      }
    }
  }
  return table(head, rows);
}
