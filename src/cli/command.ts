import { BACKEND_PREFERENCES, initBackend, type BackendPreference } from '../core/backend';
import { choiceOption } from './args';
import { info } from './output';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}

/** Starts the compute backend a command asked for and, with --verbose, says which one runs. */
export async function startBackend(values: { backend?: string | boolean; verbose?: boolean }): Promise<void> {
  const preference = choiceOption<BackendPreference>(values.backend, 'backend', BACKEND_PREFERENCES, 'auto');
  const b = await initBackend(preference);
  if (values.verbose) {
    info(`backend: ${b.name}${b.name === 'wasm' ? `, ${b.threads} thread${b.threads > 1 ? 's' : ''}` : ''} (TensorFlow.js ${b.tfjsVersion})`);
    for (const f of b.fallbacks) info(`  skipped ${f}`);
  }
}
