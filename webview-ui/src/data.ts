/**
 * Shapes results into chart series. Pure (no DOM, no Chart.js), so node tests can check it.
 */
import {
  seriesName,
  type AnalysisResults,
  type Histogram,
  type LayerGeometry,
  type Point,
  type StrategyRun,
} from '../../src/core/results/format';
import type { XAxis } from '../../src/shared/results-panel-protocol';

export interface XY {
  x: number;
  y: number;
  /** The share requested, when x is another axis (tooltips say both). */
  requested?: number;
}

/** How each x axis is named: in its picker, in chart names ("Accuracy vs ...") and as the axis title. */
export const X_AXIS_TEXT: Record<XAxis, { label: string; short: string; title: string }> = {
  requested: { label: 'share requested', short: 'sparsity', title: 'sparsity (share of prunable weights/units removed)' },
  parameters: {
    label: 'parameters removed',
    short: 'parameters removed',
    title: "parameters removed (share of the original's weights and biases, every layer)",
  },
  flops: { label: 'FLOPs removed', short: 'FLOPs removed', title: "FLOPs removed (share of the original's per sample)" },
};

/**
 * Where a point sits on an x axis: the share requested, or 1 - what is left / the original's
 * (parameters, FLOPs); null when the original has none to remove.
 */
export function xOf(results: AnalysisResults, axis: XAxis): (p: Point) => number | null {
  const b = results.baseline;
  switch (axis) {
    case 'parameters':
      return (p) => (b.parameters > 0 ? 1 - p.parameters / b.parameters : null);
    case 'flops':
      return (p) => (b.flops > 0 ? 1 - p.flops / b.flops : null);
    default:
      return (p) => p.sparsity;
  }
}

export interface Series {
  label: string;
  /** Index into the palette (one colour per run: plain and compensated runs of a strategy differ). */
  colour: number;
  /** Dash pattern index (one per round of an iterative run). */
  dash: number;
  points: XY[];
}

/** Rounds of a run, ascending. */
export function iterationsOf(run: StrategyRun): number[] {
  return [...new Set(run.points.map((p) => p.iteration))].sort((a, b) => a - b);
}

/**
 * One series per run (named by seriesName), and per round for runs with several rounds: `y(point)` against the
 * requested sparsity or another x axis (each series then has x values of its own), sorted by x.
 * Points where `y` or x gives null are left out.
 */
export function seriesBySparsity(results: AnalysisResults, y: (p: Point) => number | null, axis: XAxis = 'requested'): Series[] {
  const out: Series[] = [];
  const x = xOf(results, axis);
  results.runs.forEach((run, colour) => {
    const rounds = iterationsOf(run);
    rounds.forEach((round, dash) => {
      const points = run.points
        .filter((p) => p.iteration === round)
        .map((p) => ({ x: x(p), y: y(p), ...(axis === 'requested' ? {} : { requested: p.sparsity }) }))
        .filter((p): p is XY => p.x !== null && Number.isFinite(p.x) && p.y !== null && Number.isFinite(p.y))
        .sort((a, b) => a.x - b.x);
      const name = seriesName(run);
      const label = rounds.length > 1 ? `${name} · round ${round}` : name;
      out.push({ label, colour, dash, points });
    });
  });
  return out;
}

/** The x range every series spans on an axis (for reference lines); [0, 1] when there is none. */
export function sparsityRange(results: AnalysisResults, axis: XAxis = 'requested'): [number, number] {
  const x = xOf(results, axis);
  const xs = results.runs.flatMap((r) => r.points.map(x)).filter((v): v is number => v !== null && Number.isFinite(v));
  return xs.length ? [Math.min(0, ...xs), Math.max(...xs)] : [0, 1];
}

/**
 * A point's magnitude KS (pruned against kept |w|) averaged over the layers that have one; null
 * when none has (nothing pruned, or a file written before it was recorded).
 */
export function meanMagnitudeKS(p: Point): number | null {
  const ks = p.layers.map((l) => l.magnitudeKS).filter((v): v is number => v !== null && v !== undefined);
  return ks.length ? ks.reduce((a, b) => a + b, 0) / ks.length : null;
}

/** One series per layer: the layer's similarity to the original's against sparsity, for one run. */
export function layerSimilaritySeries(run: StrategyRun): Series[] {
  const names: string[] = [];
  for (const p of run.points) for (const l of p.layers) if (!names.includes(l.name)) names.push(l.name);
  const rounds = iterationsOf(run);
  return names.flatMap((name, colour) =>
    rounds.map((round, dash) => ({
      label: rounds.length > 1 ? `${name} · round ${round}` : name,
      colour,
      dash,
      points: run.points
        .filter((p) => p.iteration === round)
        .map((p) => ({ x: p.sparsity, y: p.layers.find((l) => l.name === name)?.similarity ?? null }))
        .filter((p): p is XY => p.y !== null)
        .sort((a, b) => a.x - b.x),
    })),
  );
}

export interface HeatCell {
  x: number;
  y: number;
  /** null: the metric is undefined for this pair. */
  v: number | null;
}

/** Cells of a matrix, row i at y = i, column j at x = j. */
export function heatCells(matrix: (number | null)[][]): HeatCell[] {
  return matrix.flatMap((row, y) => row.map((v, x) => ({ x, y, v })));
}

/** Labels for histogram bins: "0.10–0.20". */
export function binLabels(h: Histogram): string[] {
  const f = (v: number) => (Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(2))));
  return h.counts.map((_, i) => `${f(h.edges[i])}–${f(h.edges[i + 1])}`);
}

/** Percent text for a share: 0.5 -> "50%", 0.125 -> "12.5%". */
export function pct(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/** A label for a point in pickers: "50%" or "50% · round 2". */
export function pointLabel(run: StrategyRun, index: number): string {
  const p = run.points[index];
  const several = iterationsOf(run).length > 1;
  return several ? `${pct(p.sparsity)} · round ${p.iteration}` : pct(p.sparsity);
}

/**
 * The run and point the pickers name (`series`: a run's series name, which for a run without a
 * label is its strategy, so states saved before labels existed still pick), falling back to the
 * first run and its point nearest 50 %.
 */
export function pickPoint(results: AnalysisResults, series?: string, point?: number): { run: StrategyRun; index: number } | undefined {
  const run = results.runs.find((r) => seriesName(r) === series) ?? results.runs.find((r) => r.points.length > 0);
  if (!run || run.points.length === 0) return undefined;
  if (point !== undefined && point < run.points.length) return { run, index: point };
  // Default: the first round's point nearest 50 %.
  const first = Math.min(...run.points.map((p) => p.iteration));
  let index = run.points.findIndex((p) => p.iteration === first);
  run.points.forEach((p, i) => {
    if (p.iteration === first && Math.abs(p.sparsity - 0.5) < Math.abs(run.points[index].sparsity - 0.5)) index = i;
  });
  return { run, index };
}

/** Unique axis labels for layers ("1 fc1"), so equal names cannot merge categories. */
export function layerLabels(names: string[]): string[] {
  return names.map((n, i) => `${i + 1} ${n}`);
}

export const GEOMETRY_ASCENDING = 'ascending APoZ (most active first)';
export const GEOMETRY_DESCENDING = 'descending APoZ (most often silent first)';

/** R^2 against units kept: one series per order in which units were added. */
export function geometrySeries(g: Extract<LayerGeometry, { applies: true }>): Series[] {
  const xy = (points: { k: number; r2: number }[]) => points.map((p) => ({ x: p.k, y: p.r2 }));
  return [
    { label: GEOMETRY_ASCENDING, colour: 0, dash: 0, points: xy(g.ascending) },
    { label: GEOMETRY_DESCENDING, colour: 1, dash: 1, points: xy(g.descending) },
  ];
}

/**
 * Hidden-layer positions the geometry picker offers across one or more models (the analysed
 * model, or A and B), and the default: the first position where some model has curves.
 */
export function geometryLayers(sides: { name: string; geometry?: LayerGeometry[] }[]): { labels: string[]; first: number } {
  const n = Math.max(0, ...sides.map((s) => s.geometry?.length ?? 0));
  const labels = Array.from({ length: n }, (_, i) => {
    const names = sides
      .map((s) => (s.geometry?.[i] ? `${sides.length > 1 ? `${s.name} ` : ''}${s.geometry[i].layer}` : undefined))
      .filter(Boolean);
    return `${i + 1} ${names.join(' · ')}`;
  });
  const first = Array.from({ length: n }, (_, i) => i).find((i) => sides.some((s) => s.geometry?.[i]?.applies)) ?? 0;
  return { labels, first };
}

/** Accuracy drop in percentage points: the original's accuracy minus each point's. */
export function accuracyDropPoints(results: AnalysisResults): (p: Point) => number {
  return (p) => (results.baseline.accuracy - p.accuracy) * 100;
}

export interface SmallestWithin {
  series: string;
  sparsity: number;
  parameters: number;
  accuracy: number;
}

/**
 * The point with the fewest parameters whose accuracy is at most `points` percentage points below
 * the original's (ties: the more accurate, then the earlier run); undefined when none is.
 */
export function smallestWithin(results: AnalysisResults, points = 1): SmallestWithin | undefined {
  let best: SmallestWithin | undefined;
  for (const run of results.runs) {
    const several = iterationsOf(run).length > 1;
    for (const p of run.points) {
      // The tolerance keeps a drop of exactly `points` (0.975 - 0.965 is 0.01000000000000001) inside.
      if (!Number.isFinite(p.accuracy) || results.baseline.accuracy - p.accuracy > points / 100 + 1e-12) continue;
      if (best && (p.parameters > best.parameters || (p.parameters === best.parameters && p.accuracy <= best.accuracy))) continue;
      const series = several ? `${seriesName(run)} · round ${p.iteration}` : seriesName(run);
      best = { series, sparsity: p.sparsity, parameters: p.parameters, accuracy: p.accuracy };
    }
  }
  return best;
}

/** The summary line above the accuracy chart. */
export function smallestWithinText(results: AnalysisResults, points = 1): string {
  const head = `smallest model within ${points} point${points === 1 ? '' : 's'} of the original: `;
  const s = smallestWithin(results, points);
  if (!s) return `${head}none within ${points} point${points === 1 ? '' : 's'}`;
  return `${head}${s.series} at ${pct(s.sparsity)} (${s.parameters.toLocaleString('en-US')} parameters, accuracy ${pct(s.accuracy)})`;
}

function sameSeries(a: XY[], b: XY[], tolerance: number): boolean {
  return a.length === b.length && a.every((p, i) => Math.abs(p.x - b[i].x) <= tolerance && Math.abs(p.y - b[i].y) <= tolerance);
}

/** Labels of series with identical points (x and y within `tolerance`), in groups of two or more; empty series never coincide. */
export function coincidentGroups(series: Series[], tolerance = 1e-12): string[][] {
  const groups: Series[][] = [];
  for (const s of series) {
    if (s.points.length === 0) continue;
    const group = groups.find((g) => sameSeries(g[0].points, s.points, tolerance));
    if (group) group.push(s);
    else groups.push([s]);
  }
  return groups.filter((g) => g.length > 1).map((g) => g.map((s) => s.label));
}

/** "a and b", "a, b and c". */
function listText(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The line under a chart naming the series drawn on top of each other; "" when none are. */
export function coincidenceText(series: Series[]): string {
  const groups = coincidentGroups(series);
  return groups.map((g) => `${listText(g)} coincide on this chart`).join('; ');
}

/** The smallest and largest finite value of some matrices (what a heatmap's colour scale spans); undefined when there is none. */
export function finiteRange(matrices: (number | null)[][][]): { min: number; max: number } | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (const m of matrices)
    for (const row of m)
      for (const v of row) {
        if (v === null || !Number.isFinite(v)) continue;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
  return min <= max ? { min, max } : undefined;
}

/** Where v sits in the range, 0 to 1 (0.5 when the range is one value). */
export function rangePosition(v: number, range: { min: number; max: number }): number {
  const span = range.max - range.min;
  return span > 0 ? Math.min(1, Math.max(0, (v - range.min) / span)) : 0.5;
}

/** "colour scale 0.66–1.00". */
export function rangeText(range: { min: number; max: number } | undefined): string {
  return range ? `colour scale ${range.min.toFixed(2)}–${range.max.toFixed(2)}` : 'colour scale: no defined values';
}

/**
 * The y range of the accuracy-drop view: from 0 (or the largest gain) to the largest drop, rounded
 * out to whole points and capped at `cap` points; `clipped` counts the points above the cap.
 */
export function dropAxis(series: Series[], cap = 10): { min: number; max: number; clipped: number; largest: number } {
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const largest = ys.length ? Math.max(...ys) : 0;
  const min = Math.min(0, Math.floor(Math.min(0, ...ys)));
  const max = Math.min(cap, Math.max(1, Math.ceil(largest)));
  return { min, max, clipped: ys.filter((y) => y > cap).length, largest };
}
