/**
 * What a window reload (Developer: Reload Window, or VS Code restarting with the window's editors)
 * leaves of PruneScope's panels: the workbench keeps each webview's state, and PruneScope's panel
 * serializers (registered for the `onWebviewPanel` activation events) get the panels back from it.
 * The test reloads the real window; its second half runs in the extension host that comes back.
 */
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Results } from '../../../src/core/results/format';
import { tinyStudyGrid } from '../../kits/study';
import { reloadWindow, suite, test } from '../harness/runner';
import { describeTabs, waitFor, waitForWebviewText, workspaceRoot, workspaceUri } from '../harness/util';
import { extension } from './extension.suite';

const MODEL = () => workspaceUri('models', 'mnist2x10.onnx');
const STUDY = () => join(workspaceRoot(), 'studies', 'vscode-restore');

/** The labels of the open webview tabs of one view type. */
function panelTabs(viewType: 'prunescope.results' | 'prunescope.study'): string[] {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith(viewType))
    .map((t) => t.label);
}

/** The analysis as the results panel shows it: its tabs, and a header naming the model and the samples used. */
const showsAnalysis = (samples: number) => (t: string) =>
  t.includes('Accuracy & loss') && t.includes(MODEL().fsPath) && t.includes(`activations from ${samples} `);

const showsStudy = (t: string) => t.includes('PruneScope study: cka against unit-l1') && t.includes(join(STUDY(), 'results.json'));

/** Shows the tab labelled `label` in the active editor group, as a click on it would. */
async function showTab(label: string): Promise<void> {
  const index = vscode.window.tabGroups.activeTabGroup.tabs.findIndex((t) => t.label === label);
  assert.ok(index >= 0 && index < 9, `no tab ${label} among the active group's first nine; ${describeTabs()}`);
  await vscode.commands.executeCommand(`workbench.action.openEditorAtIndex${index + 1}`);
}

function analyze(samples: number, sparsities: number[]): Thenable<Results | undefined> {
  return vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL(), {
    strategies: ['magnitude'],
    sparsities,
    samples,
    compensate: false,
  });
}

suite('after a window reload', () => {
  test(
    'the results and Study panels come back with what they showed, and are PruneScope panels again',
    async () => {
      await extension().activate();
      rmSync(STUDY(), { recursive: true, force: true });
      assert.ok(await vscode.commands.executeCommand('prunescope.study', { ...tinyStudyGrid(), budgetMinutes: 30, out: STUDY() }));
      await vscode.commands.executeCommand('prunescope.openResults', vscode.Uri.file(join(STUDY(), 'results.json')));
      await waitForWebviewText('the Study panel', showsStudy);
      assert.ok(await analyze(200, [0.3, 0.6]), 'the analysis returned nothing');
      await waitForWebviewText('the results panel', showsAnalysis(200));
      assert.deepEqual(panelTabs('prunescope.results'), ['Pruning analysis: mnist2x10.onnx']);
      assert.deepEqual(panelTabs('prunescope.study'), ['Study: vscode-restore']);
      await reloadWindow();
    },
    {
      timeoutMs: 180_000,
      afterReload: async () => {
        // Nothing here activates PruneScope: the restored panels must, through their activation events.
        await waitForWebviewText('the restored results panel', showsAnalysis(200), { timeoutMs: 90_000 });
        assert.ok(extension().isActive, 'the panel activated the extension');
        assert.deepEqual(panelTabs('prunescope.results'), ['Pruning analysis: mnist2x10.onnx'], describeTabs());
        assert.deepEqual(panelTabs('prunescope.study'), ['Study: vscode-restore'], describeTabs());
        // The Study panel is the group's other tab: VS Code restores a hidden webview when it is shown.
        await showTab('Study: vscode-restore');
        await waitForWebviewText('the restored Study panel', showsStudy);
        // The restored panels are PruneScope's again, not orphans: new results of the same model,
        // and the same study file opened again, show in them instead of in second panels.
        assert.ok(await analyze(150, [0.45]), 'the analysis after the reload returned nothing');
        await waitForWebviewText('the new results in the restored panel', showsAnalysis(150));
        await vscode.commands.executeCommand('prunescope.openResults', vscode.Uri.file(join(STUDY(), 'results.json')));
        await waitFor(
          'one panel of each',
          () => {
            const tabs = [...panelTabs('prunescope.results'), ...panelTabs('prunescope.study')];
            return tabs.length === 2 || undefined;
          },
          { describeLast: () => describeTabs() },
        );
        rmSync(STUDY(), { recursive: true, force: true });
      },
    },
  );
});
