/**
 * Run Study and the Study panel in the real editor: a really small study (two 784-w-10 models, one
 * epoch on 200 MNIST rows) run with options so nothing is asked, its results.json and report.html
 * written into the folder given; then that file opened with Open Results, which shows it in the
 * Study panel with its chart drawn.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { tinyStudyGrid } from '../../kits/study';
import { webviewCanvases, screenshotIfAsked } from '../harness/channel';
import { suite, test } from '../harness/runner';
import { describeTabs, waitFor, waitForWebviewText, workspaceRoot } from '../harness/util';
import { extension } from './extension.suite';

interface StudyJobResult {
  out: string;
  files: string[];
  results: { kind: string; models: { id: string }[] };
}

suite('study', () => {
  test(
    'Run Study writes a tiny study; Open Results shows its results file in the Study panel',
    async () => {
      await extension().activate();
      const out = join(workspaceRoot(), 'studies', 'vscode-tiny');
      rmSync(out, { recursive: true, force: true });
      const result = await vscode.commands.executeCommand<StudyJobResult | undefined>('prunescope.study', {
        ...tinyStudyGrid(),
        budgetMinutes: 30,
        out,
      });
      assert.ok(result, 'the study returned nothing');
      assert.deepEqual(
        result.results.models.map((m) => m.id),
        ['w8-d1-p0', 'w4-d1-p0'],
      );
      assert.deepEqual(readdirSync(out).sort(), ['report.html', 'results.json']);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');

      await vscode.commands.executeCommand('prunescope.openResults', vscode.Uri.file(join(out, 'results.json')));
      const tab = await waitFor('the Study panel tab', () =>
        vscode.window.tabGroups.all
          .flatMap((g) => g.tabs)
          .find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('prunescope.study')),
      ).catch((e: Error) => assert.fail(`${e.message}; ${describeTabs()}`));
      assert.equal(tab.label, 'Study: vscode-tiny');
      const text = await waitForWebviewText(
        'the Study panel with the study',
        (t) => t.includes('PruneScope study: cka against unit-l1') && t.includes('w4-d1-p0'),
      );
      assert.ok(text.includes(join(out, 'results.json')), 'the panel names the file it shows');
      await waitFor('the gap chart drawn', async () =>
        (await webviewCanvases()).find((c) => /Width: accuracy gap/.test(c.label) && c.painted > 0.02 * c.width * c.height),
      );
      await screenshotIfAsked('study panel');
      rmSync(out, { recursive: true, force: true });
      assert.equal(existsSync(out), false);
    },
    { timeoutMs: 120_000 },
  );
});
