import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeCall, nativeRelease, setNativeGate } from '../core/engine/native-gate';
import { CancelledError } from '../core/errors';
import { closeGate, sharedFlags, threadGate } from './native-gate';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the host closes the gate only once the native call under way has returned, and no call starts after', async () => {
  const flags = sharedFlags();
  const gate = threadGate(flags, () => {});
  assert.equal(gate.enter(false), true);
  let closed = false;
  const closing = closeGate(flags, () => true).then((r) => (closed = r));
  await sleep(50);
  assert.equal(closed, false, 'closed while a native call ran');
  gate.leave();
  await closing;
  assert.equal(closed, true);
  assert.throws(() => gate.enter(false), CancelledError);
  assert.equal(gate.enter(true), false, 'a release on a closing thread is skipped, not run');
});

test('a job that stops by itself while its native call runs keeps an open gate', async () => {
  const flags = sharedFlags();
  const gate = threadGate(flags, () => {});
  gate.enter(false);
  let wanted = true;
  const closing = closeGate(flags, () => wanted);
  await sleep(30);
  wanted = false;
  gate.leave();
  assert.equal(await closing, false);
  assert.equal(gate.enter(false), true, 'the kept thread can still call native code');
  gate.leave();
});

test('nativeCall asks whether the job was cancelled before a call, nativeRelease never does', () => {
  const flags = sharedFlags();
  let cancelled = false;
  setNativeGate(
    threadGate(flags, () => {
      if (cancelled) throw new CancelledError();
    }),
  );
  try {
    assert.equal(
      nativeCall(() => 7),
      7,
    );
    cancelled = true;
    let ran = false;
    assert.throws(() => nativeCall(() => (ran = true)), CancelledError);
    assert.equal(ran, false);
    nativeRelease(() => (ran = true));
    assert.equal(ran, true, 'a cancelled job still frees what it holds');
    // A call that throws leaves the gate open for the next one.
    cancelled = false;
    assert.throws(() =>
      nativeCall(() => {
        throw new Error('native failure');
      }),
    );
    assert.equal(
      nativeCall(() => 8),
      8,
    );
  } finally {
    setNativeGate(undefined);
  }
});
