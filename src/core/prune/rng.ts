import { seededRandom } from '../random';

export { seededRandom };
/** The first k entries of a seeded Fisher-Yates shuffle of 0..count-1. */
export function randomSubset(count: number, k: number, next: () => number): number[] {
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < Math.min(k, count - 1); i++) {
    const j = i + Math.floor(next() * (count - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k);
}
