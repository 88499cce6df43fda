/**
 * The worker client against the real worker process (dist/worker.js, built by
 * `node scripts/build.mjs`): jobs, input errors, queueing, cancellation, crashes and hangs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fixture, repoRoot } from '../../test/fixtures';
import { JobError, WorkerClient, type WorkerClientOptions } from './worker-client';

const workerPath = join(repoRoot, 'dist', 'worker.js');
const logs: string[] = [];
const clients: WorkerClient[] = [];
let dataDir = '';

function client(options: Partial<WorkerClientOptions> = {}): WorkerClient {
  const c = new WorkerClient({ workerPath, onLog: (level, m) => logs.push(`${level}: ${m}`), ...options });
  clients.push(c);
  return c;
}

/** A small two-split CSV dataset: enough batches per epoch that a cancel lands mid-training. */
function writeDataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-worker-'));
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const [name, rows] of [['train.csv', 400], ['validation.csv', 100]] as const) {
    const lines = ['a,b,c,d,label'];
    for (let i = 0; i < rows; i++) {
      const x = [rand(), rand(), rand(), rand()];
      lines.push([...x.map((v) => v.toFixed(4)), x[0] + x[1] > 1 ? 1 : 0].join(','));
    }
    writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
  }
  return dir;
}

function trainParams(out: string) {
  return {
    dataset: dataDir,
    backend: 'cpu' as const,
    hidden: [16],
    dropout: 0,
    epochs: 100_000,
    patience: 100_000,
    batchSize: 4,
    learningRate: 0.001,
    seed: 1,
    out,
  };
}

/** Resolves at the job's first progress report that names an epoch (training is under way). */
function firstEpoch(): { onProgress: (p: { message: string }) => void; reached: Promise<void> } {
  let resolve!: () => void;
  const reached = new Promise<void>((r) => (resolve = r));
  return { onProgress: (p) => /epoch/.test(p.message) && resolve(), reached };
}

async function rejection(p: Promise<unknown>): Promise<JobError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof JobError, `expected a JobError, got ${String(e)}`);
    return e;
  }
  assert.fail('the job did not fail');
}

before(() => {
  if (!existsSync(workerPath)) throw new Error(`${workerPath} is missing: run node scripts/build.mjs first`);
  dataDir = writeDataset();
});

after(() => {
  for (const c of clients) c.dispose();
});

test('worker: inspects a real ONNX model', async () => {
  const c = client();
  const r = await c.run('inspect', { model: fixture('onnx/mnist2x10.onnx') }).result;
  assert.equal(r.summary.format, 'onnx');
  assert.deepEqual(r.summary.layers.map((l) => l.units), [10, 10, 10]);
  assert.equal(r.summary.inputSize, 784);
  assert.equal(r.files.length, 1);
  assert.ok(r.bytes > 0);
});

test('worker: a file that is not a model is an input error naming the file', async () => {
  const c = client();
  const e = await rejection(c.run('inspect', { model: fixture('README.md') }).result);
  assert.equal(e.kind, 'input');
  assert.match(e.message, /README\.md/);
  assert.match(e.message, /not a recognised model format/);
  // Bad parameters are input errors too, found by the worker's validation.
  const p = await rejection(c.run('prune', { model: 'm', out: 'o', strategy: 's', sparsity: 7, finetuneEpochs: 0, samples: 1 }).result);
  assert.equal(p.kind, 'input');
  assert.match(p.message, /sparsity/);
});

test('worker: jobs run one after another in the order they were asked for', async () => {
  const c = client();
  const events: string[] = [];
  const files = ['onnx/mnist2x10.onnx', 'onnx/fc1.onnx', 'onnx/mnist2x5_sigmoid.onnx'];
  const handles = files.map((f, i) => {
    const h = c.run('inspect', { model: fixture(f) }, { onStart: () => events.push(`start ${i}`) });
    void h.result.then(() => events.push(`end ${i}`));
    return h;
  });
  assert.equal(c.queued, 3);
  const results = await Promise.all(handles.map((h) => h.result));
  assert.deepEqual(events, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  assert.deepEqual(results.map((r) => r.summary.layers.length), [3, 4, 3]);
  assert.equal(results[2].summary.layers[0].activation, 'sigmoid');
});

test('worker: a pruning analysis of a real model returns valid results', async () => {
  const c = client();
  const fractions: number[] = [];
  const r = await c.run(
    'analyze',
    { model: fixture('onnx/mnist2x10.onnx'), dataset: 'mnist', backend: 'cpu', strategies: ['magnitude'], sparsities: [0.5], finetuneEpochs: 0, iterations: 1, samples: 64 },
    { onProgress: (p) => p.fraction !== null && fractions.push(p.fraction) },
  ).result;
  assert.equal(r.kind, 'analysis');
  assert.equal(r.backend.name, 'cpu');
  assert.deepEqual(r.runs.map((run) => run.strategy), ['magnitude']);
  assert.equal(r.runs[0].points[0].sparsity, 0.5);
  assert.ok(r.baseline.accuracy > 0.5);
  assert.ok(fractions.length > 0 && fractions[fractions.length - 1] === 1);
});

test('worker: a queued job can be cancelled before it starts', async () => {
  const c = client();
  let started = false;
  const first = c.run('inspect', { model: fixture('onnx/mnist2x10.onnx') });
  const second = c.run('inspect', { model: fixture('onnx/fc1.onnx') }, { onStart: () => (started = true) });
  second.cancel();
  assert.equal((await rejection(second.result)).kind, 'cancelled');
  await first.result;
  assert.equal(started, false);
});

test('worker: cancelling a training job stops it through its AbortSignal; the worker lives on', async () => {
  const c = client();
  const progress = firstEpoch();
  const out = join(mkdtempSync(join(tmpdir(), 'prunescope-train-')), 'model');
  const job = c.run('train', trainParams(out), { onProgress: progress.onProgress });
  await progress.reached;
  const pid = c.pid;
  job.cancel();
  const e = await rejection(job.result);
  assert.equal(e.kind, 'cancelled');
  assert.equal(existsSync(join(out, 'model.json')), false);
  // The same process answers the next job: it stopped cooperatively, it was not killed.
  const r = await c.run('inspect', { model: fixture('onnx/fc1.onnx') }).result;
  assert.equal(c.pid, pid);
  assert.ok(r.summary.layers.length > 0);
});

test('worker: a worker killed mid-job fails that job with the cause; the next job gets a new worker', async () => {
  const c = client();
  const progress = firstEpoch();
  const job = c.run('train', trainParams(join(tmpdir(), 'never-written')), { onProgress: progress.onProgress });
  await progress.reached;
  const pid = c.pid!;
  process.kill(pid, 'SIGKILL');
  const e = await rejection(job.result);
  assert.equal(e.kind, 'crash');
  assert.match(e.message, /killed by SIGKILL while running train/);
  const r = await c.run('inspect', { model: fixture('onnx/mnist2x10.onnx') }).result;
  assert.equal(r.summary.format, 'onnx');
  assert.notEqual(c.pid, pid);
});

test('worker: a worker that stops answering is killed after the heartbeat timeout', async () => {
  const c = client({ heartbeatTimeoutMs: 1500, heartbeatIntervalMs: 100 });
  const progress = firstEpoch();
  const job = c.run('train', trainParams(join(tmpdir(), 'never-written')), { onProgress: progress.onProgress });
  await progress.reached;
  const pid = c.pid!;
  // A stopped process sends nothing, like one stuck in a loop.
  process.kill(pid, 'SIGSTOP');
  const e = await rejection(job.result);
  assert.equal(e.kind, 'crash');
  assert.match(e.message, /stopped answering \(no heartbeat/);
  const r = await c.run('inspect', { model: fixture('onnx/fc1.onnx') }).result;
  assert.ok(r.summary.layers.length > 0);
  assert.notEqual(c.pid, pid);
});

test('worker: a worker that dies on start fails the waiting jobs instead of restarting forever', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-badworker-'));
  const bad = join(dir, 'worker.js');
  writeFileSync(bad, "process.stderr.write('cannot load the compute backend\\n'); process.exit(3);\n");
  const c = client({ workerPath: bad });
  const a = c.run('inspect', { model: 'x' });
  const b = c.run('inspect', { model: 'y' });
  const ea = await rejection(a.result);
  const eb = await rejection(b.result);
  assert.equal(ea.kind, 'crash');
  assert.match(ea.message, /exited with code 3 before it was ready; last output: cannot load the compute backend/);
  assert.equal(eb.kind, 'crash');
  assert.equal(c.busy, false);
});

test('worker: dispose fails waiting jobs and stops the process', async () => {
  const c = client();
  const job = c.run('inspect', { model: fixture('onnx/fc1.onnx') });
  c.dispose();
  assert.equal((await rejection(job.result)).kind, 'cancelled');
  assert.equal((await rejection(c.run('inspect', { model: 'x' }).result)).kind, 'cancelled');
});
