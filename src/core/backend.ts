import * as tf from '@tensorflow/tfjs';
import { cpus } from 'node:os';
import { PruneScopeError } from './errors';
import { initWasmThreads } from './wasm-threads';

/**
 * Compute backend selection. `tensorflow` (from the optional @tensorflow/tfjs-node) is used
 * when it loads, else WebAssembly, else the plain JS cpu backend. Which one ran is recorded in
 * every JSON output through `backendInfo()`.
 */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  tfjsVersion: string;
  /** Threads of the wasm backend's pool (1 for the other backends, which manage their own). */
  threads: number;
  /** Why a preferred backend was not used, if one was skipped. */
  fallbacks: string[];
}

let active: BackendInfo | undefined;

function tryRequire(id: string): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(id);
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** Wasm pool size: PRUNESCOPE_WASM_THREADS, else one thread per core. */
function wasmThreadCount(): number {
  const asked = Number(process.env.PRUNESCOPE_WASM_THREADS);
  return Number.isInteger(asked) && asked >= 1 ? asked : cpus().length;
}

let wasmThreads = 1;

async function activate(name: BackendName, fallbacks: string[]): Promise<boolean> {
  if (name === 'tensorflow') {
    const err = tryRequire('@tensorflow/tfjs-node');
    if (err) {
      fallbacks.push(`tensorflow: @tensorflow/tfjs-node did not load (${err})`);
      return false;
    }
  } else if (name === 'wasm') {
    const err = tryRequire('@tensorflow/tfjs-backend-wasm');
    if (err) {
      fallbacks.push(`wasm: @tensorflow/tfjs-backend-wasm did not load (${err})`);
      return false;
    }
    // Both cores roughly double matmul throughput; on failure the single-threaded build runs.
    const r = await initWasmThreads(wasmThreadCount());
    wasmThreads = r.threads;
    if (r.problem && wasmThreadCount() > 1) fallbacks.push(`wasm threads: ${r.problem}`);
  }
  try {
    const ok = await tf.setBackend(name);
    if (!ok) fallbacks.push(`${name}: failed to initialise`);
    return ok;
  } catch (e) {
    fallbacks.push(`${name}: ${(e as Error).message}`);
    return false;
  }
}

/** Picks and initialises the backend once per process; later calls return the active one. */
export async function initBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  if (active && (preference === 'auto' || preference === active.name)) return active;
  if (!BACKEND_PREFERENCES.includes(preference)) {
    throw new PruneScopeError(`unknown backend "${preference}" (expected one of ${BACKEND_PREFERENCES.join(', ')})`);
  }
  const order: BackendName[] = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  const fallbacks: string[] = [];
  for (const name of order) {
    if (await activate(name, fallbacks)) {
      await tf.ready();
      active = { name, tfjsVersion: tf.version.tfjs, threads: name === 'wasm' ? wasmThreads : 1, fallbacks };
      return active;
    }
  }
  throw new PruneScopeError(`backend ${preference} is not available: ${fallbacks.join('; ')}`);
}

export function backendInfo(): BackendInfo {
  if (!active) throw new Error('initBackend() has not been called');
  return active;
}

/** Names of the backends that load in this process, for settings that offer a choice. */
export function availableBackends(): BackendName[] {
  const names: BackendName[] = [];
  if (!tryRequire('@tensorflow/tfjs-node')) names.push('tensorflow');
  if (!tryRequire('@tensorflow/tfjs-backend-wasm')) names.push('wasm');
  names.push('cpu');
  return names;
}
