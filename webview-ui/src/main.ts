/**
 * Webview entry for both views (body[data-view] = "results" | "inspector"). Messages from the
 * extension are validated; unknown ones are ignored. State for the results view is kept with
 * setState so a hidden or reloaded panel comes back as it was.
 */
import './zod-setup';
import type { Chart } from 'chart.js';
import type { FromWebviewMessage, UiState, WebviewState } from '../../src/shared/webview-protocol';
import { parseToWebview, parseWebviewState } from '../../src/shared/webview-protocol';
import { renderInspector, renderInspectorError, renderLoading } from './inspector-view';
import { renderResults, type RenderedView, type ResultsViewModel } from './results-view';
import { readTheme } from './theme';
import { vscodeApi } from './vscode-api';

const vscode = vscodeApi();
const root = document.getElementById('root') ?? document.body;
const view = document.body.dataset.view === 'inspector' ? 'inspector' : 'results';

function send(message: FromWebviewMessage): void {
  vscode.postMessage(message);
}

let model: ResultsViewModel | undefined;
let rendered: RenderedView | undefined;

function persist(): void {
  if (!model) return;
  const state: WebviewState = { view: 'results', ...model };
  vscode.setState(state);
}

function showResults(next: ResultsViewModel): void {
  model = next;
  rendered?.dispose();
  rendered = renderResults(root, next, readTheme(), {
    onUi: (ui: UiState) => {
      if (model) model = { ...model, ui };
      persist();
      send({ type: 'state', ui });
    },
    exportPng: (name, dataUrl) => send({ type: 'exportPng', name, dataUrl }),
    exportData: (format) => send({ type: 'exportData', format }),
    compareMetric: (metric) => send({ type: 'compareMetric', metric }),
  });
  persist();
}

let pending: ReturnType<typeof setTimeout> | undefined;
/** Theme changes arrive as a class change and a message; draw once for both. */
function rerender(): void {
  clearTimeout(pending);
  pending = setTimeout(() => {
    if (view === 'results' && model) showResults(model);
  }, 30);
}

function exportCharts(charts: { name: string; chart: Chart }[]): void {
  for (const c of charts) send({ type: 'exportPng', name: c.name, dataUrl: c.chart.toBase64Image('image/png', 1) });
}

const inspectorHost = { command: (command: 'inspect' | 'analyze' | 'prune' | 'compare' | 'evaluate' | 'train' | 'openResults') => send({ type: 'command', command }) };

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const msg = parseToWebview(event.data);
  if (!msg) return;
  switch (msg.type) {
    case 'showResults': {
      const same =
        model && model.title === msg.title && model.results.createdAt === msg.results.createdAt && JSON.stringify(model.results) === JSON.stringify(msg.results);
      if (same && model) {
        model = { ...model, metrics: msg.metrics };
        persist();
        return;
      }
      showResults({ title: msg.title, results: msg.results, metrics: msg.metrics, ui: msg.ui ?? { tab: msg.results.kind === 'comparison' ? 'compare' : 'accuracy' } });
      return;
    }
    case 'showModel':
      renderInspector(root, msg.file, msg.model, inspectorHost);
      return;
    case 'modelError':
      renderInspectorError(root, msg.file, msg.message);
      return;
    case 'loading':
      renderLoading(root, msg.message);
      return;
    case 'theme':
      // The body's classes and CSS variables have already changed; charts read them again.
      rerender();
      return;
    case 'exportCharts':
      if (rendered) exportCharts(rendered.charts());
      return;
  }
});

// Browser tests (test/browser) read the Chart.js instances on screen: legends, axes, tooltips.
(window as Window & { prunescopeCharts?: () => { name: string; chart: Chart }[] }).prunescopeCharts = () => rendered?.charts() ?? [];

// VS Code swaps the body's theme class on a theme change; re-render even if no message comes.
new MutationObserver(() => rerender()).observe(document.body, { attributes: true, attributeFilter: ['class'] });

if (view === 'results') {
  const saved = parseWebviewState(vscode.getState());
  if (saved) showResults({ title: saved.title, results: saved.results, metrics: saved.metrics, ui: saved.ui });
}
send({ type: 'ready' });
