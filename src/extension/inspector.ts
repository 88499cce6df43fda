import * as vscode from 'vscode';
import type { JobResult } from '../shared/worker-protocol';
import { JobError } from './worker-client';
import { parseFromWebview } from '../shared/webview-protocol';
import { post, setWebviewHtml, themeKind, webviewOptions } from './webview-common';

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
  runCommand(command: string, uri: vscode.Uri): void;
}

class ModelDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
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
    const { webview } = panel;
    const file = document.uri.fsPath;
    webview.options = webviewOptions(this.host.extensionUri);
    setWebviewHtml(webview, this.host.extensionUri, 'inspector', `PruneScope Inspector: ${file}`);

    let generation = 0;
    const load = async () => {
      const mine = ++generation;
      post(webview, { type: 'loading', message: `Reading ${file}…` });
      try {
        const model = await this.host.inspect(file);
        if (mine === generation) post(webview, { type: 'showModel', file, model });
      } catch (e) {
        const message = e instanceof JobError || e instanceof Error ? e.message : String(e);
        if (e instanceof JobError && e.kind === 'crash') this.host.output.error(`inspect ${file}: ${message}`);
        if (mine === generation) post(webview, { type: 'modelError', file, message });
      }
    };

    const disposables: vscode.Disposable[] = [];
    // A changed model (retrained, re-exported) is read again.
    if (document.uri.scheme === 'file') {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(document.uri, '..'), '*'));
      let timer: NodeJS.Timeout | undefined;
      const changed = () => {
        clearTimeout(timer);
        timer = setTimeout(() => void load(), 300);
      };
      disposables.push(watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), { dispose: () => clearTimeout(timer) });
    }
    disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => {
        const msg = parseFromWebview(raw);
        if (!msg) {
          this.host.output.warn('inspector: ignored an unknown message from the webview');
          return;
        }
        if (msg.type === 'ready') {
          post(webview, { type: 'theme', kind: themeKind() });
          void load();
        } else if (msg.type === 'command') {
          this.host.runCommand(msg.command, document.uri);
        }
      }),
      vscode.window.onDidChangeActiveColorTheme((t) => post(webview, { type: 'theme', kind: themeKind(t.kind) })),
    );
    panel.onDidDispose(() => {
      for (const d of disposables.splice(0)) d.dispose();
    });
  }
}
