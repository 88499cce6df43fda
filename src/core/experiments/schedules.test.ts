import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { sliceRows } from '../data/dataset';
import { loadDataset } from '../data/load';
import type { DatasetSplits } from '../data/dataset';
import { strategyById } from '../prune/registry';
import type { ScheduleName } from '../results/format';
import { evaluate } from '../train/evaluate';
import { fitMLP, initMLP } from '../train/fit';
import { gradualFinetune, pruneWithSchedule, roundTargets, type Lineage, type ScheduleStep } from './schedules';

let splits: DatasetSplits;

before(async () => {
  await initBackend();
  const mnist = await loadDataset('mnist');
  // A small real slice keeps fine-tuning rounds quick.
  splits = {
    name: 'mnist-slice',
    normalization: 'unit',
    train: sliceRows(mnist.train!, 0, 2000),
    validation: sliceRows(mnist.validation!, 0, 500),
  };
});

function model() {
  return initMLP({ inputShape: [28, 28], hidden: [40, 30], classes: 10, seed: 5 });
}

async function steps(
  strategy: string,
  schedule: ScheduleName,
  target: number,
  iterations: number,
  finetuneEpochs: number,
  original = model(),
  data = splits,
) {
  const out: { step: ScheduleStep; lineage: Lineage; keep: Uint8Array[] }[] = [];
  await pruneWithSchedule(
    original,
    strategyById(strategy),
    {
      schedule,
      target,
      iterations,
      finetuneEpochs,
      seed: 1,
      includeOutput: false,
      samples: data.validation,
      sampleCount: 200,
      splits: data,
    },
    async (step, lineage) => {
      // The lineage is one object updated every round: copy what it says now.
      out.push({ step, lineage, keep: step.mlp.layers.map((_, l) => Uint8Array.from(lineage.keepMask(l))) });
    },
  );
  return out;
}

describe('pruning schedules', () => {
  it('round targets: iterative reaches the target geometrically, IMP removes 20% of what remains per round', () => {
    assert.deepEqual(roundTargets('one-shot', 0.9, 3), [0.9]);
    const it3 = roundTargets('iterative', 0.875, 3);
    assert.equal(it3.length, 3);
    [0.5, 0.75, 0.875].forEach((v, i) => assert.ok(Math.abs(it3[i] - v) < 1e-12));
    const imp = roundTargets('imp-rewind', 0.5, 1);
    assert.equal(imp.length, Math.ceil(Math.log(0.5) / Math.log(0.8)));
    assert.ok(Math.abs(imp[imp.length - 1] - 0.5) < 1e-12);
    for (let i = 1; i < imp.length; i++) assert.ok(imp[i] > imp[i - 1]);
  });

  it('iterative magnitude pruning keeps earlier zeros and reaches the target after fine-tuning', async () => {
    const s = await steps('magnitude', 'iterative', 0.8, 2, 1);
    assert.deepEqual(
      s.map((x) => x.step.iteration),
      [1, 2],
    );
    const last = s[s.length - 1];
    for (let l = 0; l < 2; l++) {
      const w = last.step.mlp.layers[l].weights;
      const keep = last.lineage.keepMask(l);
      let zeros = 0;
      for (let i = 0; i < w.length; i++) {
        if (!keep[i]) assert.equal(w[i], 0, `layer ${l} weight ${i} was pruned but is ${w[i]} after fine-tuning`);
        if (w[i] === 0) zeros++;
      }
      assert.ok(Math.abs(zeros / w.length - 0.8) < 0.01, `layer ${l}: ${zeros / w.length}`);
    }
    assert.ok(last.step.finetuneEpochs >= 2);
  });

  it('iterative unit pruning shrinks the layers round by round, tracking the original units', async () => {
    const s = await steps('unit-l2', 'iterative', 0.75, 2, 1);
    assert.deepEqual(
      s.map((x) => x.step.mlp.layers[0].units),
      [20, 10],
    );
    // 30 units: half go in round 1; round 2 removes round(0.5 * 15) = 8 of the 15 left.
    assert.deepEqual(
      s.map((x) => x.step.mlp.layers[1].units),
      [15, 7],
    );
    const mask = s[1].lineage.keepMask(1);
    let kept = 0;
    for (const v of mask) kept += v;
    assert.equal(kept, 10 * 7, 'layer 1 keeps the weights between the 10 and 7 surviving units');
  });

  it('trimming prunes with APoZ only', async () => {
    const s = await steps('apoz', 'trimming', 0.5, 2, 1);
    assert.equal(s.length, 2);
    await assert.rejects(steps('magnitude', 'trimming', 0.5, 2, 1), /trimming schedule .* prunes with apoz/);
  });

  it('gradual targets follow the cubic ramp s_f (1 - (1 - k/n)^3), ending at the target', () => {
    // n = 4, s_f = 0.8: 0.8 (1 - 27/64), 0.8 (1 - 8/64), 0.8 (1 - 1/64), 0.8.
    const four = roundTargets('gradual', 0.8, 4);
    [0.4625, 0.7, 0.7875, 0.8].forEach((v, i) => assert.ok(Math.abs(four[i] - v) < 1e-12, `step ${i + 1}: ${four[i]}`));
    assert.equal(four[3], 0.8);
    // n = 3, s_f = 0.9: 0.9 * 19/27 and 0.9 * 26/27.
    const three = roundTargets('gradual', 0.9, 3);
    [0.6333333333333333, 0.8666666666666667, 0.9].forEach((v, i) =>
      assert.ok(Math.abs(three[i] - v) < 1e-12, `step ${i + 1}: ${three[i]}`),
    );
    assert.deepEqual(roundTargets('gradual', 0.5, 1), [0.5]);
    assert.deepEqual(roundTargets('gradual', 0, 4), [0]);
    // Fine-tuning spread over the steps: 2 epochs over 4 steps is half an epoch each; 5 over 3 is 1 + 2/3.
    assert.deepEqual(gradualFinetune(2, 4), { epochs: 1, lastEpochShare: 0.5 });
    const fiveThree = gradualFinetune(5, 3);
    assert.equal(fiveThree.epochs, 2);
    assert.ok(Math.abs(fiveThree.lastEpochShare - 2 / 3) < 1e-12);
    assert.deepEqual(gradualFinetune(6, 3), { epochs: 2, lastEpochShare: 1 });
  });

  it("fitMLP's lastEpochShare trains that share of the last epoch's batches (the gradual schedule's fractional epochs)", async () => {
    // 2,000 rows in batches of 500 without shuffling: half an epoch is the batches of rows 0-999,
    // exactly one epoch over those 1,000 rows.
    const half = await fitMLP(model(), splits, { epochs: 1, batchSize: 500, shuffle: false, lastEpochShare: 0.5 });
    const firstRows = { ...splits, train: sliceRows(splits.train!, 0, 1000) };
    const whole = await fitMLP(model(), firstRows, { epochs: 1, batchSize: 500, shuffle: false });
    const full = await fitMLP(model(), splits, { epochs: 1, batchSize: 500, shuffle: false });
    half.mlp.layers.forEach((layer, l) => {
      assert.deepEqual(layer.weights, whole.mlp.layers[l].weights, `layer ${l}`);
      assert.deepEqual(layer.bias, whole.mlp.layers[l].bias, `layer ${l} bias`);
    });
    assert.notDeepEqual(half.mlp.layers[0].weights, full.mlp.layers[0].weights);
    assert.equal(half.history.options.lastEpochShare, 0.5);
    assert.equal(full.history.options.lastEpochShare, undefined);
    await assert.rejects(fitMLP(model(), splits, { epochs: 1, lastEpochShare: 1.5 }), /last epoch share must be in \(0, 1\]/);
  });

  it('gradual magnitude pruning follows the ramp, masks only grow, each step re-scores the trained weights', async () => {
    const s = await steps('magnitude', 'gradual', 0.8, 4, 2);
    const targets = [0.4625, 0.7, 0.7875, 0.8];
    assert.deepEqual(
      s.map((x) => x.step.iteration),
      [1, 2, 3, 4],
    );
    // Half an epoch per step: 0.5, 1, 1.5, 2 epochs so far, reported in whole epochs.
    assert.deepEqual(
      s.map((x) => x.step.finetuneEpochs),
      [1, 1, 2, 2],
    );
    s.forEach(({ step, keep }, k) => {
      for (let l = 0; l < 2; l++) {
        const w = step.mlp.layers[l].weights;
        let pruned = 0;
        for (let i = 0; i < w.length; i++) {
          if (!keep[l][i]) {
            pruned++;
            assert.equal(w[i], 0, `step ${k + 1} layer ${l} weight ${i} is pruned but ${w[i]}`);
          }
        }
        // Per layer, round(share * weights) go (784 x 40 and 40 x 30 weights).
        assert.equal(pruned, Math.round(targets[k] * w.length), `step ${k + 1} layer ${l}`);
      }
      assert.deepEqual(
        step.mlp.layers[2].weights.some((v) => v === 0),
        false,
        'the output layer is not pruned',
      );
    });
    for (let k = 1; k < s.length; k++) {
      for (let l = 0; l < 2; l++) {
        const before = s[k - 1].keep[l];
        const now = s[k].keep[l];
        const trained = s[k - 1].step.mlp.layers[l].weights;
        let newlyPrunedMax = 0;
        let keptMin = Infinity;
        for (let i = 0; i < now.length; i++) {
          assert.ok(before[i] || !now[i], `step ${k + 1} layer ${l}: weight ${i} came back`);
          if (before[i] && !now[i]) newlyPrunedMax = Math.max(newlyPrunedMax, Math.abs(trained[i]));
          if (now[i]) keptMin = Math.min(keptMin, Math.abs(trained[i]));
        }
        // Ranked on the previous step's fine-tuned weights, not the original's.
        assert.ok(newlyPrunedMax <= keptMin, `step ${k + 1} layer ${l}: pruned |w| up to ${newlyPrunedMax}, kept from ${keptMin}`);
      }
      // Training went on between steps: kept weights moved.
      const a = s[k - 1].step.mlp.layers[1].weights;
      const b = s[k].step.mlp.layers[1].weights;
      assert.ok(
        a.some((v, i) => s[k].keep[1][i] && v !== b[i]),
        `step ${k + 1}: no kept weight changed`,
      );
    }
  });

  it('gradual unit pruning removes units step by step, each step a share of what is left', async () => {
    // Targets 0.75 (1 - 1/8) = 0.65625, then 0.75: 40 units lose round(26.25) = 26, then
    // round((1 - 0.25 / 0.34375) * 14) = round(3.82) = 4; 30 units lose round(19.69) = 20, then round(2.73) = 3.
    const s = await steps('unit-l2', 'gradual', 0.75, 2, 1);
    assert.deepEqual(
      s.map((x) => x.step.mlp.layers.map((l) => l.units)),
      [
        [14, 10, 10],
        [10, 7, 10],
      ],
    );
    assert.deepEqual(
      s.map((x) => x.step.finetuneEpochs),
      [1, 1],
    );
  });

  it('a short gradual run to 90% keeps far more accuracy than one-shot pruning of the same model', async () => {
    const mnist = await loadDataset('mnist');
    const data: DatasetSplits = { ...splits, train: sliceRows(mnist.train!, 0, 10000) };
    const trained = (await fitMLP(model(), data, { epochs: 3, batchSize: 128, seed: 2 })).mlp;
    const base = (await evaluate(trained, data.validation!)).accuracy;
    const gradual = await steps('magnitude', 'gradual', 0.9, 3, 3, trained, data);
    const oneShot = await steps('magnitude', 'one-shot', 0.9, 1, 0, trained, data);
    const g = (await evaluate(gradual[gradual.length - 1].step.mlp, data.validation!)).accuracy;
    const o = (await evaluate(oneShot[0].step.mlp, data.validation!)).accuracy;
    assert.ok(base > 0.8, `the trained model: ${base}`);
    assert.ok(g > 0.8 && g > o + 0.05, `gradual ${g}, one-shot ${o}, original ${base}`);
    const last = gradual[gradual.length - 1];
    for (let l = 0; l < 2; l++) {
      const zeros = last.step.mlp.layers[l].weights.filter((v) => v === 0).length;
      assert.equal(zeros, Math.round(0.9 * last.step.mlp.layers[l].weights.length), `layer ${l} ends at the target`);
    }
  });

  it('the gradual schedule needs fine-tuning epochs', async () => {
    await assert.rejects(steps('magnitude', 'gradual', 0.5, 3, 0), (e: Error) => {
      assert.equal(e.name, 'PruneScopeError');
      assert.match(e.message, /gradual schedule prunes during fine-tuning: give fine-tuning epochs to spread over its 3 steps/);
      return true;
    });
  });
});
