import { dirname, resolve } from 'node:path';
import {
  backendInfo,
  BACKEND_PREFERENCES,
  ENGINE_PREFERENCES,
  initEngine,
  type BackendPreference,
  type EngineOptions,
  type EnginePreference,
} from '../core/backend';
import { allowReplacing, assertMayWriteAll, noteInputs } from '../core/io/scope';
import { recoverPartialWrites } from '../core/io/atomic';
import { largePagesNote } from '../shared/large-pages';
import { choiceOption, type Options } from './args';
import { info, warn } from './output';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}

/**
 * Starts the engine and the compute backend a command asked for (once per process) and, with
 * --verbose, says which ones run.
 */
export async function startBackend(
  values: { backend?: string | boolean; engine?: string | boolean; verbose?: boolean },
  options: EngineOptions = {},
): Promise<void> {
  const preference = choiceOption<BackendPreference>(values.backend, 'backend', BACKEND_PREFERENCES, 'auto');
  const engine = choiceOption<EnginePreference>(values.engine, 'engine', ENGINE_PREFERENCES, 'auto');
  const e = await initEngine(engine, preference, options);
  const b = backendInfo();
  if (values.verbose) {
    info(`engine: ${e.name}`);
    info(
      `backend: ${b.name}${b.name === 'wasm' ? `, ${b.threads} thread${b.threads > 1 ? 's' : ''}` : ''} (TensorFlow.js ${b.tfjsVersion})`,
    );
    for (const f of b.fallbacks) info(`  skipped ${f}`);
    const pages = largePagesNote(process.env);
    if (pages) info(`large pages: ${pages}`);
  }
}

/** `--force`, on every command that writes files. */
export const FORCE_OPTION = { force: { type: 'boolean' } } as const satisfies Options;

/**
 * Before the work: every file the command will write must not exist, unless --force gave it up,
 * and must never be one of the command's inputs read so far (the writer checks both again, and
 * every input read later, at the moment it puts each file in place). Leftovers of an earlier run
 * killed while writing beside them go first.
 */
export async function claimOutputs(values: { force?: string | boolean }, files: string[], inputs: string[] = []): Promise<void> {
  allowReplacing(values.force === true);
  // Inputs known by name before they are read (the model, the data), so that an output that is
  // one of them is called that, not just "exists".
  await noteInputs(inputs);
  for (const dir of new Set(files.map((f) => dirname(resolve(f))))) await recoverPartialWrites(dir, undefined, warn);
  await assertMayWriteAll(files);
}
