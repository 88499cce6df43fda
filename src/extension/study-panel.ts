import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { writeFilesAtomically } from '../core/io/atomic';
import { noteInputs, withWriteScope } from '../core/io/scope';
import { safeFileName } from '../core/results/csv';
import type { StudyResults } from '../core/results/format';
import { studyToCsv } from '../core/results/study-csv';
import { readBundleAssets, studyReportHtml } from '../report/study-page';
import type { MessageHandlers } from '../shared/dispatch';
import {
  parseFromStudyPanel,
  parseStudyPanelState,
  type FromStudyPanelMessage,
  type StudyPanelState,
  type ToStudyPanelMessage,
} from '../shared/study-panel-protocol';
import { poster, receive, setWebviewHtml, themeKind, webviewOptions } from './webview-common';

export const STUDY_VIEW_TYPE = 'prunescope.study';

export interface StudyPanelHost {
  extensionUri: vscode.Uri;
  /** Where dist/ and media/ are, for the HTML report. */
  extensionPath: string;
  output: vscode.LogOutputChannel;
}

/** What an export needs of a shown study: the results, and the file they came from (never written over). */
export interface ShownStudy {
  readonly results: StudyResults;
  readonly source?: string;
  readonly title: string;
  requestCharts(): void;
}

export type StudyExportFormat = 'csv' | 'json' | 'html';

/** One Study panel: shows one study and keeps it for reloads. */
class StudyPanel implements vscode.Disposable, ShownStudy {
  private readonly disposables: vscode.Disposable[] = [];
  private onDisposed: () => void = () => {};
  private readonly post: (message: ToStudyPanelMessage) => void;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private state: StudyPanelState,
    private readonly host: StudyPanelHost,
  ) {
    this.post = poster<ToStudyPanelMessage>(panel.webview);
    panel.webview.options = webviewOptions(host.extensionUri);
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.svg');
    setWebviewHtml(panel.webview, host.extensionUri, 'study-panel', state.title);
    const invalid = () => host.output.warn('study panel: ignored an unknown message from the webview');
    this.disposables.push(
      receive(panel.webview, parseFromStudyPanel, this.fromWebview, invalid),
      vscode.window.onDidChangeActiveColorTheme((t) => this.post({ type: 'theme', kind: themeKind(t.kind) })),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  get results(): StudyResults {
    return this.state.results;
  }

  get source(): string | undefined {
    return this.state.source;
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

  show(title: string, results: StudyResults, source: string | undefined): void {
    this.state = { ...this.state, title, results, source };
    this.panel.title = title;
    this.send();
    this.panel.reveal();
  }

  requestCharts(): void {
    this.post({ type: 'exportCharts' });
  }

  private send(): void {
    const { title, results, source } = this.state;
    this.post({ type: 'theme', kind: themeKind() });
    this.post({ type: 'showStudy', title, results, source });
  }

  /** What the panel's page may say; every message type has its handler here. */
  private readonly fromWebview: MessageHandlers<FromStudyPanelMessage> = {
    ready: () => this.send(),
    exportPng: (msg) =>
      void saveStudyExport(this, `${safeFileName(msg.name)}.png`, Buffer.from(msg.dataUrl.split(',')[1], 'base64'), 'PNG image'),
    exportData: (msg) => void exportStudy(this, msg.format, this.host.extensionPath),
  };

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
    this.onDisposed();
  }
}

/** "study-cka-vs-unit-l1": the stem of a study's exports. */
function exportStem(results: StudyResults): string {
  const [a, b] = results.settings.strategies;
  return safeFileName(`study-${a}-vs-${b}`);
}

/**
 * Asks where to save an export (the save dialog's own confirmation gives up a file there) and
 * writes it atomically, never over the results file the study was opened from.
 */
async function saveStudyExport(study: ShownStudy, fileName: string, data: Uint8Array, label: string): Promise<void> {
  const dir = study.source ? dirname(study.source) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const target = await vscode.window.showSaveDialog({
    defaultUri: dir ? vscode.Uri.file(join(dir, fileName)) : undefined,
    saveLabel: `Export ${label}`,
    filters: { [label]: [fileName.split('.').pop() ?? '*'] },
  });
  if (!target) return;
  try {
    if (target.scheme !== 'file') await vscode.workspace.fs.writeFile(target, data);
    else {
      await withWriteScope({ replace: true }, async () => {
        await noteInputs(study.source ? [study.source] : []);
        await writeFilesAtomically([{ path: target.fsPath, data }]);
      });
    }
  } catch (e) {
    void vscode.window.showErrorMessage(`PruneScope: could not export the ${label}: ${(e as Error).message}`);
    return;
  }
  void vscode.window.showInformationMessage(`PruneScope: exported ${target.scheme === 'file' ? target.fsPath : target.toString()}`);
}

/** The study as a CSV table of its gaps, its results file, or the self-contained report (the CLI's report.html). */
export async function exportStudy(study: ShownStudy, format: StudyExportFormat, extensionPath: string): Promise<void> {
  const stem = exportStem(study.results);
  if (format === 'csv') {
    await saveStudyExport(study, `${stem}.csv`, Buffer.from(studyToCsv(study.results), 'utf8'), 'CSV table');
  } else if (format === 'json') {
    await saveStudyExport(study, `${stem}.json`, Buffer.from(`${JSON.stringify(study.results)}\n`, 'utf8'), 'JSON results');
  } else {
    const html = studyReportHtml(study.results, await readBundleAssets(extensionPath));
    await saveStudyExport(study, `${stem}.report.html`, Buffer.from(html, 'utf8'), 'HTML report');
  }
}

/** Every open Study panel; the serializer brings them back after a reload. */
export class StudyPanels implements vscode.Disposable, vscode.WebviewPanelSerializer {
  private readonly panels = new Set<StudyPanel>();
  private lastActive: StudyPanel | undefined;

  constructor(private readonly host: StudyPanelHost) {}

  /** The Study panel that has the focus, if one has. */
  get focused(): ShownStudy | undefined {
    for (const p of this.panels) if (p.panel.active) return p;
    return undefined;
  }

  /** The focused Study panel, else the last one focused. */
  get active(): ShownStudy | undefined {
    return this.focused ?? (this.lastActive && this.panels.has(this.lastActive) ? this.lastActive : undefined);
  }

  /** Shows a study; the same file (or, without one, the same run) again reuses its panel. */
  show(title: string, results: StudyResults, source?: string): void {
    const key = studyKey(results, source);
    for (const p of this.panels) {
      if (studyKey(p.results, p.source) === key) {
        p.show(title, results, source);
        return;
      }
    }
    const panel = vscode.window.createWebviewPanel(
      STUDY_VIEW_TYPE,
      title,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      webviewOptions(this.host.extensionUri),
    );
    this.adopt(panel, { view: 'study-panel', title, results, source });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- VS Code's WebviewPanelSerializer contract is async
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, raw: unknown): Promise<void> {
    const state = parseStudyPanelState(raw);
    if (!state) {
      this.host.output.warn('a Study panel could not be restored (its saved state is not valid); closed it');
      panel.dispose();
      return;
    }
    this.adopt(panel, state);
  }

  private adopt(panel: vscode.WebviewPanel, state: StudyPanelState): void {
    const p = new StudyPanel(panel, state, this.host);
    this.panels.add(p);
    this.lastActive = p;
    p.whenDisposed(() => this.panels.delete(p));
    p.onFocus(() => (this.lastActive = p));
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
  }
}

function studyKey(results: StudyResults, source: string | undefined): string {
  return source ? `file:${source}` : `run:${results.createdAt}`;
}
