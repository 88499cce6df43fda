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

/** A sender of one view's messages, so that a message of the other view cannot be posted to it. */
export function poster<M extends Message>(webview: vscode.Webview): (message: M) => void {
  return (message) => void webview.postMessage(message);
}

/**
 * Hands each message from the webview that fits its protocol (`parse`) to its handler; one that
 * does not fit is ignored and `onInvalid` says so in the log.
 */
export function receive<M extends Message>(
  webview: vscode.Webview,
  parse: (raw: unknown) => M | undefined,
  handlers: MessageHandlers<M>,
  onInvalid: () => void,
): vscode.Disposable {
  return webview.onDidReceiveMessage((raw: unknown) => {
    const msg = parse(raw);
    if (msg) dispatch(handlers, msg);
    else onInvalid();
  });
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
