import { ckaPlan } from './cka-plan';
import type { PruneStrategy } from './strategy';

/**
 * CKA pruning as in the CKA-pruning study: per hidden layer, on the pre-activation outputs of
 * the given samples (default the first 512), ablating neuron i writes its bias into column i;
 * its score is the linear CKA between the original and the ablated outputs; the neurons with
 * the highest scores are removed.
 *
 * Reading of "every candidate ablated alone against the original": a candidate's score does not
 * depend on which neurons were removed before it (it is always taken against the original, with
 * only that candidate ablated), so the study's loop (score every candidate, remove the best,
 * repeat) removes exactly the top-k of one scoring. It is computed once here (cka-fast.ts);
 * re-scoring at every step, as the study did, only costs time. See cka-greedy for the variant
 * that re-scores with the removed neurons ablated too.
 */
export const ckaStrategy: PruneStrategy = {
  id: 'cka',
  label: 'CKA (one-shot ranking)',
  kind: 'structured',
  description: 'removes the neurons whose ablation alone changes the layer output least (highest linear CKA to the original)',
  needsSamples: true,
  plan: (mlp, options) => ckaPlan('cka', mlp, options),
};
