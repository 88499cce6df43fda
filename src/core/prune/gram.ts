import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * C = X^T X in float64 for CKA pruning: the one O(n p^2) step of cka-fast.ts.
 *
 * Every entry is one sequential float64 sum over the samples, whichever thread or code path
 * computes it, so the result is bit-for-bit the same serial or parallel, and identical columns
 * give identical rows of C. Big matrices are split with one helper thread: both threads claim
 * blocks of 4 rows from a shared counter, so the helper's start-up never delays the caller.
 * The caller waits synchronously (Atomics.wait), which keeps the pruning API synchronous; if the
 * helper stops making progress, the caller computes the blocks the helper left unfinished.
 */

/**
 * Centered columns of a row-major [n, p] float32 matrix, as float64, column-major (p x n).
 * A constant column becomes exact zeros (its mean need not be exactly representable).
 */
export function centeredColumns(z: Float32Array, n: number, p: number, out: Float64Array = new Float64Array(p * n)): Float64Array {
  for (let j = 0; j < p; j++) {
    const first = z[j];
    let sum = 0;
    let constant = true;
    for (let r = 0; r < n; r++) {
      const v = z[r * p + j];
      sum += v;
      if (v !== first) constant = false;
    }
    const o = j * n;
    if (constant) {
      out.fill(0, o, o + n);
      continue;
    }
    const mean = sum / n;
    for (let r = 0; r < n; r++) out[o + r] = z[r * p + j] - mean;
  }
  return out;
}

/**
 * Rows i..i+3 of C against every column block j >= i (4 x 4 register blocks: each loaded value
 * serves four products), mirrored below the diagonal. Self-contained: its source is also run
 * by the helper thread.
 */
// eslint-disable-next-line max-lines-per-function -- an unrolled block kernel: splitting it costs speed on the hot path
function gramBlockRow(xt: Float64Array, c: Float64Array, p: number, n: number, i: number): void {
  const full = p - (p % 4);
  const a0 = i * n;
  const a1 = a0 + n;
  const a2 = a1 + n;
  const a3 = a2 + n;
  for (let j = i; j < full; j += 4) {
    const b0 = j * n;
    const b1 = b0 + n;
    const b2 = b1 + n;
    const b3 = b2 + n;
    let s00 = 0,
      s01 = 0,
      s02 = 0,
      s03 = 0,
      s10 = 0,
      s11 = 0,
      s12 = 0,
      s13 = 0;
    let s20 = 0,
      s21 = 0,
      s22 = 0,
      s23 = 0,
      s30 = 0,
      s31 = 0,
      s32 = 0,
      s33 = 0;
    for (let k = 0; k < n; k++) {
      const x0 = xt[a0 + k],
        x1 = xt[a1 + k],
        x2 = xt[a2 + k],
        x3 = xt[a3 + k];
      const y0 = xt[b0 + k],
        y1 = xt[b1 + k],
        y2 = xt[b2 + k],
        y3 = xt[b3 + k];
      s00 += x0 * y0;
      s01 += x0 * y1;
      s02 += x0 * y2;
      s03 += x0 * y3;
      s10 += x1 * y0;
      s11 += x1 * y1;
      s12 += x1 * y2;
      s13 += x1 * y3;
      s20 += x2 * y0;
      s21 += x2 * y1;
      s22 += x2 * y2;
      s23 += x2 * y3;
      s30 += x3 * y0;
      s31 += x3 * y1;
      s32 += x3 * y2;
      s33 += x3 * y3;
    }
    const block = [s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33];
    for (let r = 0; r < 4; r++) {
      for (let q = 0; q < 4; q++) {
        // x*y and y*x round identically, so the diagonal block is symmetric as computed.
        c[(i + r) * p + j + q] = block[r * 4 + q];
        c[(j + q) * p + i + r] = block[r * 4 + q];
      }
    }
  }
}

/** The entries the 4 x 4 blocks leave out (columns past the last multiple of 4). */
function gramTail(xt: Float64Array, c: Float64Array, p: number, n: number): void {
  const full = p - (p % 4);
  for (let i = 0; i < p; i++) {
    for (let j = Math.max(i, full); j < p; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += xt[i * n + k] * xt[j * n + k];
      c[i * p + j] = s;
      c[j * p + i] = s;
    }
  }
}

// ---- the helper thread -----------------------------------------------------------------

interface GramJob {
  xt: Float64Array;
  c: Float64Array;
  p: number;
  n: number;
  blocks: number;
  /** [next block to claim, blocks completed] */
  ctrl: Int32Array;
  /** Per block: 1 once completed. */
  done: Int32Array;
}

/** Block-claiming loop shared by both threads (self-contained: also run by the helper). */
function claimBlocks(job: GramJob, row: (xt: Float64Array, c: Float64Array, p: number, n: number, i: number) => void): number {
  for (let mine = 0; ; mine++) {
    const b = Atomics.add(job.ctrl, 0, 1);
    if (b >= job.blocks) return mine;
    row(job.xt, job.c, job.p, job.n, b * 4);
    Atomics.store(job.done, b, 1);
    Atomics.add(job.ctrl, 1, 1);
    Atomics.notify(job.ctrl, 1);
  }
}

const HELPER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const gramBlockRow = (${gramBlockRow.toString()});
const claimBlocks = (${claimBlocks.toString()});
parentPort.on('message', (job) => claimBlocks(job, gramBlockRow));
`;

/** Below this many multiply-adds the helper is not worth a message. */
const PARALLEL_WORK = 4e6;
/** Give up on the helper after this long without progress. */
const STALL_MS = 2000;

let helper: Worker | null | undefined;
let parallelEnabled = availableParallelism() > 1;

/** Turns the helper thread on or off (e.g. to measure both); on by default with 2+ cores. */
export function setParallelGram(enabled: boolean): void {
  parallelEnabled = enabled;
}

function getHelper(): Worker | null {
  if (helper !== undefined) return helper;
  try {
    // No execArgv: loaders such as tsx are not needed for this plain-JS source.
    const w = new Worker(HELPER_SOURCE, { eval: true, execArgv: [] });
    w.unref();
    w.on('error', () => (helper = null));
    w.on('exit', () => (helper = null));
    helper = w;
  } catch {
    helper = null;
  }
  return helper;
}

/** Starts the helper thread early (e.g. before computing activations) so it is ready for the first Gram. */
export function prewarmGram(): void {
  if (parallelEnabled) getHelper();
}

function parallelWorthwhile(p: number, n: number): boolean {
  return parallelEnabled && (n * p * p) / 2 >= PARALLEL_WORK && p >= 8;
}

/** Buffer for centered columns: shared memory when the Gram will be computed on two threads. */
export function gramInputBuffer(p: number, n: number): Float64Array {
  return parallelWorthwhile(p, n) && getHelper() ? new Float64Array(new SharedArrayBuffer(8 * p * n)) : new Float64Array(p * n);
}

let lastStats = { blocks: 0, helperBlocks: 0 };

/** How the last Gram was shared: blocks of 4 rows in all, and how many the helper thread computed. */
export function lastGramStats(): { blocks: number; helperBlocks: number } {
  return { ...lastStats };
}

/**
 * C = X^T X (p x p) from column-major X (p x n). `helperOnly` (for tests) leaves every block
 * to the helper thread, when there is one.
 */
export function gramOfColumns(xt: Float64Array, p: number, n: number, options: { helperOnly?: boolean } = {}): Float64Array {
  const blocks = Math.floor(p / 4);
  const shared = xt.buffer instanceof SharedArrayBuffer;
  const worker = shared && parallelWorthwhile(p, n) ? getHelper() : null;
  if (!worker) {
    lastStats = { blocks, helperBlocks: 0 };
    const c = new Float64Array(p * p);
    for (let b = 0; b < blocks; b++) gramBlockRow(xt, c, p, n, b * 4);
    gramTail(xt, c, p, n);
    return c;
  }
  const job: GramJob = {
    xt,
    c: new Float64Array(new SharedArrayBuffer(8 * p * p)),
    p,
    n,
    blocks,
    ctrl: new Int32Array(new SharedArrayBuffer(8)),
    done: new Int32Array(new SharedArrayBuffer(4 * Math.max(1, blocks))),
  };
  worker.postMessage(job);
  const mine = options.helperOnly ? 0 : claimBlocks(job, gramBlockRow);
  lastStats = { blocks, helperBlocks: blocks - mine };
  gramTail(xt, job.c, p, n);
  // Wait for the blocks the helper claimed; take them over if it stalls.
  let seen = Atomics.load(job.ctrl, 1);
  let since = Date.now();
  while (seen < blocks) {
    Atomics.wait(job.ctrl, 1, seen, 50);
    const now = Atomics.load(job.ctrl, 1);
    if (now !== seen) {
      seen = now;
      since = Date.now();
    } else if (Date.now() - since > (options.helperOnly ? 30 * STALL_MS : STALL_MS)) {
      for (let b = 0; b < blocks; b++) {
        if (Atomics.load(job.done, b) === 0) {
          gramBlockRow(xt, job.c, p, n, b * 4);
          lastStats.helperBlocks--;
        }
      }
      worker.terminate().catch(() => undefined);
      helper = null;
      break;
    }
  }
  return job.c;
}
