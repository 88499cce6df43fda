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
 * With tolerance 0 the rule is a total order, so a stable sort (units) or a radix select
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

// ---- weights: radix select over sortable 64-bit keys ------------------------------------------

const HIGH_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * Unsigned 64-bit keys (high and low words) that order like the removal rule: key(i) < key(j)
 * when weight i goes before j. A double's bits order like its value once positives get the sign
 * bit set and negatives are complemented; complementing that key reverses the order (highest
 * first). -0 is +0, and NaN gets the largest key (last) either way.
 */
function sortableKeys(layers: readonly Float64Array[], removeFirst: RemoveFirst): { hi: Uint32Array; lo: Uint32Array } {
  const total = layers.reduce((s, a) => s + a.length, 0);
  const hi = new Uint32Array(total);
  const lo = new Uint32Array(total);
  const flip = removeFirst === 'highest';
  let p = 0;
  for (const scores of layers) {
    // The score's own words, read through a view: far faster than a scratch value per element.
    const words = new Uint32Array(scores.buffer, scores.byteOffset, 2 * scores.length);
    for (let i = 0; i < scores.length; i++, p++) {
      const x = scores[i];
      if (Number.isNaN(x) || x === 0) {
        hi[p] = x === 0 ? 0x80000000 : 0xffffffff;
        lo[p] = x === 0 ? 0 : 0xffffffff;
        continue;
      }
      const h = words[2 * i + HIGH_WORD];
      const l = words[2 * i + 1 - HIGH_WORD];
      const negative = h >>> 31 === 1;
      const kh = negative ? ~h >>> 0 : (h | 0x80000000) >>> 0;
      const kl = negative ? ~l >>> 0 : l;
      hi[p] = flip ? ~kh >>> 0 : kh;
      lo[p] = flip ? ~kl >>> 0 : kl;
    }
  }
  return { hi, lo };
}

/** 16-bit digit d (0 = most significant) of key i. */
function digitOf(hi: Uint32Array, lo: Uint32Array, i: number, d: number): number {
  const word = d < 2 ? hi[i] : lo[i];
  return d % 2 === 0 ? word >>> 16 : word & 0xffff;
}

/** The k-th smallest key (1-based): four 16-bit passes, each over the keys that share the digits found so far. */
function kthKey(hi: Uint32Array, lo: Uint32Array, k: number): { hi: number; lo: number } {
  let rank = k - 1;
  // Pass 1 reads every key directly; the later ones only the (usually few) candidates left.
  const counts = new Uint32Array(65536);
  for (let i = 0; i < hi.length; i++) counts[hi[i] >>> 16]++;
  let v = 0;
  while (rank >= counts[v]) rank -= counts[v++];
  const found = [v];
  let candidates = new Uint32Array(counts[v]);
  for (let i = 0, q = 0; i < hi.length; i++) if (hi[i] >>> 16 === v) candidates[q++] = i;
  for (let d = 1; d < 4; d++) {
    counts.fill(0);
    for (let c = 0; c < candidates.length; c++) counts[digitOf(hi, lo, candidates[c], d)]++;
    v = 0;
    while (rank >= counts[v]) rank -= counts[v++];
    found.push(v);
    const next = new Uint32Array(counts[v]);
    for (let c = 0, q = 0; c < candidates.length; c++) if (digitOf(hi, lo, candidates[c], d) === v) next[q++] = candidates[c];
    candidates = next;
  }
  return { hi: ((found[0] << 16) | found[1]) >>> 0, lo: ((found[2] << 16) | found[3]) >>> 0 };
}

/**
 * 0/1 masks (0 = remove), one per array, removing `k` weights of all the arrays together by the
 * tie rule (tolerance 0; earlier arrays count as lower indices). One array: per-layer selection;
 * several: global ranking.
 */
export function removalMasks(layers: readonly Float64Array[], k: number, removeFirst: RemoveFirst): Uint8Array[] {
  const { hi, lo } = sortableKeys(layers, removeFirst);
  const n = hi.length;
  const mask = new Uint8Array(n).fill(1);
  if (k >= n) mask.fill(0);
  else if (k > 0) {
    const t = kthKey(hi, lo, k);
    // Everything below the k-th key goes; of the keys equal to it, the lowest indices until k.
    let removed = 0;
    for (let i = 0; i < n; i++) {
      if (hi[i] < t.hi || (hi[i] === t.hi && lo[i] < t.lo)) {
        mask[i] = 0;
        removed++;
      }
    }
    for (let i = 0; i < n && removed < k; i++) {
      if (hi[i] === t.hi && lo[i] === t.lo) {
        mask[i] = 0;
        removed++;
      }
    }
  }
  let p = 0;
  return layers.map((a) => mask.slice(p, (p += a.length)));
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
