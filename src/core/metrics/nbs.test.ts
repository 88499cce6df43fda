import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { SimilarityError } from './matrix';
import { normalizedBuresSimilarity as nbs } from './nbs';
import {
  centralPixels,
  close,
  constantColumns,
  gaussianMatrix,
  hstack,
  mnistActivations,
  type MnistActivations,
  multiply,
  orthogonal,
  referenceCases,
  scaled,
  m64,
} from '../../../test/kits/metrics';

describe('NBS', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(1000);
  });

  it('by hand: two orthogonal features against one of them', () => {
    // Xc = [[1,1],[1,-1],[-1,1],[-1,-1]], y = first column: Xc^T y = [4, 0], nuclear norm 4;
    // ||Xc||_F^2 = 8, ||y||^2 = 4, so NBS = 4 / sqrt(8 * 4) = 1/sqrt 2.
    const x = m64(4, 2, [4, -1, 4, -3, 2, -1, 2, -3]);
    const y = m64(4, 1, [1, 1, -1, -1]);
    close(nbs(x, y), Math.SQRT1_2, 1e-15, 'NBS');
  });

  it('by hand: orthogonal representations have NBS 0', () => {
    // x = [1,1,-1,-1] and y = [1,-1,1,-1] are centred and orthogonal: Xc^T Yc = 0.
    close(nbs(m64(4, 1, [1, 1, -1, -1]), m64(4, 1, [1, -1, 1, -1])), 0, 1e-15, 'NBS');
  });

  it('agrees with the n x n matrix-square-root definition computed in NumPy', () => {
    for (const c of referenceCases()) close(nbs(c.x, c.y), c.nbs as number, 1e-12, c.name);
  });

  it('NBS(X, X) = 1 and every value lies in [0, 1]', () => {
    const reps = [centralPixels(real.input, 12), ...real.layers];
    for (const x of [...real.layers, gaussianMatrix(100, 7, 2)]) close(nbs(x, x), 1, 1e-12, `${x.cols} units`);
    for (const x of reps) {
      for (const y of reps) {
        const v = nbs(x, y);
        assert.ok(v >= 0 && v <= 1, `NBS ${x.cols} vs ${y.cols} = ${v}`);
      }
    }
    for (let s = 0; s < 20; s++) {
      const v = nbs(gaussianMatrix(30, 1 + (s % 5), s), gaussianMatrix(30, 1 + (s % 3), 100 + s));
      assert.ok(v >= 0 && v <= 1, `random pair ${s}: ${v}`);
    }
  });

  it('invariant to orthogonal transforms and isotropic scaling; dead units change nothing', () => {
    const [h1, h2] = real.layers;
    close(nbs(scaled(multiply(h1, orthogonal(10, 9)), 1e3), h2), nbs(h1, h2), 1e-12, 'rotated');
    close(nbs(hstack(h1, constantColumns(h1.rows, [0, 0])), h2), nbs(h1, h2), 1e-12, 'dead units');
  });

  it('a representation with no variance raises a clear error', () => {
    assert.throws(
      () => nbs(constantColumns(20, [1, 1]), gaussianMatrix(20, 2, 1)),
      (e: unknown) => e instanceof SimilarityError && /NBS: X has no variance/.test(e.message),
    );
  });
});
