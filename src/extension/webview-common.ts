import * as vscode from 'vscode';
import type { ToWebviewMessage, ThemeKind } from '../shared/webview-protocol';
import { makeNonce, webviewHtml } from './webview-html';

/** Scripts on; only dist/ and media/ may be loaded. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function setWebviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, view: 'results' | 'inspector', title: string): void {
  webview.html = webviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css')).toString(),
    view,
    title,
  });
}

export function post(webview: vscode.Webview, message: ToWebviewMessage): void {
  void webview.postMessage(message);
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
