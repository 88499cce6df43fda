/**
 * The extension-host test entry (bundled to dist/test/vscode-suite-tests.js, loaded through
 * dist/test/vscode-suite.js, which turns source maps on first). VS Code loads it as
 * extensionTestsPath and calls run() with the real `vscode` API; scripts/vscode-test.mjs reads the
 * results from the harness folder. Suites run in the order they are imported here.
 */
import { runRegisteredTests } from '../harness/runner';
import './environment.suite';
import './extension.suite';
import './inspector.suite';
import './jobs.suite';
import './study.suite';
import './writes.suite';
// Last: it reloads the window (the tests after it would run in the window that comes back).
import './restore.suite';

export async function run(): Promise<void> {
  const { failed } = await runRegisteredTests();
  if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
}
