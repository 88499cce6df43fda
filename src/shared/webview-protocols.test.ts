import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readModel } from '../core/formats/registry';
import { summarizeModel } from '../core/model/summary';
import { built } from '../../test/kits/encode/models';
import { sampleAnalysis, sampleComparison } from '../../webview-ui/src/sample-results';
import { parseFromInspector, parseToInspector } from './inspector-protocol';
import { parseFromResultsPanel, parseResultsPanelState, parseToResultsPanel } from './results-panel-protocol';

test('results panel protocol: messages from the webview are validated', () => {
  assert.deepEqual(parseFromResultsPanel({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromResultsPanel({ type: 'exportData', format: 'csv' }), { type: 'exportData', format: 'csv' });
  assert.equal(parseFromResultsPanel({ type: 'exportPng', name: 'c', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' })?.type, 'exportPng');
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
    assert.equal(parseFromResultsPanel(bad), undefined, JSON.stringify(bad));
  }
});

test('results panel protocol: results sent to the webview must be valid results', () => {
  const results = sampleAnalysis();
  assert.equal(parseToResultsPanel({ type: 'showResults', title: 't', results, metrics: [] })?.type, 'showResults');
  assert.equal(parseToResultsPanel({ type: 'showResults', title: 't', results: { ...results, version: 99 }, metrics: [] }), undefined);
  assert.equal(parseToResultsPanel({ type: 'theme', kind: 'sepia' }), undefined);
  const state = {
    view: 'results',
    title: 't',
    results: sampleComparison(),
    metrics: ['linear-cka'],
    ui: { tab: 'compare', compareView: 'a' },
  };
  assert.deepEqual(parseResultsPanelState(state), state);
  assert.equal(parseResultsPanelState({ ...state, ui: undefined }), undefined);
  assert.equal(parseResultsPanelState(null), undefined);
});

test('results panel protocol: the panel does not run commands (the inspector does)', () => {
  assert.equal(parseFromResultsPanel({ type: 'command', command: 'analyze' }), undefined);
  assert.equal(parseToResultsPanel({ type: 'showModel', file: '/m.onnx', model: {} }), undefined);
});

test("inspector protocol: commands are the extension's own, models must be inspect results", async () => {
  assert.deepEqual(parseFromInspector({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromInspector({ type: 'command', command: 'prune' }), { type: 'command', command: 'prune' });
  for (const bad of [
    { type: 'command', command: 'workbench.action.terminal.new' },
    { type: 'command', command: 'cancel' },
    { type: 'exportData', format: 'csv' },
    { type: 'state', ui: { tab: 'accuracy' } },
    null,
  ]) {
    assert.equal(parseFromInspector(bad), undefined, JSON.stringify(bad));
  }
  const path = built('onnx/mnist2x10.onnx');
  const model = { summary: summarizeModel(await readModel(path)), files: [path], bytes: 1 };
  assert.equal(parseToInspector({ type: 'showModel', file: path, model })?.type, 'showModel');
  assert.equal(parseToInspector({ type: 'showModel', file: path, model: { ...model, bytes: -1 } }), undefined);
  assert.equal(parseToInspector({ type: 'loading', message: 'Reading…' })?.type, 'loading');
  assert.equal(parseToInspector({ type: 'theme', kind: 'high-contrast-light' })?.type, 'theme');
  assert.equal(parseToInspector({ type: 'showResults', title: 't', results: sampleAnalysis(), metrics: [] }), undefined);
});
