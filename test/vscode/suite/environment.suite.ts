/** The window the harness opens: the fixture workspace, file search, and webviews it can read. */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, test } from '../harness/runner';
import { waitForWebviewText, workspaceRoot } from '../harness/util';

suite('environment', () => {
  test('the window has the fixture workspace open', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1, `expected one workspace folder, got ${folders.map((f) => f.uri.toString())}`);
    assert.equal(folders[0].uri.scheme, 'file');
    assert.equal(folders[0].uri.fsPath, workspaceRoot());
  });

  test('file search finds the fixture models', async () => {
    const found = await vscode.workspace.findFiles('**/*.{onnx,safetensors}');
    const names = found.map((u) => path.relative(workspaceRoot(), u.fsPath).split(path.sep).join('/')).sort();
    assert.deepEqual(names, ['models/mnist.safetensors', 'models/mnist2x10.onnx', 'unsupported/cnn_max_mninst2.onnx']);
  });

  test('the harness reads the text a webview shows', async () => {
    const marker = `harness-marker-${process.pid}-${Date.now()}`;
    const panel = vscode.window.createWebviewPanel('prunescopeHarnessProbe', 'Harness probe', vscode.ViewColumn.One, {});
    try {
      panel.webview.html = `<!DOCTYPE html><html><body><h1>${marker}</h1><p>second line</p></body></html>`;
      const text = await waitForWebviewText(`a webview showing ${marker}`, (t) => t.includes(marker));
      assert.match(text, /second line/);
    } finally {
      panel.dispose();
    }
  });
});
