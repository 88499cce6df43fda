import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tinyStudyGrid } from '../../../test/kits/study';
import { parseAnyResults, parseResults, type StudyResults } from '../results/format';
import { estimateSeconds, gridModels, planStudy, prepareStudy, runPreparedStudy, runStudy, studySettings } from './study';

const MNIST = { inputs: 784, classes: 10 };

describe('study plan', () => {
  test('the grid runs the base model first, then the factors in turn, each model once', () => {
    const settings = studySettings({
      data: 'mnist',
      base: { width: 512, depth: 2, dropout: 0 },
      factors: { dropout: [0, 0.5], width: [128, 512], depth: [1, 2, 3] },
    });
    const grid = gridModels(settings);
    assert.deepEqual(
      grid.map((m) => m.id),
      ['w512-d2-p0', 'w128-d2-p0', 'w512-d1-p0', 'w512-d2-p0.5', 'w512-d3-p0'],
    );
    // The base model stands for the base value of every factor that lists it.
    assert.deepEqual(grid[0].factors, [
      { factor: 'dropout', value: 0 },
      { factor: 'width', value: 512 },
      { factor: 'depth', value: 2 },
    ]);
    assert.deepEqual(grid[2].config, { width: 512, depth: 1, dropout: 0 });
  });

  test('estimates scale one epoch by parameters and by what each round leaves; the budget cuts the grid in order', () => {
    const settings = studySettings({
      data: 'mnist',
      factors: { width: [512, 128] },
      sparsities: [0.75],
      iterations: 2,
      finetuneEpochs: 1,
      epochs: 5,
      budgetSeconds: 13,
    });
    // Rounds at 50% and 75%: fine-tuning 0.5 + 0.25 epochs and two points of 0.5 (unit-l1: 1.75),
    // plus 2 x 1.25 of CKA scoring (cka: 4.25); 5 training epochs and 1 for the original:
    // 5 + 1 + 1.75 + 4.25 = 12 epochs of the base model.
    assert.ok(Math.abs(estimateSeconds(settings, settings.base, 1, MNIST) - 12) < 1e-9);
    const small = { width: 128, depth: 2, dropout: 0 };
    const ratio = (784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10) / (784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
    assert.ok(Math.abs(estimateSeconds(settings, small, 2, MNIST) - 2 * 12 * ratio) < 1e-9);

    const plan = planStudy(settings, 1, MNIST);
    assert.deepEqual(
      plan.models.map((m) => m.id),
      ['w512-d2-p0'],
    );
    assert.deepEqual(
      plan.skipped.map((m) => m.id),
      ['w128-d2-p0'],
    );
    assert.equal(plan.pointsPerModel, 4);
    assert.ok(Math.abs(plan.estimatedSeconds - 12) < 1e-9);
    assert.equal(planStudy(settings, 2, MNIST).models.length, 0, 'at 2 s an epoch not even the base model fits 13 s');
  });

  test('a factor value that makes no model is refused before anything runs', () => {
    assert.throws(() => studySettings({ data: 'mnist', factors: { dropout: [1] } }), /dropout 1: dropout must be in \[0, 1\)/);
    assert.throws(() => studySettings({ data: 'mnist', factors: { width: [0] } }), /width must be a positive integer/);
    assert.throws(() => studySettings({ data: 'mnist', strategies: ['cka', 'nope'] }), /nope/);
  });
});

describe('runStudy', () => {
  test('a tiny grid on a few hundred MNIST rows trains, prunes and retrains each model; the gaps are the runs’ accuracy differences', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'prunescope-study-test-'));
    let r: StudyResults;
    try {
      r = await runStudy({
        data: 'mnist',
        base: { width: 16, depth: 1, dropout: 0 },
        factors: { width: [16, 8], dropout: [0.25] },
        epochs: 2,
        trainSamples: 300,
        validationSamples: 100,
        testSamples: 200,
        samples: 64,
        sparsities: [0.25, 0.5],
        iterations: 2,
        finetuneEpochs: 1,
        budgetSeconds: 3600,
        workDir,
      });
      assert.deepEqual(readdirSync(workDir).sort(), ['data.npz', 'w16-d1-p0', 'w16-d1-p0.25', 'w8-d1-p0']);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    assert.equal(r.kind, 'study');
    assert.deepEqual(
      r.models.map((m) => m.id),
      ['w16-d1-p0', 'w16-d1-p0.25', 'w8-d1-p0'],
    );
    assert.deepEqual(r.skipped, []);
    assert.equal(r.dataset.samples, 200);
    for (const m of r.models) {
      const a = m.analysis;
      assert.deepEqual(a.model.layerSizes, [m.hidden[0], 10]);
      assert.equal(a.dataset.samples, 200, `${m.id} is evaluated on the 200 test rows`);
      assert.equal(a.settings.schedule, 'iterative');
      assert.deepEqual(
        a.runs.map((run) => run.strategy),
        ['cka', 'unit-l1'],
      );
      for (const run of a.runs) {
        // Two rounds per sparsity; the last one at 50% leaves half the hidden units.
        assert.deepEqual(
          run.points.map((p) => [p.sparsity, p.iteration]),
          [
            [0.25, 1],
            [0.25, 2],
            [0.5, 1],
            [0.5, 2],
          ],
        );
        assert.equal(run.points[3].layers[0].units, m.hidden[0] / 2);
        assert.ok(run.points.every((p) => p.finetuneEpochs > 0));
      }
      assert.ok(m.training.epochs === 2 && m.training.bestEpoch >= 1 && m.training.bestEpoch <= 2, JSON.stringify(m.training));
    }
    const dropout = r.models[1];
    assert.equal(dropout.dropout, 0.25);

    assert.deepEqual(
      r.summary.map((s) => [s.factor, s.values.map((v) => [v.value, v.model])]),
      [
        ['dropout', [[0.25, 'w16-d1-p0.25']]],
        [
          'width',
          [
            [16, 'w16-d1-p0'],
            [8, 'w8-d1-p0'],
          ],
        ],
      ],
    );
    for (const s of r.summary) {
      for (const v of s.values) {
        const runs = r.models.find((m) => m.id === v.model)!.analysis.runs;
        const lastAccuracy = (strategy: string, sparsity: number) =>
          runs.find((run) => run.strategy === strategy)!.points.find((p) => p.sparsity === sparsity && p.iteration === 2)!.accuracy;
        assert.deepEqual(
          v.gaps.map((g) => g.sparsity),
          [0.25, 0.5],
        );
        for (const g of v.gaps) {
          assert.equal(g.a, lastAccuracy('cka', g.sparsity));
          assert.equal(g.b, lastAccuracy('unit-l1', g.sparsity));
          assert.ok(Math.abs(g.gap! - (g.a! - g.b!)) < 1e-12);
        }
      }
    }

    const text = JSON.stringify(r);
    const back = parseAnyResults(text, 'study.json');
    assert.equal(back.kind, 'study');
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(text));
    assert.throws(() => parseResults(text, 'study.json'), /study\.json: holds a study/);
    // Each model's analysis is an ordinary analysis file for both readers.
    const analysis = JSON.stringify(r.models[0].analysis);
    assert.equal(parseResults(analysis, 'a.json').kind, 'analysis');
    assert.equal(parseAnyResults(analysis, 'a.json').kind, 'analysis');
    assert.throws(
      () => parseAnyResults(JSON.stringify({ ...r, summary: [{ factor: 'height', values: [] }] }), 'bad.json'),
      /bad\.json: malformed results at summary\.0\.factor/,
    );
  });

  test('at run time a model whose corrected estimate passes the budget is skipped, and so is every one after it', async () => {
    const prepared = await prepareStudy({ data: 'mnist', ...tinyStudyGrid(), factors: { width: [8, 4, 6] }, budgetSeconds: 3600 });
    try {
      assert.deepEqual(
        prepared.plan.models.map((m) => m.id),
        ['w8-d1-p0', 'w4-d1-p0', 'w6-d1-p0'],
      );
      prepared.plan.models[1].estimatedSeconds = 1e9;
      const r = await runPreparedStudy(prepared);
      assert.deepEqual(
        r.models.map((m) => m.id),
        ['w8-d1-p0'],
      );
      assert.deepEqual(
        r.skipped.map((m) => m.id),
        ['w4-d1-p0', 'w6-d1-p0'],
      );
      assert.match(r.skipped[0].reason, /would pass the budget of 3600 s/);
      assert.match(r.skipped[1].reason, /stopped adding models at w4-d1-p0/);
      assert.deepEqual(
        r.summary[0].values.map((v) => v.value),
        [8],
      );
    } finally {
      await prepared.cleanup();
    }
    assert.ok(!existsSync(prepared.workDir), 'the work folder the study made is removed');
  });

  test('a budget the base model cannot fit fails after the timing epochs, naming the budget; its own work folder is removed', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('prunescope-study-')));
    await assert.rejects(
      runStudy({
        data: 'mnist',
        base: { width: 16, depth: 1, dropout: 0 },
        factors: { width: [16] },
        epochs: 1,
        trainSamples: 200,
        validationSamples: 50,
        testSamples: 50,
        sparsities: [0.5],
        budgetSeconds: 1e-6,
      }),
      /not even w16-d1-p0 fits the time budget/,
    );
    const after = readdirSync(tmpdir()).filter((f) => f.startsWith('prunescope-study-') && !before.has(f));
    assert.deepEqual(after, []);
  });
});
