import * as vscode from 'vscode';
import { dispatch, type Message, type MessageHandlers } from '../shared/dispatch';
import type { ThemeKind, WebviewView } from '../shared/webview-common-protocol';
import { makeNonce, webviewHtml } from './webview-html';

/** Scripts on; only dist/ and media/ may be loaded. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function setWebviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, view: WebviewView, title: string): void {
  webview.html = webviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css')).toString(),
    view,
    title,
  });
}

/**
 * Hands each message from the webview that fits its protocol (`parse`) to its handler; one that
 * does not fit is ignored and `onInvalid` says so in the log. The handlers are looked up when a
 * message comes: a panel class's own handlers exist only after its base's constructor has run.
 */
function receive<M extends Message>(
  webview: vscode.Webview,
  parse: (raw: unknown) => M | undefined,
  handlers: () => MessageHandlers<M>,
  onInvalid: () => void,
): vscode.Disposable {
  return webview.onDidReceiveMessage((raw: unknown) => {
    const msg = parse(raw);
    if (msg) dispatch(handlers(), msg);
    else onInvalid();
  });
}

/** Every view's protocol carries it (webview-common-protocol.ts), so every view may be sent it. */
export interface ThemeMessage {
  type: 'theme';
  kind: ThemeKind;
}

export interface WebviewHost {
  extensionUri: vscode.Uri;
  output: vscode.LogOutputChannel;
}

/** What sets one view apart: its page, its name in the log and the protocol its page speaks. */
export interface WebviewWiring<From extends Message> {
  view: WebviewView;
  title: string;
  /** "study panel", as the log names it. */
  name: string;
  parse: (raw: unknown) => From | undefined;
  handlers: () => MessageHandlers<From>;
}

export interface WiredWebview<To extends Message> {
  /** Typed to the view's own protocol, so that a message of another view cannot be posted to it. */
  post: (message: To | ThemeMessage) => void;
  /** Sends the current colour theme (the page asks once it is ready). */
  postTheme: () => void;
  /** What the view must dispose of when it goes. */
  subscriptions: vscode.Disposable[];
}

/**
 * Puts a view's page into `webview`, hands what the page says to the view's handlers and passes
 * colour theme changes on: what every panel and the inspector set up alike.
 */
export function wireWebview<To extends Message, From extends Message>(
  webview: vscode.Webview,
  host: WebviewHost,
  wiring: WebviewWiring<From>,
): WiredWebview<To> {
  const post = (message: To | ThemeMessage) => void webview.postMessage(message);
  webview.options = webviewOptions(host.extensionUri);
  setWebviewHtml(webview, host.extensionUri, wiring.view, wiring.title);
  const invalid = () => host.output.warn(`${wiring.name}: ignored an unknown message from the webview`);
  return {
    post,
    postTheme: () => post({ type: 'theme', kind: themeKind() }),
    subscriptions: [
      receive(webview, wiring.parse, wiring.handlers, invalid),
      vscode.window.onDidChangeActiveColorTheme((t) => post({ type: 'theme', kind: themeKind(t.kind) })),
    ],
  };
}

export function themeKind(kind: vscode.ColorThemeKind = vscode.window.activeColorTheme.kind): ThemeKind {
  switch (kind) {
    case vscode.ColorThemeKind.Light:
      return 'light';
    case vscode.ColorThemeKind.HighContrast:
      return 'high-contrast';
    case vscode.ColorThemeKind.HighContrastLight:
      return 'high-contrast-light';
    default:
      return 'dark';
  }
}
