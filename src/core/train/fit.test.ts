import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { makeDataset, sliceRows, type DatasetSplits } from '../data/dataset';
import { getSplit, loadDataset } from '../data/load';
import { CancelledError, DataError, PruneScopeError } from '../errors';
import { readModel } from '../formats/registry';
import { predict } from '../model/forward';
import { cloneMLP, type MLP } from '../model/mlp';
import { evaluate } from './evaluate';
import { fitMLP, initMLP, trainMLP, type EpochMetrics } from './fit';
import { Rng } from './rng';
import { saveTraining } from './save';

let mnist: DatasetSplits;
/** 3,000 real MNIST training rows and 1,000 validation rows. */
let small: DatasetSplits;

before(async () => {
  await initBackend();
  mnist = await loadDataset('mnist', { normalize: 'unit' });
  small = {
    name: 'mnist-small',
    normalization: 'unit',
    train: sliceRows(getSplit(mnist, 'train'), 0, 3000),
    validation: sliceRows(getSplit(mnist, 'validation'), 0, 1000),
  };
});

const dir = mkdtempSync(join(tmpdir(), 'prunescope-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sameBits(a: MLP, b: MLP): boolean {
  return a.layers.every((l, i) => {
    const o = b.layers[i];
    return (
      Buffer.from(l.weights.buffer).equals(Buffer.from(o.weights.buffer)) && Buffer.from(l.bias!.buffer).equals(Buffer.from(o.bias!.buffer))
    );
  });
}

describe('trainMLP', () => {
  test('builds the Keras-like architecture: ReLU hidden layers with dropout, softmax output, zero bias', () => {
    const mlp = initMLP({ inputShape: [28, 28], hidden: [64, 32], classes: 10, dropout: 0.5, seed: 3 });
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.dropout]),
      [
        ['dense', 784, 64, 'relu', 0.5],
        ['dense_1', 64, 32, 'relu', 0.5],
        ['dense_2', 32, 10, 'softmax', undefined],
      ],
    );
    assert.equal(mlp.inputSize, 784);
    assert.deepEqual(mlp.inputShape, [28, 28]);
    for (const l of mlp.layers) assert.ok(l.bias!.every((b) => b === 0));
  });

  test('same seed gives bitwise identical weights; another seed does not', async () => {
    const opts = { hidden: [64], dropout: 0.3, epochs: 2, batchSize: 256, seed: 11 };
    const a = await trainMLP(small, opts);
    const b = await trainMLP(small, opts);
    const c = await trainMLP(small, { ...opts, seed: 12 });
    assert.ok(sameBits(a.mlp, b.mlp), 'same seed differs');
    assert.ok(!sameBits(a.mlp, c.mlp), 'different seeds agree');
    assert.deepEqual(
      a.history.epochs.map((e) => [e.loss, e.valLoss]),
      b.history.epochs.map((e) => [e.loss, e.valLoss]),
    );
  });

  test('loss decreases and the model learns MNIST', async () => {
    const seen: EpochMetrics[] = [];
    const { mlp, history } = await trainMLP(small, { hidden: [64], epochs: 4, batchSize: 128, seed: 1, onEpoch: (m) => void seen.push(m) });
    assert.equal(seen.length, 4);
    assert.deepEqual(seen, history.epochs);
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i].loss < seen[i - 1].loss, `epoch ${i + 1} loss ${seen[i].loss} >= ${seen[i - 1].loss}`);
    const e = seen[3];
    assert.equal(e.epoch, 4);
    assert.equal(e.epochs, 4);
    assert.ok(e.seconds > 0 && e.samplesPerSecond > 0);
    assert.ok(e.valAccuracy > 0.85, `val accuracy ${e.valAccuracy}`);
    // the reported validation metrics are those of the returned model
    const ev = await evaluate(mlp, small.validation!);
    assert.ok(Math.abs(ev.loss - history.epochs[history.bestEpoch - 1].valLoss) < 1e-4);
    assert.ok(Math.abs(ev.accuracy - history.epochs[history.bestEpoch - 1].valAccuracy) < 1e-9);
  });

  test('holds out the last rows for validation when the data has none', async () => {
    const { history } = await trainMLP(
      { name: 'x', normalization: 'unit', train: small.train },
      { hidden: [8], epochs: 1, validationSplit: 0.2 },
    );
    assert.equal(history.trainSamples, 2400);
    assert.equal(history.validationSamples, 600);
    assert.match(history.validationSource, /last 600 training rows/);
  });
});

describe('fitMLP early stopping', () => {
  test('stops after `patience` epochs without improvement and restores the best weights', async () => {
    // validation labels are shuffled, so fitting the training rows soon makes validation loss rise
    const val = sliceRows(getSplit(mnist, 'validation'), 0, 500);
    const y = new Int32Array(val.y!);
    new Rng(5).shuffle(y);
    const noisyVal = makeDataset('shuffled-labels', val.x, y, val.sampleShape);
    const data = { name: 'es', normalization: 'unit' as const, train: sliceRows(getSplit(mnist, 'train'), 0, 1000), validation: noisyVal };
    const seen: number[] = [];
    const { mlp, history } = await trainMLP(data, {
      hidden: [128],
      epochs: 30,
      patience: 2,
      learningRate: 0.003,
      batchSize: 100,
      seed: 2,
      onEpoch: (m) => void seen.push(m.valLoss),
    });
    assert.ok(history.stoppedEarly, `ran all ${seen.length} epochs: ${seen}`);
    assert.ok(seen.length < 30);
    const best = Math.min(...seen);
    assert.equal(history.bestEpoch, seen.indexOf(best) + 1);
    assert.equal(seen.length, history.bestEpoch + 2);
    // restored: the returned model has the best epoch's validation loss, not the last one's
    const ev = await evaluate(mlp, noisyVal);
    assert.ok(Math.abs(ev.loss - best) < 1e-4, `returned model loss ${ev.loss}, best ${best}, last ${seen[seen.length - 1]}`);
    assert.ok(Math.abs(ev.loss - seen[seen.length - 1]) > 1e-3);
  });
});

describe('fitMLP fine-tuning', () => {
  test('masks keep pruned weights at exactly zero while the rest trains', async () => {
    const base = initMLP({ inputShape: [784], hidden: [32], classes: 10, seed: 4 });
    const rng = new Rng(9);
    const masks = base.layers.map((l) => Float32Array.from({ length: l.weights.length }, () => (rng.next() < 0.5 ? 0 : 1)));
    const before = cloneMLP(base);
    const { mlp } = await fitMLP(base, small, { epochs: 2, batchSize: 256, masks });
    assert.ok(sameBits(base, before), 'input model was modified');
    mlp.layers.forEach((l, i) => {
      let changed = 0;
      for (let j = 0; j < l.weights.length; j++) {
        if (masks[i][j] === 0) assert.equal(l.weights[j], 0, `layer ${i} weight ${j}`);
        else if (l.weights[j] !== before.layers[i].weights[j]) changed++;
      }
      // MNIST's border pixels are 0 in every row, so their weights get no gradient
      assert.ok(changed > 0.6 * masks[i].reduce((a, b) => a + b, 0), `layer ${i}: only ${changed} kept weights changed`);
    });
  });

  test('continues from the given weights', async () => {
    const fresh = await trainMLP(small, { hidden: [32], epochs: 3, batchSize: 128, seed: 5 });
    const { history } = await fitMLP(fresh.mlp, small, { epochs: 1, batchSize: 128, seed: 6 });
    // the first epoch of fine-tuning starts where training ended, far below a fresh first epoch
    const first = fresh.history.epochs[0].loss;
    const third = fresh.history.epochs[2].loss;
    assert.ok(
      history.epochs[0].loss < third * 1.1 && history.epochs[0].loss < first * 0.7,
      `${history.epochs[0].loss} vs ${first} and ${third}`,
    );
  });

  test('refuses masks and data that do not fit the model', async () => {
    const base = initMLP({ inputShape: [784], hidden: [8], classes: 10 });
    await assert.rejects(
      fitMLP(base, small, { masks: [new Float32Array(3), null] }),
      (e: Error) => e instanceof PruneScopeError && /weight mask 1 has 3 entries/.test(e.message),
    );
    const narrow = initMLP({ inputShape: [100], hidden: [8], classes: 10 });
    await assert.rejects(fitMLP(narrow, small, { epochs: 1 }), (e: Error) => e instanceof DataError && /784 features/.test(e.message));
    const sigmoidOut = cloneMLP(base);
    sigmoidOut.layers[1].activation = 'sigmoid';
    await assert.rejects(fitMLP(sigmoidOut, small, { epochs: 1 }), /needs softmax, log_softmax or linear/);
  });
});

describe('fitMLP weight penalties', () => {
  test('l2 shrinks and l1 zeroes the weights of pixels that are 0 in every row; without them they keep their initial values', async () => {
    const base = initMLP({ inputShape: [784], hidden: [16], classes: 10, seed: 7 });
    // Input pixels that are 0 in every training row get no gradient from the data.
    const train = getSplit(small, 'train');
    const dead: number[] = [];
    for (let j = 0; j < 784; j++) {
      let any = false;
      for (let r = 0; r < train.n && !any; r++) any = train.x[r * 784 + j] !== 0;
      if (!any) dead.push(j);
    }
    assert.ok(dead.length > 30, `${dead.length} always-zero pixels`);
    const deadMeanAbs = (m: MLP) => {
      let s = 0;
      for (const j of dead) for (let u = 0; u < 16; u++) s += Math.abs(m.layers[0].weights[j * 16 + u]);
      return s / (dead.length * 16);
    };
    const options = { epochs: 2, batchSize: 100, patience: 5 };
    const plain = await fitMLP(base, small, options);
    const l2 = await fitMLP(base, small, { ...options, l2: 1e-3 });
    const l1 = await fitMLP(base, small, { ...options, l1: 1e-3 });
    const init = deadMeanAbs(base);
    assert.equal(deadMeanAbs(plain.mlp), init, 'no penalty: untouched');
    // 60 Adam steps of about lr = 1e-3 each towards 0 (Adam normalises the penalty's gradient).
    assert.ok(deadMeanAbs(l2.mlp) < init - 0.02, `l2: ${deadMeanAbs(l2.mlp)} vs ${init}`);
    assert.ok(deadMeanAbs(l1.mlp) < 0.25 * init, `l1: ${deadMeanAbs(l1.mlp)} vs ${init}`);
    assert.equal(l2.history.options.l2, 1e-3);
    assert.equal(l1.history.options.l1, 1e-3);
    // The data still trains: the penalties cost little accuracy here.
    for (const r of [l2, l1]) assert.ok(r.history.epochs[1].valAccuracy > plain.history.epochs[1].valAccuracy - 0.05);
    await assert.rejects(
      fitMLP(base, small, { l2: -1 }),
      (e: Error) => e instanceof PruneScopeError && /l2 must be a number >= 0/.test(e.message),
    );
  });
});

describe('fitMLP cancellation', () => {
  test('an abort between epochs stops before the next batch with a clear error', async () => {
    const ac = new AbortController();
    let epochs = 0;
    await assert.rejects(
      trainMLP(small, {
        hidden: [16],
        epochs: 5,
        signal: ac.signal,
        onEpoch: () => {
          epochs++;
          ac.abort();
        },
      }),
      (e: Error) => e instanceof CancelledError && e.message === 'training cancelled during epoch 2 (before batch 1)',
    );
    assert.equal(epochs, 1);
  });

  test('an abort from a timer lands between batches of the running epoch', async () => {
    const ac = new AbortController();
    // the timer can only fire if the loop yields to the event loop between batches
    setTimeout(() => ac.abort(), 0);
    await assert.rejects(trainMLP(small, { hidden: [16], epochs: 1, batchSize: 32, signal: ac.signal }), (e: Error) => {
      assert.ok(e instanceof CancelledError);
      assert.match(e.message, /^training cancelled during epoch 1 \(before batch \d+\)$/);
      return true;
    });
  });

  test('leaves no tensors behind, cancelled or not', async () => {
    const ac = new AbortController();
    const before = tf.memory().numTensors;
    await assert.rejects(trainMLP(small, { hidden: [16], epochs: 3, signal: ac.signal, onEpoch: () => ac.abort() }));
    assert.equal(tf.memory().numTensors, before);
    await trainMLP(small, { hidden: [16], dropout: 0.5, epochs: 2 });
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('saveTraining', () => {
  test('writes a tfjs model that reads back with the same outputs, and the history', async () => {
    const { mlp, history } = await trainMLP(small, { hidden: [16], dropout: 0.2, epochs: 1, seed: 8 });
    const out = join(dir, 'run1');
    const saved = await saveTraining(out, mlp, history);
    assert.equal(saved.files[0], join(out, 'model.json'));
    const back = await readModel(join(out, 'model.json'));
    assert.deepEqual(
      back.layers.map((l) => [l.units, l.activation]),
      [
        [16, 'relu'],
        [10, 'softmax'],
      ],
    );
    const x = small.validation!.x.subarray(0, 20 * 784);
    const p1 = predict(mlp, x, 20);
    const p2 = predict(back, x, 20);
    for (let i = 0; i < p1.length; i++) assert.ok(Math.abs(p1[i] - p2[i]) < 1e-6);
    const h = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    assert.equal(h.seed, 8);
    assert.equal(h.backend.name, history.backend.name);
    assert.equal(h.options.batchSize, 512);
    assert.deepEqual(h.options.hidden, [16]);
    assert.deepEqual(h.options.dropout, [0.2]);
    assert.equal(h.epochs.length, 1);
    assert.equal(typeof h.epochs[0].valAccuracy, 'number');
  });
});
