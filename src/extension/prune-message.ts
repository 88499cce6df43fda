import { basename, extname } from 'node:path';
import type { JobResult } from '../shared/jobs';

/** A share as a percentage with one decimal: 0.9817 -> "98.2%". */
function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/**
 * What Prune Model's notification says: the file written, its size before and after, the test
 * accuracy before and after when the job had data ("accuracy 98.2% → 97.5%, compensated"), the
 * strategy `auto` chose, and,
 * when unstructured pruning left the file as large as before, why and what to change.
 */
export function pruneNotification(result: JobResult<'prune'>, asked?: string): string {
  const size = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
  const picked = asked === 'auto' ? `, auto picked ${result.strategy}` : '';
  const how = (result.compensated ? ', compensated' : '') + picked;
  const accuracy = result.before && result.after ? `, accuracy ${pct(result.before.accuracy)} → ${pct(result.after.accuracy)}${how}` : how;
  // Zeros stored densely keep the size: say so where the sizes are shown, with the way out.
  const kept =
    result.kind === 'unstructured' && result.bytesAfter >= 0.9 * result.bytesBefore
      ? ` The file keeps its size because ${extname(result.out) === '.onnx' ? 'few weights are zero' : 'this format stores every zero'}; set prunescope.pruneFormat to "onnx" to store them sparsely, or use a structured strategy.`
      : '';
  return `PruneScope: wrote ${basename(result.out)} (${size(result.bytesBefore)} → ${size(result.bytesAfter)}${accuracy}).${kept}`;
}
