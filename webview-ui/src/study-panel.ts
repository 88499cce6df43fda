/**
 * The Study panel's page (body[data-view="study-panel"]): draws the study the extension sends
 * with the Study view of the report (study-view.ts), sends back what the person asks to export,
 * and keeps what it shows with setState so a hidden or reloaded panel comes back as it was.
 */
import type { Chart } from 'chart.js';
import {
  parseStudyPanelState,
  parseToStudyPanel,
  type FromStudyPanelMessage,
  type StudyPanelState,
  type ToStudyPanelMessage,
} from '../../src/shared/study-panel-protocol';
import type { ChartSink } from './charts';
import { button, el } from './dom';
import { renderStudy } from './study-view';
import { readTheme } from './theme';
import { receive, vscodeApi, type VsCodeApi } from './vscode-api';

type Shown = Omit<Extract<ToStudyPanelMessage, { type: 'showStudy' }>, 'type'>;

class StudyPage {
  private shown: Shown | undefined;
  private sink: ChartSink | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: VsCodeApi<FromStudyPanelMessage, StudyPanelState>,
  ) {}

  charts(): { name: string; chart: Chart }[] {
    return this.sink?.charts ?? [];
  }

  show(next: Shown): void {
    for (const c of this.charts()) c.chart.destroy();
    this.shown = next;
    this.sink = {
      theme: readTheme(),
      charts: [],
      exportPng: (name, dataUrl) => this.api.postMessage({ type: 'exportPng', name, dataUrl }),
    };
    renderStudy(this.root, next.results, this.sink);
    const exportAs = (format: 'csv' | 'json' | 'html') => this.api.postMessage({ type: 'exportData', format });
    this.root
      .querySelector('header.results-header')
      ?.prepend(
        el('div', { class: 'title-row' }, [
          el('p', { class: 'muted', text: next.source ?? next.title }),
          el('div', { class: 'toolbar' }, [
            button('Export CSV', () => exportAs('csv'), { title: 'Save the gaps per factor, value and sparsity as a CSV table' }),
            button('Export JSON', () => exportAs('json'), { title: 'Save the study results file' }),
            button('Export HTML', () => exportAs('html'), { title: 'Save the self-contained study report' }),
          ]),
        ]),
      );
    this.api.setState({ view: 'study-panel', ...next });
  }

  /** Theme changes arrive as a class change and a message; draw once for both. */
  rerender(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => {
      if (this.shown) this.show(this.shown);
    }, 30);
  }

  /** What the extension may say; every message type has its handler here. */
  listen(): void {
    receive(parseToStudyPanel, {
      showStudy: ({ title, results, source }) => {
        // The same study again (the panel was shown again): nothing to draw.
        if (this.shown && JSON.stringify(this.shown) === JSON.stringify({ title, results, source })) return;
        this.show({ title, results, source });
      },
      theme: () => this.rerender(),
      exportCharts: () => {
        for (const c of this.charts())
          this.api.postMessage({ type: 'exportPng', name: c.name, dataUrl: c.chart.toBase64Image('image/png', 1) });
      },
    });
  }

  restore(): void {
    const saved = parseStudyPanelState(this.api.getState());
    if (saved) this.show({ title: saved.title, results: saved.results, source: saved.source });
  }
}

export function startStudyPanel(root: HTMLElement): void {
  const api = vscodeApi<FromStudyPanelMessage, StudyPanelState>();
  const page = new StudyPage(root, api);
  page.listen();
  // Browser tests (test/browser) read the Chart.js instances on screen, as on the results panel.
  (window as Window & { prunescopeCharts?: () => { name: string; chart: Chart }[] }).prunescopeCharts = () => page.charts();
  new MutationObserver(() => page.rerender()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  page.restore();
  api.postMessage({ type: 'ready' });
}
