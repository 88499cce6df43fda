import type { LayerPoint, Point, StrategyRun } from '../results/format';

type LayerTrend = NonNullable<StrategyRun['layerTrend']>;

/** What a trend reads of a point. */
export type TrendPoint = Pick<Point, 'sparsity'> & { layers: Pick<LayerPoint, 'name' | 'similarity'>[] };

/** Similarities this close count as equal when asking whether they fall with depth (sampling noise). */
const SLACK = 0.005;
export const TREND_THRESHOLD = 0.9;

const percent = (s: number) => `${Math.round(s * 1000) / 10}%`;

/** Every layer's similarity at a point, or null when one is missing. */
function valuesAt(p: TrendPoint): number[] | null {
  const v = p.layers.map((l) => l.similarity);
  return v.length > 0 && v.every((x): x is number => x !== null) ? v : null;
}

/** As sparsity grows, the first layer below the threshold (the deeper one when two cross at once). */
function firstBelow(points: TrendPoint[], threshold: number): LayerTrend['firstBelow'] {
  for (const p of [...points].sort((a, b) => a.sparsity - b.sparsity)) {
    const v = p.layers.map((l) => l.similarity);
    for (let i = v.length - 1; i >= 0; i--) {
      const x = v[i];
      if (x !== null && x < threshold) return { layer: p.layers[i].name, sparsity: p.sparsity };
    }
  }
  return null;
}

/**
 * The layer-similarity study's finding for one run, as a number and a line: whether each layer's
 * similarity to the original's layer falls with depth at the run's highest sparsity, which layer
 * is least similar there, and which layer falls below the threshold first as sparsity grows.
 * Null when no point has every layer's similarity (a metric that failed, or no data).
 */
export function layerTrend(points: TrendPoint[], threshold = TREND_THRESHOLD): LayerTrend | null {
  const measured = points.filter((p) => valuesAt(p) !== null);
  if (measured.length === 0) return null;
  const top = measured.reduce((a, p) => (p.sparsity >= a.sparsity ? p : a));
  const values = valuesAt(top)!;
  const names = top.layers.map((l) => l.name);
  const fallsWithDepth = values.every((v, i) => i === 0 || v <= values[i - 1] + SLACK);
  let low = 0;
  values.forEach((v, i) => (low = v <= values[low] ? i : low));
  const below = firstBelow(measured, threshold);
  const shape = fallsWithDepth
    ? `falls layer by layer, ${names[0]} ${values[0].toFixed(3)} to ${names[names.length - 1]} ${values[values.length - 1].toFixed(3)}`
    : `lowest in ${names[low]} (${values[low].toFixed(3)}), not falling layer by layer (${values.map((v) => v.toFixed(3)).join(', ')})`;
  const first = below
    ? `${below.layer} drops below ${threshold} first, at ${percent(below.sparsity)}`
    : `every layer stays at or above ${threshold}`;
  return {
    sparsity: top.sparsity,
    values,
    fallsWithDepth,
    lowest: names[low],
    firstBelow: below,
    threshold,
    summary: `at ${percent(top.sparsity)} the similarity to the original ${shape}; ${first}`,
  };
}
