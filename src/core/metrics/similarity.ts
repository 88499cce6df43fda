import { canonicalCorrelations, type CCAOptions, pwcca, pwccaPaper, svcca } from './cca';
import { debiasedCKA, linearCKA, minibatchCKA, rbfCKA, type CKAForm } from './cka';
import type { CrossProductEngine } from './engine';
import type { Matrix, MatrixNames } from './matrix';
import { normalizedBuresSimilarity } from './nbs';

/** Every similarity metric under its command-line name. */
export type SimilarityMetricId =
  'linear-cka' | 'rbf-cka' | 'debiased-cka' | 'minibatch-cka' | 'mean-cca' | 'svcca' | 'pwcca' | 'pwcca-paper' | 'nbs';

/** The union of every metric's options; each metric reads the ones it knows. */
export interface SimilarityOptions {
  names?: MatrixNames;
  engine?: CrossProductEngine;
  /** linear-cka, debiased-cka: feature-space or Gram form. */
  form?: CKAForm;
  /** rbf-cka and Gram forms: the most samples for which n x n matrices are built. */
  maxGramRows?: number;
  /** rbf-cka: sigma = threshold * sqrt(median squared distance). */
  threshold?: number;
  /** minibatch-cka: rows per minibatch (>= 4). */
  batch?: number;
  /** svcca: share of variance the kept directions explain. */
  varianceKept?: number;
  /** CCA family: relative eigenvalue below which a direction counts as absent. */
  rankTolerance?: number;
}

export interface SimilarityMetric<Id extends SimilarityMetricId = SimilarityMetricId> {
  id: Id;
  label: string;
  description: string;
  /** Builds n x n matrices, so n is limited by maxGramRows. */
  gram: boolean;
  /** A value in [0, 1]; 1 for identical representations. Throws SimilarityError when undefined. */
  compute(x: Matrix, y: Matrix, options?: SimilarityOptions): number;
}

function meanOf(v: Float64Array): number {
  let s = 0;
  for (const a of v) s += a;
  return s / v.length;
}

/** Keyed by id; the type makes a missing metric, or an entry whose id is not its key, a compile error. */
export const SIMILARITY_METRICS: { readonly [Id in SimilarityMetricId]: SimilarityMetric<Id> } = {
  'linear-cka': {
    id: 'linear-cka',
    label: 'Linear CKA',
    description: 'Centered kernel alignment with linear kernels (Kornblith et al. 2019), in feature space when n exceeds the widths.',
    gram: false,
    compute: (x, y, o = {}) => linearCKA(x, y, o),
  },
  'rbf-cka': {
    id: 'rbf-cka',
    label: 'RBF CKA',
    description: 'CKA with Gaussian kernels, bandwidth threshold x sqrt(median squared distance); n x n.',
    gram: true,
    compute: (x, y, o = {}) => rbfCKA(x, y, o),
  },
  'debiased-cka': {
    id: 'debiased-cka',
    label: 'Debiased CKA',
    description: 'Linear CKA with the unbiased HSIC estimator (Song et al. 2012); needs n >= 4.',
    gram: false,
    compute: (x, y, o = {}) => debiasedCKA(x, y, o),
  },
  'minibatch-cka': {
    id: 'minibatch-cka',
    label: 'Minibatch CKA',
    description: 'Unbiased linear HSIC summed over minibatches (Nguyen et al. 2021); batch >= 4.',
    gram: false,
    compute: (x, y, o = {}) => minibatchCKA(x, y, o),
  },
  'mean-cca': {
    id: 'mean-cca',
    label: 'Mean CCA',
    description: 'Mean canonical correlation over the numerical ranks of both sides.',
    gram: false,
    compute: (x, y, o: CCAOptions = {}) => meanOf(canonicalCorrelations(x, y, o).correlations),
  },
  svcca: {
    id: 'svcca',
    label: 'SVCCA',
    description: "Mean CCA after keeping the principal directions that explain 99% of each side's variance (Raghu et al. 2017).",
    gram: false,
    compute: (x, y, o = {}) => svcca(x, y, o),
  },
  pwcca: {
    id: 'pwcca',
    label: 'PWCCA',
    description:
      "Canonical correlations weighted by how much of the side with fewer kept units each canonical variate accounts for, as google/svcca's compute_pwcca computes it (Morcos et al. 2018; docs/similarity-metrics.md).",
    gram: false,
    compute: (x, y, o = {}) => pwcca(x, y, o),
  },
  'pwcca-paper': {
    id: 'pwcca-paper',
    label: 'PWCCA (paper)',
    description:
      "PWCCA by the paper's formula: weights from X's centred activations, invariant to the order of units (docs/similarity-metrics.md).",
    gram: false,
    compute: (x, y, o = {}) => pwccaPaper(x, y, o),
  },
  nbs: {
    id: 'nbs',
    label: 'NBS',
    description: 'Normalized Bures similarity of the centred linear kernels, via the nuclear norm of Xc^T Yc.',
    gram: false,
    compute: (x, y, o = {}) => normalizedBuresSimilarity(x, y, o),
  },
};

export const SIMILARITY_METRIC_IDS: readonly SimilarityMetricId[] = Object.values(SIMILARITY_METRICS).map((m) => m.id);

export function isSimilarityMetricId(s: string): s is SimilarityMetricId {
  return Object.prototype.hasOwnProperty.call(SIMILARITY_METRICS, s);
}
