/**
 * The worker client against the real worker process (dist/worker.js, built by
 * `node scripts/build.mjs`): jobs, input errors, queueing, cancellation, crashes and hangs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../../test/fixtures';
import { built } from '../../test/kits/encode/models';
import { CancelledError } from '../core/errors';
import { readModel } from '../core/formats/registry';
import type { ErrorKind } from '../shared/worker-protocol';
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
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const [name, rows] of [
    ['train.csv', 400],
    ['validation.csv', 100],
  ] as const) {
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

/** How a job that did not succeed ended: a JobError (input, crash) or a CancelledError (cancelled). */
async function rejection(p: Promise<unknown>): Promise<{ kind: ErrorKind; message: string; detail?: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CancelledError) return { kind: 'cancelled', message: e.message };
    assert.ok(e instanceof JobError, `expected a JobError or a CancelledError, got ${String(e)}`);
    return e;
  }
  assert.fail('the job did not fail');
}

before(() => {
  if (!existsSync(workerPath)) throw new Error(`${workerPath} is missing: run node scripts/build.mjs first`);
  dataDir = writeDataset();
});

let readme = '';
/** A file that is not a model: a README.md of Markdown text. */
function notAModel(): string {
  if (!readme) {
    readme = join(tempDir('prunescope-readme-'), 'README.md');
    writeFileSync(readme, '# Model fixtures made by real tools\n\nSmall model files produced by real exporters.\n');
  }
  return readme;
}

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

after(() => {
  for (const c of clients) c.dispose();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

test('worker: inspects a real ONNX model', async () => {
  const c = client();
  const r = await c.run('inspect', { model: built('onnx/mnist2x10.onnx') }).result;
  assert.equal(r.summary.format, 'onnx');
  assert.deepEqual(
    r.summary.layers.map((l) => l.units),
    [10, 10, 10],
  );
  assert.equal(r.summary.inputSize, 784);
  assert.equal(r.files.length, 1);
  assert.ok(r.bytes > 0);
});

test('worker: a file that is not a model is an input error naming the file', async () => {
  const c = client();
  const e = await rejection(c.run('inspect', { model: notAModel() }).result);
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
    const h = c.run('inspect', { model: built(f) }, { onStart: () => events.push(`start ${i}`) });
    void h.result.then(() => events.push(`end ${i}`));
    return h;
  });
  assert.equal(c.queued, 3);
  const results = await Promise.all(handles.map((h) => h.result));
  assert.deepEqual(events, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  assert.deepEqual(
    results.map((r) => r.summary.layers.length),
    [3, 4, 3],
  );
  assert.equal(results[2].summary.layers[0].activation, 'sigmoid');
});

test('worker: a pruning analysis of a real model returns valid results', async () => {
  const c = client();
  const fractions: number[] = [];
  const r = await c.run(
    'analyze',
    {
      model: built('onnx/mnist2x10.onnx'),
      dataset: 'mnist',
      backend: 'cpu',
      strategies: ['magnitude'],
      sparsities: [0.5],
      finetuneEpochs: 0,
      iterations: 1,
      samples: 64,
    },
    { onProgress: (p) => p.fraction !== null && fractions.push(p.fraction) },
  ).result;
  assert.equal(r.kind, 'analysis');
  assert.equal(r.backend.name, 'cpu');
  assert.deepEqual(
    r.runs.map((run) => run.strategy),
    ['magnitude'],
  );
  assert.equal(r.runs[0].points[0].sparsity, 0.5);
  assert.ok(r.baseline.accuracy > 0.5);
  assert.ok(fractions.length > 0 && fractions[fractions.length - 1] === 1);
});

test('worker: compensation, calibration rows and removed units of an analyze job reach the core', async () => {
  const r = await client().run('analyze', {
    model: built('onnx/mnist2x10.onnx'),
    dataset: 'mnist',
    backend: 'cpu',
    strategies: ['magnitude', 'unit-l2'],
    sparsities: [0.9],
    finetuneEpochs: 0,
    iterations: 1,
    samples: 64,
    compensate: true,
    calibration: 100,
    removedUnits: 'silent',
  }).result;
  // Every strategy twice, plain then compensated, told apart by the label.
  assert.deepEqual(
    r.runs.map((run) => [run.strategy, run.label ?? null, run.compensated ?? false, run.removedUnits ?? null]),
    [
      ['magnitude', null, false, null],
      ['magnitude', 'magnitude + compensation', true, null],
      ['unit-l2', null, false, 'silent'],
      ['unit-l2', 'unit-l2 + compensation', true, 'silent'],
    ],
  );
  assert.deepEqual(r.settings.compensation, { calibration: 100, damping: 0.01 });
  assert.equal(r.settings.removedUnits, 'silent');
  // The refit changes the model: the compensated point's layer similarity is not the plain one's.
  assert.notDeepEqual(r.runs[1].points[0].similarityMatrix, r.runs[0].points[0].similarityMatrix);
});

test('worker: a prune job compensates when asked, reports accuracy before and after, and applies an N:M pattern', async () => {
  const dir = tempDir('prunescope-compensate-');
  const model = built('onnx/mnist2x10.onnx');
  const base = { model, strategy: 'magnitude', sparsity: 0.5, dataset: 'mnist', backend: 'cpu' as const, finetuneEpochs: 0, samples: 64 };
  const c = client();
  const refit = await c.run('prune', { ...base, out: join(dir, 'refit.onnx'), compensate: true, calibration: 100 }).result;
  assert.equal(refit.compensated, true);
  assert.ok(refit.before && refit.after, 'evaluated before and after');
  assert.equal(refit.before.samples, refit.after.samples);
  const plain = await c.run('prune', { ...base, out: join(dir, 'plain.onnx'), pattern: '2:4' }).result;
  assert.equal(plain.compensated, false);
  // 2:4 keeps 2 of every 4 consecutive incoming weights of each unit: half of the 784 x 10 kernel;
  // of the 10 inputs of the second layer (4 + 4 + 2), the short last group keeps its 2: 4 of 10 go.
  assert.deepEqual(
    plain.layers.map((l) => l.sparsity),
    [0.5, 0.4, 0],
  );
  const pruned = await readModel(plain.out);
  const [first] = pruned.layers;
  for (let unit = 0; unit < first.units; unit++) {
    for (let g = 0; g < first.inputSize / 4; g++) {
      let zeros = 0;
      for (let i = 4 * g; i < 4 * g + 4; i++) if (first.weights[i * first.units + unit] === 0) zeros++;
      assert.equal(zeros, 2, `unit ${unit}, inputs ${4 * g}..${4 * g + 3}`);
    }
  }
  // A pattern that is not N:M never reaches the core: the worker's validation names it.
  const bad = await rejection(c.run('prune', { ...base, out: join(dir, 'bad.onnx'), pattern: '4:2' }).result);
  assert.equal(bad.kind, 'input');
  assert.match(bad.message, /pattern/);
  // Rounds of prune-then-fine-tune (Prune Model's iterative schedule) reach the core's schedule.
  const said: string[] = [];
  const rounds = await c.run(
    'prune',
    { ...base, strategy: 'unit-l2', out: join(dir, 'rounds.onnx'), finetuneEpochs: 1, iterations: 2 },
    { onProgress: (p) => said.push(p.message ?? '') },
  ).result;
  assert.ok(said.includes('round 1 done') && said.includes('round 2 done'), said.join(' | '));
  assert.equal(rounds.layers[0].units, 5);
});

test("worker: a comparison handed its earlier results (the panel's metric switch) reuses their geometry", async () => {
  const c = client();
  const params = {
    a: built('onnx/mnist2x10.onnx'),
    b: built('onnx/mnist2x10.onnx'),
    dataset: 'mnist',
    backend: 'cpu' as const,
    samples: 100,
  };
  const first = await c.run('compare', params).result;
  const g = first.a.geometry?.[0];
  assert.ok(g?.applies);
  // Through the worker's message schema and back: a marked value returns only if it was reused.
  g.descending[0].r2 = 0.654321;
  const again = await c.run('compare', { ...params, metric: 'pwcca', previous: first }).result;
  assert.equal(again.metric, 'pwcca');
  const h = again.a.geometry?.[0];
  assert.ok(h?.applies);
  assert.equal(h.descending[0].r2, 0.654321);
});

test('worker: a queued job can be cancelled before it starts', async () => {
  const c = client();
  let started = false;
  const first = c.run('inspect', { model: built('onnx/mnist2x10.onnx') });
  const second = c.run('inspect', { model: built('onnx/fc1.onnx') }, { onStart: () => (started = true) });
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
  const r = await c.run('inspect', { model: built('onnx/fc1.onnx') }).result;
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
  const r = await c.run('inspect', { model: built('onnx/mnist2x10.onnx') }).result;
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
  const r = await c.run('inspect', { model: built('onnx/fc1.onnx') }).result;
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
  const job = c.run('inspect', { model: built('onnx/fc1.onnx') });
  c.dispose();
  await assert.rejects(job.result, (e) => e instanceof CancelledError && e.message === 'PruneScope is shutting down');
  assert.equal((await rejection(c.run('inspect', { model: 'x' }).result)).kind, 'cancelled');
});

// ---- nothing partial is left: cancels and kills at exact points of a write ----

/** Every file and folder under `dir`: files by sha256, so "as before" means byte-identical. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = join(e.parentPath, e.name);
    out[relative(dir, full)] = e.isDirectory() ? 'folder' : createHash('sha256').update(readFileSync(full)).digest('hex');
  }
  return out;
}

/** A copy of the abalone tfjs model in a folder of its own; prune output goes beside it (two files: .json and .weights.bin). */
function modelFolder(): { dir: string; model: string; out: string } {
  const dir = tempDir('prunescope-out-');
  cpSync(built('tfjs/abalone-node'), join(dir, 'abalone'), { recursive: true });
  return { dir, model: join(dir, 'abalone', 'model.json'), out: join(dir, 'abalone', 'model.pruned-magnitude-50.json') };
}

function pruneParams(model: string, out: string) {
  return { model, out, strategy: 'magnitude', sparsity: 0.5, backend: 'cpu' as const, finetuneEpochs: 0, samples: 1 };
}

/** A client whose worker stops at the write stage `at` (PRUNESCOPE_TEST_PAUSE_WRITE) until its job is cancelled. */
function pausingClient(at: string): { c: WorkerClient; paused: Promise<string> } {
  let resolve!: (m: string) => void;
  const paused = new Promise<string>((r) => (resolve = r));
  const c = client({
    env: { ...process.env, PRUNESCOPE_TEST_PAUSE_WRITE: at },
    onLog: (level, m) => {
      logs.push(`${level}: ${m}`);
      if (m.startsWith('test: paused at')) resolve(m);
    },
  });
  return { c, paused };
}

const PARTIAL = /^\.prunescope-partial-/;

test('worker: a prune job writes its files atomically and leaves no temporaries', async () => {
  const { dir, model, out } = modelFolder();
  const source = tree(join(dir, 'abalone'));
  const r = await client().run('prune', pruneParams(model, out)).result;
  assert.deepEqual(r.files, [out, join(dir, 'abalone', 'model.pruned-magnitude-50.weights.bin')]);
  const after = tree(join(dir, 'abalone'));
  assert.deepEqual(
    Object.keys(after).sort(),
    [...Object.keys(source), 'model.pruned-magnitude-50.json', 'model.pruned-magnitude-50.weights.bin'].sort(),
  );
  for (const [name, hash] of Object.entries(source)) assert.equal(after[name], hash, `${name} changed`);
});

test('worker: a prune cancelled while it writes leaves the folder exactly as before; the next job works', async () => {
  for (const at of ['staged:1', 'staged:2']) {
    const { dir, model, out } = modelFolder();
    const before = tree(dir);
    const { c, paused } = pausingClient(at);
    const job = c.run('prune', pruneParams(model, out));
    const where = await paused;
    // The write is under way: a temporary of this worker sits beside the output.
    assert.ok(
      readdirSync(join(dir, 'abalone')).some((n) => PARTIAL.test(n)),
      `${at}: ${where}`,
    );
    const pid = c.pid;
    job.cancel();
    const e = await rejection(job.result);
    assert.equal(e.kind, 'cancelled', `${at}: ${e.message}`);
    assert.deepEqual(tree(dir), before, `${at}: the folder changed`);
    // The same worker runs the next job (it stopped on its own) and the output name is free.
    const next = await c.run('inspect', { model }).result;
    assert.equal(next.summary.format, 'tfjs-layers');
    assert.equal(c.pid, pid);
  }
});

test('worker: a worker killed at any point of a prune leaves the folder exactly as before; the next job works', async () => {
  // Before the write, while each file is staged, after the journal, and between the two renames.
  for (const at of ['staged:1', 'staged:2', 'journaled:1', 'renamed:1']) {
    const { dir, model, out } = modelFolder();
    const before = tree(dir);
    const { c, paused } = pausingClient(at);
    const job = c.run('prune', pruneParams(model, out));
    await paused;
    const pid = c.pid!;
    process.kill(pid, 'SIGKILL');
    const e = await rejection(job.result);
    assert.equal(e.kind, 'crash');
    assert.match(e.message, /killed by SIGKILL while running prune/);
    assert.deepEqual(tree(dir), before, `${at}: the folder is not as before`);
    const next = await c.run('inspect', { model }).result;
    assert.equal(next.summary.format, 'tfjs-layers');
    assert.notEqual(c.pid, pid);
  }
  // And the output name is free for a prune that runs to the end.
  const { model, out } = modelFolder();
  const { c, paused } = pausingClient('renamed:1');
  const job = c.run('prune', pruneParams(model, out));
  await paused;
  process.kill(c.pid!, 'SIGKILL');
  await rejection(job.result);
  const r = await client().run('prune', pruneParams(model, out)).result;
  assert.equal(r.out, out);
});

test('worker: a training job killed or cancelled while it writes leaves no folder behind', async () => {
  for (const [at, how] of [
    ['staged:1', 'kill'],
    ['staged:3', 'kill'],
    ['staged:2', 'cancel'],
  ] as const) {
    const dir = tempDir('prunescope-train-out-');
    // Neither models/ nor the run's folder exist: the job creates both.
    const out = join(dir, 'models', 'mlp-16');
    const { c, paused } = pausingClient(at);
    const job = c.run('train', { ...trainParams(out), epochs: 1 });
    await paused;
    assert.ok(existsSync(out));
    if (how === 'kill') process.kill(c.pid!, 'SIGKILL');
    else job.cancel();
    const e = await rejection(job.result);
    assert.equal(e.kind, how === 'kill' ? 'crash' : 'cancelled', e.message);
    assert.deepEqual(readdirSync(dir), [], `${at} ${how}: left ${JSON.stringify(tree(dir))}`);
  }
});

// ---- memory ----

/** A gzipped CSV (128 KB) that expands to 2,000,000 rows: parsing it needs far more than a 64 MB heap. */
function hugeCsv(): string {
  const dir = tempDir('prunescope-big-');
  const rows = ['a,b,c,d,label'];
  for (let i = 0; i < 2_000_000; i++) rows.push(`0.5,0.25,0.125,0.75,${i % 2}`);
  const file = join(dir, 'big_test.csv.gz');
  writeFileSync(file, gzipSync(`${rows.join('\n')}\n`));
  return file;
}

test('worker: a worker that runs out of JavaScript heap is reported as out of memory with what it was doing; the next job works', async () => {
  const c = client({ maxOldSpaceMb: 64 });
  assert.equal(c.heapLimitMb, 64);
  const data = hugeCsv();
  const job = c.run('evaluate', { model: built('onnx/mnist2x10.onnx'), dataset: data, backend: 'cpu' });
  const e = await rejection(job.result);
  assert.equal(e.kind, 'crash');
  // The job thread's heap or the whole process's may run out first (allocation timing decides):
  // the thread's ends the job and the worker lives on; the process's kills the worker, and says so.
  const said = `the background process ran out of memory (JavaScript heap limit of 64 MB reached) while running evaluate (loading ${data})`;
  assert.ok(e.message === said || e.message === `${said}; the worker was killed by SIGABRT`, e.message);
  assert.match(e.detail ?? '', /(JavaScript|JS) heap out of memory/);
  const r = await c.run('inspect', { model: built('onnx/mnist2x10.onnx') }).result;
  assert.equal(r.summary.format, 'onnx');
});

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

test('worker: 100 jobs in a row do not grow the heap of the process that hosts the client', async () => {
  const gc = exposeGc();
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const c = client();
  const dir = tempDir('prunescope-many-');
  const trained = await c.run('train', { ...trainParams(join(dir, 'mlp')), epochs: 1 }).result;
  const model = trained.files[0];
  let n = 0;
  let written = 0;
  // Every way a job ends: results with progress, an input error, a write, a cancel while queued.
  const one = async (i: number) => {
    switch (i % 5) {
      case 0:
        return c.run('inspect', { model: built('onnx/mnist2x10.onnx') }).result;
      case 1:
        return c.run('evaluate', { model, dataset: dataDir, split: 'validation', backend: 'cpu' }, { onProgress: () => n++ }).result;
      case 2:
        return rejection(c.run('inspect', { model: notAModel() }).result);
      case 3:
        return c.run('prune', pruneParams(model, join(dir, `pruned-${written++}.onnx`))).result;
      default: {
        const first = c.run('inspect', { model });
        const second = c.run('inspect', { model });
        second.cancel();
        await rejection(second.result);
        return first.result;
      }
    }
  };
  // The listeners on the worker process and its pipes: one set per process, none per job.
  const listeners = () => {
    const child = (c as unknown as { child: ChildProcess }).child;
    return [
      child.listenerCount('message'),
      child.listenerCount('close'),
      child.listenerCount('error'),
      child.stdout!.listenerCount('data'),
      child.stderr!.listenerCount('data'),
    ];
  };
  for (let i = 0; i < 20; i++) await one(i); // warm-up: code paths compiled, caches filled
  const resources = process.getActiveResourcesInfo().sort();
  const attached = listeners();
  const pid = c.pid;
  const start = heap();
  for (let i = 0; i < 100; i++) await one(i);
  const end = heap();
  const growth = end - start;
  console.log(
    `heap of the client process over 100 jobs: ${(start / 1e6).toFixed(2)} MB -> ${(end / 1e6).toFixed(2)} MB (${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(0)} KB)`,
  );
  assert.ok(n > 0, 'the evaluate jobs reported progress');
  assert.equal(c.pid, pid, 'one worker ran every job');
  // Measured: +30 to +263 KB (compiled code and type feedback, flattening out). A leak of 10 KB or
  // more per job (a buffer, a stderr chunk, an analysis result) would pass the bound.
  assert.ok(growth < 1024 * 1024, `the heap grew by ${(growth / 1024).toFixed(0)} KB over 100 jobs`);
  // No timer, socket, child handle or listener is left behind per job.
  assert.deepEqual(process.getActiveResourcesInfo().sort(), resources);
  assert.deepEqual(listeners(), attached);
});
