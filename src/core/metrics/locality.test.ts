import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PruneScopeError } from '../errors';
import { seededRandom } from '../random';
import {
  encodeWeightMaps,
  imageShapeOf,
  localitySetup,
  pixelCoordinates,
  pointLocality,
  resolveImageShape,
  sampledUnits,
  summariseLocality,
  unitLocality,
  weightMapUnits,
  WEIGHT_MAP_PRUNED,
  type ImageShape,
} from './locality';

const close = (a: number | null, b: number, tol = 1e-9, what = '') => {
  assert.ok(a !== null && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);
};
const grey = (height: number, width: number): ImageShape => ({ height, width, channels: 1, layout: 'hwc' });
const decode = (data: string) => Array.from(new Int8Array(Buffer.from(data, 'base64')));

describe('image shapes', () => {
  test('[h, w], [h, w, c] and [c, h, w] are images; flat vectors and 1-pixel sides are not', () => {
    assert.deepEqual(imageShapeOf([28, 28], 784), grey(28, 28));
    assert.deepEqual(imageShapeOf([28, 28, 1], 784), grey(28, 28));
    assert.deepEqual(imageShapeOf([1, 28, 28], 784), { height: 28, width: 28, channels: 1, layout: 'chw' });
    assert.deepEqual(imageShapeOf([3, 32, 32], 3072), { height: 32, width: 32, channels: 3, layout: 'chw' });
    assert.equal(imageShapeOf([784], 784), null);
    assert.equal(imageShapeOf([1, 784], 784), null);
    assert.equal(imageShapeOf([28, 28], 785), null);
    assert.equal(imageShapeOf([2, 28, 28, 1], 1568), null);
  });

  test('the model shape wins, then the dataset, then the option; a wrong option is the user error', () => {
    assert.deepEqual(resolveImageShape(784, { model: [784], dataset: [28, 28] }), { image: grey(28, 28), source: 'dataset' });
    assert.equal(resolveImageShape(784, { model: [1, 28, 28], dataset: [28, 28] })?.source, 'model');
    assert.deepEqual(resolveImageShape(12, { model: [12], option: [3, 4] }), { image: grey(3, 4), source: 'option' });
    assert.equal(resolveImageShape(12, { model: [12], dataset: [12] }), null);
    assert.throws(
      () => resolveImageShape(12, { model: [12], option: [5, 5] }),
      (e: Error) => {
        assert.ok(e instanceof PruneScopeError);
        assert.match(e.message, /image shape 5x5 has 25 values but the model has 12 inputs/);
        return true;
      },
    );
  });

  test('pixel coordinates follow the layout', () => {
    // 2 channels, 3 rows, 4 columns: input 17 is channel 1's pixel 5 (chw), or pixel 8's channel 1 (hwc).
    const chw = pixelCoordinates({ height: 3, width: 4, channels: 2, layout: 'chw' });
    assert.deepEqual([chw.row[17], chw.col[17]], [1, 1]);
    const hwc = pixelCoordinates({ height: 3, width: 4, channels: 2, layout: 'hwc' });
    assert.deepEqual([hwc.row[17], hwc.col[17]], [2, 0]);
  });
});

describe('unit locality', () => {
  test('equal weights on a 3x3 block spread sqrt(2/3 + 2/3) pixels wherever the block sits', () => {
    const image = grey(8, 8);
    const units = 2;
    const w = new Float32Array(64 * units).fill(0.5);
    const keep = new Uint8Array(64 * units);
    const block = (unit: number, r0: number, c0: number) => {
      for (let r = r0; r < r0 + 3; r++) for (let c = c0; c < c0 + 3; c++) keep[(r * 8 + c) * units + unit] = 1;
    };
    block(0, 2, 3);
    block(1, 5, 0);
    const out = unitLocality(w, keep, units, image, { draws: 4 });
    for (const u of out) {
      assert.equal(u.kept, 9);
      close(u.spread, Math.sqrt(4 / 3), 1e-9, 'block spread');
      assert.ok(u.ratio !== null && u.ratio < 0.5, `a 3x3 block is far more local than 9 random pixels of 64: ratio ${u.ratio}`);
    }
  });

  test('|w| weights the spread and the sign does not matter', () => {
    // Weights 1 and -3 at columns 0 and 4 of one row: centroid 3, variance (1*9 + 3*1)/4 = 3.
    const image = grey(2, 5);
    const w = new Float32Array(10);
    w[0] = 1;
    w[4] = -3;
    const keep = Uint8Array.from(w, (v) => (v !== 0 ? 1 : 0));
    close(unitLocality(w, keep, 1, image)[0].spread, Math.sqrt(3), 1e-12, 'weighted spread');
  });

  test('random masks average the exact expectation: 2 of 4 pixels of a 2x2 image', () => {
    // 4 adjacent pairs spread 0.5, 2 diagonal pairs spread sqrt(2)/2: mean (2 + sqrt 2) / 6.
    const w = new Float32Array(4).fill(1);
    const keep = Uint8Array.from([1, 1, 0, 0]);
    const [u] = unitLocality(w, keep, 1, grey(2, 2), { draws: 20000, seed: 7 });
    close(u.spread, 0.5, 1e-12, 'observed');
    close(u.randomSpread, (2 + Math.SQRT2) / 6, 0.004, 'random');
    close(u.ratio, 0.5 / ((2 + Math.SQRT2) / 6), 0.01, 'ratio');
  });

  test("masks drawn by the layer's keep counts: the exact expectation of a hand-worked case", () => {
    // 2x2 image, 2 units: unit 0 keeps inputs 0 and 1, unit 1 inputs 0 and 3, so the layer keeps
    // input 0 twice, 1 and 3 once. Drawing 2 without replacement by those weights gives the pairs
    // {0,1} and {0,3} with probability 5/12 each and {1,3} with 1/6; with equal |w| adjacent pairs
    // spread 0.5 and the diagonal one sqrt(2)/2.
    const w = new Float32Array(8).fill(1);
    const keep = Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 1]);
    const [u] = unitLocality(w, keep, 2, grey(2, 2), { draws: 20000, seed: 3 });
    const expected = (5 / 12) * 0.5 + (5 / 12) * (Math.SQRT2 / 2) + (1 / 6) * 0.5;
    close(u.layerRandomSpread, expected, 0.004, 'layer-weighted random spread');
    close(u.layerRatio, 0.5 / expected, 0.01, 'layer ratio');
  });

  test('a centre every unit shares is local against uniform masks, not against the layer', () => {
    // Both units keep the same 3x3 block: the layer keeps nothing else, so its masks are that block.
    const units = 2;
    const w = new Float32Array(64 * units).fill(1);
    const keep = new Uint8Array(64 * units);
    for (let r = 3; r < 6; r++) for (let c = 3; c < 6; c++) keep.fill(1, (r * 8 + c) * units, (r * 8 + c + 1) * units);
    for (const u of unitLocality(w, keep, units, grey(8, 8))) {
      assert.ok(u.ratio! < 0.5, `uniform ratio ${u.ratio}`);
      close(u.layerRatio, 1, 1e-9, 'layer ratio');
    }
    // Units in opposite corners: the layer's masks mix both corners, each unit is local against them.
    keep.fill(0);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) keep[(r * 8 + c) * units] = keep[((r + 5) * 8 + c + 5) * units + 1] = 1;
    for (const u of unitLocality(w, keep, units, grey(8, 8))) assert.ok(u.layerRatio! < 0.5, `layer ratio ${u.layerRatio}`);
  });

  test('a full mask is its own random mask: ratio 1 for every unit', () => {
    const random = seededRandom(3);
    const units = 5;
    const w = Float32Array.from({ length: 36 * units }, () => random() - 0.5);
    for (const keep of [null, new Uint8Array(w.length).fill(1)]) {
      for (const u of unitLocality(w, keep, units, grey(6, 6), { draws: 3 })) {
        close(u.ratio, 1, 1e-12, 'full mask');
        close(u.layerRatio, 1, 1e-12, 'full mask, layer reference');
      }
    }
  });

  test('the same seed gives the same random spreads; another seed other ones', () => {
    const random = seededRandom(11);
    const units = 4;
    const w = Float32Array.from({ length: 49 * units }, () => random() - 0.5);
    const keep = Uint8Array.from(w, () => (random() < 0.3 ? 1 : 0));
    const a = unitLocality(w, keep, units, grey(7, 7), { seed: 5 });
    assert.deepEqual(unitLocality(w, keep, units, grey(7, 7), { seed: 5 }), a);
    const b = unitLocality(w, keep, units, grey(7, 7), { seed: 6 });
    assert.notDeepEqual(
      b.map((u) => u.randomSpread),
      a.map((u) => u.randomSpread),
    );
    assert.deepEqual(
      b.map((u) => u.spread),
      a.map((u) => u.spread),
    );
  });

  test('a weight count that does not match the image is refused', () => {
    assert.throws(() => unitLocality(new Float32Array(10), null, 1, grey(3, 3)), PruneScopeError);
  });
});

describe('locality summary', () => {
  test('medians over the measured units; empty and single-weight units counted apart', () => {
    const image = { ...grey(4, 4), source: 'option' as const };
    const layer = (layerRatio: number | null) => ({ layerRandomSpread: layerRatio === null ? null : 1, layerRatio });
    const perUnit = [
      { kept: 4, spread: 1, randomSpread: 2, ratio: 0.5, ...layer(0.9) },
      { kept: 4, spread: 2, randomSpread: 2, ratio: 1, ...layer(0.7) },
      { kept: 6, spread: 3, randomSpread: 2, ratio: 1.5, ...layer(0.8) },
      { kept: 0, spread: null, randomSpread: null, ratio: null, ...layer(null) },
      { kept: 1, spread: 0, randomSpread: 0, ratio: null, ...layer(null) },
    ];
    const s = summariseLocality('dense', image, perUnit, { threshold: 0.8, draws: 2 });
    assert.deepEqual(
      [s.units, s.measured, s.empty, s.degenerate, s.medianRatio, s.medianSpread, s.medianRandomSpread, s.threshold, s.draws],
      [5, 3, 1, 1, 1, 2, 2, 0.8, 2],
    );
    close(s.medianLayerRatio, 0.8, 1e-12, 'median layer ratio');
    close(s.localShare, 1 / 3, 1e-12, 'share below 0.8');
    const none = summariseLocality('dense', image, [perUnit[3]]);
    assert.deepEqual([none.medianRatio, none.localShare, none.measured, none.empty], [null, null, 0, 1]);
  });

  test('a wide layer is measured on evenly spaced units, and says how many', () => {
    assert.deepEqual(sampledUnits(10, 4), [0, 2, 5, 7]);
    assert.deepEqual(sampledUnits(3, 200), [0, 1, 2]);
    // 4 inputs (2x2) x 10 units, every weight kept: 4 units measured, each its own random mask.
    const weights = Float32Array.from({ length: 40 }, (_, k) => 1 + (k % 7));
    const setup = localitySetup({ name: 'dense', weights, units: 10 }, { ...grey(2, 2), source: 'option' }, 0, { maxUnits: 4 });
    const { locality } = pointLocality(setup, null, { weights, units: 10 }, null);
    assert.deepEqual([locality.units, locality.sampled, locality.measured, locality.medianRatio], [10, 4, 4, 1]);
  });
});

describe('weight maps', () => {
  test('kept weights quantised to 127 * w / scale, pruned ones marked -128', () => {
    const values = [0.5, null, -1, 0.25];
    const { scale, data } = encodeWeightMaps(grey(2, 2), [0], (i) => values[i]);
    assert.equal(scale, 1);
    assert.deepEqual(decode(data), [64, WEIGHT_MAP_PRUNED, -127, 32]);
  });

  test('several channels: a pixel sums its kept channels, and is pruned when none is kept', () => {
    // chw, 2 channels of a 1x2 image: pixel 0 = 0.2 + 0.4; pixel 1 has both channels pruned.
    const values = [0.2, null, 0.4, null];
    const { scale, data } = encodeWeightMaps({ height: 1, width: 2, channels: 2, layout: 'chw' }, [0], (i) => values[i]);
    close(scale, 0.6, 1e-12, 'scale');
    assert.deepEqual(decode(data), [127, WEIGHT_MAP_PRUNED]);
  });

  test('the heaviest units by sum of |w|, heaviest first', () => {
    // 2 inputs x 3 units: masses 1, 5, 3.
    const w = Float32Array.from([1, -2, 1, 0, 3, -2]);
    assert.deepEqual(weightMapUnits(w, 3, 2), [1, 2]);
    assert.deepEqual(weightMapUnits(w, 3, 10), [1, 2, 0]);
  });

  test("a point's maps show its own weights by original unit; removed units are blank", () => {
    // 2x2 image, 3 original units; unit 1 removed, so the pruned layer's columns are units 0 and 2.
    const original = { name: 'dense', units: 3, weights: Float32Array.from({ length: 12 }, (_, k) => k + 1) };
    const setup = localitySetup(original, { ...grey(2, 2), source: 'dataset' }, 3);
    assert.deepEqual(setup.mapUnits, [2, 1, 0]);
    const keep = Uint8Array.from({ length: 12 }, (_, k) => (k % 3 === 1 ? 0 : 1));
    const current = { units: 2, weights: Float32Array.from([10, -20, 30, -40, 50, -60, 70, -80]) };
    const { locality, weightMaps } = pointLocality(setup, keep, current, [0, 2]);
    assert.deepEqual([locality.empty, locality.measured], [1, 2]);
    close(locality.medianRatio, 1, 1e-12, 'whole units kept');
    assert.equal(weightMaps!.scale, 80);
    const q = (v: number) => Math.round((127 * v) / 80);
    assert.deepEqual(decode(weightMaps!.data), [
      ...[-20, -40, -60, -80].map(q),
      ...new Array<number>(4).fill(WEIGHT_MAP_PRUNED),
      ...[10, 30, 50, 70].map(q),
    ]);
  });
});
