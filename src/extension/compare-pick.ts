import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** Extensions a model's main file has (a tfjs model's weights file is a companion, not a model). */
const MODEL_EXTENSIONS = new Set(['.onnx', '.safetensors', '.pt', '.pth', '.bin', '.ckpt', '.pkl', '.keras', '.h5', '.json']);

/**
 * The pruned copies Prune Model wrote beside `model` (naming.ts: `<stem>.pruned-...`), newest
 * first: what a person most likely compares a model with. Companion files (a tfjs model's
 * `.weights.bin`) are left out; an unreadable folder gives none.
 */
export function prunedCopies(model: string): string[] {
  const dir = dirname(model);
  const prefix = `${basename(model, extname(model))}.pruned`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const copies = names
    .filter((n) => n.startsWith(prefix) && !n.toLowerCase().endsWith('.weights.bin') && MODEL_EXTENSIONS.has(extname(n).toLowerCase()))
    .map((n) => join(dir, n))
    .flatMap((path) => {
      try {
        const s = statSync(path);
        return s.isFile() ? [{ path, time: s.mtimeMs }] : [];
      } catch {
        return [];
      }
    });
  copies.sort((x, y) => y.time - x.time || x.path.localeCompare(y.path));
  return copies.map((c) => c.path);
}
