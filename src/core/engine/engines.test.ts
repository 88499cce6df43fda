import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend, initEngine } from '../backend';
import { readModel } from '../formats/registry';
import { linearCKAMatrix } from '../metrics/cka';
import type { Matrix } from '../metrics/matrix';
import { cloneMLP, type MLP } from '../model/mlp';
import type { DenseEngine, DenseEngineName } from './dense';
import { loadOnnxRuntime } from './onnxruntime';
import { onnxRuntimeEngine } from './ort-engine';
import { resolveDenseEngine } from './resolve';
import { wasmEngine } from './wasm-engine';
import { built } from '../../../test/kits/encode/models';
import { mnistRows } from '../../../test/kits/prune';

/** Every engine that loads here: wasm always, onnxruntime when onnxruntime-node does. */
function engines(): DenseEngine[] {
  const ort = onnxRuntimeEngine();
  return ort ? [ort, wasmEngine()] : [wasmEngine()];
}

/** X^T Y in plain float64 loops: the reference. */
function crossF64(X: Float32Array, n: number, p: number, Y: Float32Array, q: number): Float64Array {
  const c = new Float64Array(p * q);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < p; a++) {
      const v = X[r * p + a];
      if (v === 0) continue;
      for (let b = 0; b < q; b++) c[a * q + b] += v * Y[r * q + b];
    }
  }
  return c;
}

/** Largest |got - want| over the Cauchy-Schwarz scale sqrt(Gx_aa Gy_bb) of each entry. */
function scaledError(got: Float64Array, want: Float64Array, gx: Float64Array, p: number, gy: Float64Array, q: number): number {
  let worst = 0;
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < q; b++) {
      const scale = Math.sqrt(gx[a * p + a] * gy[b * q + b]);
      if (scale > 0) worst = Math.max(worst, Math.abs(got[a * q + b] - want[a * q + b]) / scale);
      else assert.equal(got[a * q + b], 0);
    }
  }
  return worst;
}

describe('dense engines: hand-worked products', () => {
  before(async () => {
    await initBackend();
  });

  // A = [[1,2,3],[4,5,6]] (2 x 3), B = [[1,0],[0,1],[2,-1]] (3 x 2):
  // A B = [[1+0+6, 0+2-3],[4+0+12, 0+5-6]] = [[7,-1],[16,-1]].
  const A = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const At = Float32Array.from([1, 4, 2, 5, 3, 6]);
  const B = Float32Array.from([1, 0, 0, 1, 2, -1]);
  const Bt = Float32Array.from([1, 0, 2, 0, 1, -1]);
  for (const name of ['onnxruntime', 'wasm'] as DenseEngineName[]) {
    it(`${name}: A B with every transpose flag`, (t) => {
      const e = engines().find((x) => x.name === name);
      if (!e) return t.skip('onnxruntime-node does not load here');
      const want = [7, -1, 16, -1];
      assert.deepEqual([...e.matMul(A, B, 2, 3, 2)], want);
      assert.deepEqual([...e.matMul(At, B, 2, 3, 2, { a: true })], want);
      assert.deepEqual([...e.matMul(A, Bt, 2, 3, 2, { b: true })], want);
      assert.deepEqual([...e.matMul(At, Bt, 2, 3, 2, { a: true, b: true })], want);
    });
  }
});

describe('dense engines agree with float64 on MNIST activations', () => {
  let mlp: MLP;
  let x: Float32Array;
  let acts: Float32Array[];
  const n = 3000;
  before(async () => {
    await initBackend();
    mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
    x = (await mnistRows(n)).x;
    acts = (await wasmEngine().forward(mlp, x, n, { activations: true })).activations!;
  });

  it('Grams and cross products within 1e-5 of float64 (scaled per entry), on every engine', async () => {
    const p = mlp.inputSize;
    const q = mlp.layers[0].units;
    const gx = crossF64(x, n, p, x, p);
    const gy = crossF64(acts[0], n, q, acts[0], q);
    const cxy = crossF64(x, n, p, acts[0], q);
    for (const e of engines()) {
      assert.ok(scaledError(await e.gram(x, n, p), gx, gx, p, gx, p) < 1e-5, `${e.name} input Gram`);
      assert.ok(scaledError(await e.gram(acts[0], n, q), gy, gy, q, gy, q) < 1e-5, `${e.name} layer Gram`);
      assert.ok(scaledError(await e.cross(x, n, p, acts[0], q), cxy, gx, p, gy, q) < 1e-5, `${e.name} cross`);
    }
  });

  it('forward passes: outputs and every layer equal the wasm engine to float32 rounding', async () => {
    for (const e of engines()) {
      const r = await e.forward(mlp, x, n, { activations: true, batchSize: 700 });
      const plain = await e.forward(mlp, x, n);
      assert.equal(r.activations!.length, mlp.layers.length);
      r.activations!.forEach((a, l) => {
        assert.equal(a.length, n * mlp.layers[l].units);
        let worst = 0;
        for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - acts[l][k]) / (1 + Math.abs(acts[l][k])));
        assert.ok(worst < 1e-4, `${e.name} layer ${l}: ${worst}`);
      });
      assert.deepEqual(plain.outputs, r.outputs, `${e.name}: outputs with and without activations`);
    }
  });

  it('models of one architecture each run on their own weights, also after a change in place', async (t) => {
    const ort = onnxRuntimeEngine();
    if (!ort) return t.skip('onnxruntime-node does not load here');
    const copy = cloneMLP(mlp);
    for (const l of copy.layers) for (let i = 0; i < l.weights.length; i += 3) l.weights[i] = 0;
    const rows = 200;
    const [a, b] = [await ort.forward(mlp, x, rows), await ort.forward(copy, x, rows)];
    const [wa, wb] = [await wasmEngine().forward(mlp, x, rows), await wasmEngine().forward(copy, x, rows)];
    const worst = (p: Float32Array, q: Float32Array) => p.reduce((m, v, k) => Math.max(m, Math.abs(v - q[k])), 0);
    assert.ok(worst(a.outputs, wa.outputs) < 1e-4 && worst(b.outputs, wb.outputs) < 1e-4);
    assert.ok(worst(a.outputs, b.outputs) > 1e-3, 'the zeroed copy computes something else');
    // The same object changed in place: the next pass sees the new weights.
    copy.layers[0].weights.fill(0);
    const c = await ort.forward(copy, x, rows);
    assert.ok(worst(c.outputs, (await wasmEngine().forward(copy, x, rows)).outputs) < 1e-4);
  });

  it('linear CKA on onnxruntime equals float64 within 2e-6, and says it ran there', async (t) => {
    if (!onnxRuntimeEngine()) return t.skip('onnxruntime-node does not load here');
    const reps: Matrix[] = [
      { rows: n, cols: mlp.inputSize, data: x },
      ...acts.map((a, l) => ({ rows: n, cols: mlp.layers[l].units, data: a })),
    ];
    const f64 = linearCKAMatrix(reps, reps, { engine: 'float64' });
    const ort = linearCKAMatrix(reps, reps, { engine: 'onnxruntime' });
    const f32 = linearCKAMatrix(reps, reps, { engine: 'float32' });
    assert.equal(f64.engine, 'float64');
    assert.equal(ort.engine, 'onnxruntime');
    assert.equal(f32.engine, 'float32');
    for (let i = 0; i < reps.length; i++) {
      for (let j = 0; j < reps.length; j++) {
        assert.ok(Math.abs(ort.values[i][j]! - f64.values[i][j]!) <= 2e-6, `onnxruntime ${i},${j}`);
        assert.ok(Math.abs(f32.values[i][j]! - f64.values[i][j]!) <= 2e-6, `float32 ${i},${j}`);
      }
    }
    assert.equal(linearCKAMatrix(reps, reps, { engine: 'auto' }).engine, 'onnxruntime');
    // A process that chose wasm (--engine wasm) keeps its matrices there too.
    await initEngine('wasm');
    assert.notEqual(linearCKAMatrix(reps, reps, { engine: 'auto' }).engine, 'onnxruntime');
  });
});

describe('fallback when onnxruntime-node cannot load', () => {
  it('loading a module that is not installed gives a reason, not an exception', () => {
    const r = loadOnnxRuntime('onnxruntime-node-not-installed');
    assert.equal(typeof r, 'string');
    assert.match(r as string, /^onnxruntime-node-not-installed did not load \(Cannot find module/);
  });

  it('a process where it fails falls back to wasm with one line on stderr and the same numbers', () => {
    const script = resolve(__dirname, 'testdata', 'fallback-child.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, PRUNESCOPE_ONNXRUNTIME_MODULE: 'onnxruntime-node-not-installed' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    // tfjs prints its own banner (no initBackend here); the fallback is the one line about onnxruntime.
    const lines = r.stderr.split('\n').filter((l) => /onnxruntime/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^prunescope note: onnxruntime-node-not-installed did not load .*; dense products run on the wasm engine instead$/,
    );
    const out = JSON.parse(r.stdout) as { engine: string; note: string; ckaEngine: string; value: number };
    assert.equal(out.engine, 'wasm');
    assert.equal(out.note, lines[0].slice('prunescope '.length));
    assert.equal(out.ckaEngine, 'float32');
    // x = [1,2,3,4], y = [1,2,3,5] repeated: CKA is the squared correlation 169/175 (cka.test.ts).
    assert.ok(Math.abs(out.value - 169 / 175) < 1e-6, String(out.value));
  });

  it('an unknown engine name is refused with a message naming the choices', () => {
    assert.throws(() => resolveDenseEngine('gpu' as 'auto'), /unknown engine "gpu" \(expected one of auto, onnxruntime, wasm\)/);
  });
});
