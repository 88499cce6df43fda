/**
 * Every call into onnxruntime-node's native code goes through `nativeCall` or `nativeRelease`, so
 * that a host that may end this thread can wait until no such call is under way.
 *
 * Why: a worker thread ended (Worker.terminate) while the addon runs aborts the whole process. The
 * addon's C++ wrapper meets the pending termination when it turns its results into JS values,
 * throws a Napi::Error nothing catches, and std::terminate follows: "terminate called after
 * throwing an instance of 'Napi::Error'", SIGABRT. Session 18 saw it end the extension's worker
 * process on a cancelled analysis. The job thread installs a gate (src/worker/native-gate.ts);
 * without one (the CLI, tests, the bench) the calls just run.
 */
export interface NativeGate {
  /**
   * Before a native call. Returns false when the call must not run because the thread is about
   * to be ended (a release is then skipped); throws a CancelledError instead of starting a call
   * for a job that was cancelled (`release` calls are never refused for that: they free memory).
   */
  enter(release: boolean): boolean;
  /** After the call, whatever it did. */
  leave(): void;
}

let gate: NativeGate | undefined;

/** Installs (or, with undefined, removes) this thread's gate. */
export function setNativeGate(g: NativeGate | undefined): void {
  gate = g;
}

/** Runs `fn`, a call into native code that builds or runs something. */
export function nativeCall<T>(fn: () => T): T {
  // For a call that is not a release, enter() throws rather than return false.
  gate?.enter(false);
  try {
    return fn();
  } finally {
    gate?.leave();
  }
}

/** Runs `fn`, a call that frees native memory; skipped on a thread that is being ended. */
export function nativeRelease(fn: () => void): void {
  if (gate && !gate.enter(true)) return;
  try {
    fn();
  } finally {
    gate?.leave();
  }
}
