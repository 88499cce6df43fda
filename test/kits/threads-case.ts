import { sliceRows } from '../../src/core/data/dataset';
import { getSplit, loadDataset } from '../../src/core/data/load';
import type { MLP } from '../../src/core/model/mlp';
import { trainMLP } from '../../src/core/train/fit';

/** A small deterministic training run whose weights must not depend on the thread count. */
export async function trainingCase(): Promise<MLP> {
  const mnist = await loadDataset('mnist', { normalize: 'unit' });
  const data = {
    name: 'mnist',
    normalization: 'unit' as const,
    train: sliceRows(getSplit(mnist, 'train'), 0, 2048),
    validation: sliceRows(getSplit(mnist, 'validation'), 0, 512),
  };
  // wide enough layers that XNNPACK splits the products over the threads
  const { mlp } = await trainMLP(data, { hidden: [256, 128], dropout: 0.2, epochs: 1, batchSize: 256, seed: 4 });
  return mlp;
}
