import * as tf from './tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/**
 * Multithreaded tfjs-wasm in Node.
 *
 * tfjs-backend-wasm ships a threaded SIMD build whose XNNPACK matmul splits over a pthreadpool,
 * and its emscripten glue already runs pthreads on worker_threads, but in Node three things keep
 * it off: the WASM_HAS_MULTITHREAD_SUPPORT flag answers false for Node; the worker script and the
 * main script are handed to the workers as Blob URLs, which worker_threads cannot load (and the
 * main script is the bundled factory's source, which names rollup's `require$$N`/`commonjsGlobal`
 * bindings that do not exist in a worker); and the C side caps the pool at logical cores / 2,
 * which is 1 on a 2-core machine. This function works around the three for the duration of the
 * backend's initialisation only (the globals are restored before it returns): Blobs become temp
 * files, the worker script gets a prelude defining the missing bindings, and os.cpus() reports
 * twice the cores so the cap equals the real core count.
 *
 * On a 2-core machine this roughly doubles matmul throughput (measured 21 -> 38-49 GFLOP/s).
 * Results stay deterministic: XNNPACK splits the output into tiles, and each tile's dot products
 * run in the same order whichever thread computes it.
 */

export interface WasmThreadsResult {
  /** Threads the backend's pool really uses (1 when threading could not be enabled). */
  threads: number;
  /** Why threading is off, when it is. */
  problem?: string;
}

interface WasmModule {
  getThreadsCount(): number;
  setThreadsCount(n: number): void;
  version_wasm: string;
}

/**
 * The workaround depends on the bundle's internals (binding names, the Blob hand-off), so it is
 * only tried on the tfjs-backend-wasm minor version it was checked against; a worker that fails
 * to load would otherwise throw from an event handler and end the process.
 */
const CHECKED_VERSIONS = /^4\.22\./;

interface PThreadWorker {
  unref(): void;
}

const WORKER_PRELUDE =
  'URL.createObjectURL=(b)=>b&&b.__path?b.__path:"";URL.revokeObjectURL=()=>{};' +
  'global.require$$0=require("fs");global.require$$1=require("path");' +
  'global.require$$3=require("perf_hooks");global.require$$4=require("os");global.commonjsGlobal=global;';

/**
 * Initialises the wasm backend with a thread pool and makes it the active backend. Must run
 * before anything else initialises the wasm backend (later `tf.setBackend('wasm')` calls,
 * including initBackend()'s, then reuse this instance). Returns the threads in use.
 */
export async function initWasmThreads(threads = os.cpus().length): Promise<WasmThreadsResult> {
  let wasm: WasmModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    wasm = require('@tensorflow/tfjs-backend-wasm') as WasmModule;
  } catch (e) {
    return { threads: 1, problem: `@tensorflow/tfjs-backend-wasm did not load (${(e as Error).message.split('\n')[0]})` };
  }
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  if (registry.wasm) {
    await tf.setBackend('wasm');
    return { threads: wasm.getThreadsCount(), problem: 'the wasm backend was initialised before; its thread count cannot change' };
  }
  if (threads <= 1) {
    await tf.setBackend('wasm');
    return { threads: 1 };
  }
  if (!CHECKED_VERSIONS.test(wasm.version_wasm)) {
    await tf.setBackend('wasm');
    return { threads: 1, problem: `multithreading is only enabled on tfjs-backend-wasm 4.22 (this is ${wasm.version_wasm})` };
  }

  const problem = await setThreadedBackend(wasm, threads);
  if (problem) return { threads: 1, problem };
  unrefPoolWorkers();
  return { threads: wasm.getThreadsCount() };
}

/**
 * Initialises the threaded backend with the three workarounds in place (Blobs as temp files, the
 * worker prelude, doubled os.cpus()), then restores the globals and removes the files. Returns
 * why it failed, or undefined.
 */
async function setThreadedBackend(wasm: WasmModule, threads: number): Promise<string | undefined> {
  const dir = mkdtempSync(join(os.tmpdir(), 'prunescope-wasm-'));
  const g = globalThis as unknown as { Blob: unknown };
  const realBlob = g.Blob;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back on URL itself, never called detached
  const realCreate = URL.createObjectURL;
  const realCpus = os.cpus;
  let count = 0;
  class FileBlob {
    readonly __path: string;
    constructor(parts: unknown[]) {
      this.__path = join(dir, `part${count++}.js`);
      writeFileSync(this.__path, parts.join(''));
    }
  }
  try {
    g.Blob = FileBlob;
    URL.createObjectURL = (b: unknown) => {
      const path = (b as { __path?: string }).__path;
      if (!path) return realCreate(b as Blob);
      const src = readFileSync(path, 'utf8');
      // only the pthread worker script receives the prelude
      if (src.includes('WasmBackendModuleThreadedSimd(Module)') && !src.startsWith(WORKER_PRELUDE)) {
        writeFileSync(path, WORKER_PRELUDE + src);
      }
      return path;
    };
    const cpus = realCpus();
    os.cpus = () => [...cpus, ...cpus];
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    const ok = await tf.setBackend('wasm');
    await tf.ready();
    if (!ok) return 'the threaded wasm backend failed to initialise';
  } catch (e) {
    return `the threaded wasm backend failed to initialise (${(e as Error).message})`;
  } finally {
    g.Blob = realBlob;
    URL.createObjectURL = realCreate;
    os.cpus = realCpus;
    rmSync(dir, { recursive: true, force: true });
  }
  return undefined;
}

/** Pool threads are parked workers that would otherwise keep the process alive. */
function unrefPoolWorkers(): void {
  const backend = tf.findBackend('wasm') as unknown as {
    wasm?: { PThread?: { runningWorkers: PThreadWorker[]; unusedWorkers: PThreadWorker[] } };
  };
  const pthread = backend.wasm?.PThread;
  if (pthread) for (const w of [...pthread.runningWorkers, ...pthread.unusedWorkers]) w.unref();
}
