import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { replaceEarlier, repruneChoices, WrittenModels } from './written-models';

function setup(): { dir: string; ledger: WrittenModels; ledgerFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-written-'));
  const ledgerFile = join(dir, 'storage', 'written-models.json');
  return { dir, ledger: new WrittenModels(ledgerFile), ledgerFile };
}

test('a model PruneScope wrote is its own until a byte changes', async () => {
  const { dir, ledger } = setup();
  const out = join(dir, 'm.pruned-unit-l2-50.onnx');
  writeFileSync(out, 'pruned bytes');
  const settings = { strategy: 'unit-l2', sparsity: 0.5, compensate: true, finetuneEpochs: 0 };
  await ledger.record(out, [out], settings);
  assert.deepEqual(await ledger.ownership(out, { ...settings }), { owner: 'prunescope', differences: [] });
  assert.deepEqual(await ledger.ownership(out, { ...settings, compensate: false, finetuneEpochs: 3, pattern: '2:4' }), {
    owner: 'prunescope',
    differences: ['compensate true, now false', 'finetuneEpochs 0, now 3', 'pattern none, now "2:4"'],
  });
  assert.deepEqual(await ledger.filesOf(out), [out]);
  // Same size, other bytes: the person edited it.
  writeFileSync(out, 'Pruned bytes');
  assert.deepEqual(await ledger.ownership(out, settings), { owner: 'changed' });
});

test('a file PruneScope did not write, or a ledger it cannot read, is never its own', async () => {
  const { dir, ledger, ledgerFile } = setup();
  const mine = join(dir, 'm.pruned-unit-l2-50.onnx');
  writeFileSync(mine, 'the person put this here');
  assert.deepEqual(await ledger.ownership(mine, {}), { owner: 'unknown' });
  await ledger.record(join(dir, 'other.onnx'), [mine], {});
  writeFileSync(ledgerFile, '{ not json');
  assert.deepEqual(await ledger.ownership(join(dir, 'other.onnx'), {}), { owner: 'unknown' });
});

test('a tfjs model is its own only with every file it wrote, and no stranger at a companion name', async () => {
  const { dir, ledger } = setup();
  const json = join(dir, 'model.pruned-apoz-30.json');
  const weights = join(dir, 'model.pruned-apoz-30.weights.bin');
  writeFileSync(json, '{}');
  await ledger.record(json, [json], {});
  // The writer puts a weights file beside model.json; one that appeared there is someone else's.
  writeFileSync(weights, 'someone else');
  assert.deepEqual(await ledger.ownership(json, {}), { owner: 'changed' });
  await ledger.record(json, [json, weights], {});
  assert.deepEqual(await ledger.ownership(json, {}), { owner: 'prunescope', differences: [] });
  writeFileSync(weights, 'someone else, longer');
  assert.deepEqual(await ledger.ownership(json, {}), { owner: 'changed' });
});

test('Replace moves the earlier files aside, writes at the free name, then deletes them', async () => {
  const { dir } = setup();
  const a = join(dir, 'model.pruned-apoz-30.json');
  const b = join(dir, 'model.pruned-apoz-30.weights.bin');
  writeFileSync(a, 'old json');
  writeFileSync(b, 'old weights');
  const result = await replaceEarlier(
    [a, b],
    () => {
      assert.ok(!existsSync(a) && !existsSync(b), 'the name is free while the job writes');
      writeFileSync(a, 'new json');
      writeFileSync(b, 'new weights');
      return Promise.resolve('written');
    },
    (m) => assert.fail(m),
  );
  assert.equal(result, 'written');
  assert.equal(readFileSync(a, 'utf8'), 'new json');
  assert.deepEqual(readdirSync(dir).sort(), ['model.pruned-apoz-30.json', 'model.pruned-apoz-30.weights.bin']);
});

test('a replacement that fails or is cancelled puts the earlier result back', async () => {
  const { dir } = setup();
  const a = join(dir, 'm.pruned-unit-l2-50.onnx');
  writeFileSync(a, 'earlier');
  assert.equal(await replaceEarlier([a], () => Promise.resolve(undefined), assert.fail), undefined);
  assert.deepEqual(readdirSync(dir), ['m.pruned-unit-l2-50.onnx']);
  assert.equal(readFileSync(a, 'utf8'), 'earlier');
  await assert.rejects(
    replaceEarlier([a], () => Promise.reject(new Error('worker died')), assert.fail),
    /worker died/,
  );
  assert.equal(readFileSync(a, 'utf8'), 'earlier');
  assert.deepEqual(readdirSync(dir), ['m.pruned-unit-l2-50.onnx']);
});

test('when the name was taken meanwhile, the earlier result stays aside and that is said', async () => {
  const { dir } = setup();
  const a = join(dir, 'm.pruned-unit-l2-50.onnx');
  writeFileSync(a, 'earlier');
  const problems: string[] = [];
  const r = await replaceEarlier(
    [a],
    () => {
      writeFileSync(a, 'someone else');
      return Promise.resolve(undefined);
    },
    (m) => problems.push(m),
  );
  assert.equal(r, undefined);
  assert.equal(readFileSync(a, 'utf8'), 'someone else');
  const aside = readdirSync(dir).filter((n) => n.includes('.prunescope-replaced-'));
  assert.equal(aside.length, 1);
  assert.equal(readFileSync(join(dir, aside[0]), 'utf8'), 'earlier');
  assert.equal(problems.length, 1);
  assert.match(problems[0], /was taken meanwhile; the earlier result is kept as .*prunescope-replaced-/);
});

test('the re-prune question offers Replace only for an unchanged model PruneScope wrote', () => {
  const ours = repruneChoices({ owner: 'prunescope', differences: [] }, 'm.pruned-unit-l2-50.onnx');
  assert.deepEqual(
    ours.items.map((i) => [i.label, i.action]),
    [
      ['Open earlier result', 'open'],
      ['Replace it', 'replace'],
      ['Keep both', 'keep'],
    ],
  );
  assert.equal(ours.placeholder, 'm.pruned-unit-l2-50.onnx is this model pruned earlier the same way.');
  assert.equal(
    repruneChoices({ owner: 'prunescope', differences: ['finetuneEpochs 0, now 3'] }, 'x.onnx').placeholder,
    'x.onnx is this model pruned earlier with other settings (finetuneEpochs 0, now 3).',
  );
  for (const owner of ['changed', 'unknown'] as const) {
    const r = repruneChoices({ owner }, 'm.pruned-unit-l2-50.onnx');
    assert.deepEqual(
      r.items.map((i) => i.action),
      ['open', 'keep'],
    );
    assert.match(r.placeholder, /so it is not replaced/);
  }
});
