import { PruneScopeError } from '../errors';
import { apozStrategy } from './apoz';
import { ckaStrategy } from './cka';
import { ckaGreedyStrategy } from './cka-greedy';
import { magnitudeStrategy } from './magnitude';
import { magnitudeGlobalStrategy } from './magnitude-global';
import { randomStrategy } from './random';
import { randomWeightsStrategy } from './random-weights';
import type { PruneStrategy } from './strategy';
import { unitL1Strategy } from './unit-l1';
import { unitL2Strategy } from './unit-l2';

/** Every pruning strategy. A new strategy is one file plus one line here. */
export const PRUNE_STRATEGIES: readonly PruneStrategy[] = [
  magnitudeStrategy,
  magnitudeGlobalStrategy,
  unitL1Strategy,
  unitL2Strategy,
  apozStrategy,
  ckaStrategy,
  ckaGreedyStrategy,
  randomStrategy,
  randomWeightsStrategy,
];

export const PRUNE_STRATEGY_IDS: readonly string[] = PRUNE_STRATEGIES.map((s) => s.id);

export function strategyById(id: string): PruneStrategy {
  const s = PRUNE_STRATEGIES.find((x) => x.id === id);
  if (!s) throw new PruneScopeError(`unknown pruning strategy "${id}" (expected one of ${PRUNE_STRATEGY_IDS.join(', ')})`);
  return s;
}
