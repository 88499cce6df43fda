import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { ComparisonResults, Results } from '../core/results/format';
import { reportHtml } from '../report/html';
import { resultsToCsv, safeFileName } from './results-export';
import { parseFromWebview, parseWebviewState, type UiState, type WebviewState } from './webview-protocol';
import { post, setWebviewHtml, themeKind, webviewOptions } from './webview-common';

export const RESULTS_VIEW_TYPE = 'prunescope.results';

export interface ResultsPanelHost {
  extensionUri: vscode.Uri;
  output: vscode.LogOutputChannel;
  /** Metrics the Compare tab offers (filled in once the worker has said which it has). */
  metrics: string[];
  /** The Compare tab asked for another metric. */
  rerunComparison(results: ComparisonResults, metric: string): void;
  runCommand(command: string): void;
}

function defaultTab(results: Results): UiState['tab'] {
  return results.kind === 'comparison' ? 'compare' : 'accuracy';
}

/** One results panel: shows one Results and keeps its UI state for reloads. */
class ResultsPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private onDisposed: () => void = () => {};

  constructor(
    readonly panel: vscode.WebviewPanel,
    private state: WebviewState,
    private readonly host: ResultsPanelHost,
  ) {
    panel.webview.options = webviewOptions(host.extensionUri);
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.svg');
    setWebviewHtml(panel.webview, host.extensionUri, 'results', state.title);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw)),
      vscode.window.onDidChangeActiveColorTheme((t) => post(panel.webview, { type: 'theme', kind: themeKind(t.kind) })),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  get results(): Results {
    return this.state.results;
  }

  get title(): string {
    return this.state.title;
  }

  whenDisposed(fn: () => void): void {
    this.onDisposed = fn;
  }

  onFocus(fn: () => void): void {
    this.disposables.push(this.panel.onDidChangeViewState((e) => e.webviewPanel.active && fn()));
  }

  show(title: string, results: Results): void {
    this.state = { ...this.state, title, results, ui: { tab: defaultTab(results) } };
    this.panel.title = title;
    this.send();
    this.panel.reveal();
  }

  requestCharts(): void {
    post(this.panel.webview, { type: 'exportCharts' });
  }

  private send(): void {
    const s = this.state;
    post(this.panel.webview, { type: 'theme', kind: themeKind() });
    post(this.panel.webview, { type: 'showResults', title: s.title, results: s.results, metrics: s.metrics, ui: s.ui });
  }

  private onMessage(raw: unknown): void {
    const msg = parseFromWebview(raw);
    if (!msg) {
      this.host.output.warn('results panel: ignored an unknown message from the webview');
      return;
    }
    switch (msg.type) {
      case 'ready':
        this.send();
        break;
      case 'state':
        this.state = { ...this.state, ui: msg.ui };
        break;
      case 'exportPng':
        void saveExport(this.state.results, `${safeFileName(msg.name)}.png`, Buffer.from(msg.dataUrl.split(',')[1], 'base64'), 'PNG image');
        break;
      case 'exportData':
        void exportData(this.state.results, msg.format);
        break;
      case 'compareMetric':
        if (this.state.results.kind === 'comparison' && this.state.results.metric !== msg.metric) {
          this.host.rerunComparison(this.state.results, msg.metric);
        }
        break;
      case 'command':
        this.host.runCommand(msg.command);
        break;
    }
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
    this.onDisposed();
  }
}

function modelDir(results: Results): string | undefined {
  const path = results.kind === 'analysis' ? results.model.path : results.a.model.path;
  return path ? dirname(path) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function baseName(results: Results): string {
  const path = results.kind === 'analysis' ? results.model.path : results.a.model.path;
  const name = path.split(/[\\/]/).pop() ?? 'model';
  return safeFileName(`${name}.${results.kind}`);
}

async function saveExport(results: Results, fileName: string, data: Uint8Array, label: string): Promise<void> {
  const dir = modelDir(results);
  const target = await vscode.window.showSaveDialog({
    defaultUri: dir ? vscode.Uri.file(join(dir, fileName)) : undefined,
    saveLabel: `Export ${label}`,
    filters: { [label]: [fileName.split('.').pop() ?? '*'] },
  });
  if (!target) return;
  await vscode.workspace.fs.writeFile(target, data);
  void vscode.window.showInformationMessage(`PruneScope: exported ${target.fsPath}`);
}

export async function exportData(results: Results, format: 'csv' | 'json'): Promise<void> {
  const text = format === 'csv' ? resultsToCsv(results) : `${JSON.stringify(results, null, 1)}\n`;
  await saveExport(results, `${baseName(results)}.${format}`, Buffer.from(text, 'utf8'), format === 'csv' ? 'CSV table' : 'JSON results');
}

/** The CLI's self-contained HTML report of these results (the panel's bundle inlined). */
export async function exportReportHtml(results: Results, extensionPath: string, metrics: string[]): Promise<void> {
  const [script, style] = await Promise.all([
    fs.readFile(join(extensionPath, 'dist', 'webview.js'), 'utf8'),
    fs.readFile(join(extensionPath, 'media', 'webview.css'), 'utf8'),
  ]);
  const html = reportHtml(results, { script, style }, metrics);
  await saveExport(results, `${baseName(results)}.report.html`, Buffer.from(html, 'utf8'), 'HTML report');
}

/** Every open results panel; the serializer brings them back after a reload. */
export class ResultsPanels implements vscode.Disposable, vscode.WebviewPanelSerializer {
  private readonly panels = new Set<ResultsPanel>();
  private lastActive: ResultsPanel | undefined;

  constructor(private readonly host: ResultsPanelHost) {}

  setMetrics(ids: string[]): void {
    this.host.metrics.splice(0, this.host.metrics.length, ...ids);
  }

  /** The focused results panel, else the last one focused. */
  get active(): { results: Results; title: string; requestCharts(): void } | undefined {
    for (const p of this.panels) if (p.panel.active) return p;
    return this.lastActive && this.panels.has(this.lastActive) ? this.lastActive : undefined;
  }

  show(title: string, results: Results, beside = false): void {
    // One panel per model (or pair): a re-run replaces what it showed.
    const key = resultsKey(results);
    for (const p of this.panels) {
      if (resultsKey(p.results) === key) {
        p.show(title, results);
        return;
      }
    }
    const panel = vscode.window.createWebviewPanel(
      RESULTS_VIEW_TYPE,
      title,
      { viewColumn: beside ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active, preserveFocus: false },
      webviewOptions(this.host.extensionUri),
    );
    this.adopt(panel, { view: 'results', title, results, metrics: [...this.host.metrics], ui: { tab: defaultTab(results) } });
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, raw: unknown): Promise<void> {
    const state = parseWebviewState(raw);
    if (!state) {
      this.host.output.warn('a results panel could not be restored (its saved state is not valid); closed it');
      panel.dispose();
      return;
    }
    this.adopt(panel, { ...state, metrics: [...this.host.metrics] });
  }

  private adopt(panel: vscode.WebviewPanel, state: WebviewState): void {
    const p = new ResultsPanel(panel, state, this.host);
    this.panels.add(p);
    this.lastActive = p;
    p.whenDisposed(() => this.panels.delete(p));
    p.onFocus(() => (this.lastActive = p));
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
  }
}

function resultsKey(r: Results): string {
  return r.kind === 'analysis' ? `analysis:${r.model.path}` : `comparison:${r.a.model.path}|${r.b.model.path}`;
}
