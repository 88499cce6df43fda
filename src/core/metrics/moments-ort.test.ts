import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { onnxRuntime, rawNormsModel } from '../engine/onnxruntime';
import { CKAMatrixAccumulator, linearCKAMatrix } from './cka';
import { frobeniusNormSquared, trace } from './linalg';
import { CrossMoments } from './moments';
import type { Matrix } from './matrix';
import { close, constantColumns, gaussianMatrix, hstack, m64, multiply } from '../../../test/kits/metrics';

/**
 * The onnxruntime path of CrossMoments: one session run per row block that centres, scales and
 * multiplies every representation (separate Grams and one concatenated cross product, or a
 * single X_cat^T X_cat when a list is compared with itself).
 */

/** m stacked `times` times: the same CKA as m (duplicating every row changes no CKA). */
function repeatRows(m: Matrix, times: number): Matrix {
  const data = new Float32Array(m.rows * times * m.cols);
  for (let t = 0; t < times; t++) data.set(m.data, t * m.data.length);
  return { rows: m.rows * times, cols: m.cols, data };
}

function asFloat32(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: Float32Array.from(m.data) };
}

describe('CrossMoments on onnxruntime', () => {
  const skip = !onnxRuntime() && 'onnxruntime-node does not load here';

  it('hand-worked: x = [1,2,3,4], y = [1,2,3,5] over 5000 rows (two blocks) give 169/175', { skip }, () => {
    // cka.test.ts works this pair out: CKA is the squared correlation 6.5^2 / (5 * 8.75) = 169/175.
    // 1250 copies of the 4 rows make 5000 rows, several 2048-row blocks.
    const x = repeatRows(m64(4, 1, [1, 2, 3, 4]), 1250);
    const y = repeatRows(m64(4, 1, [1, 2, 3, 5]), 1250);
    const r = linearCKAMatrix([x, y], [y, x], { engine: 'onnxruntime' });
    assert.equal(r.engine, 'onnxruntime');
    assert.equal(r.rows, 5000);
    close(r.values[0][0]!, 169 / 175, 1e-6, 'x vs y');
    close(r.values[0][1]!, 1, 1e-6, 'x vs x');
    close(r.values[1][0]!, 1, 1e-6, 'y vs y');
    close(r.values[1][1]!, 169 / 175, 1e-6, 'y vs x');
  });

  it('a constant column adds nothing and a constant representation is reported, not NaN', { skip }, () => {
    const x = repeatRows(m64(4, 1, [1, 2, 3, 4]), 10);
    const y = repeatRows(m64(4, 1, [1, 2, 3, 5]), 10);
    const withDead = asFloat32(hstack(x, constantColumns(40, [7])));
    const dead = asFloat32(constantColumns(40, [3, -2]));
    const r = linearCKAMatrix([withDead, dead], [y], { engine: 'onnxruntime', xNames: ['live', 'dead'], yNames: ['y'] });
    close(r.values[0][0]!, 169 / 175, 1e-6, 'x with a constant column vs y');
    assert.equal(r.values[1][0], null);
    assert.match(r.problems[0], /dead has no variance/);
  });

  it('two lists over several batches and blocks, float64 data: within 2e-6 of the float64 engine', { skip }, () => {
    // y_j = x_i A + noise gives CKA values spread over (0, 1); 5000 rows in two batches of 2500
    // and 2500 (each two blocks, the last partial) and widths that are not multiples of any kernel tile.
    const n = 5000;
    const x0 = gaussianMatrix(n, 37, 1);
    const x1 = multiply(x0, gaussianMatrix(37, 90, 2));
    const y0 = hstack(multiply(x0, gaussianMatrix(37, 20, 3)), gaussianMatrix(n, 30, 4));
    const y1 = hstack(x1, gaussianMatrix(n, 5, 5));
    const xs = [x0, x1];
    const ys = [y0, y1];
    const f64 = linearCKAMatrix(xs, ys, { engine: 'float64' });
    const acc = new CKAMatrixAccumulator([37, 90], [50, 95], { engine: 'onnxruntime' });
    const rows = (m: Matrix, a: number, b: number): Matrix => ({
      rows: b - a,
      cols: m.cols,
      data: m.data.subarray(a * m.cols, b * m.cols),
    });
    acc.add(
      xs.map((m) => rows(m, 0, 2500)),
      ys.map((m) => rows(m, 0, 2500)),
    );
    acc.add(
      xs.map((m) => rows(m, 2500, n)),
      ys.map((m) => rows(m, 2500, n)),
    );
    const ort = acc.result();
    assert.equal(ort.engine, 'onnxruntime');
    assert.equal(ort.rows, n);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) close(ort.values[i][j]!, f64.values[i][j]!, 2e-6, `(${i}, ${j})`);
    }
    // Spread: these pairs are far from 0 and 1, so the comparison above tests real values.
    assert.ok(f64.values[0][0]! > 0.05 && f64.values[0][0]! < 0.95, String(f64.values[0][0]));
  });

  it('a list against itself (one X_cat^T X_cat) equals the same list against a copy', { skip }, () => {
    const n = 6000;
    const x0 = asFloat32(gaussianMatrix(n, 33, 7));
    const x1 = asFloat32(hstack(multiply(x0, gaussianMatrix(33, 12, 8)), gaussianMatrix(n, 9, 9)));
    const xs = [x0, x1];
    const copies = xs.map((m) => ({ ...m, data: Float32Array.from(m.data) }));
    const self = linearCKAMatrix(xs, xs, { engine: 'onnxruntime' });
    const apart = linearCKAMatrix(xs, copies, { engine: 'onnxruntime' });
    const f64 = linearCKAMatrix(xs, copies, { engine: 'float64' });
    for (let i = 0; i < 2; i++) {
      close(self.values[i][i]!, 1, 1e-12, `self (${i}, ${i})`);
      for (let j = 0; j < 2; j++) {
        close(self.values[i][j]!, apart.values[i][j]!, 1e-6, `self vs copy (${i}, ${j})`);
        close(self.values[i][j]!, f64.values[i][j]!, 2e-6, `self vs float64 (${i}, ${j})`);
      }
    }
    close(self.values[0][1]!, self.values[1][0]!, 1e-12, 'symmetric');
  });
  it(
    'a list against itself: every cross block, with representations cut into several pieces, equals float64; a later batch of copies adds on',
    { skip },
    () => {
      // 600 columns are cut into 2 pieces and 1100 into 4 (symmetricPieces), so blocks of one pair
      // lie both above and below the diagonal of X_cat^T X_cat and are gathered both ways.
      const n = 3000;
      const x0 = asFloat32(gaussianMatrix(n, 600, 21));
      const x1 = asFloat32(hstack(multiply(x0, gaussianMatrix(600, 1000, 22)), gaussianMatrix(n, 100, 23)));
      const x2 = asFloat32(gaussianMatrix(n, 40, 24));
      const xs = [x0, x1, x2];
      const rows = (m: Matrix, r0: number, r1: number): Matrix => ({
        rows: r1 - r0,
        cols: m.cols,
        data: m.data.slice(r0 * m.cols, r1 * m.cols),
      });
      const cols = xs.map((m) => m.cols);
      const ort = new CrossMoments(cols, cols, { engine: 'onnxruntime' });
      const first = xs.map((m) => rows(m, 0, 2200));
      ort.add(first, first);
      // Copies: not the same arrays, so this batch takes the cross-product path.
      ort.add(
        xs.map((m) => rows(m, 2200, n)),
        xs.map((m) => rows(m, 2200, n)),
      );
      const f64 = new CrossMoments(cols, cols, { engine: 'float64' });
      f64.add(
        xs,
        xs.map((m) => ({ ...m, data: Float32Array.from(m.data) })),
      );
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const a = ort.centeredCross(i, j);
          const b = f64.centeredCross(i, j);
          let scale = 0;
          let diff = 0;
          for (let e = 0; e < b.length; e++) {
            scale = Math.max(scale, Math.abs(b[e]));
            diff = Math.max(diff, Math.abs(a[e] - b[e]));
          }
          assert.ok(diff <= 2e-5 * scale, `(${i}, ${j}): max difference ${diff} of values up to ${scale}`);
        }
        const g = ort.centeredGram('y', i);
        const h = f64.centeredGram('y', i);
        close(g[g.length - 1], h[h.length - 1], 2e-5 * Math.abs(h[h.length - 1]), `Gram ${i}`);
      }
    },
  );

  it('norms summed as the blocks are read equal those of the built matrices, on every path', { skip }, () => {
    // Widths of several pieces (600: 2, 300: 1) and under one (37), so self products read blocks
    // above the diagonal, transposed ones below it, and a representation's own blocks twice over.
    const n = 3000;
    const x0 = gaussianMatrix(n, 300, 11);
    const xs = [x0, multiply(x0, gaussianMatrix(300, 37, 12)), hstack(gaussianMatrix(n, 300, 13), x0)].map(asFloat32);
    const cols = xs.map((m) => m.cols);
    const half = (m: Matrix, from: number, to: number) => ({
      rows: to - from,
      cols: m.cols,
      data: m.data.subarray(from * m.cols, to * m.cols),
    });
    const self = new CrossMoments(cols, cols, { engine: 'onnxruntime' });
    self.add(xs, xs);
    const cross = new CrossMoments(cols, cols, { engine: 'onnxruntime' });
    cross.add(xs, xs.map(asFloat32));
    const f64 = new CrossMoments(cols, cols, { engine: 'float64' });
    f64.add(xs, xs);
    // A self batch and then a cross batch: both stores hold part of every product.
    const mixed = new CrossMoments(cols, cols, { engine: 'onnxruntime' });
    const first = xs.map((m) => half(m, 0, 1000));
    mixed.add(first, first);
    mixed.add(
      xs.map((m) => half(m, 1000, n)),
      xs.map((m) => asFloat32(half(m, 1000, n))),
    );
    for (const [name, m] of Object.entries({ self, cross, f64, mixed })) {
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const want = frobeniusNormSquared(m.centeredCross(i, j));
          close(m.centeredCrossNormSquared(i, j), want, 1e-12 * want, `${name} cross (${i}, ${j})`);
        }
        for (const side of ['x', 'y'] as const) {
          const g = m.centeredGram(side, i);
          const got = m.centeredGramNorms(side, i);
          const norm = frobeniusNormSquared(g);
          close(got.normSquared, norm, 1e-12 * norm, `${name} Gram ${side}${i} norm`);
          close(got.trace, trace(g, cols[i]), 1e-12 * got.trace, `${name} Gram ${side}${i} trace`);
        }
      }
    }
  });
});

describe('CrossMoments on onnxruntime, raw products', () => {
  const skip = !onnxRuntime() && 'onnxruntime-node does not load here';
  const rows = (m: Matrix, a: number, b: number): Matrix => ({ rows: b - a, cols: m.cols, data: m.data.subarray(a * m.cols, b * m.cols) });
  /** m + offset in every entry. */
  const offset = (m: Matrix, by: number): Matrix => ({ ...m, data: Float64Array.from(m.data, (v) => v + by) });

  /** CKA matrices of xs vs ys on onnxruntime (added in batches cut at `cuts`) and in float64, entry by entry. */
  function againstFloat64(xs: Matrix[], ys: Matrix[], cuts: number[], tol: number): CKAMatrixAccumulator {
    const acc = new CKAMatrixAccumulator(
      xs.map((m) => m.cols),
      ys.map((m) => m.cols),
      { engine: 'onnxruntime' },
    );
    const bounds = [0, ...cuts, xs[0].rows];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const cut = (ms: Matrix[]) => ms.map((m) => rows(m, bounds[k], bounds[k + 1]));
      // The very same matrices on both sides make a self product.
      const x = cut(xs);
      acc.add(x, ys === xs ? x : cut(ys));
    }
    const ort = acc.result();
    const f64 = linearCKAMatrix(xs, ys, { engine: 'float64' });
    assert.equal(ort.rows, xs[0].rows);
    f64.values.forEach((row, i) => row.forEach((v, j) => close(ort.values[i][j]!, v!, tol, `(${i}, ${j})`)));
    return acc;
  }

  it('centred-looking data is multiplied as it is: one run kept in float32, then runs and batches added in float64', { skip }, () => {
    // 17,000 rows in the first batch are two runs of at most 16,384; a second batch adds a third.
    const n = 20_000;
    const x0 = gaussianMatrix(n, 37, 11);
    const x1 = multiply(x0, gaussianMatrix(37, 90, 12));
    const y0 = hstack(multiply(x0, gaussianMatrix(37, 20, 13)), gaussianMatrix(n, 30, 14));
    const acc = againstFloat64([x0, x1], [y0, hstack(x1, gaussianMatrix(n, 5, 15))], [17_000], 2e-6);
    assert.equal(acc.moments.rawProducts, true);
    const one = againstFloat64([x0, x1], [y0], [], 2e-6);
    assert.equal(one.moments.rawProducts, true);
  });

  it('wide Grams multiplied as their upper blocks (2, 3 and 4 pieces), over two batches: within 2e-6 of float64', { skip }, () => {
    const n = 800;
    const x0 = gaussianMatrix(n, 37, 26);
    // Low rank plus noise, so each Gram's off-diagonal blocks carry much of its norm.
    const wide = (cols: number, seed: number) => hstack(multiply(x0, gaussianMatrix(37, cols - 40, seed)), gaussianMatrix(n, 40, seed + 1));
    const acc = againstFloat64([wide(1000, 27), wide(800, 29)], [wide(520, 31), x0], [450], 2e-6);
    assert.equal(acc.moments.rawProducts, true);
  });

  it('a representation far from zero mean is centred on its way in while the rest go raw', { skip }, () => {
    // Multiplied raw, 1000 + N(0, 1) would lose about 20 bits of its centred products in
    // float32 and miss these values by far more than the tolerance.
    const n = 6000;
    const x0 = gaussianMatrix(n, 40, 21);
    const shifted = offset(hstack(multiply(x0, gaussianMatrix(40, 6, 22)), gaussianMatrix(n, 2, 23)), 1000);
    const y0 = hstack(multiply(x0, gaussianMatrix(40, 30, 24)), gaussianMatrix(n, 10, 25));
    const acc = againstFloat64([x0, shifted], [y0, shifted], [2500], 2e-6);
    assert.equal(acc.moments.rawProducts, true);
    // Mostly far from zero mean: all of it stays on the centred path.
    const most = againstFloat64([shifted, x0], [offset(y0, 1000)], [], 2e-6);
    assert.equal(most.moments.rawProducts, false);
  });

  it('kept products are reused only once released: accumulators alive at once each keep their own', { skip }, () => {
    const n = 3000;
    const pair = (seed: number) => {
      const x = gaussianMatrix(n, 30, seed);
      return { xs: [x], ys: [hstack(multiply(x, gaussianMatrix(30, 8, seed + 1)), gaussianMatrix(n, 12, seed + 2))] };
    };
    const jobs = [pair(41), pair(44), pair(47)];
    const expected = jobs.map((j) => linearCKAMatrix(j.xs, j.ys, { engine: 'float64' }).values[0][0]!);
    const start = (k: number) => {
      const acc = new CKAMatrixAccumulator([30], [20], { engine: 'onnxruntime' });
      acc.add(jobs[k].xs, jobs[k].ys);
      assert.equal(acc.moments.rawProducts, true);
      return acc;
    };
    const [a, b] = [start(0), start(1)];
    close(a.result().values[0][0]!, expected[0], 2e-6, 'first, while the second is alive');
    a.release();
    assert.throws(() => a.result(), /read after release/);
    const c = start(2);
    close(b.result().values[0][0]!, expected[1], 2e-6, 'second, after the third reused the first');
    close(c.result().values[0][0]!, expected[2], 2e-6, 'third');
  });

  it('a list against itself, raw: whole representations as the pieces, a second batch widening them', { skip }, () => {
    const n = 7000;
    const x0 = asFloat32(gaussianMatrix(n, 33, 31));
    // 409 columns: two pieces where the centred path cuts it (symmetricPieces), one piece here.
    const x1 = asFloat32(hstack(multiply(x0, gaussianMatrix(33, 400, 32)), gaussianMatrix(n, 9, 33)));
    const x2 = asFloat32(offset(hstack(multiply(x0, gaussianMatrix(33, 4, 34)), gaussianMatrix(n, 2, 35)), 500));
    const xs = [x0, x1, x2];
    const acc = againstFloat64(xs, xs, [3000], 2e-6);
    assert.equal(acc.moments.rawProducts, true);
    assert.equal(acc.moments.selfProduct, true);
    const r = acc.result();
    r.values.forEach((row, i) => close(row[i]!, 1, 1e-12, `diagonal (${i})`));
  });
});

describe('CrossMoments on onnxruntime, one batch reduced to norms', () => {
  const skip = !onnxRuntime() && 'onnxruntime-node does not load here';
  const offset = (m: Matrix, by: number): Matrix => ({ ...m, data: Float32Array.from(m.data, (v) => v + by) });
  const oneBatch = (xs: Matrix[], ys: Matrix[]): CrossMoments => {
    const m = new CrossMoments(
      xs.map((x) => x.cols),
      ys.map((y) => y.cols),
      { engine: 'onnxruntime', rawProducts: true, oneBatch: true },
    );
    m.add(xs, ys);
    return m;
  };
  /** Every centred norm of `m` against those of the float64 engine on the same data, relative. */
  function sameNorms(m: CrossMoments, xs: Matrix[], ys: Matrix[], tol: number): void {
    const f64 = new CrossMoments(
      xs.map((x) => x.cols),
      ys.map((y) => y.cols),
      { engine: 'float64' },
    );
    f64.add(xs, ys);
    // Norms are in each side's scaled units (scale): compare them in the data's units.
    const unit = (side: 'x' | 'y', i: number, k: number) => m.scale(side, i) ** k / f64.scale(side, i) ** k;
    for (const side of ['x', 'y'] as const)
      for (let i = 0; i < (side === 'x' ? xs : ys).length; i++) {
        const [a, b] = [m.centeredGramNorms(side, i), f64.centeredGramNorms(side, i)];
        close(a.trace / unit(side, i, 2), b.trace, tol * b.trace, `trace ${side}${i}`);
        close(a.normSquared / unit(side, i, 4), b.normSquared, tol * b.normSquared, `gram ${side}${i}`);
      }
    xs.forEach((_, i) =>
      ys.forEach((_, j) => {
        const want = f64.centeredCrossNormSquared(i, j);
        close(m.centeredCrossNormSquared(i, j) / (unit('x', i, 2) * unit('y', j, 2)), want, tol * want, `cross (${i}, ${j})`);
      }),
    );
  }

  it('raw and centred representations alike: every centred norm within 4e-6 of float64, and no product kept', { skip }, () => {
    const n = 6000;
    const x0 = gaussianMatrix(n, 37, 51);
    const x1 = multiply(x0, gaussianMatrix(37, 90, 52));
    // Far from zero mean: centred in the graph while the rest go raw.
    const shifted = offset(hstack(multiply(x0, gaussianMatrix(37, 6, 53)), gaussianMatrix(n, 3, 54)), 1000);
    // Means about one standard deviation from zero: still raw, but the centring matters.
    const y0 = offset(hstack(multiply(x0, gaussianMatrix(37, 25, 55)), gaussianMatrix(n, 10, 56)), 3);
    const xs = [offset(x0, 1), offset(x1, 6)];
    const ys = [y0, shifted];
    const m = oneBatch(xs, ys);
    assert.equal(m.rawProducts, true);
    assert.notEqual(m.scale('y', 1), 1, 'the shifted representation was scaled: it went centred');
    sameNorms(m, xs, ys, 4e-6);
    assert.throws(() => m.centeredCross(0, 0), /reduced to norms/);
    assert.throws(() => m.centeredGram('x', 1), /reduced to norms/);
    assert.throws(() => m.add(xs, ys), /second batch/);
  });

  it('wide Grams from their upper blocks (2, 3 and 4 pieces), raw and centred: within 4e-6 of float64', { skip }, () => {
    const n = 900;
    const x0 = gaussianMatrix(n, 37, 57);
    // Low rank plus noise, so each Gram's off-diagonal blocks carry most of its norm.
    const wide = (cols: number, seed: number, by: number) =>
      offset(hstack(multiply(x0, gaussianMatrix(37, cols - 40, seed)), gaussianMatrix(n, 40, seed + 1)), by);
    // 900 columns are 4 pieces, 650 are 3, 520 and 420 (centred in the graph) 2.
    const xs = [wide(900, 58, 0.5), wide(650, 60, 3)];
    const ys = [wide(520, 62, -2), wide(420, 64, 1000)];
    const m = oneBatch(xs, ys);
    assert.notEqual(m.scale('y', 1), 1, 'the shifted representation went centred');
    sameNorms(m, xs, ys, 4e-6);
  });

  it('a list against itself: norms of pairs below the diagonal are those above it', { skip }, () => {
    const n = 5000;
    const x0 = gaussianMatrix(n, 20, 61);
    const xs = [asFloat32(x0), asFloat32(hstack(multiply(x0, gaussianMatrix(20, 50, 62)), gaussianMatrix(n, 7, 63)))];
    const m = oneBatch(xs, xs);
    assert.equal(m.selfProduct, true);
    sameNorms(m, xs, xs, 4e-6);
    const r = linearCKAMatrix(xs, xs, { engine: 'onnxruntime' });
    const f64 = linearCKAMatrix(xs, xs, { engine: 'float64' });
    r.values.forEach((row, i) => row.forEach((v, j) => close(v!, f64.values[i][j]!, 2e-6, `(${i}, ${j})`)));
  });

  it('a value that is not finite past the rows that set the shifts is named, from the column sums', { skip }, () => {
    const n = 4000;
    const x = asFloat32(gaussianMatrix(n, 12, 71));
    const y = asFloat32(gaussianMatrix(n, 9, 72));
    x.data[3500 * 12 + 5] = NaN;
    assert.throws(() => oneBatch([x], [y]), /X holds a non-finite value \(NaN\) at sample 3500, feature 5/);
    y.data[3999 * 9 + 8] = -Infinity;
    x.data[3500 * 12 + 5] = 0;
    assert.throws(
      () => linearCKAMatrix([x], [y], { engine: 'onnxruntime', yNames: ['last'] }),
      /last holds a non-finite value \(-Infinity\) at sample 3999, feature 8/,
    );
  });

  it('a representation both sides share (two networks, one input) is multiplied once', { skip }, () => {
    const n = 3000;
    const input = asFloat32(gaussianMatrix(n, 30, 91));
    const xs = [input, asFloat32(hstack(multiply(input, gaussianMatrix(30, 20, 92)), gaussianMatrix(n, 4, 93)))];
    const ys = [input, offset(multiply(input, gaussianMatrix(30, 15, 94)), 2)];
    sameNorms(oneBatch(xs, ys), xs, ys, 4e-6);
    const r = linearCKAMatrix(xs, ys, { engine: 'onnxruntime' });
    const f64 = linearCKAMatrix(xs, ys, { engine: 'float64' });
    r.values.forEach((row, i) => row.forEach((v, j) => close(v!, f64.values[i][j]!, 2e-6, `(${i}, ${j})`)));
    // The graph: y0 is no input; x0^T y0, x0^T x0 and y0^T y0 are one product, x1^T y0 is x1^T x0.
    const model = onnx.ModelProto.decode(rawNormsModel([30, 24], [30, 15], { x: [false, false], y: [false, false] }, [0, undefined]).bytes);
    const graph = model.graph!;
    assert.deepEqual(
      graph.input!.map((i) => i.name).filter((name) => /^[xy]\d$/.test(name!)),
      ['x0', 'x1', 'y1'],
    );
    // Each representation is transposed once, the left operand of every product it is in: three
    // cross products (MatMul) and three Grams (Gemm, each one piece wide).
    const transposed = graph.node!.filter((node) => node.opType === 'Transpose').map((node) => node.output![0]);
    assert.deepEqual(transposed.sort(), ['x0T', 'x1T', 'y1T']);
    const products = graph.node!.filter((node) => ['MatMul', 'Gemm'].includes(node.opType!) && transposed.includes(node.input![0]));
    assert.deepEqual(products.map((node) => node.opType).sort(), ['Gemm', 'Gemm', 'Gemm', 'MatMul', 'MatMul', 'MatMul']);
  });

  it('more rows than one run takes stay on the products path, within 2e-6 of float64', { skip }, () => {
    const n = 17_000;
    const x = asFloat32(gaussianMatrix(n, 10, 81));
    const y = asFloat32(hstack(multiply(x, gaussianMatrix(10, 6, 82)), gaussianMatrix(n, 4, 83)));
    const m = oneBatch([x], [y]);
    assert.equal(m.centeredCross(0, 0).length, 100, 'products kept: this batch was not reduced');
    sameNorms(m, [x], [y], 2e-6);
  });
});
