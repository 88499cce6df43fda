/**
 * The test entry of `node scripts/vscode-test.mjs --vsix FILE`: PruneScope installed from its
 * package into the run's extensions folder, these tests carried by a tiny extension of their own.
 */
import { runRegisteredTests } from '../../harness/runner';
import './vsix.suite';

export async function run(): Promise<void> {
  const { failed } = await runRegisteredTests();
  if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
}
