import type { MLP } from '../model/mlp';
import { randomSubset, seededRandom } from './rng';
import { sharesPerLayer, structuredPlan, unitsToRemove, type PruneStrategy, type StructuredPlan } from './strategy';

/** Baseline: removes units chosen at random (seeded; one generator walks the layers in order). */
export const randomStrategy: PruneStrategy = {
  id: 'random',
  label: 'Random neurons',
  kind: 'structured',
  description: 'removes randomly chosen neurons (seeded baseline)',
  needsSamples: false,
  plan(mlp: MLP, options): StructuredPlan {
    const requested = sharesPerLayer(mlp, options);
    const next = seededRandom(options.seed ?? 1);
    const notes: string[] = [];
    const orders = mlp.layers.map((layer, l) =>
      requested[l] > 0 ? randomSubset(layer.units, unitsToRemove(layer.units, requested[l], layer.name, notes), next) : [],
    );
    return structuredPlan('random', requested, orders, notes);
  },
};
