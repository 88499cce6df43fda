import { PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import { apozCriterion } from './apoz';
import { ckaOneShot } from './cka';
import { ckaGreedy } from './cka-greedy';
import { lampCriterion } from './lamp';
import { weightMagnitude } from './magnitude';
import { obdCriterion } from './obd';
import { randomUnits } from './random';
import { randomWeights } from './random-weights';
import { selectPlan } from './select';
import { sparseGpt } from './sparsegpt';
import type { Criterion, PruneOptions, PruneScope, PruneStrategy, PruneStrategyId } from './strategy';
import { taylorUnits, taylorWeights } from './taylor';
import { unitNorm, type UnitNorm } from './unit-norm';
import { wandaCriterion } from './wanda';

/**
 * Every pruning strategy, spelt out: a user-visible id, label and description, the criterion
 * that scores, and the scope the selector ranks in. A new criterion is one file of scoring plus
 * one entry here; the map's type makes a missing or misspelt id a compile error.
 */

interface StrategySpec<Id extends PruneStrategyId> {
  id: Id;
  label: string;
  description: string;
  criterion: Criterion;
  /** Default 'layer'. */
  scope?: PruneScope;
}

function strategy<Id extends PruneStrategyId>(spec: StrategySpec<Id>): PruneStrategy<Id> {
  const parts = { id: spec.id, criterion: spec.criterion, scope: spec.scope ?? 'layer' };
  return Object.freeze({
    ...parts,
    label: spec.label,
    description: spec.description,
    kind: spec.criterion.target === 'units' ? 'structured' : 'unstructured',
    needsSamples: spec.criterion.needsSamples,
    plan: (mlp: MLP, options: PruneOptions) => selectPlan(parts, mlp, options),
  });
}

/** unit-l1 and unit-l2: one criterion, parametrised by the norm. */
function unitNormStrategy<N extends UnitNorm>(norm: N): PruneStrategy<`unit-l${N}`> {
  return strategy({
    id: `unit-l${norm}`,
    label: `Unit L${norm} norm`,
    description: `removes the neurons whose incoming weights have the smallest L${norm} norm`,
    criterion: unitNorm(norm),
  });
}

export const magnitudeStrategy = strategy({
  id: 'magnitude',
  label: 'Magnitude (layer-wise)',
  description: 'zeroes the smallest |w| of each layer',
  criterion: weightMagnitude,
});
export const magnitudeGlobalStrategy = strategy({
  id: 'magnitude-global',
  label: 'Magnitude (global)',
  description: 'zeroes the smallest |w| across all prunable layers together',
  criterion: weightMagnitude,
  scope: 'global',
});
export const unitL1Strategy = unitNormStrategy(1);
export const unitL2Strategy = unitNormStrategy(2);
export const apozStrategy = strategy({
  id: 'apoz',
  label: 'APoZ (network trimming)',
  description: 'removes the ReLU neurons whose output is zero on the largest share of samples',
  criterion: apozCriterion,
});
export const ckaStrategy = strategy({
  id: 'cka',
  label: 'CKA (one-shot ranking)',
  description: 'removes the neurons whose ablation alone changes the layer output least (highest linear CKA to the original)',
  criterion: ckaOneShot,
});
export const ckaGreedyStrategy = strategy({
  id: 'cka-greedy',
  label: 'CKA (greedy)',
  description: 'removes neurons one at a time, each time the one whose ablation (with those already removed) keeps the highest linear CKA',
  criterion: ckaGreedy,
});
export const randomStrategy = strategy({
  id: 'random',
  label: 'Random neurons',
  description: 'removes randomly chosen neurons (seeded baseline)',
  criterion: randomUnits,
});
export const randomWeightsStrategy = strategy({
  id: 'random-weights',
  label: 'Random weights',
  description: 'zeroes randomly chosen weights of each layer (seeded baseline)',
  criterion: randomWeights,
});
export const taylorStrategy = strategy({
  id: 'taylor',
  label: 'Taylor (first order, weights)',
  description: 'zeroes the weights of each layer with the smallest (w × loss gradient)², averaged over calibration mini-batches',
  criterion: taylorWeights,
});
export const taylorUnitsStrategy = strategy({
  id: 'taylor-units',
  label: 'Taylor (first order, units)',
  description: 'removes the neurons with the smallest (Σ w × loss gradient over incoming weights and bias)², averaged over mini-batches',
  criterion: taylorUnits,
});
export const obdStrategy = strategy({
  id: 'obd',
  label: 'OBD (w² × Fisher diagonal)',
  description: 'zeroes the weights of each layer with the smallest Optimal Brain Damage saliency, ½ w² × empirical Fisher diagonal',
  criterion: obdCriterion,
});
export const wandaStrategy = strategy({
  id: 'wanda',
  label: 'Wanda (|w| x input norm)',
  description: 'zeroes, in each neuron, the incoming weights with the smallest |w| times the norm of their input on calibration samples',
  criterion: wandaCriterion,
  scope: 'output',
});
export const lampStrategy = strategy({
  id: 'lamp',
  label: 'LAMP (layer-adaptive magnitude)',
  description:
    "zeroes the weights with the smallest LAMP score (w^2 over the squared mass of the layer's larger weights) across all prunable layers",
  criterion: lampCriterion,
  scope: 'global',
});
export const sparseGptStrategy = strategy({
  id: 'sparsegpt',
  label: 'SparseGPT (OBS update)',
  description:
    'zeroes, in blocks of 128 inputs, the weights whose removal costs least by the inverse Hessian of the layer inputs on calibration samples, and updates the weights that stay to make up for them (Optimal Brain Surgeon)',
  criterion: sparseGpt,
});

/** In the order help texts and reports list them. */
const BY_ID: { readonly [Id in PruneStrategyId]: PruneStrategy<Id> } = {
  magnitude: magnitudeStrategy,
  'magnitude-global': magnitudeGlobalStrategy,
  'unit-l1': unitL1Strategy,
  'unit-l2': unitL2Strategy,
  apoz: apozStrategy,
  cka: ckaStrategy,
  'cka-greedy': ckaGreedyStrategy,
  random: randomStrategy,
  'random-weights': randomWeightsStrategy,
  taylor: taylorStrategy,
  'taylor-units': taylorUnitsStrategy,
  obd: obdStrategy,
  wanda: wandaStrategy,
  lamp: lampStrategy,
  sparsegpt: sparseGptStrategy,
};

export const PRUNE_STRATEGIES: readonly PruneStrategy[] = Object.values(BY_ID);

export const PRUNE_STRATEGY_IDS: readonly PruneStrategyId[] = PRUNE_STRATEGIES.map((s) => s.id);

export function isPruneStrategyId(id: string): id is PruneStrategyId {
  return Object.prototype.hasOwnProperty.call(BY_ID, id);
}

/** The strategy a user named; names come from outside (flags, settings, messages), hence `string`. */
export function strategyById(id: string): PruneStrategy {
  if (!isPruneStrategyId(id))
    throw new PruneScopeError(`unknown pruning strategy "${id}" (expected one of ${PRUNE_STRATEGY_IDS.join(', ')})`);
  return BY_ID[id];
}
