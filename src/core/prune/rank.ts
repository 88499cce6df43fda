import quickselect from 'quickselect';
import type { NMPattern, RemoveFirst } from './strategy';

/**
 * How scores become a removal order or a mask: the one tie rule of every strategy.
 *
 * Rule. Candidates are compared in ascending index order (unit index; flat [in, out] row-major
 * weight index; for global ranking the lower layer first, as if the layers were concatenated).
 * The candidate that goes first is the one with the lowest score (or the highest, as the
 * criterion says); a later candidate displaces an earlier one only when it is better by more
 * than the tie tolerance (0 by default: any strictly better score). So equal scores go lowest
 * index first, and with a tolerance, scores within it of the best so far count as equal. -0 and
 * +0 are equal. NaN scores are never preferred to a number: they go last, lowest index first.
 *
 * With tolerance 0 the rule is a total order, so a stable sort (units) or a selection
 * (weights, O(n) for millions) gives it; with a tolerance it is not transitive, so it is applied
 * as it is stated: one scan per removal (`pickNext`).
 */

export interface RankRule {
  removeFirst: RemoveFirst;
  tieTolerance?: number;
}

/** The next candidate to remove among the alive ones, by the tie rule; -1 when none is alive. */
export function pickNext(scores: ArrayLike<number>, alive: Uint8Array, rule: RankRule): number {
  const tolerance = rule.tieTolerance ?? 0;
  // Compared as sign * score, higher first: one comparison serves both directions exactly.
  const sign = rule.removeFirst === 'highest' ? 1 : -1;
  let best = -1;
  let bestScore = Number.NaN;
  for (let i = 0; i < alive.length; i++) {
    if (!alive[i]) continue;
    const s = sign * scores[i];
    if (best < 0 || (Number.isNaN(bestScore) && !Number.isNaN(s)) || s > bestScore + tolerance) {
      best = i;
      bestScore = s;
    }
  }
  return best;
}

/** Comparator of the tie rule with tolerance 0: negative when candidate a goes before b. */
export function removalComparator(scores: ArrayLike<number>, removeFirst: RemoveFirst): (a: number, b: number) => number {
  const sign = removeFirst === 'highest' ? 1 : -1;
  return (a, b) => {
    const x = sign * scores[a];
    const y = sign * scores[b];
    if (x > y) return -1;
    if (x < y) return 1;
    const xNaN = Number.isNaN(x);
    if (xNaN !== Number.isNaN(y)) return xNaN ? 1 : -1;
    return a - b;
  };
}

/**
 * The first `count` candidates to remove, in order. `accept` may refuse a candidate (global
 * ranking refuses a layer's last unit); a refused one is skipped and the next is taken.
 */
export function rankForRemoval(
  scores: ArrayLike<number>,
  count: number,
  rule: RankRule,
  accept: (i: number) => boolean = () => true,
): number[] {
  const n = scores.length;
  const order: number[] = [];
  if ((rule.tieTolerance ?? 0) === 0) {
    const idx = Array.from({ length: n }, (_, i) => i).sort(removalComparator(scores, rule.removeFirst));
    for (let t = 0; t < n && order.length < count; t++) if (accept(idx[t])) order.push(idx[t]);
    return order;
  }
  const alive = new Uint8Array(n).fill(1);
  while (order.length < count) {
    const next = pickNext(scores, alive, rule);
    if (next < 0) break;
    alive[next] = 0;
    if (accept(next)) order.push(next);
  }
  return order;
}

// ---- weights: selection of the k-th key -----------------------------------------------------

/**
 * 0/1 masks (0 = remove), one per array, removing `k` weights of all the arrays together by the
 * tie rule (tolerance 0; earlier arrays count as lower indices). One array: per-layer selection;
 * several: global ranking.
 *
 * The key of a score is the score, negated when the highest go first, so the lowest key goes
 * first either way (-0 and +0 compare equal); NaN scores have none and go last. The k-th lowest
 * key comes from quickselect (O(n)), then one pass removes every key below it and a second the
 * keys equal to it, lowest index first, until k. A radix select over 64-bit sortable keys did the
 * same in 27-35 ms per million weights here, this 18-25: building the keys cost most of it.
 */
export function removalMasks(layers: readonly Float64Array[], k: number, removeFirst: RemoveFirst): Uint8Array[] {
  const sign = removeFirst === 'highest' ? -1 : 1;
  const n = layers.reduce((s, a) => s + a.length, 0);
  const keys = new Float64Array(n);
  let numbers = 0;
  for (const scores of layers) {
    for (let i = 0; i < scores.length; i++) {
      const x = scores[i];
      if (x === x) keys[numbers++] = sign * x;
    }
  }
  const mask = new Uint8Array(n).fill(1);
  if (k >= numbers) {
    // Every number goes, then NaNs lowest index first.
    let nans = k - numbers;
    forEachScore(layers, (x, p) => {
      if (x !== x && nans === 0) return;
      if (x !== x) nans--;
      mask[p] = 0;
    });
  } else if (k > 0) {
    quickselect(keys, k - 1, 0, numbers - 1);
    removeBelowThenTies(layers, mask, keys[k - 1], sign, k);
  }
  if (layers.length === 1) return [mask];
  let p = 0;
  return layers.map((a) => mask.slice(p, (p += a.length)));
}

/** Calls `f` with each score and its position over the arrays taken as one. */
function forEachScore(layers: readonly Float64Array[], f: (x: number, p: number) => void): void {
  let p = 0;
  for (const scores of layers) for (let i = 0; i < scores.length; i++, p++) f(scores[i], p);
}

/** Zeroes the mask where the key is below `cut`, then where it equals it, lowest index first, until k are zero. */
function removeBelowThenTies(layers: readonly Float64Array[], mask: Uint8Array, cut: number, sign: number, k: number): void {
  let removed = 0;
  let p = 0;
  for (const scores of layers) {
    // No branch per weight: kept and removed weights interleave at random.
    for (let i = 0; i < scores.length; i++, p++) {
      const below = ((sign * scores[i] < cut) as unknown as number) | 0;
      mask[p] = 1 - below;
      removed += below;
    }
  }
  p = 0;
  for (let l = 0; l < layers.length && removed < k; l++) {
    const scores = layers[l];
    for (let i = 0; i < scores.length && removed < k; i++) {
      if (sign * scores[i] === cut) {
        mask[p + i] = 0;
        removed++;
      }
    }
    p += scores.length;
  }
}

/** How many weights an N:M pattern removes from a layer (a last, shorter group keeps up to n too). */
export function nmRemovedCount(inputSize: number, units: number, pattern: NMPattern): number {
  let perUnit = 0;
  for (let g = 0; g < inputSize; g += pattern.m) perUnit += Math.max(0, Math.min(pattern.m, inputSize - g) - pattern.n);
  return perUnit * units;
}

/**
 * N:M mask of one layer's weight scores ([in, out] row-major, 0 = remove): for every unit
 * (column), each group of m consecutive inputs keeps its n best weights and loses the rest by the
 * tie rule (lowest input index first among equal scores). A last group shorter than m also keeps
 * up to n, so a layer whose inputs are not a multiple of m is still pruned everywhere else.
 */
export function nmMask(scores: Float64Array, inputSize: number, units: number, pattern: NMPattern, removeFirst: RemoveFirst): Uint8Array {
  const mask = new Uint8Array(inputSize * units).fill(1);
  const compare = removalComparator(scores, removeFirst);
  const group: number[] = [];
  for (let j = 0; j < units; j++) {
    for (let g = 0; g < inputSize; g += pattern.m) {
      group.length = 0;
      for (let i = g; i < Math.min(g + pattern.m, inputSize); i++) group.push(i * units + j);
      if (group.length <= pattern.n) continue;
      group.sort(compare);
      for (let t = 0; t < group.length - pattern.n; t++) mask[group[t]] = 0;
    }
  }
  return mask;
}
