import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryFailure, outOfMemoryMessage, parseFromWorker, parseToWorker } from './worker-protocol';

test('worker protocol: valid messages pass, unknown or malformed ones are rejected', () => {
  assert.deepEqual(parseToWorker({ type: 'cancel', id: 3 }), { type: 'cancel', id: 3 });
  assert.equal(parseToWorker({ type: 'run', id: 1, job: 'inspect', params: {} })?.type, 'run');
  for (const bad of [
    null,
    'run',
    {},
    { type: 'explode', id: 1 },
    { type: 'cancel' },
    { type: 'cancel', id: -1 },
    { type: 'cancel', id: 1.5 },
    { type: 'run', id: 1, job: 'format-disk', params: {} },
  ]) {
    assert.equal(parseToWorker(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(parseFromWorker({ type: 'progress', id: 1, fraction: 0.5, message: 'half' }), {
    type: 'progress',
    id: 1,
    fraction: 0.5,
    message: 'half',
  });
  assert.equal(parseFromWorker({ type: 'heartbeat' })?.type, 'heartbeat');
  for (const bad of [
    { type: 'progress', id: 1, fraction: 2, message: 'x' },
    { type: 'error', id: 1, error: { kind: 'oops', message: 'x' } },
    { type: 'error', id: 1, error: { kind: 'input' } },
    { type: 'log', level: 'debug', message: 'x' },
    { type: 'result' },
    { type: 'unknown' },
    [],
  ]) {
    assert.equal(parseFromWorker(bad), undefined, JSON.stringify(bad));
  }
});

/** The message V8 gives a real error thrown by `fn`. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  assert.fail('nothing was thrown');
}

test('memory failures are told from other errors by what V8 and Emscripten say', () => {
  // Real errors of this V8: a wasm memory that cannot grow, a buffer that cannot be allocated.
  // (The project's lib settings carry no WebAssembly types.)
  const wasm = (
    globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { grow(pages: number): number } } }
  ).WebAssembly;
  assert.equal(memoryFailure(thrown(() => new wasm.Memory({ initial: 1, maximum: 2 }).grow(5))), 'WebAssembly memory');
  assert.equal(memoryFailure(thrown(() => new ArrayBuffer(2 ** 52))), 'buffer allocation');
  // What Node prints on stderr before it aborts on a heap OOM (worker-client.test.ts provokes one),
  // and what an Emscripten module (tfjs-backend-wasm) throws when malloc cannot grow its heap.
  assert.equal(memoryFailure('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'), 'JavaScript heap');
  assert.equal(memoryFailure('RuntimeError: Aborted(OOM). Build with -sASSERTIONS for more info.'), 'WebAssembly memory');
  for (const other of [
    thrown(() => JSON.parse('{')),
    'TypeError: x is not a function',
    'DataError: /d.csv: line 3 has 2 columns, expected 5',
  ]) {
    assert.equal(memoryFailure(other), undefined, other);
  }
  assert.equal(
    outOfMemoryMessage('JavaScript heap limit of 64 MB reached', 'analyze', 'pruning with magnitude'),
    'the background process ran out of memory (JavaScript heap limit of 64 MB reached) while running analyze (pruning with magnitude)',
  );
});
