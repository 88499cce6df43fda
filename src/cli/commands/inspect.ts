import { readModel } from '../../core/formats/registry';
import { ACTIVATIONS, type Activation } from '../../core/model/mlp';
import { summarizeModel } from '../../core/model/summary';
import { choiceOption, parse } from '../args';
import { startBackend, type Command } from '../command';
import { percent, printJson, table } from '../output';

export const modelReadOptions = {
  activation: { type: 'string' },
  'output-activation': { type: 'string' },
} as const;

/** --activation / --output-activation, for formats that do not store activations (safetensors). */
export function readOptionsFrom(values: { activation?: string | boolean; 'output-activation'?: string | boolean }) {
  return {
    activation: choiceOption<Activation>(values.activation, 'activation', ACTIVATIONS, 'relu'),
    outputActivation: choiceOption<Activation>(values['output-activation'], 'output-activation', ACTIVATIONS, 'linear'),
  };
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show a model: format, producer, input size, and per layer its size, activation, parameters and sparsity',
  usage: 'prunescope inspect MODEL [--json] [--activation relu] [--output-activation linear]',
  async run(argv) {
    const { values, positionals } = parse(argv, modelReadOptions, { min: 1, max: 1, names: 'MODEL' });
    await startBackend(values, { lightTfjs: true });
    const mlp = await readModel(positionals[0], readOptionsFrom(values));
    const s = summarizeModel(mlp);
    if (values.json) {
      printJson(s);
      return;
    }
    const lines = [
      `model:      ${s.path ?? s.name}`,
      `format:     ${s.format}${s.producer ? ` (producer: ${s.producer})` : ''}`,
      `input:      ${s.inputSize} values [${s.inputShape.join(', ')}]`,
      `output:     ${s.outputSize} units`,
      `parameters: ${s.parameters.toLocaleString('en-US')} (sparsity ${percent(s.sparsity)})`,
      '',
      table(
        ['#', 'layer', 'in', 'units', 'activation', 'params', 'sparsity', 'w mean', 'w std', '|w| max'],
        s.layers.map((l) => [
          l.index,
          l.name,
          l.inputSize,
          l.units,
          l.activation + (l.dropout ? ` +dropout ${l.dropout}` : ''),
          l.parameters,
          percent(l.sparsity),
          l.weights.mean.toExponential(2),
          l.weights.std.toExponential(2),
          Math.max(Math.abs(l.weights.min), Math.abs(l.weights.max)).toExponential(2),
        ]),
      ),
    ];
    for (const note of s.notes) lines.push(`note: ${note}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};
