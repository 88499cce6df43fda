import { pickBest, type CkaOrder, type CkaVariant } from './cka-fast';
import { centeredColumns } from './gram';

/**
 * The straightforward CKA pruning the fast version (cka-fast.ts) must agree with, used by tests
 * and the benchmark. It does what the CKA-pruning study does: for every candidate it builds the
 * ablated outputs, then computes linear CKA from scratch in the sample-space (HSIC) form
 *
 *   CKA(X, Y) = <K, L> / sqrt(<K, K> <L, L>),  K = Xc Xc^T, L = Yc Yc^T  (n x n Gram matrices)
 *
 * which is a different route to the same number than the fast feature-space algebra.
 * Ablating a neuron sets its weights to zero, so its pre-activation output becomes exactly its
 * bias on every sample (x * 0 sums to 0 exactly): writing the bias into the column is the same
 * matrix a forward pass with the zeroed weights produces, without the float32 matmul.
 * Conventions shared with the fast version: no variance in the original -> 1, none left in the
 * ablated outputs -> 0, ties within CKA_TIE_TOLERANCE -> lowest index (`pickBest`).
 */

/** Gram matrix Xc Xc^T (n x n) of column-major centered columns (p x n). */
function sampleGram(xt: Float64Array, n: number, p: number): Float64Array {
  const rows = new Float64Array(n * p);
  for (let c = 0; c < p; c++) for (let a = 0; a < n; a++) rows[a * p + c] = xt[c * n + a];
  const k = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let c = 0; c < p; c++) s += rows[a * p + c] * rows[b * p + c];
      k[a * n + b] = s;
      k[b * n + a] = s;
    }
  }
  return k;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Linear CKA from the two Gram matrices, with the shared conventions for missing variance. */
function ckaOfGrams(k: Float64Array, l: Float64Array): number {
  const kk = dot(k, k);
  const ll = dot(l, l);
  if (kk === 0) return 1;
  if (ll === 0) return 0;
  return dot(k, l) / Math.sqrt(kk * ll);
}

/** Linear CKA between two row-major [n, p] float32 matrices of outputs (centered here, in float64). */
export function linearCkaReference(x: Float32Array, y: Float32Array, n: number, p: number): number {
  return ckaOfGrams(sampleGram(centeredColumns(x, n, p), n, p), sampleGram(centeredColumns(y, n, p), n, p));
}

/** The outputs with the given neurons ablated: their columns hold their bias (0 without one). */
export function ablateColumns(z: Float32Array, n: number, p: number, bias: Float32Array | null, neurons: Iterable<number>): Float32Array {
  const y = new Float32Array(z);
  for (const j of neurons) {
    const b = bias ? bias[j] : 0;
    for (let r = 0; r < n; r++) y[r * p + j] = b;
  }
  return y;
}

/**
 * Reference scores of every alive candidate i: linear CKA between the original outputs and the
 * outputs with `removed` and i ablated (NaN for neurons not alive). `original` is the sample
 * Gram of z, computed once by the caller.
 */
function scoreCandidates(
  z: Float32Array,
  n: number,
  p: number,
  bias: Float32Array | null,
  removed: number[],
  alive: Uint8Array,
  original: Float64Array,
): Float64Array {
  const scores = new Float64Array(p).fill(Number.NaN);
  for (let i = 0; i < p; i++) {
    if (!alive[i]) continue;
    const ablated = ablateColumns(z, n, p, bias, [...removed, i]);
    scores[i] = ckaOfGrams(original, sampleGram(centeredColumns(ablated, n, p), n, p));
  }
  return scores;
}

/** Reference scores of every candidate given the neurons already removed (for checking single greedy steps). */
export function ckaStepScoresReference(z: Float32Array, n: number, p: number, bias: Float32Array | null, removed: number[]): Float64Array {
  const alive = new Uint8Array(p).fill(1);
  for (const u of removed) alive[u] = 0;
  return scoreCandidates(z, n, p, bias, removed, alive, sampleGram(centeredColumns(z, n, p), n, p));
}

/**
 * Reference removal order (same contract as `ckaOrder` in cka-fast.ts). Cost: O(n^2 p) per
 * candidate, p candidates for `cka`, about k p candidates for `cka-greedy`.
 */
export function ckaOrderReference(
  z: Float32Array,
  n: number,
  p: number,
  bias: Float32Array | null,
  k: number,
  variant: CkaVariant,
): CkaOrder {
  const alive = new Uint8Array(p).fill(1);
  const removed: number[] = [];
  const steps = Math.min(k, p);
  // The original's Gram is the same for every candidate; only the ablated side is recomputed.
  const original = sampleGram(centeredColumns(z, n, p), n, p);
  if (variant === 'cka') {
    const scores = scoreCandidates(z, n, p, bias, removed, alive, original);
    for (let t = 0; t < steps; t++) {
      const best = pickBest(scores, alive);
      alive[best] = 0;
      removed.push(best);
    }
    return { order: removed, scores };
  }
  const stepScores = new Float64Array(steps);
  for (let t = 0; t < steps; t++) {
    const scores = scoreCandidates(z, n, p, bias, removed, alive, original);
    const best = pickBest(scores, alive);
    stepScores[t] = scores[best];
    alive[best] = 0;
    removed.push(best);
  }
  return { order: removed, scores: stepScores };
}
