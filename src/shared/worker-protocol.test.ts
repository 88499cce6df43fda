import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readModel } from '../core/formats/registry';
import { summarizeModel } from '../core/model/summary';
import { fixture } from '../../test/fixtures';
import { sampleAnalysis, sampleComparison } from '../../webview-ui/src/sample-results';
import { parseFromWebview, parseToWebview, parseWebviewState } from './webview-protocol';
import { checkJobParams, checkJobResult, jobOutputs, memoryFailure, outOfMemoryMessage, parseFromWorker, parseToWorker } from './worker-protocol';

test('worker protocol: valid messages pass, unknown or malformed ones are rejected', () => {
  assert.deepEqual(parseToWorker({ type: 'cancel', id: 3 }), { type: 'cancel', id: 3 });
  assert.equal(parseToWorker({ type: 'run', id: 1, job: 'inspect', params: {} })?.type, 'run');
  for (const bad of [
    null,
    'run',
    {},
    { type: 'explode', id: 1 },
    { type: 'cancel' },
    { type: 'cancel', id: -1 },
    { type: 'cancel', id: 1.5 },
    { type: 'run', id: 1, job: 'format-disk', params: {} },
  ]) {
    assert.equal(parseToWorker(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(parseFromWorker({ type: 'progress', id: 1, fraction: 0.5, message: 'half' }), { type: 'progress', id: 1, fraction: 0.5, message: 'half' });
  assert.equal(parseFromWorker({ type: 'heartbeat' })?.type, 'heartbeat');
  for (const bad of [
    { type: 'progress', id: 1, fraction: 2, message: 'x' },
    { type: 'error', id: 1, error: { kind: 'oops', message: 'x' } },
    { type: 'error', id: 1, error: { kind: 'input' } },
    { type: 'log', level: 'debug', message: 'x' },
    { type: 'result' },
    { type: 'unknown' },
    [],
  ]) {
    assert.equal(parseFromWorker(bad), undefined, JSON.stringify(bad));
  }
});

test('job parameters: defaults are filled in, wrong ones are named', () => {
  const ok = checkJobParams('evaluate', { model: '/m.onnx', dataset: 'mnist' });
  assert.ok(ok.ok);
  assert.equal(ok.value.backend, 'auto');
  assert.equal(ok.value.split, 'test');
  const bad = checkJobParams('analyze', { model: '/m.onnx', dataset: 'mnist', strategies: [], sparsities: [0.5], finetuneEpochs: 0, iterations: 1, samples: 10 });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.problem : '', /invalid analyze parameters: strategies/);
  const sparsity = checkJobParams('prune', { model: '/m', out: '/o', strategy: 'x', sparsity: 1.5, finetuneEpochs: 0, samples: 1 });
  assert.match(!sparsity.ok ? sparsity.problem : '', /sparsity/);
  assert.equal(checkJobParams('train', null).ok, false);
});

test('job results: an inspect result of a real model passes; a malformed one is named', async () => {
  const path = fixture('onnx/mnist2x10.onnx');
  const summary = summarizeModel(await readModel(path));
  assert.ok(checkJobResult('inspect', { summary, files: [path], bytes: 1 }).ok);
  const bad = checkJobResult('inspect', { summary: { ...summary, layers: 'many' }, files: [], bytes: 0 });
  assert.match(!bad.ok ? bad.problem : '', /malformed inspect result: summary\.layers/);
  assert.ok(checkJobResult('analyze', sampleAnalysis()).ok);
  assert.equal(checkJobResult('analyze', sampleComparison()).ok, false);
});

test('webview protocol: messages from the webview are validated', () => {
  assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromWebview({ type: 'exportData', format: 'csv' }), { type: 'exportData', format: 'csv' });
  assert.equal(parseFromWebview({ type: 'exportPng', name: 'c', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' })?.type, 'exportPng');
  for (const bad of [
    { type: 'exportPng', name: 'c', dataUrl: 'data:text/html;base64,PHNjcmlwdD4=' },
    { type: 'exportPng', name: 'c', dataUrl: 'javascript:alert(1)' },
    { type: 'exportData', format: 'exe' },
    { type: 'command', command: 'workbench.action.terminal.new' },
    { type: 'state', ui: { tab: 'nowhere' } },
    { type: 'compareMetric', metric: '' },
    { type: 'eval', code: '1' },
    undefined,
  ]) {
    assert.equal(parseFromWebview(bad), undefined, JSON.stringify(bad));
  }
});

test('webview protocol: results sent to the webview must be valid results', () => {
  const results = sampleAnalysis();
  assert.equal(parseToWebview({ type: 'showResults', title: 't', results, metrics: [] })?.type, 'showResults');
  assert.equal(parseToWebview({ type: 'showResults', title: 't', results: { ...results, version: 99 }, metrics: [] }), undefined);
  assert.equal(parseToWebview({ type: 'theme', kind: 'sepia' }), undefined);
  const state = { view: 'results', title: 't', results: sampleComparison(), metrics: ['linear-cka'], ui: { tab: 'compare', compareView: 'a' } };
  assert.deepEqual(parseWebviewState(state), state);
  assert.equal(parseWebviewState({ ...state, ui: undefined }), undefined);
  assert.equal(parseWebviewState(null), undefined);
});

/** The message V8 gives a real error thrown by `fn`. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  assert.fail('nothing was thrown');
}

test('memory failures are told from other errors by what V8 and Emscripten say', () => {
  // Real errors of this V8: a wasm memory that cannot grow, a buffer that cannot be allocated.
  // (The project's lib settings carry no WebAssembly types.)
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { grow(pages: number): number } } }).WebAssembly;
  assert.equal(memoryFailure(thrown(() => new wasm.Memory({ initial: 1, maximum: 2 }).grow(5))), 'WebAssembly memory');
  assert.equal(memoryFailure(thrown(() => new ArrayBuffer(2 ** 52))), 'buffer allocation');
  // What Node prints on stderr before it aborts on a heap OOM (worker-client.test.ts provokes one),
  // and what an Emscripten module (tfjs-backend-wasm) throws when malloc cannot grow its heap.
  assert.equal(memoryFailure('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'), 'JavaScript heap');
  assert.equal(memoryFailure('RuntimeError: Aborted(OOM). Build with -sASSERTIONS for more info.'), 'WebAssembly memory');
  for (const other of [thrown(() => JSON.parse('{')), 'TypeError: x is not a function', 'DataError: /d.csv: line 3 has 2 columns, expected 5']) {
    assert.equal(memoryFailure(other), undefined, other);
  }
  assert.equal(
    outOfMemoryMessage('JavaScript heap limit of 64 MB reached', 'analyze', 'pruning with magnitude'),
    'the background process ran out of memory (JavaScript heap limit of 64 MB reached) while running analyze (pruning with magnitude)',
  );
});

test('job outputs: the jobs that write files name them', () => {
  assert.deepEqual(jobOutputs('prune', { model: '/m.onnx', out: '/o.onnx' }), ['/o.onnx']);
  assert.deepEqual(jobOutputs('train', { out: '/models/mlp' }), ['/models/mlp']);
  assert.deepEqual(jobOutputs('analyze', { model: '/m.onnx', out: '/x' }), []);
  assert.deepEqual(jobOutputs('prune', null), []);
});
