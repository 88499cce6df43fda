import * as vscode from 'vscode';
import type { Message, MessageHandlers } from '../shared/dispatch';
import { webviewOptions, wireWebview, type ThemeMessage, type WebviewHost, type WebviewWiring } from './webview-common';

/**
 * What the results panel and the Study panel have in common: a webview panel that shows one
 * value, keeps it (`state`, which VS Code saves for a reload) and disposes of every subscription it
 * made when it is closed. A subclass declares its protocol (`To`, `From`) and a handler per
 * message its page may send.
 */
export abstract class PanelBase<To extends Message, From extends Message, State extends { title: string }> implements vscode.Disposable {
  protected readonly disposables: vscode.Disposable[] = [];
  protected readonly post: (message: To | ThemeMessage) => void;
  protected readonly postTheme: () => void;
  private onDisposed: () => void = () => {};
  /** What the panel's page may say; every message type has its handler here. */
  protected abstract readonly fromWebview: MessageHandlers<From>;

  constructor(
    readonly panel: vscode.WebviewPanel,
    protected state: State,
    host: WebviewHost,
    wiring: Omit<WebviewWiring<From>, 'title' | 'handlers'>,
  ) {
    const wired = wireWebview<To, From>(panel.webview, host, { ...wiring, title: state.title, handlers: () => this.fromWebview });
    this.post = wired.post;
    this.postTheme = wired.postTheme;
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.svg');
    this.disposables.push(
      ...wired.subscriptions,
      panel.onDidDispose(() => this.dispose()),
    );
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

  /** Sends the panel's state to its page (on "ready", and whenever it changes). */
  protected abstract send(): void;

  /** Shows `state` instead of what the panel showed, and brings the panel to the front. */
  protected replace(state: State): void {
    this.state = state;
    this.panel.title = state.title;
    this.send();
    this.panel.reveal();
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
    this.onDisposed();
  }
}

/** What a set of panels needs of each one. */
interface ManagedPanel extends vscode.Disposable {
  readonly panel: vscode.WebviewPanel;
  whenDisposed(fn: () => void): void;
  onFocus(fn: () => void): void;
}

/**
 * Every open panel of one view type, and the serializer that brings them back after a reload
 * (extension.ts registers it under `viewType`).
 */
export abstract class PanelSet<P extends ManagedPanel, State, H extends WebviewHost>
  implements vscode.Disposable, vscode.WebviewPanelSerializer
{
  protected readonly panels = new Set<P>();
  private lastActive: P | undefined;

  constructor(
    protected readonly host: H,
    private readonly viewType: string,
    /** "a Study panel", as the log names one that cannot be restored. */
    private readonly name: string,
  ) {}

  /** A panel on `state`, given its webview panel (new, or brought back by VS Code). */
  protected abstract create(panel: vscode.WebviewPanel, state: State): P;

  /** A restored panel's saved state, checked: undefined when it is not valid. */
  protected abstract restoredState(raw: unknown): State | undefined;

  /** The panel that has the focus, if one has. */
  protected get focusedPanel(): P | undefined {
    for (const p of this.panels) if (p.panel.active) return p;
    return undefined;
  }

  /** The focused panel, else the last one focused. */
  protected get activePanel(): P | undefined {
    return this.focusedPanel ?? (this.lastActive && this.panels.has(this.lastActive) ? this.lastActive : undefined);
  }

  protected find(match: (p: P) => boolean): P | undefined {
    for (const p of this.panels) if (match(p)) return p;
    return undefined;
  }

  /** A new panel in `column` showing `state`, with the focus. */
  protected open(title: string, column: vscode.ViewColumn, state: State): void {
    const options = webviewOptions(this.host.extensionUri);
    const panel = vscode.window.createWebviewPanel(this.viewType, title, { viewColumn: column, preserveFocus: false }, options);
    this.adopt(panel, state);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- VS Code's WebviewPanelSerializer contract is async
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, raw: unknown): Promise<void> {
    const state = this.restoredState(raw);
    if (!state) {
      this.host.output.warn(`${this.name} could not be restored (its saved state is not valid); closed it`);
      panel.dispose();
      return;
    }
    this.adopt(panel, state);
  }

  private adopt(panel: vscode.WebviewPanel, state: State): void {
    const p = this.create(panel, state);
    this.panels.add(p);
    this.lastActive = p;
    p.whenDisposed(() => this.panels.delete(p));
    p.onFocus(() => (this.lastActive = p));
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
  }
}
