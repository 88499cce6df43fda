/** The extension under development: it loads from this repository, activates, and registers its commands. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, test } from '../harness/runner';
import { repoRoot } from '../harness/util';

export const EXTENSION_ID = 'prunescope.prunescope';
export const INSPECTOR_VIEW_TYPE = 'prunescope.inspector';
/** model.json is a common name, so its inspector is offered rather than the default. */
export const INSPECTOR_JSON_VIEW_TYPE = 'prunescope.inspectorJson';

/** The commands the extension must offer (docs and the README name them). */
export const EXPECTED_COMMANDS = [
  'prunescope.inspect',
  'prunescope.analyze',
  'prunescope.prune',
  'prunescope.compare',
  'prunescope.train',
  'prunescope.evaluate',
  'prunescope.cancel',
  'prunescope.openResults',
  'prunescope.exportReport',
  'prunescope.chooseActivations',
];

interface Contributes {
  commands?: { command: string; title: string }[];
  customEditors?: { viewType: string; selector?: { filenamePattern: string }[] }[];
}

export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext;
}

function contributes(): Contributes {
  return (extension().packageJSON as { contributes?: Contributes }).contributes ?? {};
}

suite('extension', () => {
  test('is loaded from this repository as the extension under development', () => {
    const ext = extension();
    assert.equal(ext.extensionUri.fsPath, repoRoot());
    assert.equal(ext.extensionKind, vscode.ExtensionKind.Workspace);
  });

  test('activates', async () => {
    const ext = extension();
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test('contributes the PruneScope commands', () => {
    const ids = (contributes().commands ?? []).map((c) => c.command);
    const missing = EXPECTED_COMMANDS.filter((c) => !ids.includes(c));
    assert.deepEqual(missing, [], `package.json contributes.commands lacks ${missing.join(', ')}`);
    for (const c of contributes().commands ?? []) assert.ok(c.title.trim(), `command ${c.command} has no title`);
  });

  test('registers every contributed command', async () => {
    await extension().activate();
    const registered = new Set(await vscode.commands.getCommands(true));
    const ids = (contributes().commands ?? []).map((c) => c.command);
    assert.ok(ids.length > 0, 'package.json contributes no commands');
    const missing = ids.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  test('contributes the inspector custom editors for .onnx, .safetensors, PyTorch, Keras and model.json', () => {
    const editors = contributes().customEditors ?? [];
    const patternsOf = (viewType: string) => {
      const editor = editors.find((e) => e.viewType === viewType);
      assert.ok(editor, `package.json contributes no custom editor ${viewType}`);
      return (editor.selector ?? []).map((s) => s.filenamePattern);
    };
    assert.deepEqual(patternsOf(INSPECTOR_VIEW_TYPE).sort(), ['*.ckpt', '*.h5', '*.keras', '*.onnx', '*.pt', '*.pth', '*.safetensors']);
    assert.deepEqual(patternsOf(INSPECTOR_JSON_VIEW_TYPE), ['**/model.json']);
  });
});
