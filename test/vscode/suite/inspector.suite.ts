/** The inspector custom editors on real model files, and the error a model that is not an MLP gets. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { screenshotIfAsked } from '../harness/channel';
import { suite, test } from '../harness/runner';
import { customEditorTab, describeTabs, waitFor, waitForWebviewText, workspaceUri } from '../harness/util';
import { INSPECTOR_JSON_VIEW_TYPE, INSPECTOR_VIEW_TYPE, extension } from './extension.suite';

async function openInInspector(uri: vscode.Uri, viewType = INSPECTOR_VIEW_TYPE): Promise<vscode.Tab> {
  await extension().activate();
  await vscode.commands.executeCommand('vscode.openWith', uri, viewType);
  return waitFor(`the ${viewType} tab for ${uri.fsPath}`, () => customEditorTab(uri, viewType), {
    describeLast: describeTabs,
  });
}

/**
 * The layer table as the webview shows it: one row per layer, cells [#, layer, in, units,
 * activation, parameters]. innerText separates table cells with tabs and rows with newlines.
 */
function layerRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => /^\d+\t/.test(line))
    .map((line) =>
      line
        .split('\t')
        .slice(0, 6)
        .map((c) => c.trim()),
    );
}

/** Waits for the inspector to show a layer table with `layers` rows. */
function waitForLayerTable(what: string, layers: number): Promise<string> {
  return waitForWebviewText(what, (t) => /\bLayers\b/.test(t) && layerRows(t).length === layers);
}

suite('inspector', () => {
  test('shows the layers of the ONNX MLP', async () => {
    const uri = workspaceUri('models', 'mnist2x10.onnx');
    const tab = await openInInspector(uri);
    assert.equal(tab.label, 'mnist2x10.onnx');
    const text = await waitForLayerTable('the mnist2x10.onnx layer table', 3);
    await screenshotIfAsked('inspector onnx');
    // The kit's twin of a PyTorch 1.11 export: Reshape -> Gemm 784x10 relu -> Gemm 10x10 relu -> Gemm 10x10.
    assert.deepEqual(layerRows(text), [
      ['1', 'Gemm_2', '784', '10', 'relu', '7,850'],
      ['2', 'Gemm_4', '10', '10', 'relu', '110'],
      ['3', 'Gemm_6', '10', '10', 'linear', '110'],
    ]);
    assert.match(text, /8,070/, 'total parameter count');
    assert.ok(text.includes(uri.fsPath), 'the summary names the file');
    assert.doesNotMatch(text, /cannot be read|not supported/i);
  });

  test('shows the layers of the safetensors MLP', async () => {
    await openInInspector(workspaceUri('models', 'mnist.safetensors'));
    const text = await waitForLayerTable('the mnist.safetensors layer table', 4);
    await screenshotIfAsked('inspector safetensors');
    // The kit's twin of dfdx's MNIST MLP: 784 -> 512 -> 128 -> 32 -> 10; safetensors has no activations, relu is assumed between layers.
    assert.deepEqual(layerRows(text), [
      ['1', '0.0', '784', '512', 'relu', '401,920'],
      ['2', '1.0', '512', '128', 'relu', '65,664'],
      ['3', '2.0', '128', '32', 'relu', '4,128'],
      ['4', '3', '32', '10', 'linear', '330'],
    ]);
    assert.match(text, /472,042/, 'total parameter count');
  });

  test('shows the layers of the TensorFlow.js LayersModel (model.json)', async () => {
    await openInInspector(workspaceUri('models', 'abalone', 'model.json'), INSPECTOR_JSON_VIEW_TYPE);
    const text = await waitForLayerTable('the abalone model.json layer table', 3);
    await screenshotIfAsked('inspector tfjs');
    // The kit's twin of tfjs-examples abalone-node: Dense 50 sigmoid x2 -> Dense 1, input [null, 8].
    assert.deepEqual(
      layerRows(text).map((r) => r.slice(2)),
      [
        ['8', '50', 'sigmoid', '450'],
        ['50', '50', 'sigmoid', '2,550'],
        ['50', '1', 'linear', '51'],
      ],
    );
  });

  test('shows why an unsupported model cannot be read, and keeps working', async () => {
    const uri = workspaceUri('unsupported', 'cnn_max_mninst2.onnx');
    const tab = await openInInspector(uri);
    assert.equal(tab.label, 'cnn_max_mninst2.onnx');
    const text = await waitForWebviewText('the unsupported-operator message', (t) => /not supported/i.test(t));
    await screenshotIfAsked('inspector unsupported');
    assert.match(text, /cannot be read/i);
    // The message names the file, the node and its position, and the operator.
    assert.ok(text.includes(uri.fsPath), 'the message names the file');
    assert.match(text, /node 2 of 13 'conv2d_14' \(Conv\)/);
    assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, 'the message must not be a stack trace');
    assert.equal(layerRows(text).length, 0, 'no layer table for a model that was not read');
    // The extension host survived: a good model still opens next to it.
    await openInInspector(workspaceUri('models', 'mnist2x10.onnx'));
    await waitForLayerTable('the mnist2x10.onnx layer table after the error', 3);
  });
});
