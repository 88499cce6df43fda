import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  answersGiven,
  applyAnswer,
  datasetRows,
  defaultChoices,
  estimateSeconds,
  FLOPS_PER_SECOND,
  FLOW_STEPS,
  formatEstimate,
  ifExistsOption,
  JOB_OVERHEAD_S,
  MNIST_ROWS,
  parseSparsities,
  POINT_OVERHEAD_S,
  stepSpec,
  type FlowChoices,
  type FlowContext,
  type FlowKind,
  type StrategyInfo,
  type Workload,
} from './prune-flow';
import { readSettings } from './settings';

const STRATEGIES: StrategyInfo[] = [
  { id: 'magnitude', kind: 'unstructured', description: 'smallest |w|', needsSamples: false },
  { id: 'unit-l2', kind: 'structured', description: 'units by L2 norm', needsSamples: false },
  { id: 'apoz', kind: 'structured', description: 'units by APoZ', needsSamples: true },
];
const CTX: FlowContext = { modelName: 'm.onnx', strategies: STRATEGIES };

function settingsFrom(values: Record<string, unknown>) {
  const { settings, problems } = readSettings((k) => values[k]);
  assert.deepEqual(problems, []);
  return settings;
}

/** Enter on every step: what each step shows active, applied in order. */
function enterThrough(kind: FlowKind, start: FlowChoices, ctx: FlowContext = CTX): FlowChoices {
  let c = start;
  for (const id of FLOW_STEPS) {
    const spec = stepSpec(kind, id, ctx, c);
    const taken = spec.items.filter((i) => spec.active.includes(i.label));
    assert.ok(taken.length > 0, `step ${id} shows nothing active`);
    const answer = spec.canPickMany ? { strategies: taken.flatMap((i) => i.value.strategies ?? []) } : taken[0].value;
    c = applyAnswer(c, answer);
  }
  return c;
}

test('defaults come from the settings: Prune Model from prunescope.prune*, the analysis from the lists', () => {
  const plain = settingsFrom({});
  assert.deepEqual(defaultChoices('prune', plain), {
    strategies: ['auto'],
    sparsities: [0.5],
    compensate: true,
    finetuneEpochs: 0,
    iterations: 1,
  });
  const s = settingsFrom({
    strategies: ['magnitude', 'apoz'],
    sparsities: [0.9, 0.5],
    finetuneEpochs: 2,
    iterations: 3,
    compensate: false,
    pruneStrategy: 'unit-l2',
    pruneSparsity: 0.8,
  });
  assert.deepEqual(defaultChoices('analyze', s), {
    strategies: ['magnitude', 'apoz'],
    sparsities: [0.5, 0.9],
    compensate: false,
    finetuneEpochs: 2,
    iterations: 3,
  });
  // Prune Model takes the rounds of prunescope.iterations too, when it fine-tunes.
  assert.deepEqual(defaultChoices('prune', s), {
    strategies: ['unit-l2'],
    sparsities: [0.8],
    compensate: false,
    finetuneEpochs: 2,
    iterations: 3,
  });
  assert.equal(defaultChoices('prune', settingsFrom({ iterations: 4 })).iterations, 1);
  // Iterative rounds retrain: without epochs the analysis is one-shot.
  assert.equal(defaultChoices('analyze', settingsFrom({ iterations: 4 })).iterations, 1);
});

test('five steps with "n/5" titles, and Enter on each accepts the settings', () => {
  const s = settingsFrom({ strategies: ['magnitude', 'unit-l2'], sparsities: [0.3, 0.6], finetuneEpochs: 1, iterations: 2 });
  for (const kind of ['prune', 'analyze'] as const) {
    const start = defaultChoices(kind, s);
    // VS Code draws "(n/5)" after the title from step and totalSteps.
    const specs = FLOW_STEPS.map((id) => stepSpec(kind, id, CTX, start));
    const verb = kind === 'prune' ? 'Prune m.onnx' : 'Pruning analysis of m.onnx';
    assert.deepEqual(
      specs.map((s) => [s.title, s.step, s.totalSteps]),
      [
        [`${verb}: ${kind === 'prune' ? 'strategy' : 'strategies'}`, 1, 5],
        [`${verb}: ${kind === 'prune' ? 'sparsity' : 'sparsities'}`, 2, 5],
        [`${verb}: compensation`, 3, 5],
        [`${verb}: fine-tuning`, 4, 5],
        [`${verb}: schedule and estimate`, 5, 5],
      ],
    );
    assert.deepEqual(enterThrough(kind, start), start, kind);
  }
  const prune = stepSpec('prune', 'strategy', CTX, defaultChoices('prune', s));
  assert.equal(prune.canPickMany, false);
  assert.deepEqual(
    prune.items.map((i) => i.label),
    ['auto', 'magnitude', 'unit-l2', 'apoz'],
  );
  assert.deepEqual(prune.active, ['auto']);
  const analysis = stepSpec('analyze', 'strategy', CTX, defaultChoices('analyze', s));
  assert.equal(analysis.canPickMany, true);
  assert.deepEqual(analysis.active, ['magnitude', 'unit-l2']);
  assert.ok(!analysis.items.some((i) => i.label === 'auto'), 'auto is Prune Model only');
  // A strategy the settings name but the worker does not describe is still offered, marked.
  const odd = stepSpec('analyze', 'strategy', CTX, { ...defaultChoices('analyze', s), strategies: ['mine'] });
  assert.equal(odd.items.find((i) => i.label === 'mine')?.description, 'not known to this version');
});

test('sparsities are typed as percentages; presets offer what the settings do not already', () => {
  assert.deepEqual(parseSparsities('50', 'prune'), [0.5]);
  assert.deepEqual(parseSparsities(' 97.5% ', 'prune'), [0.975]);
  assert.deepEqual(parseSparsities('30, 10 20,20', 'analyze'), [0.1, 0.2, 0.3]);
  assert.deepEqual(parseSparsities('0', 'analyze'), [0]);
  assert.match(parseSparsities('100', 'analyze') as string, /"100" is not a percentage from 0 up to 100/);
  assert.match(parseSparsities('0.5x', 'analyze') as string, /"0.5x"/);
  assert.match(parseSparsities('-5', 'analyze') as string, /"-5"/);
  assert.match(parseSparsities('', 'analyze') as string, /type a percentage/);
  assert.match(parseSparsities('10 20', 'prune') as string, /one percentage/);

  const spec = stepSpec('prune', 'sparsity', CTX, { ...defaultChoices('prune', settingsFrom({})), sparsities: [0.9] });
  assert.deepEqual(
    spec.items.map((i) => i.label),
    ['90 %', '50 %', '70 %', '80 %', '95 %', '98 %'],
  );
  assert.deepEqual(spec.active, ['90 %']);
  assert.deepEqual(spec.parse?.('12.5'), { value: { sparsities: [0.125] }, label: '12.5 %' });
  assert.deepEqual(spec.parse?.('abc'), { error: '"abc" is not a percentage from 0 up to 100 (e.g. 50 or 97.5)' });
  const lists = stepSpec('analyze', 'sparsity', CTX, defaultChoices('analyze', settingsFrom({})));
  // The default settings are the "every 10 %" preset: listed once, as the current choice.
  assert.deepEqual(
    lists.items.map((i) => [i.label, i.description]),
    [
      ['10, 20, 30, 40, 50, 60, 70, 80, 90 %', 'current'],
      ['80, 90, 95, 98, 99 %', 'high sparsity'],
      ['25, 50, 75 %', 'coarse'],
    ],
  );
});

test('compensation, fine-tuning and schedule offer what fits the earlier answers', () => {
  const start = defaultChoices('analyze', settingsFrom({ compensate: false }));
  const comp = stepSpec('analyze', 'compensation', CTX, start);
  assert.deepEqual(comp.active, ['No compensation']);
  assert.deepEqual(
    comp.items.map((i) => i.value),
    [{ compensate: true }, { compensate: false }],
  );
  const ft = stepSpec('analyze', 'finetune', CTX, { ...start, finetuneEpochs: 4 });
  assert.deepEqual(
    ft.items.map((i) => i.label),
    [
      '4 epochs of fine-tuning',
      'No fine-tuning',
      '1 epoch of fine-tuning',
      '2 epochs of fine-tuning',
      '3 epochs of fine-tuning',
      '5 epochs of fine-tuning',
      '10 epochs of fine-tuning',
    ],
  );
  assert.deepEqual(ft.parse?.('7'), { value: { finetuneEpochs: 7 }, label: '7 epochs of fine-tuning' });
  assert.ok('error' in (ft.parse?.('-1') ?? {}));
  assert.ok('error' in (ft.parse?.('1.5') ?? {}));

  // Without epochs there is only one-shot, and the step says how to get more.
  const noEpochs = stepSpec('analyze', 'schedule', CTX, start);
  assert.deepEqual(
    noEpochs.items.map((i) => i.label),
    ['One-shot'],
  );
  assert.match(noEpochs.placeholder, /go Back and give fine-tuning epochs/);
  const withEpochs = stepSpec('analyze', 'schedule', CTX, { ...start, finetuneEpochs: 2, iterations: 3 });
  assert.deepEqual(
    withEpochs.items.map((i) => i.label),
    ['One-shot', 'Iterative, 3 rounds', 'Iterative, 2 rounds', 'Iterative, 5 rounds'],
  );
  assert.deepEqual(withEpochs.active, ['Iterative, 3 rounds']);
  const prune = stepSpec('prune', 'schedule', CTX, { ...defaultChoices('prune', settingsFrom({})), finetuneEpochs: 2 });
  assert.deepEqual(
    prune.items.map((i) => i.label),
    ['One-shot', 'Iterative, 2 rounds', 'Iterative, 3 rounds', 'Iterative, 5 rounds'],
  );
  assert.match(prune.placeholder, /^Schedule \(Enter: prunescope.iterations\)/);
  // Going to zero epochs after choosing rounds makes the schedule one-shot again.
  assert.equal(applyAnswer({ ...start, finetuneEpochs: 2, iterations: 3 }, { finetuneEpochs: 0 }).iterations, 1);
});

// A 784-1000-1000-10 MLP: 784,000 + 1,000,000 + 10,000 = 1,794,000 weights.
const BIG: Workload = {
  layers: [
    { inputSize: 784, units: 1000 },
    { inputSize: 1000, units: 1000 },
    { inputSize: 1000, units: 10 },
  ],
  trainRows: 55_000,
  evalRows: 10_000,
  validationRows: 5_000,
  samples: 1000,
  calibrationRows: 2048,
};
const W = 1_794_000;
const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a}, expected ${b}`);

test('the estimate follows the documented cost model (hand-worked)', () => {
  const plain: FlowChoices = { strategies: ['unit-l2'], sparsities: [0.5], compensate: false, finetuneEpochs: 0, iterations: 1 };
  // Scoring forward on 1000 samples, then the original and the pruned model on 10,000 test rows.
  const prune = 2 * W * 1000 + 2 * (2 * W * 10_000);
  near(estimateSeconds('prune', plain, STRATEGIES, BIG), JOB_OVERHEAD_S + prune / FLOPS_PER_SECOND, 'prune');
  // One epoch trains the pruned (half) model on 55,000 rows at 6 FLOPs per weight.
  const epoch = 6 * (W / 2) * 55_000;
  near(
    estimateSeconds('prune', { ...plain, finetuneEpochs: 1 }, STRATEGIES, BIG),
    JOB_OVERHEAD_S + (prune + epoch) / FLOPS_PER_SECOND,
    '1 epoch',
  );
  // Unstructured pruning keeps the dense shape: the epoch costs the whole model.
  near(
    estimateSeconds('prune', { ...plain, strategies: ['magnitude'], finetuneEpochs: 1 }, STRATEGIES, BIG),
    JOB_OVERHEAD_S + (prune + 2 * epoch) / FLOPS_PER_SECOND,
    'unstructured epoch',
  );
  // Measured with the CLI on a busy 2-core machine: 5.2-7.5 s plain, 15 s with one epoch; the estimate says 7.0 and 18.8.
  assert.ok(Math.abs(estimateSeconds('prune', plain, STRATEGIES, BIG) - 7.01392) < 1e-4);
  assert.ok(Math.abs(estimateSeconds('prune', { ...plain, finetuneEpochs: 1 }, STRATEGIES, BIG) - 18.85432) < 1e-4);

  // Compensation of a 4 -> 2 layer on min(2048, 3) = 3 rows: 2*3*16 + 64/3 + 2*16*2 FLOPs.
  const tiny: Workload = {
    layers: [{ inputSize: 4, units: 2 }],
    trainRows: 0,
    evalRows: 0,
    validationRows: 3,
    samples: 0,
    calibrationRows: 2048,
  };
  near(
    estimateSeconds('prune', { ...plain, compensate: true }, STRATEGIES, tiny) - JOB_OVERHEAD_S,
    (96 + 64 / 3 + 64) / FLOPS_PER_SECOND,
    'compensation',
  );
  // auto: three candidates, each judged on the 5,000 validation rows, then the two evaluations.
  near(
    estimateSeconds('prune', { ...plain, strategies: ['auto'] }, STRATEGIES, BIG),
    JOB_OVERHEAD_S + (3 * (2 * W * 1000 + 2 * W * 5000) + 2 * (2 * W * 10_000)) / FLOPS_PER_SECOND,
    'auto',
  );
});

test('the analysis estimate counts every strategy, variant, sparsity and round', () => {
  const c: FlowChoices = {
    strategies: ['unit-l2', 'magnitude'],
    sparsities: [0.5, 0.9],
    compensate: false,
    finetuneEpochs: 0,
    iterations: 1,
  };
  const evaluate = 2 * W * 10_000;
  // Similarity: Gram matrices of 1000 samples per layer (1000 + 1000 + 10 units), plus the forward pass.
  const similarity = 2 * 1000 * 1000 * 2010 + 2 * W * 1000;
  const point = 2 * W * 1000 + evaluate + similarity;
  const expected = JOB_OVERHEAD_S + 4 * POINT_OVERHEAD_S + (evaluate + similarity + 4 * point) / FLOPS_PER_SECOND;
  near(estimateSeconds('analyze', c, STRATEGIES, BIG), expected, 'analysis');
  // Measured with the CLI: 15.7 s for these four points; the estimate says 17.2 s.
  assert.ok(Math.abs(expected - 17.2) < 0.1, String(expected));
  // Compensation doubles the points (plain and compensated); rounds multiply the pruning work.
  const comp = estimateSeconds('analyze', { ...c, compensate: true }, STRATEGIES, BIG);
  assert.ok(comp > 2 * (expected - JOB_OVERHEAD_S) && comp < 2 * expected + 10, String(comp));
  const ft = { ...c, finetuneEpochs: 1 };
  const rounds = estimateSeconds('analyze', { ...ft, iterations: 3 }, STRATEGIES, BIG) - estimateSeconds('analyze', ft, STRATEGIES, BIG);
  const perRound = (2 * W * 1000 * 4 + 6 * 55_000 * (W * 0.5 + W * 0.1 + W + W)) / FLOPS_PER_SECOND;
  near(rounds, 2 * perRound, 'two more rounds');
});

test('the schedule step shows the estimate of each schedule, said to be an estimate', () => {
  const c: FlowChoices = { strategies: ['unit-l2'], sparsities: [0.5], compensate: false, finetuneEpochs: 2, iterations: 3 };
  const spec = stepSpec('analyze', 'schedule', { ...CTX, workload: BIG }, c);
  const times = spec.items.map((i) => i.description);
  assert.ok(
    times.every((t) => t && /^about .* \(estimate\)$/.test(t)),
    times.join(' | '),
  );
  assert.equal(spec.items[0].description, formatEstimate(estimateSeconds('analyze', { ...c, iterations: 1 }, STRATEGIES, BIG)));
  assert.match(spec.placeholder, /times are estimates$/);
  // No workload (the model could not be read): no times, the questions still work.
  assert.equal(stepSpec('analyze', 'schedule', CTX, c).items[0].description, undefined);
});

test('estimates read as rounded durations', () => {
  assert.equal(formatEstimate(1), 'about 5 s (estimate)');
  assert.equal(formatEstimate(18.85), 'about 20 s (estimate)');
  assert.equal(formatEstimate(200), 'about 3 min (estimate)');
  assert.equal(formatEstimate(5400), 'about 1.5 h (estimate)');
});

test('dataset rows: MNIST known, another dataset guessed from its bytes', () => {
  assert.deepEqual(datasetRows('MNIST', undefined, 784), MNIST_ROWS);
  assert.deepEqual(MNIST_ROWS, { train: 55_000, validation: 5_000, test: 10_000 });
  // 40,000 bytes of 10 float32 values a row: 1,000 rows, split 80/10/10.
  assert.deepEqual(datasetRows('/d/x.npz', 40_000, 10), { train: 800, validation: 100, test: 100 });
});

test('a call with options asks nothing; an editor menu context object still asks', () => {
  assert.equal(answersGiven([], {}), false);
  assert.equal(answersGiven([{ groupId: 1 }], {}), false);
  assert.equal(answersGiven([{}, { useDefaults: true }], {}), true);
  assert.equal(answersGiven([{ pruneSparsity: 0.9 }], { pruneSparsity: 0.9 }), true);
  assert.equal(answersGiven([{ useDefaults: 'yes' }], {}), false);
  assert.equal(ifExistsOption([{ useDefaults: true }]), undefined);
  assert.equal(ifExistsOption(['x', { ifExists: 'replace' }]), 'replace');
  assert.throws(() => ifExistsOption([{ ifExists: 'overwrite' }]), /ifExists: expected 'open', 'replace' or 'keep'/);
});
