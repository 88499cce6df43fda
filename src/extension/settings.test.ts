import { AUTO_STRATEGY } from '../core/experiments/prune-model';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../test/fixtures';
import { ENGINE_PREFERENCES } from '../core/backend';
import { REMOVED_UNITS } from '../core/prune/apply';
import { enginePreferenceSchema } from '../shared/jobs';
import { PRUNE_STRATEGY_IDS } from '../core/prune/registry';
import {
  normalizationParam,
  overridesFromArgs,
  pruningParams,
  readSettings,
  resolveDatasetSpec,
  SETTING_KEYS,
  withOverrides,
} from './settings';
import { parseLayerSizes, parseSparsity, targetsFromArgs } from './targets';

test('settings: defaults when nothing is set', () => {
  const { settings, problems } = readSettings(() => undefined);
  assert.deepEqual(problems, []);
  assert.equal(settings.backend, 'auto');
  assert.equal(settings.engine, 'auto');
  assert.equal(settings.dataset, 'mnist');
  assert.equal(settings.samples, 1000);
  assert.equal(settings.pruneStrategy, 'auto');
  assert.equal(settings.pruneSparsity, 0.5);
  assert.equal(settings.sparsities.length, 9);
  // Prune Model and the analysis compensate unless told not to.
  assert.equal(settings.compensate, true);
  assert.equal(settings.calibrationRows, 2048);
  assert.equal(settings.removedUnits, 'constant');
  assert.equal(settings.pattern, '');
  assert.deepEqual(pruningParams(settings), { compensate: true, calibration: 2048, removedUnits: 'constant' });
});

interface ConfigProperty {
  default: unknown;
  enum?: string[];
  items?: { enum?: string[] };
  pattern?: string;
}

function configuration(): Record<string, ConfigProperty> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, ConfigProperty> } };
  };
  return pkg.contributes.configuration.properties;
}

test('package.json declares every setting, with the defaults the extension falls back to, and every strategy', () => {
  const declared = configuration();
  assert.deepEqual(Object.keys(declared).sort(), SETTING_KEYS.map((k) => `prunescope.${k}`).sort());
  const { settings } = readSettings(() => undefined);
  for (const key of SETTING_KEYS) assert.deepEqual(declared[`prunescope.${key}`].default, settings[key], `prunescope.${key}`);
  // Both strategy settings offer exactly the registry's strategies, in its order.
  assert.deepEqual(declared['prunescope.strategies'].items?.enum, [...PRUNE_STRATEGY_IDS]);
  assert.deepEqual(declared['prunescope.pruneStrategy'].enum, [AUTO_STRATEGY, ...PRUNE_STRATEGY_IDS]);
  assert.deepEqual(declared['prunescope.removedUnits'].enum, [...REMOVED_UNITS]);
  // The setting, the worker's job parameter and the core's engine choice name the same engines.
  assert.deepEqual(declared['prunescope.engine'].enum, [...ENGINE_PREFERENCES]);
  assert.deepEqual(enginePreferenceSchema.options, [...ENGINE_PREFERENCES]);
  // The settings editor's check of a pattern and the extension's agree on what is N:M.
  const editorAccepts = new RegExp(declared['prunescope.pattern'].pattern!);
  for (const text of ['', '2:4', ' 4 : 8 ', '2-4', '2:4:8', 'x']) {
    const r = readSettings((k) => (k === 'pattern' ? text : undefined));
    assert.equal(r.problems.length === 0, editorAccepts.test(text), `"${text}"`);
  }
});

test('settings: compensation, calibration rows, removed units and an N:M pattern reach the jobs', () => {
  const values: Record<string, unknown> = { compensate: false, calibrationRows: 500, removedUnits: 'silent', pattern: ' 2 : 4 ' };
  const { settings, problems } = readSettings((k) => values[k]);
  assert.deepEqual(problems, []);
  assert.deepEqual(pruningParams(settings), { compensate: false, calibration: 500, removedUnits: 'silent', pattern: '2:4' });
  // N must be below M and above 0; a calibration of one row cannot be refit on.
  const bad = readSettings((k) => ({ pattern: '4:2', calibrationRows: 1, removedUnits: 'gone' })[k]);
  assert.deepEqual(
    bad.problems.map((p) => p.split(':')[0]),
    ['prunescope.calibrationRows', 'prunescope.removedUnits', 'prunescope.pattern'],
  );
  assert.match(bad.problems[2], /0 < N < M/);
  assert.deepEqual(pruningParams(bad.settings), { compensate: true, calibration: 2048, removedUnits: 'constant' });
  // A command's options may turn compensation off for one run.
  const o = overridesFromArgs([{ compensate: false, pattern: '4:8' }]);
  assert.deepEqual(pruningParams(withOverrides(settings, o)), {
    compensate: false,
    calibration: 500,
    removedUnits: 'silent',
    pattern: '4:8',
  });
  assert.throws(() => overridesFromArgs([{ pattern: '8:4' }]), /options are not valid: pattern/);
});

test('settings: a bad value falls back to its default and is reported', () => {
  const values: Record<string, unknown> = { backend: 'gpu', engine: 'cuda', samples: -3, sparsities: [0.9, 0.1, 0.1], iterations: 2 };
  const { settings, problems } = readSettings((k) => values[k]);
  assert.equal(settings.backend, 'auto');
  assert.equal(settings.engine, 'auto');
  assert.equal(settings.samples, 1000);
  assert.equal(settings.iterations, 2);
  // Sorted and without duplicates.
  assert.deepEqual(settings.sparsities, [0.1, 0.9]);
  assert.equal(problems.length, 3);
  assert.match(problems[0], /prunescope\.backend/);
  assert.match(problems[1], /^prunescope\.engine: .*"onnxruntime".*; using the default$/);
  assert.match(problems[2], /prunescope\.samples/);
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
