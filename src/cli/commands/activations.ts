import { getSplit } from '../../core/data/load';
import { checkFits } from '../../core/data/load';
import { readModel } from '../../core/formats/registry';
import { assertNotSource } from '../../core/io/atomic';
import { writeNpy } from '../../core/io/npy';
import { layerOutput } from '../../core/experiments/representations';
import { UsageError } from '../../core/errors';
import { SPLIT_NAMES, type SplitName } from '../../core/data/dataset';
import { choiceOption, intOption, parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, printJson } from '../output';
import { dataOptions, loadDataFrom } from './evaluate';
import { modelReadOptions, readOptionsFrom } from './inspect';

export const activationsCommand: Command = {
  name: 'activations',
  summary: "write one layer's activations (after, or with --pre before, its activation function) to an .npy",
  usage: 'prunescope activations MODEL --data mnist|PATH [--split validation] [--samples N] --layer K [--pre] [--force] --out A.npy',
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...modelReadOptions,
        ...dataOptions,
        split: { type: 'string' },
        samples: { type: 'string' },
        layer: { type: 'string' },
        pre: { type: 'boolean' },
        out: { type: 'string' },
        ...FORCE_OPTION,
      },
      { min: 1, max: 1, names: 'MODEL' },
    );
    const out = requireString(values.out, 'out');
    const layer = intOption(requireString(values.layer, 'layer'), 'layer', 0, 0);
    assertNotSource(out, [positionals[0]]);
    await startBackend(values, { lightTfjs: true });
    const mlp = await readModel(positionals[0], readOptionsFrom(values));
    if (layer >= mlp.layers.length) {
      throw new UsageError(`--layer ${layer}: ${positionals[0]} has layers 0 to ${mlp.layers.length - 1}`);
    }
    const splits = await loadDataFrom(values);
    await claimOutputs(values, [out]);
    const defaultSplit: SplitName = splits.validation ? 'validation' : splits.test ? 'test' : 'train';
    const data = getSplit(splits, choiceOption<SplitName>(values.split, 'split', SPLIT_NAMES, defaultSplit));
    checkFits(data, mlp.inputSize, undefined, positionals[0], mlp.inputShape);
    const n = Math.min(intOption(values.samples, 'samples', data.n), data.n);
    const pre = values.pre === true;
    if (values.samples !== undefined && Number(values.samples) > n)
      info(`note: --samples ${values.samples}, but ${data.source} has ${n} rows: all ${n} were used`);
    const a = { ...layerOutput(mlp, data.x, n, layer, pre), units: mlp.layers[layer].units };
    await writeNpy(out, a.data as Float32Array, [n, a.units]);
    if (values.json) printJson({ model: positionals[0], layer, name: mlp.layers[layer].name, pre, rows: n, units: a.units, out });
    else
      info(
        `wrote ${out}: [${n}, ${a.units}] float32, layer ${layer} (${mlp.layers[layer].name}) ${pre ? 'before' : 'after'} its activation`,
      );
  },
};
