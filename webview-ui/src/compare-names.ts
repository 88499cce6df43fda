/* No DOM here: the Node-side tests name the Compare tab's charts with it too. */

/** The heatmaps' names, in words: which model's layers run along which axis, and the metric. */
export function similarityTitle(which: 'cross' | 'a' | 'b', metricLabel: string): string {
  if (which === 'cross') return `Layer similarity: A's layers (rows) vs B's layers (columns), ${metricLabel}`;
  const m = which.toUpperCase();
  return `Layer similarity within ${m}: ${m}'s layers vs ${m}'s layers, ${metricLabel}`;
}
