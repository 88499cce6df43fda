import * as tf from './tfjs';
import { cpus } from 'node:os';
import type { DenseEngine } from './engine/dense';
import { requireOnnxRuntimeEngine, resolveDenseEngine } from './engine/resolve';
import { wasmEngine } from './engine/wasm-engine';
import { PruneScopeError } from './errors';
import type { MLP } from './model/mlp';
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
/** PRUNESCOPE_WASM_THREADS, else what the caller asked for, else every core. */
function wasmThreadCount(wanted?: number): number {
  const asked = Number(process.env.PRUNESCOPE_WASM_THREADS);
  if (Number.isInteger(asked) && asked >= 1) return asked;
  return wanted !== undefined && Number.isInteger(wanted) && wanted >= 1 ? wanted : cpus().length;
}

let wasmThreads = 1;

async function activate(name: BackendName, fallbacks: string[], threads?: number): Promise<boolean> {
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
    const r = await initWasmThreads(wasmThreadCount(threads));
    wasmThreads = r.threads;
    if (r.problem && wasmThreadCount(threads) > 1) fallbacks.push(`wasm threads: ${r.problem}`);
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
export async function initBackend(preference: BackendPreference = 'auto', wasmThreadsWanted?: number): Promise<BackendInfo> {
  if (active && (preference === 'auto' || preference === active.name)) return active;
  if (!BACKEND_PREFERENCES.includes(preference)) {
    throw new PruneScopeError(`unknown backend "${preference}" (expected one of ${BACKEND_PREFERENCES.join(', ')})`);
  }
  const order: BackendName[] = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  const fallbacks: string[] = [];
  for (const name of order) {
    if (await activate(name, fallbacks, wasmThreadsWanted)) {
      await tf.ready();
      active = { name, tfjsVersion: tf.version_core, threads: name === 'wasm' ? wasmThreads : 1, fallbacks };
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

/**
 * The compute engine a person chooses (`--engine`, the prunescope.engine setting). `onnxruntime`
 * runs the dense work (forward passes of evaluate and predict, the CKA matrices' products) in
 * onnxruntime-node; `wasm` and `tfjs-node` run it through TensorFlow.js on that backend. `auto`:
 * onnxruntime when it loads, else the TensorFlow.js backend `--backend` picks, after one note.
 */
export type EnginePreference = 'auto' | 'onnxruntime' | 'wasm' | 'tfjs-node';
export const ENGINE_PREFERENCES: readonly EnginePreference[] = ['auto', 'onnxruntime', 'wasm', 'tfjs-node'];

export interface EngineInfo {
  /** What ran the dense work: onnxruntime, or the TensorFlow.js backend (wasm, tfjs-node, tfjs-cpu). */
  name: string;
  /** The dense engine behind `name` (the tfjs code paths on the active backend unless onnxruntime). */
  dense: DenseEngine;
  /** Why the preferred engine was not used, when it was not. */
  note?: string;
}

let activeEngine: { preference: EnginePreference; backend: BackendName; info: EngineInfo } | undefined;

export interface EngineOptions {
  /**
   * The job leaves the dense work to onnxruntime and asks TensorFlow.js for small operations only:
   * when onnxruntime runs, the wasm backend starts with one thread (unless
   * PRUNESCOPE_WASM_THREADS says otherwise). Its thread pool is worker threads that each start a
   * Node environment and instantiate the module: 0.6 s of a one-shot CLI command and 1.2 s of
   * `prunescope compare` here. Jobs that time or train on TensorFlow.js keep every core.
   */
  lightTfjs?: boolean;
}

/** The name recorded for the tfjs code paths on a backend. */
function tfjsEngineName(b: BackendName): string {
  return b === 'tensorflow' ? 'tfjs-node' : b === 'wasm' ? 'wasm' : 'tfjs-cpu';
}

/** The TensorFlow.js backend an engine needs, or a PruneScopeError when --backend contradicts it. */
function backendFor(engine: EnginePreference, backend: BackendPreference): BackendPreference {
  const needs: BackendName | undefined = engine === 'wasm' ? 'wasm' : engine === 'tfjs-node' ? 'tensorflow' : undefined;
  if (!needs || backend === 'auto') return needs ?? backend;
  if (backend !== needs) throw new PruneScopeError(`engine ${engine} runs on the ${needs} backend, not ${backend}`);
  return needs;
}

/**
 * Picks the engine (and the TensorFlow.js backend beside it) once per process and preference;
 * later calls with the same preference return it. An explicit `onnxruntime` that cannot load is
 * a PruneScopeError naming why; `auto` falls back with the one-line note onnxruntime.ts writes.
 */
export async function initEngine(
  preference: EnginePreference = 'auto',
  backend: BackendPreference = 'auto',
  options: EngineOptions = {},
): Promise<EngineInfo> {
  if (!ENGINE_PREFERENCES.includes(preference)) {
    throw new PruneScopeError(`unknown engine "${preference}" (expected one of ${ENGINE_PREFERENCES.join(', ')})`);
  }
  const onOrt = preference === 'onnxruntime' || (preference === 'auto' && resolveDenseEngine('auto').name === 'onnxruntime');
  const b = await initBackend(backendFor(preference, backend), options.lightTfjs && onOrt ? 1 : undefined);
  if (activeEngine?.preference === preference && activeEngine.backend === b.name) return activeEngine.info;
  let info: EngineInfo;
  if (preference === 'onnxruntime') info = { name: 'onnxruntime', dense: requireOnnxRuntimeEngine() };
  else if (preference === 'auto') {
    const dense = resolveDenseEngine('auto');
    info = dense.name === 'onnxruntime' ? { name: 'onnxruntime', dense } : { name: tfjsEngineName(b.name), dense, note: dense.note };
  } else info = { name: tfjsEngineName(b.name), dense: wasmEngine() };
  activeEngine = { preference, backend: b.name, info };
  return info;
}

/** The engine initEngine picked, or undefined before any (library callers that never chose one). */
export function engineInfo(): EngineInfo | undefined {
  return activeEngine?.info;
}

/**
 * The network's outputs on n rows of x on the process's engine: onnxruntime when it was chosen
 * (one session per model, reused), else the tfjs forward pass of model/forward.ts.
 */
export async function forwardOnEngine(mlp: MLP, x: Float32Array, n: number, batchSize = 1000): Promise<Float32Array> {
  const dense = engineInfo()?.dense;
  if (dense?.name === 'onnxruntime') return (await dense.forward(mlp, x, n, { batchSize })).outputs;
  return (await wasmEngine().forward(mlp, x, n, { batchSize })).outputs;
}
