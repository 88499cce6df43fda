import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import {
  canonicalCorrelations,
  ccaFromMoments,
  meanCCA,
  pwcca,
  pwccaPaper,
  pwccaPaperFromMoments,
  referencePWCCA,
  svcca,
  svccaFromMoments,
} from './cca';
import { type Matrix, SimilarityError } from './matrix';
import { CrossMoments } from './moments';
import {
  centralPixels,
  close,
  columns,
  constantColumns,
  gaussianMatrix,
  hstack,
  mnistActivations,
  type MnistActivations,
  multiply,
  orthogonal,
  referenceActivations,
  referenceCases,
  scaled,
  m64,
} from '../../../test/kits/metrics';

/** I + 0.4 G: invertible and reasonably conditioned. */
function invertible(p: number, seed: number): Matrix {
  const g = gaussianMatrix(p, p, seed);
  return { ...g, data: g.data.map((v, i) => 0.4 * v + (i % (p + 1) === 0 ? 1 : 0)) };
}

describe('CCA: values worked out by hand', () => {
  it('a direction of Y inside the span of X has canonical correlation 1', () => {
    // Xc = [[1,1],[1,-1],[-1,1],[-1,-1]] (+ offsets), y = its first column: y lies in span(Xc), so the
    // single canonical pair has rho = 1 and mean CCA = 1; PWCCA has one weight, 1.
    const x = m64(4, 2, [4, -1, 4, -3, 2, -1, 2, -3]);
    const y = m64(4, 1, [1, 1, -1, -1]);
    const r = canonicalCorrelations(x, y);
    assert.equal(r.correlations.length, 1);
    close(r.correlations[0], 1, 1e-14, 'rho');
    close(pwcca(x, y, { epsilon: 0 }), 1, 1e-14, 'PWCCA');
    close(pwccaPaper(x, y), 1, 1e-14, 'PWCCA (paper)');
  });

  it('two features, two canonical correlations by hand', () => {
    // Xc columns a = [1,1,-1,-1], b = [1,-1,1,-1] (orthogonal, |.|^2 = 4); Y = [a, a + b] spans the same
    // plane, so both canonical correlations are 1. Y2 = [a, c] with c = [1,-1,-1,1] (orthogonal to a and b):
    // the canonical pairs are (a, a) with rho = 1 and (b, c) with rho = 0, so mean CCA = 1/2.
    const x = m64(4, 2, [1, 1, 1, -1, -1, 1, -1, -1]);
    const y = m64(4, 2, [1, 2, 1, 0, -1, 0, -1, -2]);
    const y2 = m64(4, 2, [1, 1, 1, -1, -1, -1, -1, 1]);
    close(meanCCA(x, y), 1, 1e-14, 'same plane');
    const r = canonicalCorrelations(x, y2);
    close(r.correlations[0], 1, 1e-14, 'rho 1');
    close(r.correlations[1], 0, 1e-14, 'rho 2');
    close(meanCCA(x, y2), 0.5, 1e-14, 'mean');
  });
});

describe('CCA agrees with SVD-of-data implementations in NumPy (testdata/reference.py)', () => {
  for (const c of referenceCases()) {
    it(c.name, () => {
      const tol = 1e-10;
      const r = canonicalCorrelations(c.x, c.y);
      const expected = c.canonicalCorrelations as number[];
      assert.equal(r.correlations.length, expected.length);
      expected.forEach((v, i) => close(r.correlations[i], v, tol, `rho ${i}`));
      close(meanCCA(c.x, c.y), c.meanCCA as number, tol, 'mean CCA');
      close(svcca(c.x, c.y), c.svcca as number, tol, 'SVCCA 0.99');
      close(svcca(c.x, c.y, { varianceKept: 0.9 }), c.svcca90 as number, tol, 'SVCCA 0.9');
      close(pwccaPaper(c.x, c.y), c.pwcca as number, tol, "PWCCA, the paper's formula");
    });
  }
});

describe('CCA properties on random and real activations', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(1000);
  });

  it('CCA(X, X) = 1 for mean CCA, SVCCA and PWCCA', () => {
    for (const x of [...real.layers, gaussianMatrix(200, 12, 3)]) {
      close(meanCCA(x, x), 1, 1e-9, `mean CCA ${x.cols}`);
      close(svcca(x, x), 1, 1e-9, `SVCCA ${x.cols}`);
      close(pwccaPaper(x, x), 1, 1e-9, `PWCCA (paper) ${x.cols}`);
    }
    // The reference's ridge (epsilon) gives a collinear direction a correlation near 0, so its
    // PWCCA(X, X) is 1 only for X of full rank: not for the logits (10 units of rank 9).
    for (const x of [...real.layers.slice(0, 2), gaussianMatrix(200, 12, 3)]) close(pwcca(x, x), 1, 1e-8, `PWCCA ${x.cols}`);
    assert.ok(pwcca(real.layers[2], real.layers[2]) < 0.999);
  });

  it('canonical correlations are invariant to invertible linear maps of either side', () => {
    // [h2, h3] has rank 9 of 20 (h3 is an affine function of h2, which has a dead unit), so the
    // map also mixes the null space; the covariance route then keeps about 8 digits.
    const [h1, h2, h3] = real.layers;
    const base = canonicalCorrelations(h1, hstack(h2, h3), { engine: 'float64' }).correlations;
    const mapped = canonicalCorrelations(multiply(h1, invertible(10, 7)), multiply(hstack(h2, h3), invertible(20, 8)), {
      engine: 'float64',
    }).correlations;
    assert.equal(mapped.length, base.length);
    base.forEach((v, i) => close(mapped[i], v, 1e-7, `rho ${i}`));
  });

  it('SVCCA is invariant to orthogonal transforms and isotropic scaling; PWCCA to scaling, the paper formula also to unit order', () => {
    const [h1, h2] = real.layers;
    const xt = scaled(multiply(h1, orthogonal(10, 3)), 0.01);
    close(svcca(xt, h2), svcca(h1, h2), 1e-9, 'SVCCA');
    close(meanCCA(xt, h2), meanCCA(h1, h2), 1e-9, 'mean CCA');
    const order = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7];
    close(pwcca(scaled(h1, 250), h2), pwcca(h1, h2), 1e-9, 'PWCCA');
    close(pwccaPaper(scaled(columns(h1, order), 250), h2), pwccaPaper(h1, h2), 1e-9, 'PWCCA (paper)');
    // google/svcca adds unit i's mean to canonical direction i before orthonormalising, so its
    // PWCCA depends on the order of the units; ours follows it.
    assert.ok(Math.abs(pwcca(columns(h1, order), h2) - pwcca(h1, h2)) > 1e-4);
  });

  it('rank-deficient input: duplicated and dead units give the same correlations as the clean layer', () => {
    const [h1, h2] = real.layers;
    const messy = hstack(h1, columns(h1, [0, 3]), constantColumns(h1.rows, [0, 0, 1]), scaled(columns(h1, [5]), -2));
    const clean = canonicalCorrelations(h1, h2);
    const r = canonicalCorrelations(messy, h2);
    assert.equal(r.rankX, clean.rankX);
    clean.correlations.forEach((v, i) => close(r.correlations[i], v, 1e-8, `rho ${i}`));
    close(svcca(messy, h2, { varianceKept: 1 }), svcca(h1, h2, { varianceKept: 1 }), 1e-8, 'SVCCA, all variance');
  });

  it('more features than samples: ranks are capped by n - 1 and values stay in [0, 1]', () => {
    const x = gaussianMatrix(20, 50, 1);
    const y = gaussianMatrix(20, 8, 2);
    const r = canonicalCorrelations(x, y);
    assert.equal(r.rankX, 19);
    assert.equal(r.rankY, 8);
    for (const v of [meanCCA(x, y), svcca(x, y), pwcca(x, y)]) assert.ok(v >= 0 && v <= 1, `${v}`);
  });

  it('PWCCA (paper) weights are the normalised projections of X on its canonical variates', () => {
    const [h1, h2] = real.layers;
    const m = new CrossMoments([10], [10], { engine: 'float64' });
    m.add([h1], [h2]);
    const r = pwccaPaperFromMoments(m);
    let total = 0;
    for (const w of r.weights) {
      assert.ok(w >= 0);
      total += w;
    }
    close(total, 1, 1e-12, 'weights sum');
    let weighted = 0;
    r.weights.forEach((w, i) => (weighted += w * r.correlations[i]));
    close(r.value, weighted, 1e-12, 'value');
  });

  it('a side with no variance, or nonsense options, raise clear errors', () => {
    const y = gaussianMatrix(50, 3, 4);
    const dead = constantColumns(50, [0, 0.5]);
    for (const f of [() => meanCCA(dead, y), () => svcca(y, dead), () => pwcca(dead, y)]) {
      assert.throws(f, (e: unknown) => e instanceof SimilarityError && /no variance/.test(e.message));
    }
    assert.throws(() => svcca(y, y, { varianceKept: 0 }), /varianceKept must be in \(0, 1\]/);
    assert.throws(() => meanCCA(y, y, { rankTolerance: -1 }), /rankTolerance/);
  });
});

describe('PWCCA and mean CCA agree with google/svcca on MNIST activations (testdata/pwcca-reference.json)', () => {
  interface RefCase {
    x: string;
    y: string;
    epsilon: number;
    pwcca: number;
    side: 'x' | 'y';
    keptX: number;
    keptY: number;
    meanAll: number;
    ccaCoreMean: number;
  }
  const ref = JSON.parse(readFileSync(join(__dirname, 'testdata', 'pwcca-reference.json'), 'utf8')) as { cases: RefCase[] };
  let acts: Map<string, Matrix>;
  before(async () => {
    await initBackend();
    acts = await referenceActivations();
  });

  for (const c of ref.cases) {
    it(`${c.x} vs ${c.y}, epsilon ${c.epsilon}`, () => {
      const r = referencePWCCA(acts.get(c.x)!, acts.get(c.y)!, { epsilon: c.epsilon });
      assert.equal(r.side, c.side);
      assert.equal(r.rankX, c.keptX);
      assert.equal(r.rankY, c.keptY);
      close(r.value, c.pwcca, 1e-3, 'PWCCA');
      close(r.value, c.pwcca, 1e-6, 'PWCCA, to rounding');
      // Our mean CCA keeps min(rank X, rank Y) pairs; cca_core's summary mean drops the smallest
      // correlations past 98% of their sum, which on these layers drops none.
      // epsilon is a ridge in the reference, not in mean CCA: 1e-6 moves the correlations by ~1e-5.
      close(meanCCA(acts.get(c.x)!, acts.get(c.y)!), c.meanAll, c.epsilon > 1e-10 ? 1e-3 : 1e-6, 'mean CCA');
      close(c.ccaCoreMean, c.meanAll, 1e-12, 'cca_core mean');
    });
  }

  it('the paper formula differs from the reference code on the same layers', () => {
    const [x, y] = [acts.get('a0')!, acts.get('a1')!];
    assert.ok(Math.abs(pwccaPaper(x, y) - pwcca(x, y)) > 1e-3, `${pwccaPaper(x, y)} vs ${pwcca(x, y)}`);
  });

  it('epsilon out of range is refused', () => {
    const x = acts.get('c0')!;
    assert.throws(() => pwcca(x, x, { epsilon: -1 }), /epsilon must be in \[0, 1\)/);
  });
});

/** Moments of x and y in float64: the covariance route the matrix functions are checked against. */
function momentsOf(x: Matrix, y: Matrix): CrossMoments {
  const m = new CrossMoments([x.cols], [y.cols], { engine: 'float64' });
  m.add([x], [y]);
  return m;
}

/** max(0, x) of a Gaussian matrix with `dead` columns set to a constant: a ReLU layer with dead units. */
function reluLayer(rows: number, cols: number, dead: number, seed: number): Matrix {
  const g = gaussianMatrix(rows, cols, seed);
  return { ...g, data: g.data.map((v, i) => (i % cols < dead ? 0.25 : Math.max(0, v))) };
}

describe('CCA on prepared matrices agrees with the covariance route (the *FromMoments functions)', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(1000);
  });

  const agree = (x: Matrix, y: Matrix, what: string, paper = true) => {
    const m = momentsOf(x, y);
    const fast = canonicalCorrelations(x, y);
    const slow = ccaFromMoments(m);
    assert.equal(fast.rankX, slow.rankX, `${what}: rank X`);
    assert.equal(fast.rankY, slow.rankY, `${what}: rank Y`);
    slow.correlations.forEach((v, i) => close(fast.correlations[i], v, 1e-8, `${what}: rho ${i}`));
    const mean = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length;
    close(svcca(x, y), mean(svccaFromMoments(m).correlations), 1e-9, `${what}: SVCCA`);
    close(
      svcca(x, y, { varianceKept: 0.9 }),
      mean(svccaFromMoments(m, 0, 0, { varianceKept: 0.9 }).correlations),
      1e-9,
      `${what}: SVCCA 0.9`,
    );
    if (paper) close(pwccaPaper(x, y), pwccaPaperFromMoments(m).value, 1e-8, `${what}: PWCCA (paper)`);
  };

  it('on real layers (features fewer than samples: the spectrum of Xc^T Xc)', () => {
    const [h1, h2, h3] = real.layers;
    agree(h1, h2, 'h1, h2');
    agree(h2, h3, 'h2, h3');
    agree(centralPixels(real.input), h1, 'pixels, h1');
    agree(hstack(h1, columns(h1, [0, 3])), h2, 'duplicated units, h2');
  });

  it('on layers at least as wide as the samples (the spectrum of Xc Xc^T, and the complement of a wide side)', () => {
    // 80 units, 30 of them dead, on 60 samples: rank 50 of the 59 centred dimensions, so the
    // correlations come from the 9 directions it leaves out; the other side has 12 or 70 units.
    const wide = reluLayer(60, 80, 30, 1);
    const full = reluLayer(60, 70, 0, 2);
    const narrow = gaussianMatrix(60, 12, 3);
    const r = canonicalCorrelations(wide, narrow);
    assert.equal(r.rankX, 50);
    assert.ok(r.correlations[r.correlations.length - 1] < 0.99, 'some correlations are not 1');
    // Where the two sides' ranks add up to more than the 59 centred dimensions, some correlations
    // are 1 together, and the paper's weights split among them as the decomposition happens to
    // turn them: its value is compared where the ranks leave room.
    agree(wide, narrow, 'wide, narrow', false);
    agree(narrow, wide, 'narrow, wide', false);
    agree(full, narrow, 'spanning, narrow', false);
    agree(reluLayer(60, 60, 5, 4), gaussianMatrix(60, 30, 5), 'as many units as samples, 30', false);
    agree(reluLayer(60, 80, 60, 6), narrow, 'wide with 20 live units, narrow');
    close(meanCCA(full, narrow), 1, 1e-15, 'a side spanning every centred direction has only correlations of 1');
  });

  it('a matrix changed in place is prepared again', () => {
    const [h1, h2] = real.layers;
    const x: Matrix = { ...h1, data: h1.data.slice() };
    const before = meanCCA(x, h2);
    for (let r = 0; r < x.rows; r++) x.data[r * x.cols + 4] = h2.data[r * h2.cols + 1];
    const changed = meanCCA(x, h2);
    assert.ok(Math.abs(changed - before) > 1e-3, `${before} -> ${changed}`);
    close(changed, meanCCA({ ...x, data: x.data.slice() }, h2), 1e-12, 'the same as a fresh copy');
  });

  it('PWCCA of a layer with itself, from its own decomposition, equals the general computation', () => {
    const [h1, h2] = real.layers;
    for (const x of [h1, h2, centralPixels(real.input)]) {
      const self = referencePWCCA(x, x, { epsilon: 1e-4 });
      const copy = referencePWCCA(x, { ...x, data: x.data.slice() }, { epsilon: 1e-4 });
      self.correlations.forEach((v, i) => close(v, copy.correlations[i], 1e-9, `rho ${i}`));
      close(self.value, copy.value, 1e-7, `PWCCA of ${x.cols} units with itself`);
    }
  });

  it("a pair in the other order reuses the first order's work and gives what a fresh computation gives", () => {
    const [h1, h2, h3] = real.layers;
    const fresh = (m: Matrix): Matrix => ({ ...m, data: m.data.slice() });
    // h2 and h3 both have rank 9 (the paper's two orders then decompose different Gram matrices)
    // but keep 9 and 10 units in the reference; the other pairs differ in both.
    for (const [x, y] of [
      [h2, h3],
      [h3, h1],
      [centralPixels(real.input), h2],
    ]) {
      const first = pwccaPaper(x, y);
      close(pwccaPaper(y, x), pwccaPaper(fresh(y), fresh(x)), 1e-10, 'PWCCA (paper), other order');
      close(first, pwccaPaper(fresh(x), fresh(y)), 1e-10, 'PWCCA (paper), first order');
      const ref = referencePWCCA(x, y);
      const back = referencePWCCA(y, x);
      const again = referencePWCCA(fresh(y), fresh(x));
      close(back.value, again.value, 1e-10, 'PWCCA, other order');
      assert.deepEqual([back.rankX, back.rankY, back.side], [again.rankX, again.rankY, again.side]);
      if (ref.rankX !== ref.rankY) close(back.value, ref.value, 1e-10, 'PWCCA is symmetric when the kept units differ in number');
    }
  });

  it('PWCCA weighted by more kept units than samples is refused at once', () => {
    const x = gaussianMatrix(20, 30, 6);
    assert.throws(
      () => pwcca(x, gaussianMatrix(20, 40, 7), { names: { x: 'layer A', y: 'layer B' } }),
      (e: unknown) => e instanceof SimilarityError && /canonical directions of layer A are linearly dependent/.test(e.message),
    );
  });
});
