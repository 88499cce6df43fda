import { outputFilesOf } from '../../core/formats/registry';
import { pruneModel, type PruneModelResult } from '../../core/experiments';
import { AUTO_STRATEGY } from '../../core/experiments/prune-model';
import { PRUNE_STRATEGY_IDS } from '../../core/prune/registry';
import { choiceOption, intOption, numberOption, parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, percent, printJson, table } from '../output';
import {
  dataOptionsFrom,
  experimentOptions,
  progressPrinter,
  PRUNING_USAGE,
  pruningFlags,
  pruningOptionsFrom,
  scheduleFrom,
} from './experiment-options';
import { modelReadOptions, readOptionsFrom } from './inspect';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'prune a model with one strategy and write the smaller model (format from the output extension)',
  usage: `prunescope prune MODEL --strategy NAME|auto --sparsity S [--data mnist|PATH] [--normalize ...] [--samples N] [--finetune-epochs E] [--iterations J] [--schedule one-shot|iterative|imp-rewind|trimming|gradual] [--include-output] ${PRUNING_USAGE} [--force] [--dense] --out FILE`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...modelReadOptions,
        ...experimentOptions,
        ...pruningFlags,
        strategy: { type: 'string' },
        sparsity: { type: 'string' },
        out: { type: 'string' },
        ...FORCE_OPTION,
        dense: { type: 'boolean' },
      },
      { min: 1, max: 1, names: 'MODEL' },
    );
    const strategy = choiceOption(
      requireString(values.strategy, 'strategy'),
      'strategy',
      [AUTO_STRATEGY, ...PRUNE_STRATEGY_IDS],
      'magnitude',
    );
    const sparsity = numberOption(requireString(values.sparsity, 'sparsity'), 'sparsity', 0, 0, 0.999);
    const out = requireString(values.out, 'out');
    const finetuneEpochs = intOption(values['finetune-epochs'], 'finetune-epochs', 0, 0);
    const data = typeof values.data === 'string' ? dataOptionsFrom(values) : {};
    await claimOutputs(values, outputFilesOf(out), [positionals[0]]);
    await startBackend(values);
    const r = await pruneModel(
      {
        model: positionals[0],
        readOptions: readOptionsFrom(values),
        strategy,
        sparsity,
        out,
        ...data,
        finetuneEpochs,
        iterations: intOption(values.iterations, 'iterations', 1),
        schedule: scheduleFrom(values),
        seed: intOption(values.seed, 'seed', 1, 0),
        includeOutput: values['include-output'] === true,
        ...pruningOptionsFrom(values),
        dense: values.dense === true,
      },
      { onProgress: values.json ? undefined : progressPrinter() },
    );
    if (values.json) {
      printJson(r);
      return;
    }
    info(pruneSummary(r));
  },
};

/** What prune prints: the files, the sparsity reached, sizes, accuracy and a table of layers. */
function pruneSummary(r: PruneModelResult): string {
  const lines = [
    `wrote ${r.files.join(', ')}`,
    `${r.strategy} (${r.kind}) at ${percent(r.sparsity, 0)}: ${percent(r.actualSparsity)} of the prunable weights removed`,
    `size: ${r.bytesBefore.toLocaleString('en-US')} -> ${r.bytesAfter.toLocaleString('en-US')} bytes (${percent(r.bytesAfter / r.bytesBefore, 1)})`,
  ];
  if (r.before && r.after) {
    lines.push(
      `accuracy: ${percent(r.before.accuracy)} -> ${percent(r.after.accuracy)}${r.compensated ? ' (compensated)' : ''}, agreement ${percent(r.after.agreement ?? 1)}`,
    );
  }
  lines.push(
    '',
    table(
      ['layer', 'units', 'sparsity'],
      r.layers.map((l) => [l.name, `${l.unitsBefore} -> ${l.units}`, percent(l.sparsity)]),
    ),
  );
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
