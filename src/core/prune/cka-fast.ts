/**
 * Fast, exact CKA neuron ranking for one layer.
 *
 * Setting. Z (n x p) holds a layer's outputs before its activation on n samples; X is Z with
 * every column centered. Ablating neuron i zeroes its incoming weights, so column i of Z becomes
 * the constant bias b_i, which centers to exactly 0. Ablating a set S therefore gives
 * X~ = X D, with D = diag(d), d_i = 0 for i in S and 1 otherwise. The score of S is the linear
 * CKA (Kornblith et al. 2019) between the original and the ablated outputs:
 *
 *   CKA(X, X~) = ||X~^T X||_F^2 / (||X^T X||_F ||X~^T X~||_F).
 *
 * Derivation. Let C = X^T X (p x p, symmetric), R_i = sum_j C_ij^2 (squared norm of row i) and
 * F = ||C||_F^2 = sum_i R_i. Then X~^T X = D C (rows of S zeroed) and X~^T X~ = D C D (rows and
 * columns of S zeroed), so with K = the kept neurons (not in S):
 *
 *   A(S) = ||D C||_F^2   = sum_{i in K} R_i
 *   B(S) = ||D C D||_F^2 = sum_{i in K} sum_{j in K} C_ij^2 = sum_{i in K} r_i(S),
 *          where r_i(S) = sum_{j in K} C_ij^2 (row i restricted to kept columns)
 *   CKA(S) = A(S) / sqrt(F * B(S))          (sqrt(F) * sqrt(B) written as one sqrt)
 *
 * Adding a candidate k (in K) to S removes row k from A, and row k and column k from B. Row k of
 * D C D sums to r_k(S), column k too (C is symmetric), and the entry C_kk sits in both:
 *
 *   A(S + k) = A(S) - R_k
 *   B(S + k) = B(S) - 2 r_k(S) + C_kk^2
 *
 * so every candidate's score costs O(1) once A, B and r are known. After k is removed, each kept
 * row loses its entry in column k:  r_i(S + k) = r_i(S) - C_ik^2,  an O(p) update. For S = {}
 * (r = R, A = B = F) this is the one-shot score of every neuron ablated alone:
 *
 *   CKA({k}) = (F - R_k) / sqrt(F (F - 2 R_k + C_kk^2)).
 *
 * Cost of a layer: O(n p^2) for C (float64, the only heavy part), O(p^2) for R, then O(p) per
 * greedy step (scan + update), instead of O(n^2 p) (or O(n p^2)) per candidate per step when the
 * ablated outputs and their CKA are recomputed.
 *
 * Precision. Everything is float64 from the float32 activations. A is re-summed from R every
 * step and B from r (sums of non-negative terms), and r is re-summed exactly every
 * REFRESH_EVERY steps (or when B halved) so subtraction drift stays small. The update for
 * B(S + k) cancels when k holds nearly all of the kept mass (B(S + k) << B(S)); such candidates
 * get A summed directly and B(S + k) summed once and then carried along with their own O(p)
 * update (never subtracting k's own mass). A constant column (e.g. a dead neuron) centers to
 * exact zeros, so its row of C is exactly 0. In the tests, fast and reference scores differ by
 * at most about 1e-14, three orders below the tie tolerance.
 *
 * Conventions (shared with the reference in cka-reference.ts):
 * - If the original outputs have no variance at all (F = 0), every ablation scores 1.
 * - If the ablated outputs have no variance left (B = 0), the score is 0.
 * - The best candidate has the highest score; scores within CKA_TIE_TOLERANCE of the best so
 *   far count as equal and the lowest index wins: the selector's tie rule (`pickNext` in
 *   rank.ts) with that tolerance, so the one-shot ranking and every greedy step break ties the
 *   way every other strategy does.
 */

import { centeredColumns, gramInputBuffer, gramOfColumns } from './gram';
import { pickNext, rankForRemoval, type RankRule } from './rank';

/** Two scores closer than this are a tie (decided by lowest index). */
export const CKA_TIE_TOLERANCE = 1e-11;

/** The selector's rule for CKA scores: the highest goes first, near-ties by lowest index. */
export const CKA_RANK_RULE: RankRule = { removeFirst: 'highest', tieTolerance: CKA_TIE_TOLERANCE };

// r's drift after m subtractions is below m * 1.1e-16 of B at the last re-sum: 256 keeps it under 3e-14.
const REFRESH_EVERY = 256;
/** Below this share of the kept mass, the O(1) update for B(S + k) is not trusted. */
const CANCEL_SHARE = 1e-3;

/** Index of the highest score among alive candidates; near-ties go to the lowest index. -1 if none. */
export function pickBest(scores: ArrayLike<number>, alive: Uint8Array): number {
  return pickNext(scores, alive, CKA_RANK_RULE);
}

/** C = X^T X of the centered pre-activation outputs (row-major [n, p] float32). */
export function centeredGram(z: Float32Array, n: number, p: number): Float64Array {
  return gramOfColumns(centeredColumns(z, n, p, gramInputBuffer(p, n)), p, n);
}

export type CkaVariant = 'cka' | 'cka-greedy';

export interface CkaOrder {
  /** Neurons in the order they are removed (length k). */
  order: number[];
  /**
   * cka: each neuron's score ablated alone (length p).
   * cka-greedy: for step t, CKA between the original outputs and those with order[0..t] ablated (length k).
   */
  scores: Float64Array;
}

/** Sees every candidate's score before each greedy step (once for `cka`); for checks and plots. */
export type CkaObserver = (step: number, scores: Float64Array, alive: Uint8Array) => void;

/** The running state of ablating a set S from a layer with centered Gram C (names as in the derivation above). */
interface Ablation {
  p: number;
  /** C_ij^2, used by every sum. */
  c2: Float64Array;
  /** R_i. */
  rowSq: Float64Array;
  /** C_ii^2 kept contiguous: the diagonal of c2 is a cache miss per row. */
  diag2: Float64Array;
  /** F. */
  f: number;
  /** r_i(S). */
  r: Float64Array;
  alive: Uint8Array;
  /** `alive` as 0/1 doubles, for branch-free sums. */
  aliveF: Float64Array;
  /** B when r was last summed exactly: the drift of r since then is a tiny share of it. */
  bRef: number;
  /**
   * B(S + d) for candidates d whose O(1) update cancels (e.g. a neuron holding nearly all the
   * variance): summed exactly once, then updated per step in O(p) without subtracting anything
   * of d's own mass.
   */
  tracked: Map<number, number>;
  /** Every alive candidate's score for the current S. */
  scores: Float64Array;
}

/** S = {}: squares of C, their row sums R and total F; r = R. */
function startAblation(c: Float64Array, p: number): Ablation {
  const c2 = new Float64Array(p * p);
  for (let i = 0; i < c2.length; i++) c2[i] = c[i] * c[i];
  const rowSq = new Float64Array(p);
  const diag2 = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = 0;
    const o = i * p;
    for (let j = 0; j < p; j++) s += c2[o + j];
    rowSq[i] = s;
    diag2[i] = c2[o + i];
  }
  let f = 0;
  for (let i = 0; i < p; i++) f += rowSq[i];
  const alive = new Uint8Array(p).fill(1);
  const aliveF = new Float64Array(p).fill(1);
  return { p, c2, rowSq, diag2, f, r: new Float64Array(rowSq), alive, aliveF, bRef: f, tracked: new Map(), scores: new Float64Array(p) };
}

/** Exact B(S + k): sum of C_ij^2 over kept i, j other than k. O(p^2), only for cancelling candidates. */
function exactB(s: Ablation, skip: number): number {
  const { p, alive, c2 } = s;
  let sum = 0;
  for (let i = 0; i < p; i++) {
    if (!alive[i] || i === skip) continue;
    const o = i * p;
    for (let j = 0; j < p; j++) if (alive[j] && j !== skip) sum += c2[o + j];
  }
  return sum;
}

function exactA(s: Ablation, skip: number): number {
  let sum = 0;
  for (let i = 0; i < s.p; i++) if (s.alive[i] && i !== skip) sum += s.rowSq[i];
  return sum;
}

function ckaScore(f: number, a: number, b: number): number {
  return f === 0 ? 1 : b > 0 ? a / Math.sqrt(f * b) : 0;
}

/** Scores every alive candidate for the current S into `s.scores` (cancelling ones summed exactly). */
function scoreCandidates(s: Ablation): void {
  const { p, alive, rowSq, r, diag2, f, scores } = s;
  let a = 0;
  let b = 0;
  let nonConstant = 0;
  for (let i = 0; i < p; i++) {
    if (!alive[i]) continue;
    a += rowSq[i];
    b += r[i];
    if (rowSq[i] > 0) nonConstant++;
  }
  const suspect: number[] = [];
  for (let i = 0; i < p; i++) {
    if (!alive[i]) continue;
    if (f === 0) {
      scores[i] = 1;
      continue;
    }
    // Exact zero: nothing with variance stays once i goes (rows of constant neurons are exact zeros).
    if (nonConstant === 0 || (nonConstant === 1 && rowSq[i] > 0)) {
      scores[i] = 0;
      continue;
    }
    const ai = a - rowSq[i];
    const bi = b - 2 * r[i] + diag2[i];
    if (!(bi > CANCEL_SHARE * s.bRef) || !(ai > CANCEL_SHARE * a)) {
      suspect.push(i);
      scores[i] = -Infinity;
    } else {
      scores[i] = ckaScore(f, ai, bi);
    }
  }
  for (const i of suspect) {
    let bi = s.tracked.get(i);
    if (bi === undefined) {
      bi = exactB(s, i);
      s.tracked.set(i, bi);
    }
    scores[i] = ckaScore(f, exactA(s, i), bi);
  }
}

/** Re-sums r exactly every REFRESH_EVERY steps, or when B halved (drift is bounded relative to bRef, so bRef must stay close to B). */
function refreshIfDrifting(s: Ablation, t: number): void {
  const { p, alive, aliveF, r, c2 } = s;
  let bNow = 0;
  for (let i = 0; i < p; i++) if (alive[i]) bNow += r[i];
  if (!(t > 0 && (t % REFRESH_EVERY === 0 || bNow < 0.5 * s.bRef))) return;
  s.tracked.clear();
  s.bRef = 0;
  for (let i = 0; i < p; i++) {
    if (!alive[i]) continue;
    let sum = 0;
    const o = i * p;
    for (let j = 0; j < p; j++) sum += c2[o + j] * aliveF[j];
    r[i] = sum;
    s.bRef += sum;
  }
}

/** Adds `best` to S: O(p) update of r, and of the tracked B(S + d). */
function ablate(s: Ablation, best: number): void {
  const { p, alive, aliveF, r, c2, tracked } = s;
  alive[best] = 0;
  aliveF[best] = 0;
  const o = best * p;
  for (let i = 0; i < p; i++) r[i] -= c2[o + i] * aliveF[i];
  tracked.delete(best);
  const cbb = c2[o + best];
  for (const [d, bd] of tracked) {
    // B(S + d) loses row and column `best` restricted to kept columns other than d.
    let sRow = cbb;
    for (let j = 0; j < p; j++) if (alive[j] && j !== d) sRow += c2[o + j];
    const next = bd - 2 * sRow + cbb;
    if (next > CANCEL_SHARE * bd) tracked.set(d, next);
    else tracked.delete(d); // cancels too: summed afresh when next needed
  }
}

/** `cka`'s score of every neuron: linear CKA of the original against it ablated alone (length p). */
export function ckaScoresFromGram(c: Float64Array, p: number, observe?: CkaObserver): Float64Array {
  const s = startAblation(c, p);
  scoreCandidates(s);
  observe?.(0, s.scores, s.alive);
  return s.scores;
}

/** `cka-greedy`: k steps, each removing the best of every remaining neuron ablated with those already removed. */
function greedyOrder(c: Float64Array, p: number, k: number, observe?: CkaObserver): CkaOrder {
  const s = startAblation(c, p);
  const steps = Math.min(k, p);
  const stepScores = new Float64Array(steps);
  const order: number[] = [];
  for (let t = 0; t < steps; t++) {
    refreshIfDrifting(s, t);
    scoreCandidates(s);
    const best = pickBest(s.scores, s.alive);
    observe?.(t, s.scores, s.alive);
    stepScores[t] = s.scores[best];
    order.push(best);
    ablate(s, best);
  }
  return { order, scores: stepScores };
}

/**
 * The k neurons to remove from a layer with centered Gram C (p x p).
 * `cka`: every neuron scored once, ablated alone against the original; removal in score order
 * (the selector's ranking with CKA_RANK_RULE).
 * `cka-greedy`: each step scores every remaining neuron ablated together with those already
 * removed and removes the best.
 */
export function ckaOrderFromGram(c: Float64Array, p: number, k: number, variant: CkaVariant, observe?: CkaObserver): CkaOrder {
  if (variant === 'cka-greedy') return greedyOrder(c, p, k, observe);
  const scores = ckaScoresFromGram(c, p, observe);
  return { order: rankForRemoval(scores, Math.min(k, p), CKA_RANK_RULE), scores };
}

/** Fast CKA removal order for one layer from its pre-activation outputs (row-major [n, p]). */
export function ckaOrder(z: Float32Array, n: number, p: number, k: number, variant: CkaVariant, observe?: CkaObserver): CkaOrder {
  return ckaOrderFromGram(centeredGram(z, n, p), p, k, variant, observe);
}

/**
 * CKA of the layer's outputs after removing order[0..t] against the original, for every t
 * (same algebra as above: A = sum of kept R_i, B = sum of kept r_i, r re-summed every 256
 * removals).
 */
export function ckaCurve(c: Float64Array, p: number, order: readonly number[]): Float64Array {
  const c2 = new Float64Array(p * p);
  for (let i = 0; i < c2.length; i++) c2[i] = c[i] * c[i];
  const rowSq = new Float64Array(p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) rowSq[i] += c2[i * p + j];
  let f = 0;
  for (let i = 0; i < p; i++) f += rowSq[i];
  const r = new Float64Array(rowSq);
  const alive = new Float64Array(p).fill(1);
  const curve = new Float64Array(order.length);
  order.forEach((k, t) => {
    alive[k] = 0;
    if ((t + 1) % 256 === 0) {
      for (let i = 0; i < p; i++) {
        let s = 0;
        for (let j = 0; j < p; j++) s += c2[i * p + j] * alive[j];
        r[i] = s;
      }
    } else {
      for (let i = 0; i < p; i++) r[i] -= c2[k * p + i];
    }
    let a = 0;
    let b = 0;
    for (let i = 0; i < p; i++) {
      a += rowSq[i] * alive[i];
      b += r[i] * alive[i];
    }
    curve[t] = f === 0 ? 1 : b > 0 ? a / Math.sqrt(f * b) : 0;
  });
  return curve;
}
