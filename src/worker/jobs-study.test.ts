/**
 * The study job through the real worker process (dist/worker.js, built by `node scripts/build.mjs`),
 * spoken to as the extension speaks to it: a really small study on a few hundred MNIST rows reports
 * its progress per model and per pruning step, and writes results.json and report.html into the
 * folder it was given; a study cancelled while it trains ends "cancelled" and writes nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tinyStudyGrid } from '../../test/kits/study';
import { ended, killWorkers, requireBuiltWorker, WorkerProcess } from '../../test/kits/worker-process';
import { runAccuracy } from '../core/experiments/study';
import { parseAnyResults } from '../core/results/format';
import { checkJobParams, checkJobResult, jobOutputs } from '../shared/jobs';

let dir = '';

/** The tiny grid in the study job's parameters. */
const tiny = { dataset: 'mnist', backend: 'cpu', ...tinyStudyGrid(), budgetSeconds: 3600 };

before(() => {
  requireBuiltWorker();
  dir = mkdtempSync(join(tmpdir(), 'prunescope-study-job-'));
});

after(() => {
  killWorkers();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('study job: parameters', () => {
  test('fields left out take the core defaults; wrong ones are named before any work', () => {
    const ok = checkJobParams('study', { dataset: 'mnist', out: '/s' });
    assert.ok(ok.ok);
    assert.equal(ok.value.backend, 'auto');
    assert.equal(ok.value.factors, undefined);
    const problem = (p: object) => {
      const r = checkJobParams('study', { dataset: 'mnist', out: '/s', ...p });
      return r.ok ? 'accepted' : r.problem;
    };
    assert.match(problem({ strategies: ['cka'] }), /invalid study parameters: strategies/);
    assert.match(problem({ factors: { height: [1] } }), /factors/);
    assert.match(problem({ factors: { width: [0.5] } }), /factors\.width/);
    assert.match(problem({ factors: { dropout: [1] } }), /factors\.dropout/);
    assert.match(problem({ sparsities: [1] }), /sparsities/);
    assert.match(problem({ budgetSeconds: 0 }), /budgetSeconds/);
    assert.match(problem({ out: '' }), /out/);
    assert.deepEqual(jobOutputs('study', { out: '/studies/s' }), ['/studies/s']);
  });
});

describe('study job in the worker process', { timeout: 600_000 }, () => {
  test('a tiny study reports progress per model and pruning step and writes results.json and report.html', async () => {
    const w = new WorkerProcess();
    await w.next((m) => m.type === 'ready');
    const out = join(dir, 'tiny');
    w.send({ type: 'run', id: 1, job: 'study', params: { ...tiny, out } });
    const end = await w.next(ended(1));
    assert.equal(end.type, 'result', JSON.stringify(end));
    const checked = checkJobResult('study', end.type === 'result' ? end.result : undefined);
    assert.ok(checked.ok, checked.ok ? '' : checked.problem);
    const r = checked.value;
    assert.deepEqual(r.files, [join(out, 'results.json'), join(out, 'report.html')]);
    assert.deepEqual(readdirSync(out).sort(), ['report.html', 'results.json']);

    const messages = w.progress(1).map((p) => p.message);
    assert.ok(
      messages.some((m) => m.startsWith('timing one epoch')),
      'the epoch is timed first',
    );
    for (const [i, id] of ['w8-d1-p0', 'w4-d1-p0'].entries()) {
      assert.ok(
        messages.some((m) => m.startsWith(`[${i + 1}/2] ${id}: training epoch 1/1`)),
        `${id} trains`,
      );
      assert.ok(messages.filter((m) => m.startsWith(`[${i + 1}/2] ${id}: `)).length >= 4, `${id} reports its pruning steps`);
    }
    const fractions = w.progress(1).flatMap((p) => (p.fraction === null ? [] : [p.fraction]));
    assert.ok(
      fractions.every((f, i) => i === 0 || f >= fractions[i - 1] - 1e-9 || f === 0),
      'progress does not go back within a step',
    );
    assert.ok(
      fractions.some((f) => f >= 0.5),
      'the second model is past half the work',
    );

    // The file holds what the job returned, with the engine that ran it; the gaps are the runs' differences.
    const file = join(out, 'results.json');
    const written = parseAnyResults(readFileSync(file, 'utf8'), file);
    assert.equal(written.kind, 'study');
    assert.deepEqual(written, r.results);
    assert.ok(written.kind === 'study' && typeof written.backend.engine === 'string');
    assert.deepEqual(
      r.results.models.map((m) => m.id),
      ['w8-d1-p0', 'w4-d1-p0'],
    );
    for (const v of r.results.summary[0].values) {
      const analysis = r.results.models.find((m) => m.id === v.model)!.analysis;
      const expected = runAccuracy(analysis, 'cka', 0.5)! - runAccuracy(analysis, 'unit-l1', 0.5)!;
      assert.ok(Math.abs(v.gaps[0].gap! - expected) < 1e-12);
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /data-view="study"/);
    assert.ok(html.includes('"kind":"study"'));

    // The folder is not written over: the same folder again fails at once, naming the file.
    w.send({ type: 'run', id: 2, job: 'study', params: { ...tiny, out } });
    const again = await w.next(ended(2));
    assert.equal(again.type === 'error' && again.error.kind, 'input');
    assert.match(again.type === 'error' ? again.error.message : '', /results\.json already exists/);
    assert.equal(w.progress(2).length, 0, 'refused before any work');
  });

  test('a study cancelled while it trains ends "cancelled", writes nothing, and the worker runs the next job', async () => {
    const w = new WorkerProcess();
    await w.next((m) => m.type === 'ready');
    const out = join(dir, 'cancelled');
    w.send({ type: 'run', id: 1, job: 'study', params: { ...tiny, factors: { width: [8, 4, 6] }, epochs: 3, out } });
    await w.next((m) => m.type === 'progress' && m.id === 1 && m.message.startsWith('[1/3] w8-d1-p0:'));
    const cancelledAt = Date.now();
    w.send({ type: 'cancel', id: 1 });
    const end = await w.next(ended(1));
    const took = Date.now() - cancelledAt;
    assert.equal(end.type === 'error' && end.error.kind, 'cancelled', JSON.stringify(end));
    assert.ok(took < 5000, `the cancel took ${took} ms`);
    assert.equal(existsSync(out), false, 'nothing written');
    // The same process, not a restarted one, runs the next job.
    w.send({ type: 'run', id: 2, job: 'describe', params: {} });
    const next = await w.next(ended(2));
    assert.equal(next.type, 'result', JSON.stringify(next));
    assert.equal(w.child.exitCode, null);
  });
});
