import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import wabtInit from 'wabt';
import { initBackend } from '../backend';
import { predict } from '../model/forward';
import type { Activation, MLP } from '../model/mlp';
import { seededRandom } from '../prune/rng';
import { type CsrLayer, placeCsr, toCsr } from './csr';
import { WASM_BASE64 } from './csr-kernel.wasm';

/** A layer whose weights are zero with probability 1 - density, and zero for every unit j % skip === 0 (empty rows). */
function sparseLayer(next: () => number, name: string, shape: [number, number], density: number, activation: Activation, bias = true) {
  const [inputSize, units] = shape;
  return {
    name,
    inputSize,
    units,
    weights: new Float32Array(inputSize * units).map((_, i) => (i % units === 0 || next() >= density ? 0 : next() - 0.5)),
    bias: bias ? new Float32Array(units).map(() => next() - 0.5) : null,
    activation,
  };
}

function mlpOf(layers: MLP['layers']): MLP {
  return { name: 'csr', inputShape: [layers[0].inputSize], inputSize: layers[0].inputSize, layers };
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-5 * (1 + Math.abs(expected[i])), `${what}, ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('CSR product (WebAssembly kernel)', () => {
  before(async () => {
    await initBackend();
  });

  it('runs the bytes csr-kernel.wat assembles to (run `npm run build:wasm` after editing it)', async () => {
    const wabt = await wabtInit();
    const wat = join(__dirname, 'csr-kernel.wat');
    const module = wabt.parseWat(wat, readFileSync(wat, 'utf8'), { simd: true });
    try {
      module.validate();
      assert.equal(Buffer.from(module.toBinary({}).buffer).toString('base64'), WASM_BASE64);
    } finally {
      module.destroy();
    }
  });

  it('computes what the dense network computes: short and long rows, empty rows, with and without bias, every batch tail', () => {
    const next = seededRandom(21);
    const mlp = mlpOf([
      sparseLayer(next, 'a', [64, 40], 0.6, 'relu'),
      sparseLayer(next, 'b', [40, 33], 0.9, 'tanh', false),
      sparseLayer(next, 'c', [33, 12], 0.3, 'sigmoid'),
      sparseLayer(next, 'd', [12, 5], 0.2, 'softmax'),
    ]);
    const csr = toCsr(mlp);
    const lengths = csr.flatMap((c) => Array.from({ length: c.units }, (_, j) => c.rowPtr[j + 1] - c.rowPtr[j]));
    // Rows of 0 stored weights, of fewer than four, and of several fours with a remainder.
    assert.ok(lengths.includes(0) && lengths.some((n) => n > 0 && n < 4) && lengths.some((n) => n >= 12 && n % 4 !== 0), `${lengths}`);
    // 1-3 rows: lanes only; 4, 8: vectors only; 5, 7, 100: both (100 is what the latency times).
    for (const rows of [1, 3, 4, 5, 7, 8, 100]) {
      const x = new Float32Array(rows * 64).map(() => next() * 2 - 1);
      assertClose(placeCsr(csr, rows)!.run(x), predict(mlp, x, rows), `${rows} rows`);
    }
  });

  it('a placed program runs again and again on new inputs (its buffers are reused, not stale)', () => {
    const next = seededRandom(4);
    const mlp = mlpOf([sparseLayer(next, 'a', [20, 16], 0.5, 'leaky_relu'), sparseLayer(next, 'b', [16, 6], 0.7, 'log_softmax')]);
    const program = placeCsr(toCsr(mlp), 9)!;
    const inputs = [0, 1, 2].map(() => new Float32Array(9 * 20).map(() => next() * 4 - 2));
    const first = inputs.map((x) => program.run(x));
    assert.notDeepEqual(first[0], first[1]);
    inputs.forEach((x, i) => {
      assertClose(first[i], predict(mlp, x, 9), `input ${i}`);
      assert.deepEqual(program.run(x), first[i], `input ${i} again`);
    });
  });

  it("keeps only the nonzero weights, each unit's inputs in ascending order", () => {
    const next = seededRandom(3);
    const mlp = mlpOf([sparseLayer(next, 'a', [12, 9], 0.3, 'relu'), sparseLayer(next, 'b', [9, 7], 0.3, 'linear')]);
    toCsr(mlp).forEach((c, l) => {
      const w = mlp.layers[l].weights;
      assert.equal(
        c.values.length,
        w.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0),
      );
      for (let j = 0; j < c.units; j++) {
        for (let k = c.rowPtr[j]; k < c.rowPtr[j + 1]; k++) {
          assert.equal(c.values[k], w[c.cols[k] * c.units + j]);
          if (k > c.rowPtr[j]) assert.ok(c.cols[k] > c.cols[k - 1]);
        }
      }
    });
  });

  it('says null, without allocating, for layers past the 4 GiB of wasm32 memory', () => {
    // Only the arrays' lengths are read before the placement is refused.
    const huge = { length: 600_000_000 } as unknown as Float32Array;
    const layer: CsrLayer = {
      units: 10,
      inputSize: 100_000_000,
      rowPtr: new Int32Array(11),
      cols: huge as unknown as Int32Array,
      values: huge,
      bias: null,
      activation: 'linear',
      alpha: 0,
    };
    assert.equal(placeCsr([layer], 100), null);
  });
});
