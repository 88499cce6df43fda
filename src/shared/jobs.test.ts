import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readModel } from '../core/formats/registry';
import { summarizeModel } from '../core/model/summary';
import { built } from '../../test/kits/encode/models';
import { sampleAnalysis, sampleComparison } from '../../webview-ui/src/sample-results';
import { checkJobParams, checkJobResult, jobOutputs } from './jobs';

test('job parameters: defaults are filled in, wrong ones are named', () => {
  const ok = checkJobParams('evaluate', { model: '/m.onnx', dataset: 'mnist' });
  assert.ok(ok.ok);
  assert.equal(ok.value.backend, 'auto');
  assert.equal(ok.value.split, 'test');
  const bad = checkJobParams('analyze', {
    model: '/m.onnx',
    dataset: 'mnist',
    strategies: [],
    sparsities: [0.5],
    finetuneEpochs: 0,
    iterations: 1,
    samples: 10,
  });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.problem : '', /invalid analyze parameters: strategies/);
  const sparsity = checkJobParams('prune', { model: '/m', out: '/o', strategy: 'x', sparsity: 1.5, finetuneEpochs: 0, samples: 1 });
  assert.match(!sparsity.ok ? sparsity.problem : '', /sparsity/);
  assert.equal(checkJobParams('train', null).ok, false);
});

test('job results: an inspect result of a real model passes; a malformed one is named', async () => {
  const path = built('onnx/mnist2x10.onnx');
  const summary = summarizeModel(await readModel(path));
  assert.ok(checkJobResult('inspect', { summary, files: [path], bytes: 1 }).ok);
  const bad = checkJobResult('inspect', { summary: { ...summary, layers: 'many' }, files: [], bytes: 0 });
  assert.match(!bad.ok ? bad.problem : '', /malformed inspect result: summary\.layers/);
  assert.ok(checkJobResult('analyze', sampleAnalysis()).ok);
  assert.equal(checkJobResult('analyze', sampleComparison()).ok, false);
});

test('job outputs: the jobs that write files name them', () => {
  assert.deepEqual(jobOutputs('prune', { model: '/m.onnx', out: '/o.onnx' }), ['/o.onnx']);
  assert.deepEqual(jobOutputs('train', { out: '/models/mlp' }), ['/models/mlp']);
  assert.deepEqual(jobOutputs('analyze', { model: '/m.onnx', out: '/x' }), []);
  assert.deepEqual(jobOutputs('prune', null), []);
});

test('job parameters: the pruning fields of prune and analyze are checked before any work', () => {
  const prune = { model: '/m.onnx', out: '/o.onnx', strategy: 'wanda', sparsity: 0.5, finetuneEpochs: 0, samples: 10 };
  const ok = checkJobParams('prune', { ...prune, compensate: true, calibration: 512, removedUnits: 'silent', pattern: '2:4' });
  assert.ok(ok.ok);
  assert.deepEqual([ok.value.compensate, ok.value.calibration, ok.value.removedUnits, ok.value.pattern], [true, 512, 'silent', '2:4']);
  const problem = (p: object) => {
    const r = checkJobParams('prune', { ...prune, ...p });
    return r.ok ? 'accepted' : r.problem;
  };
  assert.match(problem({ pattern: '0:4' }), /pattern: N:M needs 0 < N < M/);
  assert.match(problem({ pattern: '4:4' }), /pattern/);
  assert.match(problem({ pattern: '2/4' }), /pattern: not N:M/);
  assert.match(problem({ calibration: 1 }), /calibration/);
  assert.match(problem({ removedUnits: 'zero' }), /removedUnits/);
  const analyze = {
    model: '/m.onnx',
    dataset: 'mnist',
    strategies: ['magnitude'],
    sparsities: [0.5],
    finetuneEpochs: 0,
    iterations: 1,
    samples: 10,
  };
  assert.ok(checkJobParams('analyze', { ...analyze, compensate: true, calibration: 2048 }).ok);
  assert.equal(checkJobParams('analyze', { ...analyze, pattern: '8:4' }).ok, false);
});
