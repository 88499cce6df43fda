/** Small seeded generator (mulberry32): same seed, same plan, on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first k entries of a seeded Fisher-Yates shuffle of 0..count-1. */
export function randomSubset(count: number, k: number, next: () => number): number[] {
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < Math.min(k, count - 1); i++) {
    const j = i + Math.floor(next() * (count - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k);
}
