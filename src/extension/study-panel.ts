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
import { PanelBase, PanelSet } from './panel-base';

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
class StudyPanel extends PanelBase<ToStudyPanelMessage, FromStudyPanelMessage, StudyPanelState> implements ShownStudy {
  constructor(
    panel: vscode.WebviewPanel,
    state: StudyPanelState,
    private readonly host: StudyPanelHost,
  ) {
    super(panel, state, host, { view: 'study-panel', name: 'study panel', parse: parseFromStudyPanel });
  }

  get results(): StudyResults {
    return this.state.results;
  }

  get source(): string | undefined {
    return this.state.source;
  }

  show(title: string, results: StudyResults, source: string | undefined): void {
    this.replace({ ...this.state, title, results, source });
  }

  requestCharts(): void {
    this.post({ type: 'exportCharts' });
  }

  protected send(): void {
    const { title, results, source } = this.state;
    this.postTheme();
    this.post({ type: 'showStudy', title, results, source });
  }

  protected readonly fromWebview: MessageHandlers<FromStudyPanelMessage> = {
    ready: () => this.send(),
    exportPng: (msg) =>
      void saveStudyExport(this, `${safeFileName(msg.name)}.png`, Buffer.from(msg.dataUrl.split(',')[1], 'base64'), 'PNG image'),
    exportData: (msg) => void exportStudy(this, msg.format, this.host.extensionPath),
  };
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
export class StudyPanels extends PanelSet<StudyPanel, StudyPanelState, StudyPanelHost> {
  constructor(host: StudyPanelHost) {
    super(host, STUDY_VIEW_TYPE, 'a Study panel');
  }

  /** The Study panel that has the focus, if one has. */
  get focused(): ShownStudy | undefined {
    return this.focusedPanel;
  }

  /** The focused Study panel, else the last one focused. */
  get active(): ShownStudy | undefined {
    return this.activePanel;
  }

  /** Shows a study; the same file (or, without one, the same run) again reuses its panel. */
  show(title: string, results: StudyResults, source?: string): void {
    const key = studyKey(results, source);
    const same = this.find((p) => studyKey(p.results, p.source) === key);
    if (same) same.show(title, results, source);
    else this.open(title, vscode.ViewColumn.Active, { view: 'study-panel', title, results, source });
  }

  protected create(panel: vscode.WebviewPanel, state: StudyPanelState): StudyPanel {
    return new StudyPanel(panel, state, this.host);
  }

  protected restoredState(raw: unknown): StudyPanelState | undefined {
    return parseStudyPanelState(raw);
  }
}

function studyKey(results: StudyResults, source: string | undefined): string {
  return source ? `file:${source}` : `run:${results.createdAt}`;
}
