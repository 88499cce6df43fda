/**
 * The test entry of `node scripts/vscode-test.mjs --untrusted`: the fixture workspace opened in
 * Restricted Mode (Workspace Trust on, nothing trusted, no startup prompt).
 */
import { runRegisteredTests } from '../../harness/runner';
import './untrusted.suite';

export async function run(): Promise<void> {
  const { failed } = await runRegisteredTests();
  if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
}
