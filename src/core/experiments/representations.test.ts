import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { built } from '../../../test/kits/encode/models';
import { initBackend } from '../backend';
import { loadDataset } from '../data/load';
import { readModel } from '../formats/registry';
import { linearCKAMatrix } from '../metrics/cka';
import { matrix } from '../metrics/matrix';
import { CenteredGrams, representations } from './representations';

before(async () => {
  await initBackend();
});

test('CenteredGrams gives the linear CKA matrix of the feature-space form, and names a constant layer', async () => {
  const a = await readModel(built('onnx', 'mnist2x10.onnx'));
  const b = await readModel(built('onnx', 'mnist2x5_sigmoid.onnx'));
  const x = (await loadDataset('mnist')).validation!.x;
  const ra = representations(a, x, 300);
  const rb = representations(b, x, 300);
  const grams = new CenteredGrams(ra, ['a1', 'a2', 'a3']).ckaAgainst(new CenteredGrams(rb, ['b1', 'b2', 'b3']));
  const reference = linearCKAMatrix(ra, rb, { engine: 'float64' });
  assert.deepEqual(grams.problems, []);
  grams.values.forEach((row, i) =>
    row.forEach((v, j) => assert.ok(Math.abs(v! - reference.values[i][j]!) < 1e-6, `[${i}][${j}]: ${v} vs ${reference.values[i][j]}`)),
  );

  const constant = matrix(new Float32Array(300 * 4).fill(0.5), 300, 4);
  const dead = new CenteredGrams([constant], ['flat']).ckaAgainst(new CenteredGrams(ra, ['a1', 'a2', 'a3']));
  assert.deepEqual(dead.values, [[null, null, null]]);
  assert.deepEqual(dead.problems, ['flat has no variance over the samples (constant outputs), so linear CKA is undefined']);
});
