import * as vscode from 'vscode';
import type { MessageHandlers } from '../shared/dispatch';
import {
  parseFromInspector,
  type FromInspectorMessage,
  type InspectorCommand,
  type ToInspectorMessage,
} from '../shared/inspector-protocol';
import type { JobResult } from '../shared/jobs';
import { JobError } from './worker-client';
import { poster, receive, setWebviewHtml, themeKind, webviewOptions } from './webview-common';

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
  inspect(file: string): Promise<JobResult<'inspect'>>;
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
  private readonly file: string;
  /** Bumped by every read, so that only the latest read's answer is shown. */
  private generation = 0;

  constructor(
    private readonly document: ModelDocument,
    panel: vscode.WebviewPanel,
    private readonly host: InspectorHost,
  ) {
    const { webview } = panel;
    this.file = document.uri.fsPath;
    this.post = poster<ToInspectorMessage>(webview);
    webview.options = webviewOptions(host.extensionUri);
    setWebviewHtml(webview, host.extensionUri, 'inspector', `PruneScope Inspector: ${this.file}`);
    if (document.uri.scheme === 'file') this.watchFolder();
    const invalid = () => host.output.warn('inspector: ignored an unknown message from the webview');
    this.disposables.push(
      receive(webview, parseFromInspector, this.fromWebview, invalid),
      vscode.window.onDidChangeActiveColorTheme((t) => this.post({ type: 'theme', kind: themeKind(t.kind) })),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** What the inspector's page may say; every message type has its handler here. */
  private readonly fromWebview: MessageHandlers<FromInspectorMessage> = {
    ready: () => {
      this.post({ type: 'theme', kind: themeKind() });
      void this.load();
    },
    command: (msg) => this.host.runCommand(msg.command, this.document.uri),
  };

  private async load(): Promise<void> {
    const mine = ++this.generation;
    const file = this.file;
    this.post({ type: 'loading', message: `Reading ${file}…` });
    try {
      const model = await this.host.inspect(file);
      if (mine === this.generation) this.post({ type: 'showModel', file, model });
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
