import { SPLIT_NAMES, type SplitName } from '../../core/data/dataset';
import { checkFits, getSplit } from '../../core/data/load';
import { PruneScopeError, UsageError } from '../../core/errors';
import { readModel } from '../../core/formats/registry';
import { DEFAULT_GEOMETRY_SAMPLES } from '../../core/metrics/geometry';
import { layerGeometry } from '../../core/metrics/geometry-layers';
import { layerOutput } from '../../core/experiments/representations';
import type { LayerGeometry } from '../../core/results/format';
import { choiceOption, intOption, parse, requireString } from '../args';
import { startBackend, type Command } from '../command';
import { info, printJson, table } from '../output';
import { dataOptions, loadDataFrom } from './evaluate';
import { modelReadOptions, readOptionsFrom } from './inspect';

/** --step and --samples of analyze and compare: how their geometry is computed (0 samples skips it). */
export const geometryOptions = {
  'geometry-samples': { type: 'string' },
  'geometry-step': { type: 'string' },
} as const;

export function geometryFrom(values: Record<string, string | boolean | undefined>): { samples?: number; step?: number } | false {
  const samples = intOption(values['geometry-samples'], 'geometry-samples', DEFAULT_GEOMETRY_SAMPLES, 0);
  if (samples === 0) return false;
  if (samples < 3) throw new UsageError(`--geometry-samples must be 0 (skip) or at least 3, got ${samples}`);
  const step = values['geometry-step'] === undefined ? undefined : intOption(values['geometry-step'], 'geometry-step', 1);
  return { samples, step };
}

/** R^2 with half of each hidden layer's units kept, both orders: a one-line-per-layer summary. */
export function geometrySummary(geometry: readonly LayerGeometry[]): string {
  const rows = geometry.map((g) => {
    if (!g.applies) return [g.layer, 'n/a', 'n/a', 'n/a'];
    const half = (points: typeof g.ascending) =>
      points.reduce((best, p) => (Math.abs(p.k - g.units / 2) < Math.abs(best.k - g.units / 2) ? p : best));
    const a = half(g.ascending);
    const d = half(g.descending);
    return [g.layer, `${a.k} of ${g.units}`, a.r2.toFixed(3), d.r2.toFixed(3)];
  });
  return table(['layer', 'units kept', 'R^2 ascending APoZ', 'R^2 descending APoZ'], rows);
}

export const geometryCommand: Command = {
  name: 'geometry',
  summary: "R^2 between a layer's RDM and that of its units added in APoZ order, ascending and descending",
  usage: `prunescope geometry MODEL --data mnist|PATH --layer K [--split validation] [--samples ${DEFAULT_GEOMETRY_SAMPLES}] [--step S] [--json]`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...modelReadOptions,
        ...dataOptions,
        split: { type: 'string' },
        samples: { type: 'string' },
        layer: { type: 'string' },
        step: { type: 'string' },
      },
      { min: 1, max: 1, names: 'MODEL' },
    );
    const file = positionals[0];
    const layer = intOption(requireString(values.layer, 'layer'), 'layer', 0, 0);
    const samples = intOption(values.samples, 'samples', DEFAULT_GEOMETRY_SAMPLES, 3);
    const step = values.step === undefined ? undefined : intOption(values.step, 'step', 1);
    await startBackend(values, { lightTfjs: true });
    const mlp = await readModel(file, readOptionsFrom(values));
    if (layer >= mlp.layers.length) throw new UsageError(`--layer ${layer}: ${file} has layers 0 to ${mlp.layers.length - 1}`);
    const splits = await loadDataFrom(values);
    // The same rows analyze and compare take activations from: the validation split, else train.
    const fallback: SplitName = splits.validation ? 'validation' : splits.train ? 'train' : 'test';
    const split = choiceOption<SplitName>(values.split, 'split', SPLIT_NAMES, fallback);
    const data = getSplit(splits, split);
    checkFits(data, mlp.inputSize, undefined, file, mlp.inputShape);
    const n = Math.min(samples, data.n);
    const { name, activation } = mlp.layers[layer];
    const g = layerGeometry(name, activation, layerOutput(mlp, data.x, n, layer), { samples: n, step });
    if (!g.applies) throw new PruneScopeError(`${file}: layer ${layer} (${name}): representational geometry does not apply: ${g.reason}`);
    if (values.json) {
      printJson({ model: file, data: data.source, split, index: layer, activation, ...g });
      return;
    }
    info(
      `layer ${layer} (${name}, ${activation}): ${g.units} units, RDMs over the first ${g.samples} ${split} samples, a point every ${g.step} unit${g.step === 1 ? '' : 's'}`,
    );
    const rows = g.ascending.map((p, i) => [p.k, p.r2.toFixed(4), g.descending[i].r2.toFixed(4)]);
    process.stdout.write(`${table(['units kept', 'R^2 ascending APoZ', 'R^2 descending APoZ'], rows)}\n`);
  },
};
