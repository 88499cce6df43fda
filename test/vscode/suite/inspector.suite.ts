/**
 * The inspector custom editors on real model files, and the error a model that is not an MLP gets;
 * its weight histograms, the training curves of a history.json beside the model, and the
 * activations a state dict is read with, chosen through Choose State-Dict Activations.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { screenshotIfAsked, webviewCanvases } from '../harness/channel';
import type { CanvasInfo } from '../harness/protocol';
import { suite, test } from '../harness/runner';
import { customEditorTab, describeTabs, waitFor, waitForWebviewText, workspaceRoot, workspaceUri } from '../harness/util';
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

/** Waits until the webviews show canvases labelled each of `labels`, each with a real share of it drawn. */
async function waitForDrawnCanvases(what: string, labels: string[]): Promise<CanvasInfo[]> {
  let last: CanvasInfo[] = [];
  return waitFor(
    what,
    async () => {
      last = await webviewCanvases();
      const found = labels.map((l) => last.find((c) => c.label === l && c.painted > 0.02 * c.width * c.height && c.colours >= 8));
      return found.every((c) => c !== undefined) ? found : undefined;
    },
    {
      timeoutMs: 45_000,
      intervalMs: 500,
      describeLast: () =>
        `canvases seen: ${last.map((c) => `"${c.label}" painted ${c.painted} colours ${c.colours}`).join('; ') || 'none'}`,
    },
  );
}

/** A history.json as saveTraining writes it (src/core/train/fit.ts TrainingHistory), three epochs. */
const HISTORY = {
  seed: 1,
  model: { name: 'mlp', sizes: [784, 10, 10, 10] },
  epochs: [
    { epoch: 1, epochs: 3, loss: 0.9, accuracy: 0.72, valLoss: 0.61, valAccuracy: 0.8, seconds: 1, samplesPerSecond: 9000 },
    { epoch: 2, epochs: 3, loss: 0.52, accuracy: 0.85, valLoss: 0.48, valAccuracy: 0.86, seconds: 1, samplesPerSecond: 9000 },
    { epoch: 3, epochs: 3, loss: 0.41, accuracy: 0.88, valLoss: 0.45, valAccuracy: 0.87, seconds: 1, samplesPerSecond: 9000 },
  ],
  bestEpoch: 3,
  bestValLoss: 0.45,
  stoppedEarly: false,
  totalSeconds: 3,
};

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
  test('draws a weight-magnitude histogram per layer, with its sparsity beside it', async () => {
    await openInInspector(workspaceUri('models', 'mnist2x10.onnx'));
    const text = await waitForWebviewText(
      'the histograms of mnist2x10.onnx',
      (t) => /Weight magnitudes/.test(t) && /10 × 10 kernel/.test(t),
    );
    await waitForDrawnCanvases('the three histograms', ['|w| of Gemm_2 (layer 1)', '|w| of Gemm_4 (layer 2)', '|w| of Gemm_6 (layer 3)']);
    await screenshotIfAsked('inspector histograms');
    // The kit's weights have no exact zeros: every layer's sparsity line says 0 of its weights.
    for (const line of [
      '784 × 10 kernel; sparsity 0%: 0 of 7,840 weights are exactly 0',
      '10 × 10 kernel; sparsity 0%: 0 of 100 weights are exactly 0',
    ]) {
      assert.ok(text.includes(line), `missing "${line}"`);
    }
    assert.doesNotMatch(text, /Training curves/, 'no history.json beside this model');
  });

  test('draws the training curves of the history.json beside a model; a malformed one is a one-line note', async () => {
    const dir = path.join(workspaceRoot(), 'trained-inspector');
    mkdirSync(dir, { recursive: true });
    try {
      copyFileSync(workspaceUri('models', 'mnist2x10.onnx').fsPath, path.join(dir, 'model.onnx'));
      const historyFile = path.join(dir, 'history.json');
      writeFileSync(historyFile, JSON.stringify(HISTORY, null, 2));
      await openInInspector(vscode.Uri.file(path.join(dir, 'model.onnx')));
      const text = await waitForWebviewText('the training curves', (t) => t.includes(`from ${historyFile}: 3 epochs`));
      assert.ok(text.includes(`from ${historyFile}: 3 epochs; weights of epoch 3 kept (lowest validation loss)`));
      await waitForDrawnCanvases('the loss and accuracy curves', ['Loss per epoch', 'Accuracy per epoch']);
      await screenshotIfAsked('inspector training curves');

      // The inspector reads the folder again when a file in it changes.
      writeFileSync(historyFile, '{"epochs": [{"epoch": 1, "loss": 0.5, "accuracy": "high", "valLoss": 0.4, "valAccuracy": 0.9}]}');
      const note = `${historyFile}: not a training history: epochs.0.accuracy: Invalid input: expected number, received string`;
      const after = await waitForWebviewText('the malformed history note', (t) => t.includes(note));
      assert.match(after, /Training curves/);
      assert.ok(after.includes('784 × 10 kernel'), 'the rest of the inspector is still there');
      assert.ok(!(await webviewCanvases()).some((c) => c.label === 'Loss per epoch'), 'no curves from a malformed history');
      await screenshotIfAsked('inspector malformed history');
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a state dict shows its activations, and Choose State-Dict Activations re-reads it', async () => {
    const config = () => vscode.workspace.getConfiguration('prunescope');
    // The choice is kept in the workspace's .vscode/settings.json; the test leaves the workspace as it found it.
    const settingsDir = path.join(workspaceRoot(), '.vscode');
    const had = { dir: existsSync(settingsDir), file: existsSync(path.join(settingsDir, 'settings.json')) };
    await openInInspector(workspaceUri('models', 'mnist.safetensors'));
    await waitForWebviewText('the activations of the safetensors MLP', (t) =>
      t.includes('this one is read with relu after each hidden layer and linear after the output layer'),
    );
    try {
      // The flow the inspector's button runs: two quick picks, each answered with its first item (linear).
      let finished = false;
      const done = Promise.resolve(vscode.commands.executeCommand('prunescope.chooseActivations')).then(() => (finished = true));
      await waitFor(
        'Choose State-Dict Activations to take two answers',
        async () => {
          if (finished) return true;
          await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
          return false;
        },
        { timeoutMs: 30_000, intervalMs: 400 },
      );
      await done;
      assert.equal(config().get('stateDictActivation'), 'linear');
      assert.equal(config().get('stateDictOutputActivation'), 'linear');
      const text = await waitForWebviewText('the safetensors MLP read again with linear layers', (t) =>
        t.includes('this one is read with linear after each hidden layer and linear after the output layer'),
      );
      assert.deepEqual(
        layerRows(text).map((r) => r[4]),
        ['linear', 'linear', 'linear', 'linear'],
      );
      await screenshotIfAsked('inspector state-dict activations');
    } finally {
      await config().update('stateDictActivation', undefined, vscode.ConfigurationTarget.Workspace);
      await config().update('stateDictOutputActivation', undefined, vscode.ConfigurationTarget.Workspace);
      if (!had.dir) rmSync(settingsDir, { recursive: true, force: true });
      else if (!had.file) rmSync(path.join(settingsDir, 'settings.json'), { force: true });
    }
  });
});
