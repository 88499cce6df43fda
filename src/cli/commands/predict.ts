import { readModel } from '../../core/formats/registry';
import { readNpy, writeNpy } from '../../core/io/npy';
import { assertNotSource } from '../../core/io/atomic';
import { DataError } from '../../core/errors';
import { forwardOnEngine } from '../../core/backend';
import { outputSize } from '../../core/model/mlp';
import { parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, printJson } from '../output';
import { modelReadOptions, readOptionsFrom } from './inspect';

export const predictCommand: Command = {
  name: 'predict',
  summary: "write the model's outputs (after its final activation) for the rows of an .npy array",
  usage: 'prunescope predict MODEL --input X.npy --out Y.npy [--force] [--json]',
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...modelReadOptions, input: { type: 'string' }, out: { type: 'string' }, ...FORCE_OPTION },
      { min: 1, max: 1, names: 'MODEL' },
    );
    const input = requireString(values.input, 'input');
    const out = requireString(values.out, 'out');
    assertNotSource(out, [input, positionals[0]]);
    await startBackend(values, { lightTfjs: true });
    const mlp = await readModel(positionals[0], readOptionsFrom(values));
    const x = await readNpy(input);
    await claimOutputs(values, [out]);
    const rows = x.shape.length === 0 ? 1 : x.shape[0];
    const perRow = rows === 0 ? 0 : x.data.length / rows;
    if (perRow !== mlp.inputSize) {
      throw new DataError(
        input,
        `rows have ${perRow} values (array shape [${x.shape.join(', ')}]) but the model takes ${mlp.inputSize} inputs ([${mlp.inputShape.join(', ')}])`,
      );
    }
    const y = await forwardOnEngine(mlp, Float32Array.from(x.data), rows);
    await writeNpy(out, y, [rows, outputSize(mlp)]);
    if (values.json) printJson({ model: positionals[0], input, out, rows, outputs: outputSize(mlp) });
    else info(`wrote ${out}: [${rows}, ${outputSize(mlp)}] float32`);
  },
};
