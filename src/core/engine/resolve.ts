import { PruneScopeError } from '../errors';
import { DENSE_ENGINE_PREFERENCES, type DenseEngine, type DenseEnginePreference } from './dense';
import { loadOnnxRuntime, onnxRuntimeNote } from './onnxruntime';
import { onnxRuntimeEngine } from './ort-engine';
import { wasmEngine } from './wasm-engine';

/**
 * The dense engine for a preference. `auto` and `onnxruntime` use onnxruntime-node when it
 * loads and otherwise fall back to `wasm` with the one-line note of onnxruntime.ts (kept in the
 * engine's `note`), never an error: an optional dependency that is absent must not stop a job.
 */
export function resolveDenseEngine(preference: DenseEnginePreference = 'auto'): DenseEngine {
  if (!DENSE_ENGINE_PREFERENCES.includes(preference)) {
    throw new PruneScopeError(`unknown engine "${String(preference)}" (expected one of ${DENSE_ENGINE_PREFERENCES.join(', ')})`);
  }
  if (preference === 'wasm') return wasmEngine();
  return onnxRuntimeEngine() ?? wasmEngine(onnxRuntimeNote());
}

/**
 * The dense engine an explicit `--engine onnxruntime` asks for: onnxruntime when it loads, else a
 * PruneScopeError with the reason (the person named it, so a silent fallback would mislead them).
 */
export function requireOnnxRuntimeEngine(): DenseEngine {
  const loaded = loadOnnxRuntime();
  const engine = typeof loaded === 'string' ? undefined : onnxRuntimeEngine();
  if (!engine) {
    const why = typeof loaded === 'string' ? loaded : (onnxRuntimeNote() ?? 'onnxruntime-node did not load');
    throw new PruneScopeError(`engine onnxruntime is not available: ${why.replace(/^note: /, '')}`);
  }
  return engine;
}
