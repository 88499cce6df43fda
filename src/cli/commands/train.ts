import { join } from 'node:path';
import { getSplit } from '../../core/data/load';
import { assertOutputFolder } from '../../core/io/atomic';
import { trainMLP } from '../../core/train/fit';
import { saveTraining, trainingFiles } from '../../core/train/save';
import { intListOption, intOption, numberOption, parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, percent, printJson } from '../output';
import { dataOptions, loadDataFrom } from './evaluate';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a baseline MLP (ReLU, dropout, Adam, early stopping) and save it as a tfjs LayersModel',
  usage:
    'prunescope train --data mnist|PATH --hidden 1000,1000,500,200 [--dropout 0.5] [--epochs 50] [--patience 3] [--batch 512] [--lr 0.001] [--l2 0] [--l1 0] [--seed 1] [--force] --out DIR',
  async run(argv) {
    const { values } = parse(
      argv,
      {
        ...dataOptions,
        hidden: { type: 'string' },
        dropout: { type: 'string' },
        epochs: { type: 'string' },
        patience: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        l2: { type: 'string' },
        l1: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        ...FORCE_OPTION,
      },
      { min: 0, max: 0, names: '' },
    );
    const out = requireString(values.out, 'out');
    // Before the work: a file where the folder should go would only fail it at the end.
    assertOutputFolder(out);
    const options = {
      hidden: intListOption(values.hidden, 'hidden', [1000, 1000, 500, 200]),
      dropout: numberOption(values.dropout, 'dropout', 0.5, 0, 0.99),
      epochs: intOption(values.epochs, 'epochs', 50),
      patience: intOption(values.patience, 'patience', 3),
      batchSize: intOption(values.batch, 'batch', 512),
      learningRate: numberOption(values.lr, 'lr', 0.001, 1e-8, 10),
      l2: numberOption(values.l2, 'l2', 0, 0, 1),
      l1: numberOption(values.l1, 'l1', 0, 0, 1),
      seed: intOption(values.seed, 'seed', 1, 0),
    };
    await startBackend(values);
    const splits = await loadDataFrom(values);
    getSplit(splits, 'train');
    // Before hours of training, not after: an existing model there is replaced only with --force.
    await claimOutputs(values, trainingFiles(out));
    const result = await trainMLP(splits, {
      hidden: options.hidden,
      dropout: options.dropout,
      epochs: options.epochs,
      patience: options.patience,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      l2: options.l2,
      l1: options.l1,
      seed: options.seed,
      onEpoch: (e) =>
        info(
          `epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  acc ${percent(e.accuracy)}  val_loss ${e.valLoss.toFixed(4)}  val_acc ${percent(e.valAccuracy)}  ${e.samplesPerSecond.toFixed(0)} samples/s`,
        ),
    });
    const files = await saveTraining(out, result.mlp, result.history);
    if (values.json) printJson({ out, files: files.files, history: result.history });
    else info(`saved ${join(out, 'model.json')} and history.json`);
  },
};
