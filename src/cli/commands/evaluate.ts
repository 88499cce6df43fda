import { readModel } from '../../core/formats/registry';
import { checkFits, getSplit, loadDataset } from '../../core/data/load';
import { NORMALIZATIONS, SPLIT_NAMES, type Normalization, type SplitName } from '../../core/data/dataset';
import { evaluate } from '../../core/train/evaluate';
import { outputSize } from '../../core/model/mlp';
import { choiceOption, parse, requireString } from '../args';
import { startBackend, type Command } from '../command';
import { percent, printJson } from '../output';
import { modelReadOptions, readOptionsFrom } from './inspect';

export const dataOptions = {
  data: { type: 'string' },
  normalize: { type: 'string' },
  'label-column': { type: 'string' },
} as const;

type DataValues = { data?: string | boolean; normalize?: string | boolean; 'label-column'?: string | boolean };

export function loadOptionsFrom(values: DataValues): { data: string; normalize?: Normalization; labelColumn?: string } {
  return {
    data: requireString(values.data, 'data'),
    normalize:
      values.normalize === undefined ? undefined : choiceOption<Normalization>(values.normalize, 'normalize', NORMALIZATIONS, 'unit'),
    labelColumn: typeof values['label-column'] === 'string' ? values['label-column'] : undefined,
  };
}

export async function loadDataFrom(values: DataValues) {
  const { data, ...options } = loadOptionsFrom(values);
  return loadDataset(data, options);
}

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'accuracy, mean cross-entropy loss and (with --reference) agreement of a model on a dataset split',
  usage: 'prunescope evaluate MODEL --data mnist|PATH [--split test] [--normalize unit|zscore|none] [--reference MODEL] [--json]',
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...modelReadOptions, ...dataOptions, split: { type: 'string' }, reference: { type: 'string' } },
      { min: 1, max: 1, names: 'MODEL' },
    );
    const splitName = choiceOption<SplitName>(values.split, 'split', SPLIT_NAMES, 'test');
    await startBackend(values, { lightTfjs: true });
    const readOptions = readOptionsFrom(values);
    const mlp = await readModel(positionals[0], readOptions);
    const reference = typeof values.reference === 'string' ? await readModel(values.reference, readOptions) : undefined;
    const splits = await loadDataFrom(values);
    const data = getSplit(splits, splitName);
    checkFits(data, mlp.inputSize, outputSize(mlp), positionals[0], mlp.inputShape);
    if (reference) checkFits(data, reference.inputSize, outputSize(reference), values.reference, reference.inputShape);
    const r = await evaluate(mlp, data, { reference });
    if (values.json) {
      printJson({ model: positionals[0], data: data.source, split: splitName, ...r });
      return;
    }
    const lines = [
      `data:      ${data.source} (${r.samples} samples)`,
      `accuracy:  ${percent(r.accuracy)}`,
      `loss:      ${r.loss.toFixed(4)}`,
    ];
    if (r.agreement !== undefined) lines.push(`agreement: ${percent(r.agreement)} with ${values.reference}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};
