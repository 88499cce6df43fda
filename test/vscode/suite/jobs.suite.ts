/**
 * The job commands on the fixture workspace, through the real vscode API and the real worker:
 * Run Pruning Analysis, Prune Model, Compare Checkpoints, Cancel Job, and a worker killed mid-job.
 * The commands take a Uri and an options object (overridesFromArgs in src/extension/settings.ts),
 * so no quick pick is asked; what the person sees is read from the webviews and notifications.
 * Without options, Prune Model and Run Pruning Analysis ask their five questions: the tests answer
 * them with the workbench's own Enter and Back (prunescope.test.dialog says which question is open).
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as vscode from 'vscode';
import type { ComparisonResults, Results } from '../../../src/core/results/format';
import type { TestStatus } from '../../../src/extension/extension';
import type { DialogState } from '../../../src/extension/prune-dialogs';
import type { JobResult } from '../../../src/shared/jobs';
import { notificationMessages, screenshotIfAsked, webviewCanvases } from '../harness/channel';
import type { CanvasInfo } from '../harness/protocol';
import { suite, test } from '../harness/runner';
import {
  agreesWithReference,
  customEditorTab,
  describeTabs,
  referenceTestAccuracy,
  spareModel,
  waitFor,
  waitForWebviewText,
  workspaceTree,
  workspaceUri,
} from '../harness/util';
import { INSPECTOR_VIEW_TYPE, extension } from './extension.suite';

const MODEL = () => workspaceUri('models', 'mnist2x10.onnx');

async function status(): Promise<TestStatus> {
  const s = await vscode.commands.executeCommand<TestStatus | undefined>('prunescope.test.status');
  assert.ok(s, 'prunescope.test.status is not registered (the extension must run in test mode)');
  return s;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A canvas counts as drawn when a real share of it is not background and it has several colours (text, lines). */
function drawn(c: CanvasInfo): boolean {
  return c.painted > 0.02 * c.width * c.height && c.colours >= 8;
}

/** Waits until the webviews show canvases whose labels match each of `labels`, all drawn. */
async function waitForDrawnCanvases(what: string, labels: RegExp[]): Promise<CanvasInfo[]> {
  let last: CanvasInfo[] = [];
  return waitFor(
    what,
    async () => {
      last = await webviewCanvases();
      const found = labels.map((l) => last.find((c) => l.test(c.label) && drawn(c)));
      return found.every((c) => c !== undefined) ? found : undefined;
    },
    {
      timeoutMs: 45_000,
      intervalMs: 500,
      describeLast: () =>
        `canvases seen: ${last.map((c) => `"${c.label}" ${c.width}x${c.height} painted ${c.painted} colours ${c.colours}`).join('; ') || 'none'}`,
    },
  );
}

/** Starts a long analysis (not awaited) and waits until the worker reports progress on a pruned point. */
async function startLongAnalysis(): Promise<{ done: Thenable<Results | undefined>; pid: number }> {
  const done = vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL(), {
    strategies: ['magnitude', 'unit-l2', 'random'],
    sparsities: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    finetuneEpochs: 3,
    samples: 200,
  });
  const running = await waitFor(
    'the long analysis to report progress past the original model',
    async () => {
      const s = await status();
      const job = s.active.find((a) => a.job === 'analyze');
      return job?.progress?.fraction && job.progress.fraction > 0.02 && s.jobWorkerPid ? s : undefined;
    },
    { timeoutMs: 60_000, describeLast: async () => JSON.stringify(await status()) },
  );
  return { done, pid: running.jobWorkerPid! };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The question Prune Model or Run Pruning Analysis shows now, as the person sees it. */
async function dialog(typed?: string): Promise<DialogState | undefined> {
  return vscode.commands.executeCommand<DialogState | undefined>('prunescope.test.dialog', typed);
}

/** Waits until the open question's title matches. */
async function question(title: RegExp): Promise<DialogState> {
  let last: DialogState | undefined;
  return waitFor(
    `the question ${title}`,
    async () => {
      last = await dialog();
      return last && title.test(last.title) ? last : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, describeLast: () => `open: ${JSON.stringify(last)}` },
  );
}

/**
 * Presses Enter in the open question (the workbench's accept, which takes the active item), and
 * waits until the question moves on; pressed again only when it did not arrive (the quick input
 * not drawn yet).
 */
async function enter(on: DialogState): Promise<void> {
  await waitFor(
    `Enter on "${on.title}" to be taken`,
    async () => {
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      for (let i = 0; i < 10; i++) {
        await sleep(150);
        const now = await dialog();
        if (now?.title !== on.title) return true;
      }
      return false;
    },
    { timeoutMs: 20_000, intervalMs: 0 },
  );
}

/** Types into the open question and waits until what it means is the active item. */
async function type(text: string, active: string): Promise<DialogState> {
  await dialog(text);
  let last: DialogState | undefined;
  return waitFor(
    `"${text}" to make "${active}" the active item`,
    async () => {
      last = await dialog();
      return last?.active[0] === active ? last : undefined;
    },
    { timeoutMs: 10_000, describeLast: () => JSON.stringify(last) },
  );
}

/** Resolves with the command's value, or fails naming `what` after `ms`. */
async function settles<T>(what: string, p: Thenable<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve(p), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

suite('jobs', () => {
  test(
    'Run Pruning Analysis runs to the end and the results panel draws the charts',
    async () => {
      await extension().activate();
      const results = await vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL(), {
        strategies: ['magnitude', 'unit-l2'],
        sparsities: [0.25, 0.5],
        samples: 200,
      });
      assert.ok(results, `the analysis returned nothing; ${JSON.stringify((await status()).finished)}`);
      assert.equal(results.kind, 'analysis');
      // prunescope.compensate is on by default: every strategy plain, then compensated.
      assert.deepEqual(
        results.runs.map((r) => [r.label ?? r.strategy, r.points.map((p) => p.sparsity)]),
        [
          ['magnitude', [0.25, 0.5]],
          ['magnitude + compensation', [0.25, 0.5]],
          ['unit-l2', [0.25, 0.5]],
          ['unit-l2 + compensation', [0.25, 0.5]],
        ],
      );
      assert.ok(results.settings.compensation, 'the results record the compensation settings');
      assert.equal((await status()).finished.at(-1)?.outcome, 'done');
      // Idle after an analysis: the status bar item stays, one click from the recent results.
      assert.deepEqual((await status()).statusItem, { text: '$(history) PruneScope', command: 'prunescope.openResults' });

      const text = await waitForWebviewText(
        'the results panel with the analysis',
        (t) => t.includes('Accuracy & loss') && t.includes('mnist2x10.onnx'),
      );
      assert.ok(text.includes(MODEL().fsPath), 'the header names the model file');
      assert.match(text, /activations from 200 /, 'the header gives the samples used');
      for (const tab of ['Similarity heatmap', 'APoZ', 'Weight magnitudes', 'Layer similarity', 'Latency & size'])
        assert.ok(text.includes(tab), `tab ${tab}`);
      const tab = vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('prunescope.results'));
      assert.ok(tab, `no results panel tab; ${describeTabs()}`);
      assert.equal(tab.label, 'Pruning analysis: mnist2x10.onnx');
      await waitForDrawnCanvases('the accuracy, loss and agreement charts', [
        /^Accuracy vs sparsity$/,
        /^Loss vs sparsity$/,
        /^Agreement with the original/,
      ]);
      await screenshotIfAsked('analysis results panel');
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Prune Model writes a smaller model beside the original and leaves the original unchanged, after asking strategy, sparsity, compensation, fine-tuning and schedule (Enter takes the settings, Back goes back)',
    async () => {
      await extension().activate();
      const original = MODEL().fsPath;
      const before = sha256(original);
      const sizeBefore = statSync(original).size;
      const done = vscode.commands.executeCommand<JobResult<'prune'> | undefined>('prunescope.prune', MODEL());
      const strategy = await question(/^Prune mnist2x10\.onnx: strategy \(1\/5\)$/);
      assert.deepEqual(strategy.active, ['auto'], 'prunescope.pruneStrategy');
      assert.ok(strategy.items.includes('unit-l2') && strategy.items.includes('magnitude'), strategy.items.join(', '));
      await enter(strategy);
      let sparsity = await question(/: sparsity \(2\/5\)$/);
      assert.deepEqual(sparsity.active, ['50 %'], 'prunescope.pruneSparsity');
      // A typed percentage is offered first; Back returns to the strategy without taking it, so forward again shows 50 %.
      const typed = await type('12.5', '12.5 %');
      assert.deepEqual(typed.descriptions[0], 'typed');
      await screenshotIfAsked('prune dialog sparsity');
      await vscode.commands.executeCommand('workbench.action.quickInputBack');
      await enter(await question(/: strategy \(1\/5\)$/));
      sparsity = await question(/: sparsity \(2\/5\)$/);
      assert.deepEqual(sparsity.active, ['50 %']);
      await enter(sparsity);
      const compensation = await question(/: compensation \(3\/5\)$/);
      assert.deepEqual(compensation.active, ['Compensate'], 'prunescope.compensate');
      await enter(compensation);
      const finetune = await question(/: fine-tuning \(4\/5\)$/);
      assert.deepEqual(finetune.active, ['No fine-tuning'], 'prunescope.finetuneEpochs');
      await enter(finetune);
      const schedule = await question(/: schedule and estimate \(5\/5\)$/);
      assert.deepEqual(schedule.items, ['One-shot']);
      // The estimate, from the model's 8,070 parameters and MNIST's rows.
      const estimate = await waitFor('the estimate', async () => (await dialog())?.descriptions.find((d) => /\(estimate\)$/.test(d)));
      assert.match(estimate, /^about \d+ (s|min) \(estimate\)$/);
      await screenshotIfAsked('prune dialog estimate');
      await enter(schedule);
      const result = await done;
      assert.ok(result, `Prune Model returned nothing; ${JSON.stringify((await status()).finished)}`);
      assert.equal(sha256(original), before, 'the original model changed');
      assert.equal(statSync(original).size, sizeBefore);
      // The defaults: auto (the best of unit-l2, cka-greedy and taylor-units on the validation split) at 50 %.
      assert.equal(path.dirname(result.out), path.dirname(original));
      assert.equal(path.basename(result.out), 'mnist2x10.pruned-auto-50.onnx');
      assert.ok(existsSync(result.out));
      assert.equal(statSync(result.out).size, result.bytesAfter);
      assert.ok(result.bytesAfter < result.bytesBefore, `pruned ${result.bytesAfter} B, original ${result.bytesBefore} B`);
      const written = await waitFor('the notification that the pruned model was written', async () => {
        const m = await notificationMessages();
        return m.find((x) => x.includes('wrote mnist2x10.pruned-auto-50.onnx'));
      });
      // Compensated by default (prunescope.compensate), with the test accuracy before and after.
      assert.equal(result.compensated, true);
      assert.ok(result.before && result.after, 'evaluated before and after');
      const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
      assert.ok(written.includes(`accuracy ${pct(result.before.accuracy)} → ${pct(result.after.accuracy)}, compensated`), written);

      // The pruned model opens, and its hidden layers lost half their units.
      const uri = vscode.Uri.file(result.out);
      await vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE);
      await waitFor('the inspector tab of the pruned model', () => customEditorTab(uri, INSPECTOR_VIEW_TYPE), {
        describeLast: describeTabs,
      });
      const text = await waitForWebviewText('the pruned model layer table', (t) => t.includes(result.out) && /^3\t/m.test(t));
      const rows = text
        .split('\n')
        .filter((l) => /^\d+\t/.test(l))
        .map((l) =>
          l
            .split('\t')
            .slice(2, 4)
            .map((c) => c.trim()),
        );
      assert.deepEqual(rows, [
        ['784', '5'],
        ['5', '5'],
        ['5', '10'],
      ]);
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Prune Model by magnitude into ONNX (prunescope.pruneFormat) stores the zeros sparsely: a file a fifth the size of its safetensors source',
    async () => {
      await extension().activate();
      const source = workspaceUri('models', 'mnist.safetensors').fsPath;
      const before = sha256(source);
      const result = await vscode.commands.executeCommand<JobResult<'prune'> | undefined>('prunescope.prune', vscode.Uri.file(source), {
        pruneStrategy: 'magnitude',
        pruneSparsity: 0.9,
        pruneFormat: 'onnx',
      });
      assert.ok(result, `Prune Model returned nothing; ${JSON.stringify((await status()).finished)}`);
      assert.equal(sha256(source), before, 'the source model changed');
      assert.equal(path.basename(result.out), 'mnist.pruned-magnitude-90.onnx');
      assert.equal(result.kind, 'unstructured');
      assert.equal(statSync(result.out).size, result.bytesAfter);
      assert.ok(result.bytesAfter < 0.25 * result.bytesBefore, `pruned ${result.bytesAfter} B, source ${result.bytesBefore} B`);
      const messages = await waitFor('the notification with both sizes', async () => {
        const m = await notificationMessages();
        return m.find((x) => x.includes('wrote mnist.pruned-magnitude-90.onnx'));
      });
      assert.match(messages, /1\.80 MB → 0\.3\d MB/);
      assert.doesNotMatch(messages, /keeps its size/);
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Pruning the same way again offers Open earlier result / Replace it / Keep both, and replaces only the file PruneScope wrote',
    async () => {
      await extension().activate();
      const dir = path.dirname(MODEL().fsPath);
      const same = path.join(dir, 'mnist2x10.pruned-auto-50.onnx');
      const kept = path.join(dir, 'mnist2x10.pruned-auto-50-1.onnx');
      assert.ok(!existsSync(kept), `${kept} exists before the test`);
      const prune = (options?: object) =>
        vscode.commands.executeCommand<JobResult<'prune'> | undefined>('prunescope.prune', MODEL(), ...(options ? [options] : []));
      if (!existsSync(same)) assert.ok(await prune({ useDefaults: true }), 'the first Prune Model failed');
      const answerDefaults = async () => {
        for (let n = 1; n <= 5; n++) await enter(await question(new RegExp(`^Prune mnist2x10\\.onnx: .* \\(${n}/5\\)$`)));
      };
      try {
        // Replace: the same name, a new file (the earlier one moved aside, then deleted), no copy.
        const inode = statSync(same).ino;
        let done = prune();
        await answerDefaults();
        let asked = await question(/^Prune mnist2x10\.onnx: mnist2x10\.pruned-auto-50\.onnx exists$/);
        assert.deepEqual(asked.items, ['Open earlier result', 'Replace it', 'Keep both']);
        assert.equal(asked.placeholder, 'mnist2x10.pruned-auto-50.onnx is this model pruned earlier the same way.');
        await screenshotIfAsked('re-prune question');
        await type('Replace', 'Replace it');
        await enter(asked);
        let result = await done;
        assert.ok(result, `Replace returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
        assert.equal(result.out, same);
        assert.notEqual(statSync(same).ino, inode, 'the file was not written anew');
        assert.ok(!existsSync(kept), 'Replace left a -1 copy');
        assert.deepEqual(
          readdirSync(dir).filter((n) => n.includes('prunescope-replaced')),
          [],
          'the earlier result was not deleted',
        );

        // The person changes the file: it is theirs now, so Replace is not offered; Keep both writes -1.
        appendFileSync(same, 'edited');
        const edited = sha256(same);
        done = prune();
        await answerDefaults();
        asked = await question(/: mnist2x10\.pruned-auto-50\.onnx exists$/);
        assert.deepEqual(asked.items, ['Open earlier result', 'Keep both']);
        assert.match(asked.placeholder, /changed since PruneScope wrote it, so it is not replaced/);
        await type('Keep', 'Keep both');
        await enter(asked);
        result = await done;
        assert.ok(result, `Keep both returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
        assert.equal(result.out, kept);
        assert.equal(sha256(same), edited, 'the edited file was touched');

        // Automation asking to replace it is refused, says why and writes nothing; Open earlier result opens it.
        const files = workspaceTree();
        await vscode.commands.executeCommand('notifications.clearAll');
        assert.equal(await prune({ useDefaults: true, ifExists: 'replace' }), undefined);
        await waitFor('the refusal', async () =>
          (await notificationMessages()).find((m) => m.includes('is not replaced: it changed since PruneScope wrote it')),
        );
        assert.equal(await prune({ useDefaults: true, ifExists: 'open' }), undefined);
        await waitFor('the earlier result in the inspector', () => customEditorTab(vscode.Uri.file(same), INSPECTOR_VIEW_TYPE), {
          describeLast: describeTabs,
        });
        assert.deepEqual(workspaceTree(), files, 'refusing or opening wrote files');
        assert.equal(sha256(same), edited);
      } finally {
        rmSync(kept, { force: true });
      }
    },
    { timeoutMs: 240_000 },
  );

  test(
    'Run Pruning Analysis asks the same five questions: strategies checked from the settings, sparsities typed, compensation off',
    async () => {
      await extension().activate();
      const done = vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL());
      const strategies = await question(/^Pruning analysis of mnist2x10\.onnx: strategies \(1\/5\)$/);
      assert.deepEqual([...strategies.selected].sort(), ['apoz', 'magnitude', 'random', 'unit-l2'], 'prunescope.strategies');
      await enter(strategies);
      const sparsities = await question(/: sparsities \(2\/5\)$/);
      assert.deepEqual(sparsities.active, ['10, 20, 30, 40, 50, 60, 70, 80, 90 %'], 'prunescope.sparsities');
      await type('50, 90', '50, 90 %');
      await enter(sparsities);
      const compensation = await question(/: compensation \(3\/5\)$/);
      await type('No', 'No compensation');
      await enter(compensation);
      await enter(await question(/: fine-tuning \(4\/5\)$/));
      const schedule = await question(/: schedule and estimate \(5\/5\)$/);
      // No fine-tuning: one-shot only, and the step says how to get iterative schedules.
      assert.deepEqual(schedule.items, ['One-shot']);
      await waitFor('the estimate', async () => (await dialog())?.descriptions.find((d) => /\(estimate\)$/.test(d)));
      await enter(schedule);
      const results = await done;
      assert.ok(results, `the analysis returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
      assert.equal(results.kind, 'analysis');
      assert.deepEqual(results.runs.map((r) => [r.label ?? r.strategy, r.points.map((p) => p.sparsity)]).sort(), [
        ['apoz', [0.5, 0.9]],
        ['magnitude', [0.5, 0.9]],
        ['random', [0.5, 0.9]],
        ['unit-l2', [0.5, 0.9]],
      ]);
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Compare Checkpoints shows the Compare tab with its heatmaps',
    async () => {
      await extension().activate();
      const other = workspaceUri('models', 'mnist2x5_sigmoid.onnx');
      copyFileSync(spareModel('mnist2x5_sigmoid.onnx'), other.fsPath);
      // As the explorer passes a two-file selection: (clicked, [selected...]).
      const results = await vscode.commands.executeCommand<ComparisonResults | undefined>('prunescope.compare', MODEL(), [MODEL(), other], {
        samples: 200,
      });
      assert.ok(results, `the comparison returned nothing; ${JSON.stringify((await status()).finished)}`);
      assert.equal(results.kind, 'comparison');
      assert.equal(results.cross.length, 3, 'rows: the layers of A');
      for (const row of results.cross) assert.equal(row.length, 3, 'columns: the layers of B');
      const text = await waitForWebviewText('the Compare tab', (t) => t.includes('A × B (cross)') && t.includes('mnist2x5_sigmoid.onnx'));
      assert.match(text, /\bCompare\b/);
      const [cross] = await waitForDrawnCanvases('the three heatmaps', [
        /^Layer similarity: A's layers \(rows\) vs B's layers \(columns\)/,
        /^Layer similarity within A:/,
        /^Layer similarity within B:/,
        /colour scale/,
      ]);
      assert.ok(cross.width > 200);
      await screenshotIfAsked('comparison results panel');
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Compare Checkpoints with one model suggests its pruned copies first: Enter compares it with the newest',
    async () => {
      await extension().activate();
      // A pruned copy newer than any other beside the model, as Prune Model names them.
      const copy = workspaceUri('models', 'mnist2x10.pruned-newest-99.onnx');
      copyFileSync(MODEL().fsPath, copy.fsPath);
      try {
        const running = vscode.commands.executeCommand<ComparisonResults | undefined>('prunescope.compare', MODEL(), { samples: 100 });
        // The quick pick opens with the newest copy active: Enter takes it, as a person would.
        let settled = false;
        void running.then(() => (settled = true));
        await waitFor('the pick of the second checkpoint to be taken', async () => {
          await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
          await sleep(300);
          return settled || (await status()).active.some((j) => j.job === 'compare');
        });
        const results = await running;
        assert.ok(results, `the comparison returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
        assert.equal(results.a.model.path, MODEL().fsPath);
        assert.equal(results.b.model.path, copy.fsPath, 'B is the newest pruned copy, offered first');
        await screenshotIfAsked('compare picks a pruned copy');
      } finally {
        rmSync(copy.fsPath, { force: true });
      }
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Cancel Job stops a running analysis and the next job succeeds',
    async () => {
      await extension().activate();
      const files = workspaceTree();
      const { done, pid } = await startLongAnalysis();
      await vscode.commands.executeCommand('prunescope.cancel');
      // The worker gives a cancelled job 10 s before it kills it; a job that stops by itself keeps its worker.
      const result = await settles('the cancelled analysis', done, 15_000);
      assert.equal(result, undefined);
      const after = await status();
      assert.equal(after.finished.at(-1)?.outcome, 'cancelled', JSON.stringify(after.finished.at(-1)));
      assert.deepEqual(after.active, []);
      assert.equal(after.jobWorkerPid, pid, 'the analysis did not stop on its own: its worker was killed');
      const messages = await notificationMessages();
      assert.ok(!messages.some((m) => /failed/i.test(m)), `a cancel is not a failure: ${messages.join(' | ')}`);
      assert.deepEqual(workspaceTree(), files, 'the cancelled analysis left files in the workspace');

      const next = await vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL(), {
        strategies: ['magnitude'],
        sparsities: [0.3],
        samples: 100,
      });
      assert.ok(next, `the job after the cancel failed; ${JSON.stringify((await status()).finished.at(-1))}`);
      assert.equal((await status()).finished.at(-1)?.outcome, 'done');
    },
    { timeoutMs: 180_000 },
  );

  test(
    'a worker killed mid-job is reported with its cause and the next job succeeds',
    async () => {
      await extension().activate();
      const files = workspaceTree();
      const { done, pid } = await startLongAnalysis();
      process.kill(pid, 'SIGKILL');
      const result = await settles('the analysis whose worker was killed', done, 30_000);
      assert.equal(result, undefined);
      const last = (await status()).finished.at(-1);
      assert.equal(last?.outcome, 'failed', JSON.stringify(last));
      assert.match(last?.message ?? '', /worker was killed by SIGKILL while running analyze/);
      assert.deepEqual(workspaceTree(), files, 'the killed analysis left files in the workspace');
      const shown = await waitFor('the error notification naming the cause', async () =>
        (await notificationMessages()).find((m) => /Pruning analysis of mnist2x10\.onnx failed: .*killed by SIGKILL/.test(m)),
      );
      assert.match(shown, /while running analyze/);
      await screenshotIfAsked('worker killed');

      const evaluated = await vscode.commands.executeCommand<JobResult<'evaluate'> | undefined>('prunescope.evaluate', MODEL());
      assert.ok(evaluated, `the job after the crash failed; ${JSON.stringify((await status()).finished.at(-1))}`);
      const expected = referenceTestAccuracy('models', 'mnist2x10.onnx');
      assert.ok(
        agreesWithReference(evaluated.accuracy, expected),
        `accuracy ${evaluated.accuracy}, the encoder kit's forward pass says ${expected}`,
      );
      const s = await status();
      assert.ok(s.jobWorkerPid && s.jobWorkerPid !== pid, 'a fresh worker ran the next job');
    },
    { timeoutMs: 180_000 },
  );
});

suite('jobs: memory', () => {
  test(
    '40 Evaluate Model jobs in a row do not grow the extension host heap',
    async () => {
      await extension().activate();
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const heap = () => {
        gc();
        gc();
        return process.memoryUsage().heapUsed;
      };
      const evaluateOnce = async () => {
        const r = await vscode.commands.executeCommand<JobResult<'evaluate'> | undefined>('prunescope.evaluate', MODEL());
        assert.ok(r, `Evaluate Model failed; ${JSON.stringify((await status()).finished.at(-1))}`);
      };
      for (let i = 0; i < 5; i++) await evaluateOnce(); // warm-up
      await vscode.commands.executeCommand('notifications.clearAll');
      const pid = (await status()).jobWorkerPid;
      const start = heap();
      for (let i = 0; i < 40; i++) {
        await evaluateOnce();
        if (i % 10 === 9) await vscode.commands.executeCommand('notifications.clearAll');
      }
      const end = heap();
      const growth = end - start;
      console.log(
        `extension host heap over 40 evaluate jobs: ${(start / 1e6).toFixed(2)} MB -> ${(end / 1e6).toFixed(2)} MB (${(growth / 1024).toFixed(0)} KB)`,
      );
      assert.equal((await status()).jobWorkerPid, pid, 'one worker ran every job');
      // A generous bound: a per-job leak of notifications, progress reports or results (tens of KB each) would pass it.
      assert.ok(growth < 2 * 1024 * 1024, `the extension host heap grew by ${(growth / 1024).toFixed(0)} KB over 40 jobs`);
    },
    { timeoutMs: 180_000 },
  );
});
