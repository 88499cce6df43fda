import { join } from 'node:path';
import { outputFilesOf, writeModel } from '../formats/registry';
import { makeFolderFor, writeFilesAtomically } from '../io/atomic';
import type { MLP } from '../model/mlp';
import type { TrainingHistory } from './fit';

export interface SavedTraining {
  /** model.json, its weight file(s), then history.json. */
  files: string[];
}

/** Every file saveTraining writes into `dir`. */
export function trainingFiles(dir: string): string[] {
  return [...outputFilesOf(join(dir, 'model.json')), join(dir, 'history.json')];
}

/**
 * Writes a trained model to `dir` as a tfjs LayersModel (`model.json` + weights) and the run's
 * `history.json` (backend, seed, options, per-epoch metrics). Creates `dir` if needed.
 */
export async function saveTraining(dir: string, mlp: MLP, history: TrainingHistory): Promise<SavedTraining> {
  await makeFolderFor(join(dir, 'model.json'));
  const written = await writeModel(mlp, join(dir, 'model.json'));
  const historyPath = join(dir, 'history.json');
  await writeFilesAtomically([{ path: historyPath, data: `${JSON.stringify(history, null, 2)}\n` }]);
  return { files: [...written.files, historyPath] };
}
