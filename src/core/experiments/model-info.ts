import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { MLP } from '../model/mlp';
import { summarizeModel } from '../model/summary';
import type { ModelInfo } from '../results/format';

/** sha256 over the bytes of every file, in order: the identity of a model on disk. */
export async function hashFiles(files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      createReadStream(f)
        .on('data', (chunk) => hash.update(chunk))
        .on('end', () => resolve())
        .on('error', reject);
    });
  }
  return hash.digest('hex');
}

export async function modelInfo(mlp: MLP): Promise<ModelInfo> {
  const s = summarizeModel(mlp);
  const files = mlp.source?.files ?? (mlp.source ? [mlp.source.path] : []);
  return {
    path: mlp.source?.path ?? mlp.name,
    sha256: files.length ? await hashFiles(files) : '',
    format: s.format,
    producer: s.producer,
    inputSize: mlp.inputSize,
    layerSizes: mlp.layers.map((l) => l.units),
    layerNames: mlp.layers.map((l) => l.name),
    activations: s.layers.map((l) => l.activation),
    parameters: s.parameters,
  };
}
