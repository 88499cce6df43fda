import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { forwardOnEngine, initBackend, initEngine, type EnginePreference } from '../backend';
import { makeDataset, sliceRows } from '../data/dataset';
import { getSplit, loadDataset } from '../data/load';
import { loadOnnxRuntime } from '../engine/onnxruntime';
import { DataError, PruneScopeError } from '../errors';
import { readModel } from '../formats/registry';
import { predict } from '../model/forward';
import { cloneMLP, type Activation, type MLP } from '../model/mlp';
import { evaluate, type Evaluation } from './evaluate';
import { built } from '../../../test/kits/encode/models';
import { mnistRows } from '../../../test/kits/prune';
import { initMLP } from './fit';

before(async () => {
  await initBackend();
});

/** 2 inputs -> 2 outputs; the output is the input itself (identity kernel, no bias). */
function identityModel(activation: Activation): MLP {
  return {
    name: `identity-${activation}`,
    inputShape: [2],
    inputSize: 2,
    layers: [{ name: 'out', inputSize: 2, units: 2, weights: new Float32Array([1, 0, 0, 1]), bias: null, activation }],
  };
}

// rows: (2, 0) -> class 0, (0, 1) -> class 1, (3, 1) -> class 0, (1, 1.5) -> class 1
const x = new Float32Array([2, 0, 0, 1, 3, 1, 1, 1.5]);
const logitRows = [
  [2, 0],
  [0, 1],
  [3, 1],
  [1, 1.5],
];
const softmaxRow = (r: number[]) => {
  const e = r.map(Math.exp);
  const s = e[0] + e[1];
  return e.map((v) => v / s);
};

describe('evaluate', () => {
  const labels = new Int32Array([0, 1, 1, 1]);
  const data = makeDataset('tiny', x, labels, [2]);
  // by hand: predictions 0, 1, 0, 1 -> 3 of 4 right; loss = mean of -log p[label] under softmax
  const expectedLoss = -logitRows.reduce((acc, r, i) => acc + Math.log(softmaxRow(r)[labels[i]]), 0) / 4;

  for (const act of ['linear', 'softmax', 'log_softmax'] as const) {
    test(`accuracy and loss by hand (${act} output)`, async () => {
      // softmax, log_softmax and linear outputs all mean the same class probabilities here
      const r = await evaluate(identityModel(act), data, { batchSize: 3 });
      assert.equal(r.samples, 4);
      assert.equal(r.accuracy, 0.75);
      assert.ok(Math.abs(r.loss - expectedLoss) < 1e-6, `${r.loss} vs ${expectedLoss}`);
      assert.equal(r.agreement, undefined);
      assert.equal(r.predictions, undefined);
    });
  }

  test("keepPredictions returns every row's argmax across batches, as the argmax of predict's outputs", async () => {
    const r = await evaluate(identityModel('linear'), data, { batchSize: 3, keepPredictions: true });
    assert.deepEqual(Array.from(r.predictions ?? []), [0, 1, 0, 1]);
    const out = predict(identityModel('linear'), data.x, data.n, 3);
    const k = out.length / data.n;
    const argmax = Int32Array.from({ length: data.n }, (_, i) => {
      const row = Array.from(out.subarray(i * k, (i + 1) * k));
      return row.indexOf(Math.max(...row));
    });
    assert.deepEqual(r.predictions, argmax);
  });

  test('agreement: 1 with itself, counted by hand with another model', async () => {
    const m = identityModel('softmax');
    assert.equal((await evaluate(m, data, { reference: m })).agreement, 1);
    // swapping the outputs flips every prediction (no row is a tie) -> 0
    const swapped = cloneMLP(m);
    swapped.layers[0].weights = new Float32Array([0, 1, 1, 0]);
    assert.equal((await evaluate(m, data, { reference: swapped })).agreement, 0);
    // a reference that always says class 1 agrees on rows 2 and 4
    const always1: MLP = {
      ...cloneMLP(m),
      layers: [{ ...m.layers[0], weights: new Float32Array([0, 0, 0, 0]), bias: new Float32Array([0, 1]) }],
    };
    assert.equal((await evaluate(m, data, { reference: always1 })).agreement, 0.5);
  });

  test('clips probabilities so a confident miss gives a finite loss', async () => {
    const m = identityModel('softmax');
    const far = makeDataset('far', new Float32Array([100, 0]), new Int32Array([1]), [2]);
    const r = await evaluate(m, far);
    assert.ok(Math.abs(r.loss - -Math.log(1e-7)) < 1e-6, `${r.loss}`);
  });

  test('outputs given by the caller: the same accuracy, loss and agreement as the forward passes, and they are what is scored', async () => {
    const mnist = await loadDataset('mnist', { normalize: 'unit' });
    const rows = sliceRows(getSplit(mnist, 'test'), 0, 300);
    const m = initMLP({ inputShape: [28, 28], hidden: [20], classes: 10, seed: 4 });
    const ref = initMLP({ inputShape: [28, 28], hidden: [20], classes: 10, seed: 5 });
    const outputs = predict(m, rows.x, rows.n, 100);
    const run = await evaluate(m, rows, { reference: ref, keepPredictions: true });
    const given = await evaluate(m, rows, { reference: ref, keepPredictions: true, outputs });
    assert.equal(given.accuracy, run.accuracy);
    assert.ok(Math.abs(given.loss - run.loss) < 1e-5, `${given.loss} vs ${run.loss}`);
    assert.equal(given.agreement, run.agreement);
    assert.deepEqual(given.predictions, run.predictions);
    // Outputs saying class 3 everywhere are scored as such: no forward pass replaced them.
    const three = new Float32Array(rows.n * 10).map((_, i) => (i % 10 === 3 ? 1 : 0));
    const labels = rows.y ?? new Int32Array(0);
    const r = await evaluate(m, rows, { outputs: three });
    assert.equal(r.accuracy, labels.filter((l) => l === 3).length / rows.n);
  });

  test('outputs of the wrong size are refused', async () => {
    await assert.rejects(evaluate(identityModel('linear'), data, { outputs: new Float32Array(7) }), /outputs/);
  });

  test('batches give the same result as one pass on real MNIST rows', async () => {
    const mnist = await loadDataset('mnist', { normalize: 'unit' });
    const test = sliceRows(getSplit(mnist, 'test'), 0, 777);
    const m = initMLP({ inputShape: [28, 28], hidden: [20], classes: 10, seed: 3 });
    const a = await evaluate(m, test, { batchSize: 100 });
    const b = await evaluate(m, test, { batchSize: 777 });
    assert.equal(a.accuracy, b.accuracy);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-6);
    assert.ok(a.accuracy > 0 && a.accuracy < 0.5, 'an untrained model is near chance');
  });

  test('refuses unlabelled data and data that does not fit', async () => {
    const m = identityModel('softmax');
    await assert.rejects(
      evaluate(m, makeDataset('nolabels', x, null, [2])),
      (e: Error) => e instanceof DataError && /no labels/.test(e.message),
    );
    await assert.rejects(
      evaluate(m, makeDataset('wide', new Float32Array(6), new Int32Array([0, 1]), [3])),
      (e: Error) => e instanceof DataError && /3 features/.test(e.message),
    );
    await assert.rejects(
      evaluate(m, makeDataset('many', x, new Int32Array([0, 1, 2, 1]), [2])),
      (e: Error) => e instanceof DataError && /labels up to 2/.test(e.message),
    );
  });
});

/** The engines that load here, each made the process's engine before its run. */
function enginePreferences(): EnginePreference[] {
  return typeof loadOnnxRuntime() === 'string' ? ['wasm'] : ['wasm', 'onnxruntime'];
}

describe('evaluate on every engine that loads', () => {
  test('hand-worked loss and accuracy of the identity model on every engine', async () => {
    const labels = new Int32Array([0, 1, 0, 1]);
    // Every row's argmax is its label; the loss is the mean of -log softmax(row)[label].
    const want = logitRows.reduce((s, r, i) => s - Math.log(softmaxRow(r)[labels[i]]), 0) / 4;
    for (const preference of enginePreferences()) {
      assert.equal((await initEngine(preference)).name, preference);
      for (const activation of ['linear', 'softmax', 'log_softmax'] as Activation[]) {
        const r = await evaluate(identityModel(activation), makeDataset('rows', x, labels, [2]), { keepPredictions: true });
        assert.equal(r.accuracy, 1, `${preference} ${activation}`);
        assert.deepEqual([...r.predictions!], [0, 1, 0, 1]);
        assert.ok(Math.abs(r.loss - want) < 1e-6, `${preference} ${activation}: ${r.loss} vs ${want}`);
      }
    }
  });

  test('2000 MNIST test rows: the same predictions and accuracy, losses within float32 rounding', async () => {
    const mlp = await readModel(built('onnx', 'mnist2x10.onnx'));
    const data = await mnistRows(2000, 'test');
    const runs: { name: string; r: Evaluation; outputs: Float32Array }[] = [];
    for (const preference of enginePreferences()) {
      const { name } = await initEngine(preference);
      const r = await evaluate(mlp, data, { keepPredictions: true, reference: cloneMLP(mlp), batchSize: 700 });
      runs.push({ name, r, outputs: await forwardOnEngine(mlp, data.x, data.n) });
    }
    // The tfjs forward pass, independently of both engines' evaluate: accuracy from its argmax.
    const y = predict(mlp, data.x, data.n);
    let correct = 0;
    for (let i = 0; i < data.n; i++) {
      const row = Array.from(y.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === data.y![i]) correct++;
    }
    for (const { name, r, outputs } of runs) {
      assert.equal(r.samples, 2000);
      assert.equal(r.accuracy, correct / 2000, name);
      assert.equal(r.agreement, 1, `${name}: a copy of the model agrees everywhere`);
      assert.deepEqual(r.predictions, runs[0].r.predictions, `${name} predictions`);
      assert.ok(Math.abs(r.loss - runs[0].r.loss) < 1e-5 * runs[0].r.loss, `${name} loss ${r.loss} vs ${runs[0].r.loss}`);
      let worst = 0;
      for (let k = 0; k < y.length; k++) worst = Math.max(worst, Math.abs(outputs[k] - y[k]) / (1 + Math.abs(y[k])));
      assert.ok(worst < 1e-4, `${name} outputs: ${worst}`);
    }
    assert.ok(correct / 2000 > 0.7, `the kit model (2 hidden units of 10) is trained: ${correct / 2000}`);
  });

  test('an explicit onnxruntime that cannot load is an error naming why; wasm is always there', async () => {
    const saved = process.env.PRUNESCOPE_ONNXRUNTIME_MODULE;
    process.env.PRUNESCOPE_ONNXRUNTIME_MODULE = 'onnxruntime-node-not-installed';
    try {
      // Another engine first: a preference resolved before is kept for the process.
      assert.equal((await initEngine('wasm')).name, 'wasm');
      await assert.rejects(
        initEngine('onnxruntime'),
        (e: Error) =>
          e instanceof PruneScopeError &&
          /^engine onnxruntime is not available: onnxruntime-node-not-installed did not load \(Cannot find module/.test(e.message),
      );
      await assert.rejects(initEngine('wasm', 'cpu'), /engine wasm runs on the wasm backend, not cpu/);
      await assert.rejects(
        initEngine('gpu' as EnginePreference),
        /unknown engine "gpu" \(expected one of auto, onnxruntime, wasm, tfjs-node\)/,
      );
    } finally {
      if (saved === undefined) delete process.env.PRUNESCOPE_ONNXRUNTIME_MODULE;
      else process.env.PRUNESCOPE_ONNXRUNTIME_MODULE = saved;
    }
  });
});
