import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { apoz } from './apoz';
import { apozGeometry } from './geometry';
import { hiddenLayerGeometry, layerGeometry } from './geometry-layers';
import { SimilarityError } from './matrix';
import { constantColumns, mnistActivations, type MnistActivations } from '../../../test/kits/metrics';

describe("representational geometry of a model's hidden layers", () => {
  let real: MnistActivations;
  before(async () => {
    await initBackend();
    real = await mnistActivations(600);
  });

  const layers = () => real.activations.map((activation, i) => ({ name: `Gemm_${2 * i + 2}`, activation }));

  it('one entry per hidden layer of mnist2x10 (relu, relu; the linear output is left out), on the first 500 rows', () => {
    const g = hiddenLayerGeometry(layers(), real.layers);
    assert.deepEqual(
      g.map((x) => [x.layer, x.applies]),
      [
        ['Gemm_2', true],
        ['Gemm_4', true],
      ],
    );
    const first = real.layers[0];
    const rows = { rows: 500, cols: first.cols, data: first.data.subarray(0, 500 * first.cols) };
    const a = apoz(rows, 'relu');
    assert.ok(a.applies);
    // APoZ order and RDMs both from the first 500 rows: exactly apozGeometry on them.
    assert.deepEqual(g[0], { layer: 'Gemm_2', applies: true, ...apozGeometry(rows, a.perNeuron, { maxSamples: 500 }) });
    if (!g[0].applies) return;
    assert.equal(g[0].samples, 500);
    assert.equal(g[0].step, 1);
    assert.deepEqual(
      g[0].ascending.map((p) => p.k),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.ok(Math.abs(g[0].ascending[9].r2 - 1) < 1e-12);
  });

  it('takes the first `samples` rows and the step asked for', () => {
    const g = layerGeometry('Gemm_4', 'relu', real.layers[1], { samples: 200, step: 4 });
    assert.ok(g.applies);
    assert.equal(g.samples, 200);
    assert.deepEqual(
      g.ascending.map((p) => p.k),
      [4, 8, 10],
    );
    // Other rows give other curves: the rows used really are the first 200.
    const later = { rows: 200, cols: 10, data: real.layers[1].data.subarray(400 * 10, 600 * 10) };
    const other = layerGeometry('Gemm_4', 'relu', later, { samples: 200, step: 4 });
    assert.ok(other.applies);
    assert.notDeepEqual(other.ascending, g.ascending);
  });

  it('says why where geometry does not apply: a layer without APoZ, a dead layer, too few rows', () => {
    const sigmoid = layerGeometry('hidden', 'sigmoid', real.layers[0]);
    assert.equal(sigmoid.applies, false);
    if (!sigmoid.applies) assert.match(sigmoid.reason, /APoZ order.*sigmoid outputs are never exactly zero/);
    const dead = layerGeometry('dead', 'relu', constantColumns(40, [0, 0, 0]));
    assert.equal(dead.applies, false);
    if (!dead.applies) assert.match(dead.reason, /^dead: .*no geometry/);
    const few = layerGeometry('few', 'relu', { rows: 2, cols: 10, data: real.layers[0].data.subarray(0, 20) });
    assert.equal(few.applies, false);
    if (!few.applies) assert.match(few.reason, /at least 3/);
    assert.throws(() => layerGeometry('x', 'relu', real.layers[0], { samples: 2 }), SimilarityError);
  });
});
