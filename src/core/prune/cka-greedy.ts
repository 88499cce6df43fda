import { ckaPlan } from './cka-plan';
import type { PruneStrategy } from './strategy';

/**
 * Greedy CKA pruning: each step ablates every remaining neuron together with those already
 * removed, scores the linear CKA to the original outputs, and removes the best. Exact, with
 * O(p) work per step (cka-fast.ts).
 */
export const ckaGreedyStrategy: PruneStrategy = {
  id: 'cka-greedy',
  label: 'CKA (greedy)',
  kind: 'structured',
  description: 'removes neurons one at a time, each time the one whose ablation (with those already removed) keeps the highest linear CKA',
  needsSamples: true,
  plan: (mlp, options) => ckaPlan('cka-greedy', mlp, options),
};
