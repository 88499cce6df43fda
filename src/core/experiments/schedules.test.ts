import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../backend';
import { sliceRows } from '../data/dataset';
import { loadDataset } from '../data/load';
import type { DatasetSplits } from '../data/dataset';
import { strategyById } from '../prune/registry';
import { initMLP } from '../train/fit';
import { pruneWithSchedule, roundTargets, type Lineage, type ScheduleStep } from './schedules';

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
  schedule: 'one-shot' | 'iterative' | 'imp-rewind' | 'trimming',
  target: number,
  iterations: number,
  finetuneEpochs: number,
) {
  const out: { step: ScheduleStep; lineage: Lineage }[] = [];
  await pruneWithSchedule(
    model(),
    strategyById(strategy),
    { schedule, target, iterations, finetuneEpochs, seed: 1, includeOutput: false, samples: splits.validation, sampleCount: 200, splits },
    async (step, lineage) => {
      out.push({ step, lineage });
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
});
