import { CKA_TIE_TOLERANCE, ckaCurve, ckaScoresFromGram } from './cka-fast';
import { forEachLayerGram } from './cka-layers';
import type { LayerScores, ScoringCriterion } from './strategy';

/**
 * CKA pruning as in the CKA-pruning study: per hidden layer, on the pre-activation outputs of
 * the given samples (default the first 512), ablating neuron i writes its bias into column i;
 * its score is the linear CKA between the original and the ablated outputs; the neurons with
 * the highest scores are removed.
 *
 * Reading of "every candidate ablated alone against the original": a candidate's score does not
 * depend on which neurons were removed before it (it is always taken against the original, with
 * only that candidate ablated), so the study's loop (score every candidate, remove the best,
 * repeat) removes exactly the top-k of one scoring. So this criterion only scores (once,
 * cka-fast.ts) and the selector ranks, with a tie tolerance for the scores' rounding noise;
 * re-scoring at every step, as the study did, only costs time. See cka-greedy for the variant
 * that re-scores with the removed neurons ablated too.
 */
export const ckaOneShot: ScoringCriterion = {
  gives: 'scores',
  target: 'units',
  removeFirst: 'highest',
  tieTolerance: CKA_TIE_TOLERANCE,
  needsSamples: true,
  score: (request) =>
    forEachLayerGram(request, (c, p): LayerScores => ({
      scores: ckaScoresFromGram(c, p),
      // The plan records the CKA after each removal the selector chose.
      curveFor: (order) => ckaCurve(c, p, order),
    })),
};
