import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ASSUMED_SECONDS_PER_PARAMETER_ROW,
  GRID_CHOICES,
  gridText,
  measuredRate,
  parseBudgetMinutes,
  planText,
  readStudyRate,
  studyCallFromArgs,
  studyEstimate,
  writeStudyRate,
} from './study-flow';

test('options: { useDefaults: true } is the default grid in 30 minutes; fields override the grid; nonsense is named', () => {
  assert.deepEqual(studyCallFromArgs([{ useDefaults: true }]), { choice: {}, budgetSeconds: 1800, out: undefined });
  const quick = studyCallFromArgs([{ grid: 'quick', budgetMinutes: 2.5, epochs: 1, out: '/w/s' }])!;
  assert.equal(quick.budgetSeconds, 150);
  assert.equal(quick.out, '/w/s');
  assert.deepEqual(quick.choice, { ...GRID_CHOICES.quick, epochs: 1 });
  assert.equal(studyCallFromArgs([]), undefined, 'no options: the person is asked');
  assert.throws(() => studyCallFromArgs([{ grid: 'huge' }]), /options are not valid: grid/);
  assert.throws(() => studyCallFromArgs([{ factors: { height: [1] } }]), /options are not valid: factors/);
  assert.throws(() => studyCallFromArgs([{ budgetMinutes: 0 }]), /budgetMinutes/);
  assert.throws(() => studyCallFromArgs([{ out: 'studies/s' }]), /out: an absolute path/);
  assert.throws(() => studyCallFromArgs([{ sparsity: 0.5 }]), /options are not valid/);
});

test('the estimate of the default grid: 7 models, each its epochs scaled by parameters', () => {
  // One second per epoch of the base model (784-512-512-10 on 20000 rows).
  const rate = 1 / (669_706 * 20_000);
  const { settings, plan } = studyEstimate({}, 3600, rate);
  assert.equal(plan.models.length, 7);
  assert.ok(Math.abs(plan.epochSeconds - 1) < 1e-12);
  // By hand for the base model: 5 epochs + 1 for the original; per sparsity two rounds (iterative) at
  // targets 1 - sqrt(1 - s) and s fine-tune (1 - t) epochs and measure 0.5 (+1.25 for cka) each.
  let epochs = 6;
  for (const s of [0.5, 0.75, 0.9]) for (const t of [1 - Math.sqrt(1 - s), s]) epochs += 2 * (1 - t) + 0.5 + 1.75;
  assert.ok(Math.abs(plan.models[0].estimatedSeconds - epochs) < 1e-9, `${plan.models[0].estimatedSeconds} vs ${epochs}`);
  assert.equal(planText(plan), `7 models, about ${Math.round(plan.estimatedSeconds / 60)} min`);
  assert.equal(
    gridText(settings),
    'dropout 0, 0.25, 0.5 · width 128, 256, 512 · depth 1, 2, 3 around 784-512-512-10; cka vs unit-l1 at 50, 75, 90 %, 5 epochs on 20000 rows',
  );
  // A budget that holds the base model and some others only: the rest are left out, and said so.
  const tight = studyEstimate({}, plan.models[0].estimatedSeconds + plan.models[1].estimatedSeconds + 1, rate).plan;
  assert.equal(planText(tight), `2 of 7 models fit, about ${Math.round(tight.estimatedSeconds)} s`);
  assert.match(planText(studyEstimate({}, 1, rate).plan), /^not even the base model fits/);
});

test('the quick grid is a few minutes where the default one is a few more; the rate a run measured comes back', async () => {
  const q = studyEstimate(GRID_CHOICES.quick, 3600, ASSUMED_SECONDS_PER_PARAMETER_ROW).plan;
  const d = studyEstimate({}, 3600, ASSUMED_SECONDS_PER_PARAMETER_ROW).plan;
  assert.ok(q.estimatedSeconds < d.estimatedSeconds / 5, `${q.estimatedSeconds} vs ${d.estimatedSeconds}`);
  const { settings } = studyEstimate({}, 60, 1);
  assert.ok(Math.abs(measuredRate(settings, 1.3) - ASSUMED_SECONDS_PER_PARAMETER_ROW) < 1e-20);
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-study-rate-'));
  try {
    const file = join(dir, 'storage', 'study-timing.json');
    assert.equal(await readStudyRate(file), undefined);
    await writeStudyRate(file, 2e-10);
    assert.equal(await readStudyRate(file), 2e-10);
    writeFileSync(file, '{"secondsPerParameterRow": -1}');
    assert.equal(await readStudyRate(file), undefined, 'a nonsense rate is not used');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a budget is typed in minutes', () => {
  assert.equal(parseBudgetMinutes('30'), 30);
  assert.equal(parseBudgetMinutes(' 7.5 min'), 7.5);
  for (const bad of ['', '0', '-3', 'soon', 'Infinity']) assert.equal(parseBudgetMinutes(bad), undefined, bad);
});
