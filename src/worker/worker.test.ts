/**
 * The worker process (dist/worker.js, built by `node scripts/build.mjs`) spoken to over its IPC
 * channel as the extension speaks to it: while a job sits in a long synchronous step (a PWCCA
 * similarity matrix of 1200-unit layers), heartbeats keep coming, and a cancel ends the job with
 * a "cancelled" error, after which the same process runs the next job.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ended, killWorkers, requireBuiltWorker, WorkerProcess } from '../../test/kits/worker-process';
import { onnxRuntime } from '../core/engine/onnxruntime';
import type { FromWorkerMessage } from '../shared/worker-protocol';
import { writeModel } from '../core/formats/registry';
import type { MLP } from '../core/model/mlp';
import { seededRandom } from '../core/random';

let dir = '';

/** A ReLU MLP 784-w-w-10 with uniform random weights (scaled by 1/sqrt(inputs)). */
function wideMLP(width: number, seed: number): MLP {
  const rand = seededRandom(seed);
  const sizes = [784, width, width, 10];
  const layers = sizes.slice(1).map((units, i) => {
    const inputSize = sizes[i];
    const limit = 1.5 / Math.sqrt(inputSize);
    return {
      name: `dense_${i + 1}`,
      inputSize,
      units,
      weights: Float32Array.from({ length: inputSize * units }, () => (2 * rand() - 1) * limit),
      bias: Float32Array.from({ length: units }, () => (rand() - 0.5) * 0.2),
      activation: i + 2 < sizes.length ? ('relu' as const) : ('softmax' as const),
    };
  });
  return { name: `wide-${seed}`, inputShape: [784], inputSize: 784, layers };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  requireBuiltWorker();
  dir = mkdtempSync(join(tmpdir(), 'prunescope-worker-thread-'));
  await writeModel(wideMLP(1200, 1), join(dir, 'a.onnx'));
  await writeModel(wideMLP(1200, 2), join(dir, 'b.onnx'));
});

/** The message that ends job `id`, or how the process ended first (a crash must fail the test, not hang it). */
function endOrExit(w: WorkerProcess, id: number): Promise<FromWorkerMessage | { exited: string }> {
  return new Promise((resolve) => {
    const exited = (code: number | null, signal: string | null) => resolve({ exited: signal ?? `code ${code}` });
    w.child.once('exit', exited);
    void w.next(ended(id)).then((m) => {
      w.child.off('exit', exited);
      resolve(m);
    });
  });
}

after(() => {
  killWorkers();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a long synchronous step neither stops the heartbeats nor a cancel; the process runs the next job', { timeout: 600_000 }, async () => {
  const w = new WorkerProcess({ PRUNESCOPE_HEARTBEAT_MS: '100' });
  const ready = await w.next((m) => m.type === 'ready');
  assert.equal(ready.type === 'ready' && ready.pid, w.child.pid);
  const params = { a: join(dir, 'a.onnx'), b: join(dir, 'b.onnx'), dataset: 'mnist', samples: 1000, metric: 'pwcca', backend: 'cpu' };
  w.send({ type: 'run', id: 1, job: 'compare', params });
  // The similarity matrices are one synchronous call each; this one takes many seconds on 1200-unit layers.
  await w.next((m) => m.type === 'progress' && m.id === 1 && m.message === 'pwcca: A against B');
  const stepStart = Date.now();
  await sleep(2000);
  const during = w.heartbeats(stepStart, Date.now());
  assert.ok(during.length >= 5, `${during.length} heartbeats in the 2 s after the step began (one every 100 ms is asked for)`);
  assert.ok(!w.about(1).some((h) => h.msg.type === 'result' || h.msg.type === 'error'), 'the job is still running when it is cancelled');

  const cancelledAt = Date.now();
  w.send({ type: 'cancel', id: 1 });
  const end = await w.next((m) => (m.type === 'result' || m.type === 'error') && m.id === 1);
  const took = Date.now() - cancelledAt;
  console.log(`cancel answered in ${took} ms; ${during.length} heartbeats in the 2 s of the step before it`);
  assert.equal(end.type, 'error');
  assert.equal(end.type === 'error' && end.error.kind, 'cancelled');
  // The worker ends a job that does not stop by itself within 300 ms; the bound leaves room for a loaded machine.
  assert.ok(took < 5000, `the cancel took ${took} ms`);

  // The same process, not a restarted one, runs the next job; nothing more is said about job 1.
  w.send({ type: 'run', id: 2, job: 'inspect', params: { model: params.a } });
  const next = await w.next((m) => (m.type === 'result' || m.type === 'error') && m.id === 2);
  assert.equal(next.type, 'result', JSON.stringify(next));
  assert.equal(w.child.exitCode, null);
  const job1 = w.about(1).map((h) => h.msg.type);
  assert.deepEqual(job1.slice(0, 1), ['started']);
  assert.equal(job1.at(-1), 'error');
  assert.equal(job1.filter((t) => t === 'error' || t === 'result').length, 1);
  // Heartbeats came throughout: from the start of the job to the end of the next one, no silence near the 120 s timeout.
  const beats = w.heartbeats(w.about(1)[0].at, Date.now());
  const gaps = beats.slice(1).map((t, i) => t - beats[i]);
  assert.ok(Math.max(...gaps) < 5000, `longest silence between heartbeats: ${Math.max(...gaps)} ms`);
});

// onnxruntime-node's C++ wrapper aborts the process (an uncaught Napi::Error) when its thread is
// ended inside a call: the host must wait for the call to return (native-gate.ts). Here the
// linear-CKA products of a comparison are one onnxruntime run of seconds, and the cancel lands in
// it, so the 300 ms grace ends while the run goes on.
test(
  'a cancel that lands inside a long onnxruntime run ends the job, not the worker process',
  { timeout: 600_000, skip: onnxRuntime() ? false : 'onnxruntime-node does not load here' },
  async () => {
    const w = new WorkerProcess();
    await w.next((m) => m.type === 'ready');
    const params = {
      a: join(dir, 'a.onnx'),
      b: join(dir, 'b.onnx'),
      dataset: 'mnist',
      samples: 10000,
      metric: 'linear-cka',
      engine: 'onnxruntime',
    };
    for (const id of [1, 2, 3]) {
      w.send({ type: 'run', id, job: 'compare', params });
      await w.next((m) => m.type === 'progress' && m.id === id && m.message.startsWith('linear-cka: A against B'));
      await sleep(150);
      w.send({ type: 'cancel', id });
      const end = await endOrExit(w, id);
      assert.ok(!('exited' in end), `the worker process ended (${'exited' in end ? end.exited : ''}) when job ${id} was cancelled`);
      assert.equal(end.type === 'error' && end.error.kind, 'cancelled', JSON.stringify(end));
    }
    const threadEnded = w.heard.filter((h) => h.msg.type === 'log' && /ending its thread/.test(h.msg.message)).length;
    console.log(`${threadEnded} of 3 cancelled comparisons had their thread ended; the others stopped at their next onnxruntime call`);
    w.send({ type: 'run', id: 4, job: 'inspect', params: { model: params.a } });
    const next = await endOrExit(w, 4);
    assert.equal('type' in next && next.type, 'result', JSON.stringify(next));
    assert.equal(w.child.exitCode, null);
  },
);
