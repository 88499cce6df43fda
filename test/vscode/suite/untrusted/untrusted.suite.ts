/**
 * Workspace Trust in the real editor: PruneScope declares `untrustedWorkspaces: limited`. In
 * Restricted Mode the inspector reads models; the job commands (analysis, prune, compare,
 * training, evaluation) read data and write files, so they run nothing, write nothing, and say
 * that the workspace must be trusted.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { TestStatus } from '../../../../src/extension/extension';
import { notificationMessages, screenshotIfAsked } from '../../harness/channel';
import { suite, test } from '../../harness/runner';
import { customEditorTab, describeTabs, waitFor, waitForWebviewText, workspaceTree, workspaceUri } from '../../harness/util';

const EXTENSION_ID = 'prunescope.prunescope';
const INSPECTOR_VIEW_TYPE = 'prunescope.inspector';
const MODEL = () => workspaceUri('models', 'mnist2x10.onnx');

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded (is it disabled in Restricted Mode?)`);
  return ext;
}

async function status(): Promise<TestStatus> {
  const s = await vscode.commands.executeCommand<TestStatus | undefined>('prunescope.test.status');
  assert.ok(s, 'prunescope.test.status is not registered (the extension must run in test mode)');
  return s;
}

/**
 * Runs a job command without awaiting it, waits for the notification that asks for trust, then
 * dismisses it; the command must then end with nothing computed.
 */
async function refused(command: string, args: unknown[], action: string): Promise<string> {
  const before = workspaceTree();
  let ended: { value: unknown } | undefined;
  void Promise.resolve(vscode.commands.executeCommand<unknown>(command, ...args)).then((value) => (ended = { value }));
  const shown = await waitFor(`the notification that ${action} needs a trusted workspace`, async () =>
    (await notificationMessages()).find((m) => m.includes(`PruneScope: ${action} reads data and writes files`)),
  );
  await screenshotIfAsked(`restricted mode ${command}`);
  await vscode.commands.executeCommand('notifications.clearAll');
  const result = await waitFor(`${command} to end once the notification is closed`, () => ended);
  assert.equal(result.value, undefined, `${command} computed something in Restricted Mode`);
  assert.deepEqual(workspaceTree(), before, `${command} changed the workspace`);
  return shown;
}

suite('restricted mode', () => {
  test('the workspace is untrusted and PruneScope is active in it', async () => {
    assert.equal(vscode.workspace.isTrusted, false);
    await extension().activate();
    assert.ok(extension().isActive);
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('prunescope.analyze') && commands.includes('prunescope.inspect'));
  });

  test('the inspector reads a model', async () => {
    await extension().activate();
    const uri = MODEL();
    await vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE);
    await waitFor('the inspector tab', () => customEditorTab(uri, INSPECTOR_VIEW_TYPE), { describeLast: describeTabs });
    const text = await waitForWebviewText('the mnist2x10.onnx layer table', (t) => /\bLayers\b/.test(t) && t.includes('Gemm_6'));
    assert.match(text, /8,070/, 'total parameter count');
    assert.ok(text.includes(uri.fsPath));
    await screenshotIfAsked('restricted mode inspector');
  });

  test(
    'Prune Model, Run Pruning Analysis and Evaluate Model run nothing, write nothing and ask for trust',
    async () => {
      await extension().activate();
      const original = readFileSync(MODEL().fsPath);
      const prune = await refused('prunescope.prune', [MODEL()], 'Pruning');
      assert.match(prune, /Restricted Mode\. Trust the workspace to continue\./);
      await refused('prunescope.analyze', [MODEL(), { strategies: ['magnitude'], sparsities: [0.5], samples: 100 }], 'A pruning analysis');
      await refused('prunescope.evaluate', [MODEL()], 'Evaluation');
      assert.ok(readFileSync(MODEL().fsPath).equals(original), 'the model changed');
      // No job reached the worker: none ran, none ended, no job worker was started.
      const s = await status();
      assert.deepEqual(s.active, []);
      assert.deepEqual(s.finished, []);
      assert.equal(s.jobWorkerPid, undefined);
    },
    { timeoutMs: 120_000 },
  );
});
