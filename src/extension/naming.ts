import { lstatSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { outputFiles } from '../core/formats/model-files';

/**
 * Whether a name is taken: by a file, a folder, or a symbolic link even when it points nowhere
 * (the writer refuses a name a dangling link occupies, so the name must not be picked).
 */
export function nameTaken(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** "50" for 0.5, "12.5" for 0.125: the percentage a file name can carry. */
export function percentLabel(share: number): string {
  return String(Math.round(share * 1000) / 10);
}

/** Splits "model.onnx" into ["model", ".onnx"]; a folder or model.json becomes the model.json inside. */
function stemAndExt(file: string): [string, string] {
  const ext = extname(file);
  return [basename(file, ext), ext];
}

/** What Prune Model writes: the source's format, or a chosen one. */
export const PRUNE_FORMATS = ['same', 'onnx', 'tfjs', 'safetensors', 'pytorch', 'keras'] as const;
export type PruneFormat = (typeof PRUNE_FORMATS)[number];

const FORMAT_EXTENSIONS: Record<Exclude<PruneFormat, 'same'>, string> = {
  onnx: '.onnx',
  tfjs: '.json',
  safetensors: '.safetensors',
  pytorch: '.pt',
  keras: '.keras',
};

/**
 * Source extensions no writer takes, and the one that writes the same format: torch.save files
 * under other names become .pt state dicts, Keras 2 .h5 files Keras 3 .keras files.
 */
const SAME_FORMAT_AS: Record<string, string> = { '.bin': '.pt', '.ckpt': '.pt', '.pkl': '.pt', '.h5': '.keras', '.hdf5': '.keras' };

interface PruneNameOptions {
  format?: PruneFormat;
  exists?: (path: string) => boolean;
}

/** The folder, name and extension of a pruned model before any "-1": what the same pruning always produces. */
function prunedName(model: string, strategy: string, sparsity: number, options: PruneNameOptions): [string, string, string] {
  const [stem, sourceExt] = stemAndExt(model);
  const format = options.format ?? 'same';
  const ext = format === 'same' ? (SAME_FORMAT_AS[sourceExt.toLowerCase()] ?? sourceExt) : FORMAT_EXTENSIONS[format];
  const safeStrategy = strategy.replace(/[^A-Za-z0-9_-]+/g, '_');
  return [dirname(model), `${stem}.pruned-${safeStrategy}-${percentLabel(sparsity)}`, ext];
}

/**
 * The name pruning `model` with this strategy and sparsity has, taken or not:
 * `model.pruned-unit-l2-50.onnx`. Pruning it so again meets its earlier result there, and Prune
 * Model asks what to do (written-models.ts says whether the earlier one was made the same way).
 */
export function samePrunedPath(model: string, strategy: string, sparsity: number, options: Omit<PruneNameOptions, 'exists'> = {}): string {
  const [dir, base, ext] = prunedName(model, strategy, sparsity, options);
  return join(dir, `${base}${ext}`);
}

/**
 * A name beside `model` that says what was done and that no existing file has: for
 * `model.onnx` pruned by unit-l2 to 50 %, `model.pruned-unit-l2-50.onnx`, then
 * `model.pruned-unit-l2-50-1.onnx`, ... The writer's companion files must be free too.
 * `format` other than 'same' changes the extension, which picks the writer.
 */
export function prunedOutputPath(model: string, strategy: string, sparsity: number, options: PruneNameOptions = {}): string {
  const [dir, base, ext] = prunedName(model, strategy, sparsity, options);
  return freePath(dir, base, ext, options.exists ?? nameTaken);
}

/**
 * `dir/base+ext`, or `dir/base-1+ext`, `-2`, ... whichever is free with every file the writer of
 * `ext` puts beside it (model-files.ts outputFiles: a tfjs model.json's weights file). Free when
 * picked only: a job that writes it must still refuse a file that appears before it writes (the
 * worker's write scope does, with `replace: false`).
 */
export function freePath(dir: string, base: string, ext: string, exists: (path: string) => boolean = nameTaken): string {
  for (let n = 0; ; n++) {
    const candidate = join(dir, `${n === 0 ? base : `${base}-${n}`}${ext}`);
    if (![candidate, ...outputFiles(candidate)].some(exists)) return candidate;
  }
}

/** A folder name for a newly trained model that does not exist yet. */
export function trainingOutputDir(parent: string, hidden: number[], exists: (path: string) => boolean = nameTaken): string {
  return freePath(parent, `mlp-${hidden.join('-')}`, '', exists);
}
