import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizationParam, overridesFromArgs, readSettings, resolveDatasetSpec, withOverrides } from './settings';
import { parseLayerSizes, parseSparsity, targetsFromArgs } from './targets';

test('settings: defaults when nothing is set', () => {
  const { settings, problems } = readSettings(() => undefined);
  assert.deepEqual(problems, []);
  assert.equal(settings.backend, 'auto');
  assert.equal(settings.dataset, 'mnist');
  assert.equal(settings.samples, 1000);
  assert.equal(settings.pruneStrategy, 'unit-l2');
  assert.equal(settings.pruneSparsity, 0.5);
  assert.equal(settings.sparsities.length, 9);
});

test('settings: a bad value falls back to its default and is reported', () => {
  const values: Record<string, unknown> = { backend: 'gpu', samples: -3, sparsities: [0.9, 0.1, 0.1], iterations: 2 };
  const { settings, problems } = readSettings((k) => values[k]);
  assert.equal(settings.backend, 'auto');
  assert.equal(settings.samples, 1000);
  assert.equal(settings.iterations, 2);
  // Sorted and without duplicates.
  assert.deepEqual(settings.sparsities, [0.1, 0.9]);
  assert.equal(problems.length, 2);
  assert.match(problems[0], /prunescope\.backend/);
  assert.match(problems[1], /prunescope\.samples/);
});

test('settings: dataset paths resolve against the workspace folder; mnist stays', () => {
  assert.equal(resolveDatasetSpec('mnist', '/w'), 'mnist');
  assert.equal(resolveDatasetSpec('MNIST', '/w'), 'mnist');
  assert.equal(resolveDatasetSpec('data/x.npz', '/w'), '/w/data/x.npz');
  assert.equal(resolveDatasetSpec('/abs/x.npz', '/w'), '/abs/x.npz');
  assert.equal(normalizationParam('auto'), undefined);
  assert.equal(normalizationParam('zscore'), 'zscore');
});

const file = (fsPath: string) => ({ scheme: 'file', fsPath });

test('command arguments: explorer multi-selection, clicked file, nothing', () => {
  // Explorer with two selected: (clicked, [selected...]).
  assert.deepEqual(targetsFromArgs([file('/a.onnx'), [file('/a.onnx'), file('/b.onnx')]]), ['/a.onnx', '/b.onnx']);
  // Explorer single / editor title: (uri, context).
  assert.deepEqual(targetsFromArgs([file('/a.onnx'), { groupId: 1 }]), ['/a.onnx']);
  // Palette.
  assert.deepEqual(targetsFromArgs([]), []);
  // Non-file URIs and duplicates are dropped.
  assert.deepEqual(targetsFromArgs([file('/a'), [file('/a'), { scheme: 'untitled', fsPath: 'x' }, file('/a')]]), ['/a']);
  assert.deepEqual(targetsFromArgs(['not a uri', 3]), []);
});

test('input parsing: sparsity and layer sizes', () => {
  assert.equal(parseSparsity('50%'), 0.5);
  assert.equal(parseSparsity('0.25'), 0.25);
  assert.equal(parseSparsity('30'), 0.3);
  assert.equal(parseSparsity('100%'), undefined);
  assert.equal(parseSparsity('abc'), undefined);
  assert.equal(parseSparsity(''), undefined);
  assert.deepEqual(parseLayerSizes('1000, 500,200'), [1000, 500, 200]);
  assert.equal(parseLayerSizes('10, -1'), undefined);
  assert.equal(parseLayerSizes('1.5'), undefined);
  assert.equal(parseLayerSizes(''), undefined);
});

test('settings: a command options object overrides settings for one run', () => {
  const uri = { scheme: 'file', fsPath: '/w/m.onnx' };
  // An editor title menu passes a context object of its own: no overrides, no error.
  assert.deepEqual(overridesFromArgs([uri, { groupId: 1 }]), {});
  assert.deepEqual(overridesFromArgs([uri]), {});
  const o = overridesFromArgs([uri, { strategies: ['magnitude', 'unit-l2'], sparsities: [0.5, 0.25, 0.5], samples: 200 }]);
  assert.deepEqual(o, { strategies: ['magnitude', 'unit-l2'], sparsities: [0.5, 0.25, 0.5], samples: 200 });
  const merged = withOverrides(readSettings(() => undefined).settings, o);
  assert.deepEqual(merged.sparsities, [0.25, 0.5]);
  assert.equal(merged.samples, 200);
  assert.equal(merged.finetuneEpochs, 0, 'what is not overridden keeps its setting');
  assert.throws(() => overridesFromArgs([uri, { sparsities: [1.5] }]), /options are not valid: sparsities\.0/);
  assert.throws(() => overridesFromArgs([{ strategies: [] }]), /strategies/);
});
