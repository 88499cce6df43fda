import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { PruneScopeError } from '../core/errors';
import { writeFilesAtomically } from '../core/io/atomic';
import { noteInputs, withWriteScope } from '../core/io/scope';
import { modelFiles, outputFiles } from '../core/formats/model-files';
import type { ComparisonResults, Results } from '../core/results/format';
import { resultsToCsv, safeFileName } from '../core/results/csv';
import { readBundleAssets, reportHtml } from '../report/html';
import type { MessageHandlers } from '../shared/dispatch';
import {
  parseFromResultsPanel,
  parseResultsPanelState,
  type FromResultsPanelMessage,
  type ResultsPanelState,
  type ToResultsPanelMessage,
  type UiState,
} from '../shared/results-panel-protocol';
import { PanelBase, PanelSet } from './panel-base';

export const RESULTS_VIEW_TYPE = 'prunescope.results';

export interface ResultsPanelHost {
  extensionUri: vscode.Uri;
  output: vscode.LogOutputChannel;
  /** Metrics the Compare tab offers (filled in once the worker has said which it has). */
  metrics: string[];
  /** The Compare tab asked for another metric: runs it (its results come back through show). */
  rerunComparison(results: ComparisonResults, metric: string): Promise<CompareOutcome>;
}

/** How a comparison the Compare tab asked for ended. */
export interface CompareOutcome {
  outcome: 'done' | 'failed' | 'cancelled';
  message?: string;
}

function defaultTab(results: Results): UiState['tab'] {
  return results.kind === 'comparison' ? 'compare' : 'accuracy';
}

/** One results panel: shows one Results and keeps its UI state for reloads. */
class ResultsPanel extends PanelBase<ToResultsPanelMessage, FromResultsPanelMessage, ResultsPanelState> {
  constructor(
    panel: vscode.WebviewPanel,
    state: ResultsPanelState,
    private readonly host: ResultsPanelHost,
  ) {
    super(panel, state, host, { view: 'results', name: 'results panel', parse: parseFromResultsPanel });
  }

  get results(): Results {
    return this.state.results;
  }

  show(title: string, results: Results): void {
    this.replace({ ...this.state, title, results, ui: { tab: defaultTab(results) } });
  }

  requestCharts(): void {
    this.post({ type: 'exportCharts' });
  }

  protected send(): void {
    const s = this.state;
    this.postTheme();
    this.post({ type: 'showResults', title: s.title, results: s.results, metrics: s.metrics, ui: s.ui });
  }

  protected readonly fromWebview: MessageHandlers<FromResultsPanelMessage> = {
    ready: () => this.send(),
    state: (msg) => {
      this.state = { ...this.state, ui: msg.ui };
    },
    exportPng: (msg) => {
      void saveExport(this.state.results, `${safeFileName(msg.name)}.png`, Buffer.from(msg.dataUrl.split(',')[1], 'base64'), 'PNG image');
    },
    exportData: (msg) => void exportData(this.state.results, msg.format),
    compareMetric: (msg) => {
      const results = this.state.results;
      if (results.kind !== 'comparison' || results.metric === msg.metric) return;
      // Results replace the view; anything else must end the tab's "computing" too.
      void this.host.rerunComparison(results, msg.metric).then(({ outcome, message }) => {
        if (outcome !== 'done') this.post({ type: 'compareEnded', metric: msg.metric, outcome, message });
      });
    },
  };
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

/** The models the results were computed from (one for an analysis, A and B for a comparison). */
function sourceModels(results: Results): string[] {
  const paths = results.kind === 'analysis' ? [results.model.path] : [results.a.model.path, results.b.model.path];
  return paths.filter((p): p is string => typeof p === 'string' && p.length > 0).map((p) => resolve(p));
}

/**
 * Every file of the models the results were computed from: the main file, the weight shards a
 * tfjs model.json lists and the files a writer puts beside it (a model.json's `<stem>.weights.bin`),
 * all from model-files.ts. No export may replace one of them, whatever name it is reached under.
 * Missing files are listed too (and skipped later).
 */
export async function exportSourceFiles(results: Results): Promise<string[]> {
  const files: string[] = [];
  for (const model of sourceModels(results)) {
    const listed = await modelFiles(model).catch(() => [model]);
    for (const f of [...listed, ...outputFiles(listed[0]), model]) if (!files.includes(f)) files.push(f);
  }
  return files;
}

/**
 * Writes an export to `path`, which the person chose in the save dialog (whose own confirmation
 * gave up an existing file there), unless it is one of the files of the models the results were
 * computed from: compared by device and inode, so a symbolic link, a hard link or another spelling
 * of the name counts. Written atomically (a temporary renamed into place), and checked again at
 * the moment it is put in place.
 */
export async function writeExport(results: Results, path: string, data: Uint8Array): Promise<void> {
  const out = resolve(path);
  const sources = await exportSourceFiles(results);
  const target = await fs.stat(out).catch(() => undefined);
  if (target) {
    for (const f of sources) {
      const s = await fs.stat(f).catch(() => undefined);
      if (s && s.dev === target.dev && s.ino === target.ino) {
        const alias = f === out ? '' : ` (it is the same file as ${f})`;
        throw new PruneScopeError(
          `refusing to replace ${out}${alias}: the results were computed from that model; choose another name for the export`,
        );
      }
    }
  }
  // The check above gives the message; the scope makes the writer refuse the same files if the
  // name is made to point at one of them between the check and the rename.
  await withWriteScope({ replace: true }, async () => {
    await noteInputs(sources);
    await writeFilesAtomically([{ path: out, data }]);
  });
}

async function saveExport(results: Results, fileName: string, data: Uint8Array, label: string): Promise<void> {
  const dir = modelDir(results);
  const target = await vscode.window.showSaveDialog({
    defaultUri: dir ? vscode.Uri.file(join(dir, fileName)) : undefined,
    saveLabel: `Export ${label}`,
    filters: { [label]: [fileName.split('.').pop() ?? '*'] },
  });
  if (!target) return;
  try {
    // The models are files the worker read from disk: only a file: target can be one of them.
    if (target.scheme === 'file') await writeExport(results, target.fsPath, data);
    else await vscode.workspace.fs.writeFile(target, data);
  } catch (e) {
    void vscode.window.showErrorMessage(`PruneScope: could not export the ${label}: ${(e as Error).message}`);
    return;
  }
  void vscode.window.showInformationMessage(`PruneScope: exported ${target.scheme === 'file' ? target.fsPath : target.toString()}`);
}

export async function exportData(results: Results, format: 'csv' | 'json'): Promise<void> {
  const text = format === 'csv' ? resultsToCsv(results) : `${JSON.stringify(results, null, 1)}\n`;
  await saveExport(results, `${baseName(results)}.${format}`, Buffer.from(text, 'utf8'), format === 'csv' ? 'CSV table' : 'JSON results');
}

/** The CLI's self-contained HTML report of these results (the panel's bundle inlined). */
export async function exportReportHtml(results: Results, extensionPath: string, metrics: string[]): Promise<void> {
  const html = reportHtml(results, await readBundleAssets(extensionPath), metrics);
  await saveExport(results, `${baseName(results)}.report.html`, Buffer.from(html, 'utf8'), 'HTML report');
}

/** Every open results panel; the serializer brings them back after a reload. */
export class ResultsPanels extends PanelSet<ResultsPanel, ResultsPanelState, ResultsPanelHost> {
  constructor(host: ResultsPanelHost) {
    super(host, RESULTS_VIEW_TYPE, 'a results panel');
  }

  setMetrics(ids: string[]): void {
    this.host.metrics.splice(0, this.host.metrics.length, ...ids);
  }

  /** The focused results panel, else the last one focused. */
  get active(): { results: Results; title: string; requestCharts(): void } | undefined {
    return this.activePanel;
  }

  show(title: string, results: Results, beside = false): void {
    // One panel per model (or pair): a re-run replaces what it showed.
    const key = resultsKey(results);
    const same = this.find((p) => resultsKey(p.results) === key);
    if (same) same.show(title, results);
    else {
      const state: ResultsPanelState = {
        view: 'results',
        title,
        results,
        metrics: [...this.host.metrics],
        ui: { tab: defaultTab(results) },
      };
      this.open(title, beside ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active, state);
    }
  }

  protected create(panel: vscode.WebviewPanel, state: ResultsPanelState): ResultsPanel {
    return new ResultsPanel(panel, state, this.host);
  }

  /** The metrics the Compare tab offers are this session's, not the saved ones. */
  protected restoredState(raw: unknown): ResultsPanelState | undefined {
    const state = parseResultsPanelState(raw);
    return state && { ...state, metrics: [...this.host.metrics] };
  }
}

function resultsKey(r: Results): string {
  return r.kind === 'analysis' ? `analysis:${r.model.path}` : `comparison:${r.a.model.path}|${r.b.model.path}`;
}
