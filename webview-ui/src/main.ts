/**
 * Webview entry for every view (body[data-view] = "results" | "inspector" | "study-panel"); each
 * speaks its own protocol (src/shared/results-panel-protocol.ts, inspector-protocol.ts,
 * study-panel-protocol.ts). Messages from the extension are validated; unknown ones are ignored.
 * State for the results view is kept with setState so a hidden or reloaded panel comes back as it was.
 */
import './zod-setup';
import type { Chart } from 'chart.js';
import {
  parseResultsPanelState,
  parseToResultsPanel,
  type FromResultsPanelMessage,
  type ResultsPanelState,
  type ToResultsPanelMessage,
  type UiState,
} from '../../src/shared/results-panel-protocol';
import type { WebviewView } from '../../src/shared/webview-common-protocol';
import { startInspector } from './inspector-view';
import { startStudyPanel } from './study-panel';
import { renderResults, type CompareStatus, type RenderedView, type ResultsViewModel } from './results-view';
import { readTheme } from './theme';
import { receive, vscodeApi, type VsCodeApi } from './vscode-api';

type ShowResults = Extract<ToResultsPanelMessage, { type: 'showResults' }>;

/** The results panel page: draws the results it is sent, sends back what the person does. */
class ResultsPage {
  private model: ResultsViewModel | undefined;
  private rendered: RenderedView | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: VsCodeApi<FromResultsPanelMessage, ResultsPanelState>,
  ) {}

  /** The charts on screen, for exports and for the browser tests. */
  charts(): { name: string; chart: Chart }[] {
    return this.rendered?.charts() ?? [];
  }

  show(next: ResultsViewModel): void {
    this.model = next;
    this.rendered?.dispose();
    this.rendered = renderResults(this.root, next, readTheme(), {
      onUi: (ui: UiState) => {
        if (this.model) this.model = { ...this.model, ui };
        this.persist();
        this.api.postMessage({ type: 'state', ui });
      },
      exportPng: (name, dataUrl) => this.api.postMessage({ type: 'exportPng', name, dataUrl }),
      exportData: (format) => this.api.postMessage({ type: 'exportData', format }),
      compareMetric: (metric) => this.askMetric(metric),
    });
    this.persist();
  }

  /** The metric on screen needs nothing computed (and ends any "computing"); another is asked of the extension. */
  private askMetric(metric: string): void {
    const results = this.model?.results;
    if (results?.kind !== 'comparison') return;
    if (metric === results.metric) {
      this.setCompareStatus(undefined);
      return;
    }
    this.setCompareStatus({ metric, state: 'computing' });
    this.api.postMessage({ type: 'compareMetric', metric });
  }

  private setCompareStatus(status: CompareStatus | undefined): void {
    if (!this.model) return;
    this.model = { ...this.model, compare: status };
    this.rendered?.showCompareStatus(status);
  }

  /** Theme changes arrive as a class change and a message; draw once for both. */
  rerender(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => {
      if (this.model) this.show(this.model);
    }, 30);
  }

  /** What the extension may say; every message type has its handler here. */
  listen(): void {
    receive(parseToResultsPanel, {
      showResults: (msg) => this.showResults(msg),
      // The body's classes and CSS variables have already changed; charts read them again.
      theme: () => this.rerender(),
      exportCharts: () => {
        for (const c of this.charts())
          this.api.postMessage({ type: 'exportPng', name: c.name, dataUrl: c.chart.toBase64Image('image/png', 1) });
      },
      // Only the request still waited for: a later one (another metric picked meanwhile) keeps its "computing".
      compareEnded: (msg) => {
        const waiting = this.model?.compare;
        if (waiting?.state === 'computing' && waiting.metric === msg.metric) {
          this.setCompareStatus({ metric: msg.metric, state: msg.outcome, message: msg.message });
        }
      },
    });
  }

  /** Comes back as it was after a reload: the state kept with setState. */
  restore(): void {
    const saved = parseResultsPanelState(this.api.getState());
    if (saved) this.show({ title: saved.title, results: saved.results, metrics: saved.metrics, ui: saved.ui });
  }

  private showResults(msg: ShowResults): void {
    const model = this.model;
    // The same results again (the panel was shown again): keep the person's tab and point.
    if (
      model &&
      model.title === msg.title &&
      model.results.createdAt === msg.results.createdAt &&
      JSON.stringify(model.results) === JSON.stringify(msg.results)
    ) {
      this.model = { ...model, metrics: msg.metrics };
      this.persist();
      return;
    }
    this.show({
      title: msg.title,
      results: msg.results,
      metrics: msg.metrics,
      ui: msg.ui ?? { tab: msg.results.kind === 'comparison' ? 'compare' : 'accuracy' },
    });
  }

  private persist(): void {
    if (this.model) this.api.setState({ view: 'results', ...this.model });
  }
}

function startResults(root: HTMLElement): void {
  const api = vscodeApi<FromResultsPanelMessage, ResultsPanelState>();
  const page = new ResultsPage(root, api);
  page.listen();
  // Browser tests (test/browser) read the Chart.js instances on screen: legends, axes, tooltips.
  (window as Window & { prunescopeCharts?: () => { name: string; chart: Chart }[] }).prunescopeCharts = () => page.charts();
  // VS Code swaps the body's theme class on a theme change; re-render even if no message comes.
  new MutationObserver(() => page.rerender()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  page.restore();
  api.postMessage({ type: 'ready' });
}

const root = document.getElementById('root') ?? document.body;
const asked = document.body.dataset.view;
const view: WebviewView = asked === 'inspector' || asked === 'study-panel' ? asked : 'results';
if (view === 'inspector') startInspector(root, vscodeApi());
else if (view === 'study-panel') startStudyPanel(root);
else startResults(root);
