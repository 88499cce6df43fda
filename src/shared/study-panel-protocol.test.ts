import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StudyResults } from '../core/results/format';
import { sampleAnalysis } from '../../webview-ui/src/sample-results';
import { dispatch, type MessageHandlers } from './dispatch';
import { parseFromResultsPanel } from './results-panel-protocol';
import {
  parseFromStudyPanel,
  parseStudyPanelState,
  parseToStudyPanel,
  type FromStudyPanelMessage,
  type ToStudyPanelMessage,
} from './study-panel-protocol';

/** A valid study of one model: the sample analysis as its analysis, one factor with one value. */
function study(): StudyResults {
  const analysis = sampleAnalysis();
  if (analysis.kind !== 'analysis') throw new Error('the sample is an analysis');
  const { kind: _, settings: _s, runs: _r, baseline: _b, model: _m, ...header } = analysis;
  return {
    ...header,
    kind: 'study',
    settings: {
      strategies: ['cka', 'unit-l1'],
      base: { width: 16, depth: 1, dropout: 0 },
      factors: [{ factor: 'width', values: [16] }],
      sparsities: [0.5],
      schedule: 'iterative',
      iterations: 1,
      finetuneEpochs: 1,
      epochs: 1,
      trainSamples: 200,
      validationSamples: 50,
      seed: 1,
      budgetSeconds: 60,
    },
    plan: { epochSeconds: 0.1, estimatedSeconds: 2 },
    models: [
      {
        id: 'w16-d1-p0',
        hidden: [16],
        dropout: 0,
        factors: [{ factor: 'width', value: 16 }],
        training: { epochs: 1, bestEpoch: 1, validationAccuracy: 0.8, seconds: 1 },
        estimatedSeconds: 2,
        seconds: 2,
        analysis,
      },
    ],
    skipped: [],
    summary: [{ factor: 'width', values: [{ value: 16, model: 'w16-d1-p0', gaps: [{ sparsity: 0.5, gap: 0.01, a: 0.8, b: 0.79 }] }] }],
    seconds: 2,
  } as StudyResults;
}

test('study panel protocol: a study is sent only when it is a valid study', () => {
  const results = study();
  const show = { type: 'showStudy', title: 'Study: s', results, source: '/w/studies/s/results.json' };
  assert.equal(parseToStudyPanel(show)?.type, 'showStudy', 'the hand-made study validates');
  assert.equal(parseToStudyPanel({ ...show, results: sampleAnalysis() }), undefined, 'an analysis is not a study');
  assert.equal(parseToStudyPanel({ ...show, results: { ...results, summary: [{ factor: 'height', values: [] }] } }), undefined);
  assert.equal(parseToStudyPanel({ type: 'showResults', title: 't', results: sampleAnalysis(), metrics: [] }), undefined);
  assert.deepEqual(parseToStudyPanel({ type: 'exportCharts' }), { type: 'exportCharts' });
  assert.equal(parseToStudyPanel({ type: 'theme', kind: 'sepia' }), undefined);
  const state = { view: 'study-panel', title: 'Study: s', results };
  assert.deepEqual(parseStudyPanelState(state), state);
  assert.equal(parseStudyPanelState({ ...state, view: 'results' }), undefined);
  assert.equal(parseStudyPanelState(null), undefined);
});

test('study panel protocol: the page may ask for exports and nothing else', () => {
  assert.deepEqual(parseFromStudyPanel({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromStudyPanel({ type: 'exportData', format: 'html' }), { type: 'exportData', format: 'html' });
  assert.equal(parseFromStudyPanel({ type: 'exportPng', name: 'c', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' })?.type, 'exportPng');
  for (const bad of [
    { type: 'exportPng', name: 'c', dataUrl: 'data:text/html;base64,PHNjcmlwdD4=' },
    { type: 'exportData', format: 'exe' },
    { type: 'command', command: 'study' },
    { type: 'compareMetric', metric: 'svcca' },
    { type: 'state', ui: { tab: 'accuracy' } },
    undefined,
  ]) {
    assert.equal(parseFromStudyPanel(bad), undefined, JSON.stringify(bad));
  }
  // The results panel does not take the study page's HTML export.
  assert.equal(parseFromResultsPanel({ type: 'exportData', format: 'html' }), undefined);
});

test('study panel protocol: every message has its handler, and dispatch reaches it', () => {
  const seen: string[] = [];
  const fromPage: MessageHandlers<FromStudyPanelMessage> = {
    ready: () => seen.push('ready'),
    exportPng: (m) => seen.push(`png ${m.name}`),
    exportData: (m) => seen.push(`data ${m.format}`),
  };
  for (const raw of [
    { type: 'exportData', format: 'csv' },
    { type: 'ready' },
    { type: 'exportPng', name: 'gap', dataUrl: 'data:image/png;base64,AA==' },
  ]) {
    dispatch(fromPage, parseFromStudyPanel(raw)!);
  }
  assert.deepEqual(seen, ['data csv', 'ready', 'png gap']);
  // @ts-expect-error: 'exportCharts' has no handler; `npm run typecheck` fails if this compiles.
  const missing: MessageHandlers<ToStudyPanelMessage> = { showStudy: () => undefined, theme: () => undefined };
  assert.equal(typeof missing.showStudy, 'function');
});
