/**
 * The memory the host and its job thread share, and the gate around the thread's native calls
 * (src/core/engine/native-gate.ts says why a thread must never be ended inside one).
 *
 * Slot CANCELLED_JOB holds the id of the job the host cancelled (-1: none), so the thread sees a
 * cancel in the middle of a synchronous step. Slot GATE is OPEN, IN_NATIVE (the thread is inside
 * a native call; only the thread sets and clears it) or CLOSED (the host is ending the thread; set
 * only from OPEN, so never while a call runs, and no call starts after it).
 */
import { CancelledError } from '../core/errors';
import type { NativeGate } from '../core/engine/native-gate';

export const CANCELLED_JOB = 0;
const GATE = 1;
const OPEN = 0;
const IN_NATIVE = 1;
const CLOSED = 2;
const POLL_MS = 10;

/** The shared slots of one job thread. */
export function sharedFlags(): Int32Array {
  const flags = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  flags[CANCELLED_JOB] = -1;
  return flags;
}

/**
 * The thread's side: `stopIfCancelled` throws when the running job was cancelled, so a job
 * cancelled during a run of native calls stops at the next one instead of waiting to be ended.
 */
export function threadGate(flags: Int32Array, stopIfCancelled: () => void): NativeGate {
  return {
    enter(release) {
      if (!release) stopIfCancelled();
      if (Atomics.compareExchange(flags, GATE, OPEN, IN_NATIVE) === OPEN) return true;
      if (release) return false;
      throw new CancelledError();
    },
    leave() {
      Atomics.store(flags, GATE, OPEN);
    },
  };
}

/**
 * The host's side: closes the gate, waiting for a native call under way to return first. Resolves
 * true once closed (the thread may be ended), or false if `stillWanted` turned false meanwhile (the
 * job stopped by itself: the gate is left open and the thread kept).
 */
export async function closeGate(flags: Int32Array, stillWanted: () => boolean): Promise<boolean> {
  for (;;) {
    if (!stillWanted()) return false;
    if (Atomics.compareExchange(flags, GATE, OPEN, CLOSED) !== IN_NATIVE) return true;
    // Asked again every few ms: the host thread has nothing else to do, and the job's own messages come in between.
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
