import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { PruneScopeError } from '../errors';
import { debiasedCKA, LinearCKAAccumulator, linearCKA, linearCKAGram, linearCKAMatrix, minibatchCKA, rbfCKA } from './cka';
import { type Matrix, SimilarityError } from './matrix';
import {
  close,
  columns,
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

describe('CKA: values worked out by hand', () => {
  it('one feature each: linear CKA is the squared Pearson correlation', () => {
    // x = [1,2,3,4] -> centred [-1.5,-0.5,0.5,1.5];  y = [1,2,3,5] (mean 2.75) -> [-1.75,-0.75,0.25,2.25].
    // x.y = 2.625 + 0.375 + 0.125 + 3.375 = 6.5;  x.x = 5;  y.y = 3.0625 + 0.5625 + 0.0625 + 5.0625 = 8.75.
    // CKA = (x.y)^2 / (|x^T x| |y^T y|) = 42.25 / (5 * 8.75) = 169/175.
    const x = m64(4, 1, [1, 2, 3, 4]);
    const y = m64(4, 1, [1, 2, 3, 5]);
    close(linearCKA(x, y), 169 / 175, 1e-15, 'feature form');
    close(linearCKAGram(x, y), 169 / 175, 1e-15, 'Gram form');
  });

  it('one feature each: debiased CKA from the unbiased HSIC formula', () => {
    // Same x, y. Row norms of the centred data: r = [2.25,.25,.25,2.25], t = [3.0625,.5625,.0625,5.0625];
    // sum r = 5, sum t = 8.75, sum r t = 18.4375, sum r^2 = 10.25, sum t^2 = 35.328125; n = 4 so
    // n/(n-2) = 2 and (n-1)(n-2) = 6. n(n-3) HSIC = ||Xc^T Yc||^2 - n/(n-2) sum r t + sum r sum t / ((n-1)(n-2)):
    //   xy: 42.25 - 36.875 + 43.75/6 = 38/3;   xx: 25 - 20.5 + 25/6 = 26/3;   yy: 76.5625 - 70.65625 + 76.5625/6 = 56/3.
    // Debiased CKA = (38/3) / sqrt(26/3 * 56/3) = 38 / sqrt(1456) = 19 / (2 sqrt 91).
    const x = m64(4, 1, [1, 2, 3, 4]);
    const y = m64(4, 1, [1, 2, 3, 5]);
    close(debiasedCKA(x, y), 19 / (2 * Math.sqrt(91)), 1e-14, 'feature form');
    close(debiasedCKA(x, y, { form: 'gram' }), 19 / (2 * Math.sqrt(91)), 1e-14, 'Gram form');
    close(minibatchCKA(x, y, { batch: 4 }), 19 / (2 * Math.sqrt(91)), 1e-14, 'one minibatch of 4');
  });

  it('two orthogonal features against one of them: 1/sqrt 2, whatever the column offsets', () => {
    // Xc = [[1,1],[1,-1],[-1,1],[-1,-1]] (orthogonal columns, each of squared norm 4), y = first column.
    // Xc^T y = [4, 0] -> ||.||^2 = 16;  Xc^T Xc = 4 I -> ||.||_F = 4 sqrt 2;  y^T y = 4.
    // CKA = 16 / (4 sqrt 2 * 4) = 1/sqrt 2. Offsets (+3, -2) added to X must not matter.
    const x = m64(4, 2, [4, -1, 4, -3, 2, -1, 2, -3]);
    const y = m64(4, 1, [1, 1, -1, -1]);
    close(linearCKA(x, y), Math.SQRT1_2, 1e-15, 'feature form');
    close(linearCKAGram(x, y), Math.SQRT1_2, 1e-15, 'Gram form');
  });
});

describe('CKA agrees with independent NumPy implementations (testdata/reference.py)', () => {
  for (const c of referenceCases()) {
    it(c.name, () => {
      const tol = 1e-12;
      close(linearCKA(c.x, c.y), c.linearCKA as number, tol, 'linear CKA');
      close(linearCKAGram(c.x, c.y), c.linearCKAGram as number, tol, 'linear CKA, Gram');
      close(debiasedCKA(c.x, c.y), c.debiasedCKA as number, tol, 'debiased CKA');
      close(debiasedCKA(c.x, c.y, { form: 'gram' }), c.debiasedCKA as number, tol, 'debiased CKA, Gram');
      close(rbfCKA(c.x, c.y), c.rbfCKA as number, tol, 'RBF CKA');
      close(rbfCKA(c.x, c.y, { threshold: 0.5 }), c.rbfCKAThreshold05 as number, tol, 'RBF CKA, threshold 0.5');
      close(rbfCKA(c.x, c.y, { debiased: true }), c.rbfCKADebiased as number, tol, 'debiased RBF CKA');
      close(minibatchCKA(c.x, c.y, { batch: 10 }), c.minibatchCKA10 as number, tol, 'minibatch CKA, batch 10');
      close(minibatchCKA(c.x, c.y, { batch: 7 }), c.minibatchCKA7 as number, tol, 'minibatch CKA, batch 7');
    });
  }
});

/**
 * The unbiased HSIC as the U-statistic it is defined as (Song et al. 2012, Theorem 2), summed
 * over every ordered 4-tuple of distinct samples: an independent check of the closed forms.
 */
function hsicUStatistic(k: (i: number, j: number) => number, l: (i: number, j: number) => number, n: number): number {
  const perms: number[][] = [];
  const permute = (rest: number[], acc: number[]) => {
    if (!rest.length) perms.push(acc);
    rest.forEach((v, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, v]));
  };
  permute([0, 1, 2, 3], []);
  let total = 0;
  let count = 0;
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++)
      for (let c = 0; c < n; c++)
        for (let d = 0; d < n; d++) {
          if (new Set([a, b, c, d]).size < 4) continue;
          const idx = [a, b, c, d];
          let h = 0;
          for (const [s, t, u, v] of perms) {
            const [is, it, iu, iv] = [idx[s], idx[t], idx[u], idx[v]];
            h += k(is, it) * l(is, it) + k(is, it) * l(iu, iv) - 2 * k(is, it) * l(is, iu);
          }
          total += h / 24;
          count++;
        }
  return total / count;
}

describe('debiased CKA equals the U-statistic definition', () => {
  it('on uncentred data, where the closed form relies on the estimator ignoring offsets', () => {
    const n = 7;
    const x = gaussianMatrix(n, 3, 11);
    const noise = gaussianMatrix(n, 2, 12);
    // y depends on x, so the estimate is clearly positive (negative estimates are clamped to 0).
    const y = { ...noise, data: noise.data.map((v, i) => 0.3 * v + x.data[Math.floor(i / 2) * 3 + (i % 2)]) };
    const shifted = { ...x, data: x.data.map((v, i) => v + (i % 3) * 5) };
    const dot = (m: Matrix) => (i: number, j: number) => {
      let s = 0;
      for (let f = 0; f < m.cols; f++) s += m.data[i * m.cols + f] * m.data[j * m.cols + f];
      return s;
    };
    const kx = dot(shifted);
    const ky = dot(y);
    const expected = hsicUStatistic(kx, ky, n) / Math.sqrt(hsicUStatistic(kx, kx, n) * hsicUStatistic(ky, ky, n));
    close(debiasedCKA(shifted, y), expected, 1e-12, 'feature form');
    close(debiasedCKA(shifted, y, { form: 'gram' }), expected, 1e-12, 'Gram form');
  });
});

describe('CKA properties on random and real activations', () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(1000);
  });

  it('CKA(X, X) = 1 for every form, on the input and every layer', () => {
    const reps = [real.input, ...real.layers, gaussianMatrix(300, 20, 1)];
    for (const x of reps) {
      close(linearCKA(x, x), 1, 1e-12, `linear ${x.cols}`);
      close(debiasedCKA(x, x), 1, 1e-12, `debiased ${x.cols}`);
      close(minibatchCKA(x, x, { batch: 64 }), 1, 1e-12, `minibatch ${x.cols}`);
      const small = { rows: 300, cols: x.cols, data: x.data.subarray(0, 300 * x.cols) };
      close(rbfCKA(small, small), 1, 1e-12, `RBF ${x.cols}`);
    }
  });

  it('invariant to an orthogonal transform and isotropic scaling of X', () => {
    const [h1, h2] = real.layers;
    const q = orthogonal(10, 5);
    const xt = scaled(multiply(h1, q), 37.5);
    const sub = (m: Matrix) => ({ rows: 400, cols: m.cols, data: m.data.subarray(0, 400 * m.cols) });
    close(linearCKA(xt, h2), linearCKA(h1, h2), 1e-12, 'linear');
    close(debiasedCKA(xt, h2), debiasedCKA(h1, h2), 1e-12, 'debiased');
    close(minibatchCKA(xt, h2, { batch: 100 }), minibatchCKA(h1, h2, { batch: 100 }), 1e-12, 'minibatch');
    close(rbfCKA(sub(xt), sub(h2)), rbfCKA(sub(h1), sub(h2)), 1e-12, 'RBF');
    const g = gaussianMatrix(200, 30, 2);
    const gy = gaussianMatrix(200, 8, 3);
    close(linearCKA(scaled(multiply(g, orthogonal(30, 4)), 1e-3), gy), linearCKA(g, gy), 1e-12, 'random');
  });

  it('feature-space and Gram forms agree, and auto picks the Gram form only when p >= n', () => {
    const [h1, h2, h3] = real.layers;
    close(linearCKA(h1, h3), linearCKA(h1, h3, { form: 'gram' }), 1e-12, 'layers 1, 3');
    const feature = linearCKA(real.input, h2, { form: 'feature', engine: 'float64' });
    close(feature, linearCKA(real.input, h2, { form: 'gram' }), 1e-12, 'input vs 2');
    const wide = gaussianMatrix(50, 120, 9);
    const narrow = gaussianMatrix(50, 5, 10);
    close(linearCKA(wide, narrow), linearCKA(wide, narrow, { form: 'feature' }), 1e-12, 'p > n');
  });

  it('minibatch CKA approaches the full-batch debiased value as minibatches grow', () => {
    const [h1, , h3] = real.layers;
    const full = debiasedCKA(h1, h3);
    const err = (batch: number) => Math.abs(minibatchCKA(h1, h3, { batch }) - full);
    close(minibatchCKA(h1, h3, { batch: 1000 }), full, 1e-12, 'one minibatch of all rows');
    assert.ok(err(500) < err(8), `error with batch 500 (${err(500)}) should be below batch 8 (${err(8)})`);
    assert.ok(err(8) > 1e-4, 'small minibatches give a different estimate (else this test proves nothing)');
  });

  it('refuses minibatches smaller than 4 with a message', () => {
    const x = gaussianMatrix(20, 3, 1);
    for (const batch of [3, 2, 1, 0, 4.5]) {
      assert.throws(
        () => minibatchCKA(x, x, { batch }),
        (e: unknown) => e instanceof SimilarityError && /at least 4/.test(e.message),
      );
    }
    assert.throws(() => debiasedCKA(gaussianMatrix(3, 2, 1), gaussianMatrix(3, 2, 2)), /at least 4/);
  });

  it('dead-ReLU constant columns change nothing and give no NaN', () => {
    const [h1, h2] = real.layers;
    const dead = hstack(h1, constantColumns(h1.rows, [0, 0, 0.5]));
    close(linearCKA(dead, h2), linearCKA(h1, h2), 1e-12, 'linear');
    close(debiasedCKA(dead, h2), debiasedCKA(h1, h2), 1e-12, 'debiased');
    close(minibatchCKA(dead, h2, { batch: 32 }), minibatchCKA(h1, h2, { batch: 32 }), 1e-12, 'minibatch');
    const sub = (m: Matrix) => ({ rows: 300, cols: m.cols, data: m.data.subarray(0, 300 * m.cols) });
    close(rbfCKA(sub(dead), sub(h2)), rbfCKA(sub(h1), sub(h2)), 1e-12, 'RBF');
  });

  it('a layer with no variance raises a clear error instead of NaN', () => {
    const zero = constantColumns(200, [0, 0, 0, 0]);
    const y = gaussianMatrix(200, 4, 3);
    const fns = [
      () => linearCKA(zero, y),
      () => linearCKA(zero, y, { form: 'gram' }),
      () => debiasedCKA(zero, y),
      () => minibatchCKA(zero, y, { batch: 16 }),
      () => rbfCKA(y, zero),
    ];
    for (const f of fns) {
      assert.throws(f, (e: unknown) => e instanceof PruneScopeError && /no variance|identical|not positive/.test(e.message));
    }
  });

  it('extreme and very different feature scales give the unscaled values', () => {
    const [h1, h2] = real.layers;
    const widths = h1.cols;
    // Column j multiplied by 10^(6j - 27): scales from 1e-27 to 1e27 within one layer.
    const spread = { ...h1, data: Float64Array.from(h1.data, (v, i) => v * 10 ** (6 * (i % widths) - 27)) };
    for (const v of [linearCKA(spread, h2), debiasedCKA(spread, h2), minibatchCKA(spread, h2, { batch: 16 })]) {
      assert.ok(v >= 0 && v <= 1, `value ${v} in [0, 1]`);
    }
    for (const f of [1e-150, 1e150]) {
      const x = scaled(h1, f);
      close(linearCKA(x, h2), linearCKA(h1, h2), 1e-12, `linear x ${f}`);
      close(linearCKA(x, h2, { form: 'gram' }), linearCKA(h1, h2), 1e-12, `linear Gram x ${f}`);
      close(debiasedCKA(x, h2), debiasedCKA(h1, h2), 1e-12, `debiased x ${f}`);
      close(minibatchCKA(x, h2, { batch: 50 }), minibatchCKA(h1, h2, { batch: 50 }), 1e-12, `minibatch x ${f}`);
    }
  });

  it('streaming accumulation over batches equals the in-memory value', () => {
    const [h1, h2] = real.layers;
    const acc = new LinearCKAAccumulator(real.input.cols, h2.cols, { engine: 'float64' });
    for (let s = 0; s < 1000; s += 137) {
      const e = Math.min(1000, s + 137);
      acc.add(
        { rows: e - s, cols: 784, data: real.input.data.subarray(s * 784, e * 784) },
        { rows: e - s, cols: 10, data: h2.data.subarray(s * 10, e * 10) },
      );
    }
    assert.equal(acc.rows, 1000);
    close(acc.value(), linearCKA(real.input, h2, { engine: 'float64' }), 1e-12, 'input vs layer 2');
    close(linearCKA(h1, h2), linearCKAGram(h1, h2), 1e-12, 'sanity');
  });

  it('the float32 engine matches float64 to 1e-5 on real activations', () => {
    const reps = [real.input, ...real.layers];
    const f64 = linearCKAMatrix(reps, reps, { engine: 'float64' });
    const f32 = linearCKAMatrix(reps, reps, { engine: 'float32' });
    assert.equal(f32.engine, 'float32');
    for (let i = 0; i < reps.length; i++) {
      for (let j = 0; j < reps.length; j++) close(f32.values[i][j]!, f64.values[i][j]!, 1e-5, `entry ${i},${j}`);
    }
    // Wider than one 256-column Gram block, so the upper-block products are exercised.
    const wide = gaussianMatrix(700, 600, 21);
    const other = { ...columns(wide, [0, 5, 9]), data: columns(wide, [0, 5, 9]).data.map((v) => Math.max(0, v)) };
    close(linearCKA(wide, other, { engine: 'float32' }), linearCKA(wide, other, { engine: 'float64' }), 1e-5, 'wide');
  });

  it('a CKA matrix marks undefined entries instead of failing as a whole', () => {
    const [h1, h2] = real.layers;
    const dead = constantColumns(h1.rows, [0, 0]);
    const r = linearCKAMatrix([h1, dead], [h2], { xNames: ['dense_1', 'dead'], yNames: ['dense_2'] });
    assert.equal(r.values[1][0], null);
    assert.ok(typeof r.values[0][0] === 'number');
    assert.match(r.problems[0], /dead has no variance/);
  });

  it('RBF CKA refuses n beyond the limit with the way out, and the limit is settable', () => {
    const x = gaussianMatrix(120, 3, 1);
    assert.throws(
      () => rbfCKA(x, x, { maxGramRows: 100 }),
      (e: unknown) => e instanceof SimilarityError && /120 samples.*maxGramRows.*linear-cka/s.test(e.message),
    );
    close(rbfCKA(x, x, { maxGramRows: 120 }), 1, 1e-12, 'at the limit');
    assert.throws(() => rbfCKA(x, x, { threshold: 0 }), /threshold must be a positive number/);
  });

  it('bad input is named: different sample counts, non-finite values', () => {
    const x = gaussianMatrix(10, 2, 1);
    assert.throws(
      () => linearCKA(x, gaussianMatrix(11, 2, 1), { names: { x: 'dense_1', y: 'dense_2' } }),
      /dense_1 has 10 samples but dense_2 has 11/,
    );
    const bad = { ...x, data: Float64Array.from(x.data) };
    bad.data[7] = NaN;
    assert.throws(() => linearCKA(bad, x), /non-finite value \(NaN\) at sample 3, feature 1/);
  });
});
