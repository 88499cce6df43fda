import type { CrossProductEngine } from './engine';
import { singularValues, trace } from './linalg';
import { checkPair, type Matrix, type MatrixNames, SimilarityError } from './matrix';
import { CrossMoments } from './moments';

/**
 * Normalized Bures Similarity (Tang et al. 2020) with centred linear kernels:
 *   NBS = tr((Kx^(1/2) Ky Kx^(1/2))^(1/2)) / sqrt(tr Kx tr Ky),  Kx = Xc Xc^T, Ky = Yc Yc^T.
 * In feature space: with the thin SVD Xc = U S V^T, Kx^(1/2) = U S U^T and
 *   Kx^(1/2) Ky Kx^(1/2) = (U S U^T Yc)(U S U^T Yc)^T,
 * whose nonzero eigenvalues are the squared singular values of S U^T Yc. Xc^T Yc = V (S U^T Yc)
 * with V having orthonormal columns has the same singular values, so the numerator is the
 * nuclear norm ||Xc^T Yc||_*; and tr Kx = ||Xc||_F^2. Hence
 *   NBS = ||Xc^T Yc||_* / (||Xc||_F ||Yc||_F),
 * in [0, 1] because ||A^T B||_* <= ||A||_F ||B||_F, and 1 for X = Y (sum s_i^2 / sum s_i^2).
 */

export interface NBSOptions {
  /** float64 unless float32 is asked for (auto means float64 here): the nuclear norm sums every singular value, small ones included. */
  engine?: CrossProductEngine;
  names?: MatrixNames;
}

export function nbsFromMoments(m: CrossMoments, i = 0, j = 0): number {
  const p = m.cols('x', i);
  const q = m.cols('y', j);
  const tx = trace(m.centeredGram('x', i), p);
  const ty = trace(m.centeredGram('y', j), q);
  for (const [t, name] of [
    [tx, m.name('x', i)],
    [ty, m.name('y', j)],
  ] as const) {
    if (!(t > 0)) {
      throw new SimilarityError(
        `NBS: ${name} has no variance (every feature is constant over the samples, e.g. a dead ReLU layer), so the similarity is undefined`,
      );
    }
  }
  const s = singularValues(m.centeredCross(i, j), p, q);
  let nuclear = 0;
  for (const v of s) nuclear += v;
  const v = nuclear / Math.sqrt(tx) / Math.sqrt(ty);
  // The bound is exact; only rounding can push the ratio past 1.
  return Math.min(1, Math.max(0, v));
}

export function normalizedBuresSimilarity(x: Matrix, y: Matrix, options: NBSOptions = {}): number {
  checkPair(x, y, options.names);
  const m = new CrossMoments([x.cols], [y.cols], {
    engine: options.engine === 'float32' ? 'float32' : 'float64',
    xNames: [options.names?.x ?? 'X'],
    yNames: [options.names?.y ?? 'Y'],
  });
  m.add([x], [y]);
  return nbsFromMoments(m);
}
