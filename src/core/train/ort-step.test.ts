import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { sliceRows, type DatasetSplits } from '../data/dataset';
import { getSplit, loadDataset } from '../data/load';
import { onnxRuntime } from '../engine/onnxruntime';
import type { Activation, MLP } from '../model/mlp';
import { KERAS_ADAM } from './adam';
import type { LayerSpec } from './backprop';
import { initMLP } from './fit';
import { OrtStepper } from './ort-step';
import { Rng } from './rng';
import type { Stepper, StepperSetup } from './stepper';
import { TfjsStepper } from './tfjs-step';

const ort = onnxRuntime();
const skip = ort ? false : 'onnxruntime-node does not load here: the onnxruntime trainer cannot run';

let mnist: DatasetSplits;
before(async () => {
  await initBackend('wasm');
  mnist = await loadDataset('mnist', { normalize: 'unit' });
});

/** A 784-h1-h2-10 MLP with the given hidden activations and dropout, the second layer without bias. */
function network(hidden: [Activation, Activation], dropout: [number, number]): { mlp: MLP; specs: LayerSpec[] } {
  const mlp = initMLP({ inputShape: [784], hidden: [48, 32], classes: 10, seed: 7 });
  mlp.layers[0].activation = hidden[0];
  mlp.layers[1].activation = hidden[1];
  mlp.layers[1].bias = null;
  if (hidden[0] === 'leaky_relu') mlp.layers[0].alpha = 0.2;
  const specs = mlp.layers.map((l, i) => ({ activation: l.activation, alpha: l.alpha, dropout: i < 2 ? dropout[i] : 0 }));
  return { mlp, specs };
}

/** A 0/1 mask keeping about 70% of layer 0's weights. */
function pruneMask(mlp: MLP): Float32Array {
  const rng = new Rng(11, 1);
  return new Float32Array(mlp.layers[0].weights.length).map(() => (rng.next() < 0.7 ? 1 : 0));
}

/** Runs `steps` identical batches (same rows, same dropout masks) through a stepper. */
function run(stepper: Stepper, setup: StepperSetup, steps: number): { params: Float32Array[]; totals: [number, number] } {
  const train = getSplit(mnist, 'train');
  const rows = 64;
  const rng = new Rng(5, 3);
  for (let s = 0; s < steps; s++) {
    const x = train.x.subarray(s * rows * 784, (s + 1) * rows * 784);
    const y = train.y!.subarray(s * rows, (s + 1) * rows);
    const dropout = setup.specs.map((spec, l) =>
      spec.dropout > 0 ? rng.dropoutMask(new Float32Array(rows * setup.mlp.layers[l].units), spec.dropout) : null,
    );
    stepper.step(x, y, rows, dropout);
  }
  const out = { params: stepper.params(), totals: stepper.takeTotals() };
  stepper.dispose();
  return out;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

/**
 * Share of entries that differ by more than 1e-6. Adam divides by sqrt(v), so a weight whose
 * gradient is ~0 (L1's sign(w) at w ~ 0, saturated sigmoids) moves by up to the learning rate on
 * rounding noise alone; the two engines round differently, so a few such weights may part.
 */
function shareApart(a: Float32Array, b: Float32Array): number {
  let apart = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1e-6) apart++;
  return apart / a.length;
}

const CASES: { name: string; hidden: [Activation, Activation]; dropout: [number, number]; l1: number; l2: number }[] = [
  { name: 'relu, dropout, pruning mask', hidden: ['relu', 'relu'], dropout: [0.3, 0.2], l1: 0, l2: 0 },
  { name: 'tanh and sigmoid with L1 and L2', hidden: ['tanh', 'sigmoid'], dropout: [0, 0], l1: 1e-4, l2: 1e-3 },
  { name: 'leaky_relu and relu6', hidden: ['leaky_relu', 'relu6'], dropout: [0, 0.5], l1: 0, l2: 0 },
  { name: 'linear hidden layers', hidden: ['linear', 'linear'], dropout: [0, 0], l1: 0, l2: 1e-3 },
];

describe('onnxruntime training steps equal the TensorFlow.js ones', { skip }, () => {
  for (const c of CASES) {
    it(c.name, () => {
      const { mlp, specs } = network(c.hidden, c.dropout);
      const masks = [c.name.includes('mask') ? pruneMask(mlp) : null, null, null];
      const setup: StepperSetup = { mlp, specs, masks, adam: KERAS_ADAM, l1: c.l1, l2: c.l2 };
      const tfjs = run(new TfjsStepper(setup, 'wasm'), setup, 5);
      const onnx = run(new OrtStepper(setup), setup, 5);
      assert.equal(onnx.params.length, 5, 'w0 b0 w1 w2 b2');
      onnx.params.forEach((p, k) => {
        const apart = shareApart(p, tfjs.params[k]);
        assert.ok(apart < 1e-3, `param ${k}: ${apart} of entries apart, max rel diff ${maxRelDiff(p, tfjs.params[k])}`);
        // Even those stay within the few Adam steps taken (5 steps of at most ~lr each).
        assert.ok(maxRelDiff(p, tfjs.params[k]) * Math.max(...tfjs.params[k].map(Math.abs)) <= 5 * 2 * KERAS_ADAM.learningRate);
      });
      // The steps moved the weights (the comparison is not of two untouched copies).
      assert.ok(maxRelDiff(onnx.params[0], mlp.layers[0].weights) > 1e-3);
      assert.ok(Math.abs(onnx.totals[0] - tfjs.totals[0]) < 1e-4 * tfjs.totals[0], `loss ${onnx.totals[0]} vs ${tfjs.totals[0]}`);
      assert.ok(Math.abs(onnx.totals[1] - tfjs.totals[1]) <= 1, `correct ${onnx.totals[1]} vs ${tfjs.totals[1]}`);
      if (masks[0]) masks[0].forEach((m, i) => m === 0 && assert.equal(Math.abs(onnx.params[0][i]), 0, `pruned weight ${i}`));
    });
  }

  it('validates like the TensorFlow.js stepper, and repeats bit for bit', () => {
    const { mlp, specs } = network(['relu', 'relu'], [0.2, 0]);
    const setup: StepperSetup = { mlp, specs, masks: [null, null, null], adam: KERAS_ADAM, l1: 0, l2: 0 };
    const validation = sliceRows(getSplit(mnist, 'validation'), 0, 2500);
    const a = new OrtStepper(setup);
    const b = new TfjsStepper(setup, 'wasm');
    const va = a.validate(validation, validation.y!);
    const vb = b.validate(validation, validation.y!);
    assert.ok(Math.abs(va.loss - vb.loss) < 1e-5, `${va.loss} vs ${vb.loss}`);
    assert.equal(va.accuracy, vb.accuracy);
    a.dispose();
    b.dispose();
    const first = run(new OrtStepper(setup), setup, 4).params;
    const second = run(new OrtStepper(setup), setup, 4).params;
    first.forEach((p, k) => assert.deepEqual(new Uint32Array(p.buffer), new Uint32Array(second[k].buffer), `param ${k}`));
  });
});
