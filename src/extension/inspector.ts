import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { writeFilesAtomically } from '../core/io/atomic';
import { noteInputs, withWriteScope } from '../core/io/scope';
import { safeFileName } from '../core/results/csv';
import type { MessageHandlers } from '../shared/dispatch';
import {
  parseFromInspector,
  type FromInspectorMessage,
  type InspectorCommand,
  type ToInspectorMessage,
} from '../shared/inspector-protocol';
import type { JobResult } from '../shared/jobs';
import { readTrainingHistory } from '../core/train/history-file';
import { activationsView, historyView, type ReadActivations } from './inspector-data';
import { readParams, readSettings } from './settings';
import { JobError } from './worker-client';
import { wireWebview } from './webview-common';

export const INSPECTOR_VIEW_TYPE = 'prunescope.inspector';
/** The same inspector for model.json, offered under "Open With" only (a .json is usually not a model). */
export const INSPECTOR_JSON_VIEW_TYPE = 'prunescope.inspectorJson';

/** The inspector's view type for a file. */
export function inspectorViewType(path: string): string {
  return path.toLowerCase().endsWith('.json') ? INSPECTOR_JSON_VIEW_TYPE : INSPECTOR_VIEW_TYPE;
}

export interface InspectorHost {
  extensionUri: vscode.Uri;
  output: vscode.LogOutputChannel;
  /** Reads the model in the inspect worker; `read`: the activations of a state dict, which stores none. */
  inspect(file: string, read: ReadActivations): Promise<JobResult<'inspect'>>;
  runCommand(command: InspectorCommand, uri: vscode.Uri): void;
}

class ModelDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
}

/** How long the folder must be quiet after a change before the model is read again (a writer renames several files). */
const RELOAD_DELAY_MS = 300;

/** One open inspector: reads its model in the inspect worker and shows it, again whenever the model changes. */
class InspectorEditor {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly post: (message: ToInspectorMessage) => void;
  private readonly postTheme: () => void;
  private readonly file: string;
  /** Bumped by every read, so that only the latest read's answer is shown. */
  private generation = 0;
  /** The files of the model last read: a chart export may not replace one of them. */
  private modelFiles: string[] = [];

  constructor(
    private readonly document: ModelDocument,
    panel: vscode.WebviewPanel,
    private readonly host: InspectorHost,
  ) {
    this.file = document.uri.fsPath;
    const wired = wireWebview<ToInspectorMessage, FromInspectorMessage>(panel.webview, host, {
      view: 'inspector',
      title: `PruneScope Inspector: ${this.file}`,
      name: 'inspector',
      parse: parseFromInspector,
      handlers: () => this.fromWebview,
    });
    this.post = wired.post;
    this.postTheme = wired.postTheme;
    if (document.uri.scheme === 'file') this.watchFolder();
    this.disposables.push(
      ...wired.subscriptions,
      // Choose State-Dict Activations (from this inspector or the palette) changes how the model reads.
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('prunescope.stateDictActivation') || e.affectsConfiguration('prunescope.stateDictOutputActivation')) {
          void this.load();
        }
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** What the inspector's page may say; every message type has its handler here. */
  private readonly fromWebview: MessageHandlers<FromInspectorMessage> = {
    ready: () => {
      this.postTheme();
      void this.load();
    },
    command: (msg) => this.host.runCommand(msg.command, this.document.uri),
    exportPng: (msg) => void this.savePng(msg.name, Buffer.from(msg.dataUrl.split(',')[1], 'base64')),
  };

  /** Saves a chart where the person says (beside the model by default), never over one of the model's files. */
  private async savePng(name: string, data: Uint8Array): Promise<void> {
    const fileName = `${safeFileName(name)}.png`;
    const target = await vscode.window.showSaveDialog({
      defaultUri: this.document.uri.scheme === 'file' ? vscode.Uri.file(join(dirname(this.file), fileName)) : undefined,
      saveLabel: 'Export PNG image',
      filters: { 'PNG image': ['png'] },
    });
    if (!target) return;
    try {
      if (target.scheme === 'file') {
        const inputs = [this.file, ...this.modelFiles];
        await withWriteScope({ replace: true }, async () => {
          await noteInputs(inputs);
          await writeFilesAtomically([{ path: target.fsPath, data }]);
        });
      } else await vscode.workspace.fs.writeFile(target, data);
    } catch (e) {
      void vscode.window.showErrorMessage(`PruneScope: could not export the PNG image: ${(e as Error).message}`);
      return;
    }
    void vscode.window.showInformationMessage(`PruneScope: exported ${target.scheme === 'file' ? target.fsPath : target.toString()}`);
  }

  private async load(): Promise<void> {
    const mine = ++this.generation;
    const file = this.file;
    this.post({ type: 'loading', message: `Reading ${file}…` });
    const config = vscode.workspace.getConfiguration('prunescope');
    const { settings, problems } = readSettings((key) => config.get(key));
    for (const p of problems) this.host.output.warn(p);
    const read = readParams(settings);
    try {
      // history.json is only looked for beside a file on disk; reading it never throws.
      const [model, history] = await Promise.all([
        this.host.inspect(file, read),
        this.document.uri.scheme === 'file' ? readTrainingHistory(file) : Promise.resolve({ state: 'none' as const }),
      ]);
      if (mine !== this.generation) return;
      this.modelFiles = model.files;
      this.post({
        type: 'showModel',
        file,
        model,
        history: historyView(history, model.summary),
        activations: activationsView(model.summary, read),
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof JobError && e.kind === 'crash') this.host.output.error(`inspect ${file}: ${message}`);
      if (mine === this.generation) this.post({ type: 'modelError', file, message });
    }
  }

  /** A changed model (retrained, re-exported, a weights file replaced) is read again. */
  private watchFolder(): void {
    const folder = vscode.Uri.joinPath(this.document.uri, '..');
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, '*'));
    let timer: NodeJS.Timeout | undefined;
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.load(), RELOAD_DELAY_MS);
    };
    this.disposables.push(watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), { dispose: () => clearTimeout(timer) });
  }

  private dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/**
 * "PruneScope Inspector": a read-only view of a model file (format, producer, layers,
 * parameters, weight statistics, sparsity) with buttons for the commands. Reading happens in
 * the inspect worker; a file that cannot be read shows the reader's message.
 */
export class InspectorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  constructor(private readonly host: InspectorHost) {}

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    return new ModelDocument(uri);
  }

  resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel): void {
    // The editor lives as long as its panel: it disposes of its own subscriptions when the panel goes.
    new InspectorEditor(document, panel, this.host);
  }
}
