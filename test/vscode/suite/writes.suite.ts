/**
 * No command replaces a file the person did not give up, in the real editor with the real worker:
 * Prune Model leaves a planted journal and the files it names alone, never replaces a file that
 * takes its output's name after the name was picked (while the job waits or while it runs), gives
 * a second run a second name; an export never replaces a file of the models the results were
 * computed from, under any name (hard link, symbolic link, a tfjs model's weight shard).
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PARTIAL_PREFIX } from '../../../src/core/io/atomic';
import type { Results } from '../../../src/core/results/format';
import type { TestStatus } from '../../../src/extension/extension';
import { exportData, writeExport } from '../../../src/extension/results-panel';
import type { JobResult } from '../../../src/shared/jobs';
import { notificationMessages } from '../harness/channel';
import { suite, test } from '../harness/runner';
import { waitFor, workspaceRoot, workspaceUri } from '../harness/util';
import { extension } from './extension.suite';

const MODEL = () => workspaceUri('models', 'mnist2x10.onnx');
const MODELS_DIR = () => path.join(workspaceRoot(), 'models');
/** Above the largest pid Linux gives (2^22): a writer that no longer runs. */
const DEAD_PID = 2 ** 22 + 99;

async function status(): Promise<TestStatus> {
  const s = await vscode.commands.executeCommand<TestStatus | undefined>('prunescope.test.status');
  assert.ok(s, 'prunescope.test.status is not registered (the extension must run in test mode)');
  return s;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** What identifies a file's content and the file itself: a replaced file gets a new inode. */
function fingerprint(file: string): { sha: string; ino: number; mtimeMs: number; size: number } {
  const s = statSync(file);
  return { sha: sha256(file), ino: s.ino, mtimeMs: s.mtimeMs, size: s.size };
}

/** PruneScope temporaries in `dir` other than `planted`: what a job left behind. */
function leftovers(dir: string, planted: string[] = []): string[] {
  return readdirSync(dir).filter((n) => n.startsWith(PARTIAL_PREFIX) && !planted.includes(n));
}

async function waitForNotification(what: string, pattern: RegExp): Promise<string> {
  let last: string[] = [];
  return waitFor(
    what,
    async () => {
      last = await notificationMessages();
      return last.find((m) => pattern.test(m));
    },
    { describeLast: () => `notifications: ${last.join(' | ') || 'none'}` },
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A journal as the CLI test plants it: named like one of ours (a dead writer's), with a MAC that
 * is not this installation's, listing files to "roll back" (delete) in the folder and outside it.
 * Also a planted temporary. Returns the planted names and the victims with their contents.
 */
function plantJournal(dir: string): { planted: string[]; victims: { file: string; text: string }[]; cleanUp(): void } {
  const outside = mkdtempSync(path.join(tmpdir(), 'prunescope-victim-'));
  const victims = [
    { file: path.join(dir, 'victim-beside.txt'), text: 'keep me, beside the model' },
    { file: path.join(outside, 'victim-outside.txt'), text: 'keep me, outside the workspace' },
  ];
  for (const v of victims) writeFileSync(v.file, v.text);
  const journal = `${PARTIAL_PREFIX}${DEAD_PID}-1-j-0123456789abcdef.tmp`;
  const temporary = `${PARTIAL_PREFIX}${DEAD_PID}-9-t-0123456789abcdef.victim-beside.txt.tmp`;
  const entries = victims.map((v, i) => ({
    path: v.file,
    tmp: path.join(dir, `${PARTIAL_PREFIX}${DEAD_PID}-${i + 2}-t-0123456789abcdef.x.tmp`),
  }));
  writeFileSync(path.join(dir, journal), JSON.stringify({ body: JSON.stringify({ pid: DEAD_PID, entries }), mac: '0123456789abcdef' }));
  writeFileSync(path.join(dir, temporary), 'a file named like a temporary of ours');
  return {
    planted: [journal, temporary],
    victims,
    cleanUp: () => {
      for (const n of [journal, temporary]) rmSync(path.join(dir, n), { force: true });
      for (const v of victims) rmSync(v.file, { force: true });
      rmSync(outside, { recursive: true, force: true });
    },
  };
}

function assertPlantedIntact(p: ReturnType<typeof plantJournal>, dir: string): void {
  for (const v of p.victims) {
    assert.ok(existsSync(v.file), `${v.file} was removed`);
    assert.equal(readFileSync(v.file, 'utf8'), v.text, `${v.file} changed`);
  }
  for (const n of p.planted) assert.ok(existsSync(path.join(dir, n)), `the planted ${n} was removed`);
}

async function prune(options: Record<string, unknown>): Promise<JobResult<'prune'> | undefined> {
  return vscode.commands.executeCommand<JobResult<'prune'> | undefined>('prunescope.prune', MODEL(), options);
}

/** Replaces the save dialog for the duration of `fn`: it answers `target` (as a person who confirmed replacing it). */
async function withSaveDialog<T>(target: () => string, fn: (asked: () => number) => Promise<T>): Promise<T> {
  const window = vscode.window as { showSaveDialog: typeof vscode.window.showSaveDialog };
  const original = window.showSaveDialog;
  let asked = 0;
  window.showSaveDialog = async () => {
    asked++;
    return vscode.Uri.file(target());
  };
  try {
    return await fn(() => asked);
  } finally {
    window.showSaveDialog = original;
  }
}

suite('writes', () => {
  test(
    'Prune Model leaves a planted journal, a planted temporary and the files the journal names alone',
    async () => {
      await extension().activate();
      const dir = MODELS_DIR();
      const planted = plantJournal(dir);
      try {
        const original = fingerprint(MODEL().fsPath);
        const result = await prune({ pruneStrategy: 'magnitude', pruneSparsity: 0.3 });
        assert.ok(result, `Prune Model returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
        assert.equal(result.out, path.join(dir, 'mnist2x10.pruned-magnitude-30.onnx'));
        assert.ok(existsSync(result.out), 'the pruned model is not there');
        assert.equal(statSync(result.out).size, result.bytesAfter);
        assert.deepEqual(fingerprint(MODEL().fsPath), original, 'the source model changed');
        assertPlantedIntact(planted, dir);
        assert.deepEqual(leftovers(dir, planted.planted), [], 'the job left temporaries');
      } finally {
        planted.cleanUp();
        rmSync(path.join(dir, 'mnist2x10.pruned-magnitude-30.onnx'), { force: true });
      }
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Prune Model never replaces a file that takes its output name while the job runs, and says so naming the file',
    async () => {
      await extension().activate();
      await vscode.commands.executeCommand('notifications.clearAll');
      const dir = MODELS_DIR();
      // A planted journal too: the cleanup after a failed job recovers in the output's folder.
      const planted = plantJournal(dir);
      const expected = path.join(dir, 'mnist2x10.pruned-magnitude-60.onnx');
      assert.ok(!existsSync(expected), `${expected} exists before the test`);
      try {
        // Fine-tuning makes the job long enough to put a file there after its first check.
        const done = prune({ pruneStrategy: 'magnitude', pruneSparsity: 0.6, finetuneEpochs: 3 });
        await waitFor(
          'the prune job to be past its output check (pruning)',
          async () => (await status()).active.find((a) => a.job === 'prune' && a.progress?.message.startsWith('pruning with')),
          { timeoutMs: 90_000, intervalMs: 50, describeLast: async () => JSON.stringify(await status()) },
        );
        writeFileSync(expected, 'made by someone else while the job ran');
        const result = await done;
        assert.equal(result, undefined, 'Prune Model reported success over a file made while it ran');
        assert.equal(
          readFileSync(expected, 'utf8'),
          'made by someone else while the job ran',
          'the file made while the job ran was replaced',
        );
        const last = (await status()).finished.at(-1);
        assert.equal(last?.outcome, 'failed', JSON.stringify(last));
        // The writer checks each file again when it commits ("already exists"), and its hard link
        // refuses a file made in the instant after that ("appeared while the job ran").
        const refusal = `${escape(expected)} (already exists|appeared while the job ran)`;
        assert.match(last?.message ?? '', new RegExp(refusal));
        const shown = await waitForNotification('the error naming the file', new RegExp(`^PruneScope: ${refusal}`));
        assert.doesNotMatch(shown, /Error:|at .*\(|\bstack\b|internal/i, `not an internal error: ${shown}`);
        assertPlantedIntact(planted, dir);
        assert.deepEqual(leftovers(dir, planted.planted), [], 'the failed job left temporaries');
      } finally {
        planted.cleanUp();
        rmSync(expected, { force: true });
      }
    },
    { timeoutMs: 180_000 },
  );

  test(
    'Prune Model never replaces a file that takes its output name while the job waits for another',
    async () => {
      await extension().activate();
      await vscode.commands.executeCommand('notifications.clearAll');
      const dir = MODELS_DIR();
      const expected = path.join(dir, 'mnist2x10.pruned-magnitude-70.onnx');
      assert.ok(!existsSync(expected), `${expected} exists before the test`);
      try {
        // An analysis runs first; Prune Model picks its name at once and waits behind it.
        const blocker = vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL(), {
          strategies: ['magnitude', 'random'],
          sparsities: [0.1, 0.3, 0.5, 0.7, 0.9],
          finetuneEpochs: 1,
          samples: 100,
        });
        await waitFor('the analysis to run', async () => (await status()).jobRunning === 'analyze', { timeoutMs: 60_000 });
        const done = prune({ pruneStrategy: 'magnitude', pruneSparsity: 0.7 });
        await waitFor('Prune Model to be queued', async () => (await status()).active.some((a) => a.job === 'prune'), {
          timeoutMs: 30_000,
          intervalMs: 50,
        });
        writeFileSync(expected, 'made by someone else while the job waited');
        const stillWaiting = (await status()).jobRunning === 'analyze';
        const result = await done;
        assert.ok(await blocker, 'the analysis before it failed');
        assert.equal(result, undefined, 'Prune Model reported success over a file made after its name was picked');
        assert.equal(readFileSync(expected, 'utf8'), 'made by someone else while the job waited', 'the file was replaced');
        const last = (await status()).finished.at(-1);
        assert.equal(last?.outcome, 'failed', JSON.stringify(last));
        // Refused by the job's check before its work, or (had it started already) when it put the file in place.
        assert.match(
          last?.message ?? '',
          new RegExp(`${escape(expected)} ${stillWaiting ? 'already exists' : '(already exists|appeared while the job ran)'}`),
        );
        const shown = await waitForNotification(
          'the error naming the file',
          new RegExp(`^PruneScope: ${escape(expected)} (already exists|appeared while the job ran)`),
        );
        assert.doesNotMatch(shown, /Error:|at .*\(|internal/i, `not an internal error: ${shown}`);
        assert.deepEqual(leftovers(dir), [], 'the failed job left temporaries');
      } finally {
        rmSync(expected, { force: true });
      }
    },
    { timeoutMs: 240_000 },
  );

  test(
    'Prune Model run twice writes a second file (-1) and never touches the first',
    async () => {
      await extension().activate();
      const dir = MODELS_DIR();
      const outputs = ['', '-1'].map((n) => path.join(dir, `mnist2x10.pruned-unit-l1-40${n}.onnx`));
      for (const f of outputs) assert.ok(!existsSync(f), `${f} exists before the test`);
      try {
        const first = await prune({ pruneStrategy: 'unit-l1', pruneSparsity: 0.4 });
        assert.ok(first, `the first Prune Model returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
        assert.equal(first.out, path.join(dir, 'mnist2x10.pruned-unit-l1-40.onnx'));
        const before = fingerprint(first.out);
        const second = await prune({ pruneStrategy: 'unit-l1', pruneSparsity: 0.4 });
        assert.ok(second, `the second Prune Model returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`);
        assert.equal(second.out, path.join(dir, 'mnist2x10.pruned-unit-l1-40-1.onnx'));
        assert.ok(existsSync(second.out));
        assert.deepEqual(fingerprint(first.out), before, 'the first pruned model was touched');
        // The same job twice gives the same model: a second file, not a different one.
        assert.equal(sha256(second.out), before.sha);
        assert.deepEqual(leftovers(dir), []);
      } finally {
        for (const f of outputs) rmSync(f, { force: true });
      }
    },
    { timeoutMs: 180_000 },
  );

  test(
    'an export never replaces a file of the model the results came from, under any name; other files it writes atomically',
    async () => {
      await extension().activate();
      await vscode.commands.executeCommand('notifications.clearAll');
      const results = await vscode.commands.executeCommand<Results | undefined>('prunescope.analyze', MODEL(), {
        strategies: ['magnitude'],
        sparsities: [0.5],
        samples: 100,
      });
      assert.ok(
        results && results.kind === 'analysis',
        `the analysis returned nothing; ${JSON.stringify((await status()).finished.at(-1))}`,
      );
      assert.equal(path.resolve(results.model.path), MODEL().fsPath);
      const model = MODEL().fsPath;
      const exports = path.join(workspaceRoot(), 'exports');
      mkdirSync(exports, { recursive: true });
      const hard = path.join(exports, 'hard-link.onnx');
      const soft = path.join(exports, 'symlink.onnx');
      linkSync(model, hard);
      symlinkSync(model, soft);
      const abalone = workspaceUri('models', 'abalone', 'model.json').fsPath;
      const shard = path.join(path.dirname(abalone), 'weights.bin');
      const files = [model, abalone, shard];
      const before = Object.fromEntries(files.map((f) => [f, fingerprint(f)]));
      try {
        // The Export Report command itself: its quick pick is answered with its first item (HTML
        // report) and the save dialog (which VS Code's web workbench draws as a quick input this
        // test cannot type into) is replaced by one that answers the model file.
        await withSaveDialog(
          () => model,
          async (asked) => {
            const done = vscode.commands.executeCommand('prunescope.exportReport');
            await waitFor(
              'the save dialog of Export Report',
              async () => {
                if (asked() > 0) return true;
                await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
                return false;
              },
              { timeoutMs: 20_000, intervalMs: 300 },
            );
            await done;
          },
        );
        await waitForNotification(
          'the refusal of Export Report',
          new RegExp(`could not export the HTML report: refusing to replace ${escape(model)}: the results were computed from that model`),
        );

        // JSON and CSV exports (as the results panel's buttons call them), to the model under other names.
        for (const [target, format] of [
          [soft, 'json'],
          [hard, 'csv'],
        ] as const) {
          await sleep(1000);
          await withSaveDialog(
            () => target,
            async (asked) => {
              await exportData(results, format);
              assert.equal(asked(), 1);
            },
          );
          await waitForNotification(
            `the refusal of the ${format} export to ${target}`,
            new RegExp(`refusing to replace ${escape(target)} \\(it is the same file as ${escape(model)}\\)`),
          );
        }
        // A tfjs model's weight shard is a file of that model too.
        const onAbalone: Results = { ...results, model: { ...results.model, path: abalone } };
        await assert.rejects(writeExport(onAbalone, shard, Buffer.from('not weights')), (e: Error) => {
          assert.match(e.message, new RegExp(`refusing to replace ${escape(shard)}: the results were computed from that model`));
          return true;
        });
        await assert.rejects(writeExport(onAbalone, abalone, Buffer.from('{}')), /refusing to replace/);
        for (const f of files) assert.deepEqual(fingerprint(f), before[f], `${f} changed`);
        assert.ok(statSync(soft).isFile() && readFileSync(soft).equals(readFileSync(model)), 'the symbolic link still leads to the model');

        // Elsewhere: a new file is written, and an existing one the dialog confirmed is replaced.
        const fresh = path.join(exports, 'results.json');
        const mine = path.join(exports, 'mine.csv');
        writeFileSync(mine, 'an older export');
        for (const [target, format] of [
          [fresh, 'json'],
          [mine, 'csv'],
        ] as const) {
          // The workbench shows at most 3 toasts per 800 ms and drops the rest.
          await sleep(1000);
          await withSaveDialog(
            () => target,
            () => exportData(results, format),
          );
          await waitForNotification(`the notice of the ${format} export`, new RegExp(`exported ${escape(target)}`));
        }
        assert.equal(JSON.parse(readFileSync(fresh, 'utf8')).kind, 'analysis');
        assert.match(readFileSync(mine, 'utf8'), /^strategy,kind,schedule/);
        assert.deepEqual(leftovers(exports), [], 'the exports left temporaries');
        for (const f of files) assert.deepEqual(fingerprint(f), before[f], `${f} changed`);
      } finally {
        rmSync(exports, { recursive: true, force: true });
      }
    },
    { timeoutMs: 180_000 },
  );
});
