import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { initBackend } from '../backend';
import { makeDataset } from '../data/dataset';
import { trainMLP } from './fit';
import { parseTrainingHistory, readTrainingHistory } from './history-file';
import { saveTraining } from './save';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A folder with `model.json` (never read here) and history.json holding `text`. */
function folderWith(name: string, text: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'history.json'), text);
  return join(d, 'model.json');
}

test('reads back the epochs saveTraining wrote', async () => {
  await initBackend();
  // Two separable classes of 4 features, 80 rows: enough for three real epochs.
  const n = 80;
  const x = new Float32Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let f = 0; f < 4; f++) x[i * 4 + f] = (y[i] ? 1 : -1) * (0.5 + ((i * 7 + f * 3) % 5) / 10);
  }
  const splits = { name: 'toy', train: makeDataset('toy', x, y, [4]), normalization: 'none' as const };
  const { mlp, history } = await trainMLP(splits, { hidden: [3], epochs: 3, patience: 5, batchSize: 16, seed: 2 });
  const out = join(dir, 'trained');
  await saveTraining(out, mlp, history);
  const read = await readTrainingHistory(join(out, 'model.json'));
  assert.equal(read.state, 'ok');
  assert.ok(read.state === 'ok');
  assert.equal(read.file, join(out, 'history.json'));
  assert.deepEqual(
    read.curves.epochs,
    history.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, accuracy: e.accuracy, valLoss: e.valLoss, valAccuracy: e.valAccuracy })),
  );
  assert.equal(read.curves.epochs.length, 3);
  assert.equal(read.curves.bestEpoch, history.bestEpoch);
  assert.deepEqual(read.curves.sizes, [4, 3, 2]);
});

test('null metrics (NaN when written) are gaps; the optional fields may be absent', () => {
  const c = parseTrainingHistory(
    JSON.stringify({ epochs: [{ epoch: 1, loss: null, accuracy: 0.5, valLoss: 2.5, valAccuracy: null, seconds: 1 }] }),
    '/m/history.json',
  );
  assert.deepEqual(c, {
    epochs: [{ epoch: 1, loss: null, accuracy: 0.5, valLoss: 2.5, valAccuracy: null }],
    bestEpoch: null,
    sizes: null,
  });
});

test('a malformed history says which file and what is wrong', () => {
  const f = '/m/history.json';
  const cases: [string, RegExp][] = [
    ['{"epochs": [', /^\/m\/history\.json: not valid JSON \(/],
    ['[1, 2]', /^\/m\/history\.json: not a training history \(expected an object with "epochs"\)$/],
    ['{"seed": 1}', /^\/m\/history\.json: not a training history: epochs: Invalid input: expected array, received undefined$/],
    ['{"epochs": []}', /^\/m\/history\.json: records no epochs$/],
    [
      '{"epochs": [{"epoch": 1, "loss": "low", "accuracy": 1, "valLoss": 1, "valAccuracy": 1}]}',
      /^\/m\/history\.json: not a training history: epochs\.0\.loss: Invalid input: expected number, received string$/,
    ],
    [
      JSON.stringify({ epochs: [1, 2].map(() => ({ epoch: 1, loss: 1, accuracy: 1, valLoss: 1, valAccuracy: 1 })) }),
      /^\/m\/history\.json: epochs\.1: epoch 1 does not follow epoch 1$/,
    ],
  ];
  for (const [text, message] of cases) assert.throws(() => parseTrainingHistory(text, f), { name: 'PruneScopeError', message }, text);
});

test('reading: none, malformed, and a link out of the folder refused', async () => {
  assert.deepEqual(await readTrainingHistory(join(dir, 'nothing-here', 'model.json')), { state: 'none' });
  const bad = await readTrainingHistory(folderWith('bad', '{"epochs": "many"}'));
  assert.deepEqual(bad, {
    state: 'error',
    file: join(dir, 'bad', 'history.json'),
    message: `${join(dir, 'bad', 'history.json')}: not a training history: epochs: Invalid input: expected array, received string`,
  });
  // A valid history outside the folder, reached through a link: refused, never read.
  const outside = folderWith('outside', JSON.stringify({ epochs: [{ epoch: 1, loss: 1, accuracy: 1, valLoss: 1, valAccuracy: 1 }] }));
  mkdirSync(join(dir, 'linked'));
  symlinkSync(join(outside, '..', 'history.json'), join(dir, 'linked', 'history.json'));
  const linked = await readTrainingHistory(join(dir, 'linked', 'model.json'));
  assert.equal(linked.state, 'error');
  assert.ok(linked.state === 'error');
  assert.match(linked.message, /history\.json: not read: .*outside the model's folder/);
  // A folder named history.json is not a history either.
  mkdirSync(join(dir, 'odd', 'history.json'), { recursive: true });
  const odd = await readTrainingHistory(join(dir, 'odd', 'model.json'));
  assert.ok(odd.state === 'error');
  assert.match(odd.message, /history\.json: not read: "history\.json" is not a file$/);
});
