import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { parseAnyResults, type AnyResults, type ComparisonResults, type Results } from '../core/results/format';
import { modelFiles, outputFiles } from '../core/formats/model-files';
import { COMMAND_NAMES, commandId, type CommandName } from '../shared/commands';
import type { JobResult } from '../shared/jobs';
import { cacheKey, hashDataset, hashModel, type RecentResults, type ResultsCache } from './cache';
import type { JobController } from './job-controller';
import { inspectorViewType } from './inspector';
import { freePath, nameTaken, prunedOutputPath, percentLabel, samePrunedPath, trainingOutputDir } from './naming';
import { askFlow, askOne, dialogState, typeIntoDialog } from './prune-dialogs';
import { answersGiven, datasetRows, defaultChoices, ifExistsOption, type FlowChoices, type FlowKind, type Workload } from './prune-flow';
import { repruneChoices, replaceEarlier, WrittenModels, type RepruneAction } from './written-models';
import { ACTIVATIONS } from '../core/model/mlp';
import { DEFAULT_STUDY_STRATEGIES } from '../core/experiments/study';
import { pickSecondModel } from './compare-dialog';
import { exportData, exportReportHtml, type CompareOutcome, type ResultsPanels } from './results-panel';
import { pruneNotification } from './prune-message';
import { askStudy } from './study-dialog';
import {
  ASSUMED_SECONDS_PER_PARAMETER_ROW,
  measuredRate,
  minutesText,
  readStudyRate,
  studyCallFromArgs,
  writeStudyRate,
  type StudyCall,
} from './study-flow';
import { exportStudy, type ShownStudy, type StudyPanels } from './study-panel';
import {
  normalizationParam,
  overridesFromArgs,
  pruningParams,
  readParams,
  readSettings,
  resolveDatasetSpec,
  withOverrides,
  type Settings,
} from './settings';
import { parseLayerSizes, targetsFromArgs } from './targets';
import type { WorkerClient } from './worker-client';

export interface CommandDeps {
  jobs: JobController;
  /** The light worker that reads models for the inspector while long jobs run. */
  inspectClient: WorkerClient;
  cache: ResultsCache;
  panels: ResultsPanels;
  /** The Study panels (studies run here or opened from a file). */
  studies: StudyPanels;
  output: vscode.LogOutputChannel;
  toolVersion: string;
  mnistVersion: string;
  /** Where dist/ and media/ are, for the HTML report. */
  extensionPath: string;
}

const MODEL_FILTERS = {
  'Models (ONNX, safetensors, PyTorch, Keras, tfjs model.json)': [
    'onnx',
    'safetensors',
    'pt',
    'pth',
    'bin',
    'ckpt',
    'pkl',
    'keras',
    'h5',
    'json',
  ],
};

type Describe = JobResult<'describe'>;

/** Registered under the real-editor test harness only; returns the open question (DialogState) or undefined. */
export const DIALOG_TEST_COMMAND = 'prunescope.test.dialog';

/** The command handlers. Thin: they pick files and settings, then hand work to the worker. */
export class Commands {
  private describeCache: Promise<Describe | undefined> | undefined;

  constructor(private readonly deps: CommandDeps) {}

  register(): vscode.Disposable[] {
    const handlers: Record<CommandName, (...args: unknown[]) => unknown> = {
      inspect: (...a) => this.inspect(a),
      analyze: (...a) => this.analyze(a),
      prune: (...a) => this.prune(a),
      compare: (...a) => this.compare(a),
      train: () => this.train(),
      evaluate: (...a) => this.evaluate(a),
      study: (...a) => this.study(a),
      cancel: () => this.cancel(),
      openResults: (...a) => this.openResults(a),
      exportReport: () => this.exportReport(),
      chooseActivations: () => this.chooseActivations(),
    };
    const registered = COMMAND_NAMES.map((name) =>
      vscode.commands.registerCommand(commandId(name), async (...args: unknown[]) => {
        try {
          // What a job command computed (undefined when it failed or was cancelled), for callers of executeCommand.
          return await handlers[name](...args);
        } catch (e) {
          this.deps.output.error(`${name}: ${(e as Error).stack ?? String(e)}`);
          void vscode.window.showErrorMessage(`PruneScope: ${(e as Error).message}`);
          return undefined;
        }
      }),
    );
    // Only under the real-editor test harness: the open question of Prune Model or Run Pruning
    // Analysis, and typing into it, which the workbench's own commands cannot do from a test.
    if (process.env.PRUNESCOPE_VSCODE_HARNESS) {
      registered.push(
        vscode.commands.registerCommand(DIALOG_TEST_COMMAND, (typed?: unknown) => {
          if (typeof typed === 'string') typeIntoDialog(typed);
          return dialogState();
        }),
      );
    }
    return registered;
  }

  // ---- shared steps ----

  /** The prunescope.* settings, with the overrides of an options argument (see overridesFromArgs). */
  private settings(args: readonly unknown[] = []): Settings {
    const config = vscode.workspace.getConfiguration('prunescope');
    const { settings, problems } = readSettings((key) => config.get(key));
    for (const p of problems) this.deps.output.warn(p);
    return withOverrides(settings, overridesFromArgs(args));
  }

  private dataset(settings: Settings, near: string): string {
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(near)) ?? vscode.workspace.workspaceFolders?.[0];
    return resolveDatasetSpec(settings.dataset, folder?.uri.fsPath);
  }

  /** Jobs run code over workspace files and write files: only in a trusted workspace. */
  private async trusted(action: string): Promise<boolean> {
    if (vscode.workspace.isTrusted) return true;
    const pick = await vscode.window.showWarningMessage(
      `PruneScope: ${action} reads data and writes files in this workspace, which is in Restricted Mode. Trust the workspace to continue.`,
      'Manage Workspace Trust',
    );
    if (pick) await vscode.commands.executeCommand('workbench.trust.manage');
    return false;
  }

  /** The file the person is looking at: a text editor's, or a custom editor's (the inspector). */
  private activeFile(): string | undefined {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) {
      return input.uri.scheme === 'file' ? input.uri.fsPath : undefined;
    }
    return undefined;
  }

  private async pickModelFile(title: string): Promise<string | undefined> {
    const picked = await vscode.window.showOpenDialog({
      title,
      canSelectMany: false,
      filters: MODEL_FILTERS,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    return picked?.[0]?.fsPath;
  }

  /** The model a command acts on: its argument, else the active file, else a file picker. */
  private async model(args: unknown[], title: string): Promise<string | undefined> {
    return targetsFromArgs(args)[0] ?? this.activeModelFile() ?? (await this.pickModelFile(title));
  }

  private activeModelFile(): string | undefined {
    const f = this.activeFile();
    return f && /\.(onnx|safetensors|json)$/i.test(f) ? f : undefined;
  }

  private describe(): Promise<Describe | undefined> {
    this.describeCache ??= this.deps.inspectClient.run('describe', {}).result.catch((e: Error) => {
      this.deps.output.warn(`could not list strategies and metrics: ${e.message}`);
      this.describeCache = undefined;
      return undefined;
    });
    return this.describeCache;
  }

  async metricIds(): Promise<string[]> {
    return (await this.describe())?.metrics.map((m) => m.id) ?? [];
  }

  private async showCachedOr<T extends Results>(title: string, key: string, run: () => Promise<T | undefined>): Promise<T | undefined> {
    const cached = await this.deps.cache.get(key);
    if (cached) {
      this.deps.output.info(`${title}: shown from the results cache (${key.slice(0, 12)})`);
      this.deps.panels.show(title, cached);
      return cached as T;
    }
    const results = await run();
    if (!results) return undefined;
    await this.deps.cache.put(key, results).catch((e: Error) => this.deps.output.warn(`could not cache results: ${e.message}`));
    this.deps.panels.show(title, results);
    return results;
  }

  // ---- commands ----

  async inspect(args: unknown[]): Promise<void> {
    const model = await this.model(args, 'Inspect a model');
    if (!model) return;
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(model), inspectorViewType(model));
  }

  async analyze(args: unknown[]): Promise<Results | undefined> {
    if (!(await this.trusted('A pruning analysis'))) return undefined;
    const settings = this.settings(args);
    const model = await this.model(args, 'Model to analyse');
    if (!model) return undefined;
    const dataset = this.dataset(settings, model);
    const choices = await this.choices('analyze', args, settings, model, dataset);
    if (!choices) return undefined;
    const params = {
      model,
      dataset,
      normalization: normalizationParam(settings.normalization),
      backend: settings.backend,
      engine: settings.engine,
      ...readParams(settings),
      strategies: choices.strategies,
      sparsities: choices.sparsities,
      finetuneEpochs: choices.finetuneEpochs,
      iterations: choices.iterations,
      samples: settings.samples,
      ...pruningParams(settings),
      compensate: choices.compensate,
    };
    const key = cacheKey({
      job: 'analyze',
      models: [await hashModel(model)],
      dataset: await hashDataset(dataset, this.deps.mnistVersion),
      settings: { ...params, model: undefined, dataset: undefined },
      toolVersion: this.deps.toolVersion,
    });
    return this.showCachedOr(`Pruning analysis: ${basename(model)}`, key, () =>
      this.deps.jobs.run(`Pruning analysis of ${basename(model)}`, 'analyze', params),
    );
  }

  /**
   * Strategy, sparsity, compensation, fine-tuning and schedule: from the settings and the
   * command's options when it was given any (automation, tests, { useDefaults: true }), else asked.
   */
  private async choices(
    kind: FlowKind,
    args: unknown[],
    settings: Settings,
    model: string,
    dataset: string,
  ): Promise<FlowChoices | undefined> {
    const initial = defaultChoices(kind, settings);
    if (answersGiven(args, overridesFromArgs(args))) return initial;
    // Both load while the first questions are answered: the strategies now, the estimate's sizes by the last step.
    const describe = await this.describe();
    const workload = this.workload(model, dataset, settings);
    const strategies = describe?.strategies ?? [];
    return askFlow(kind, { modelName: basename(model), strategies }, initial, workload);
  }

  /** The model's layers and the dataset's rows, for the estimate; undefined when the model cannot be read. */
  private async workload(model: string, dataset: string, settings: Settings): Promise<Workload | undefined> {
    try {
      const { summary } = await this.deps.inspectClient.run('inspect', { model, ...readParams(settings) }).result;
      const bytes = dataset === 'mnist' ? undefined : await datasetBytes(dataset);
      const rows = datasetRows(dataset, bytes, summary.inputSize);
      return {
        layers: summary.layers.map((l) => ({ inputSize: l.inputSize, units: l.units })),
        trainRows: rows.train,
        evalRows: rows.test,
        validationRows: rows.validation,
        samples: Math.min(settings.samples, rows.validation),
        calibrationRows: settings.calibrationRows,
      };
    } catch (e) {
      this.deps.output.warn(`no estimate for ${basename(model)}: ${(e as Error).message}`);
      return undefined;
    }
  }

  async prune(args: unknown[]): Promise<JobResult<'prune'> | undefined> {
    if (!(await this.trusted('Pruning'))) return undefined;
    const settings = this.settings(args);
    const picked = await this.model(args, 'Model to prune');
    if (!picked) return undefined;
    const model = (await modelFiles(picked))[0];
    const dataset = this.dataset(settings, model);
    const choices = await this.choices('prune', args, settings, model, dataset);
    if (!choices) return undefined;
    const [strategy, sparsity] = [choices.strategies[0], choices.sparsities[0]];
    const params = {
      model,
      strategy,
      sparsity,
      dataset,
      normalization: normalizationParam(settings.normalization),
      backend: settings.backend,
      engine: settings.engine,
      ...readParams(settings),
      finetuneEpochs: choices.finetuneEpochs,
      iterations: choices.iterations,
      samples: settings.samples,
      ...pruningParams(settings),
      compensate: choices.compensate,
    };
    // What the ledger keeps, to say which settings an earlier result at the same name was made with.
    const recorded = Object.fromEntries(Object.entries(params).filter(([k, v]) => k !== 'model' && v !== undefined));
    const same = samePrunedPath(model, strategy, sparsity, { format: settings.pruneFormat });
    const where = await this.pruneTarget(args, same, recorded, model);
    if (!where) return undefined;
    const out = where.action === 'keep' ? prunedOutputPath(model, strategy, sparsity, { format: settings.pruneFormat }) : same;
    // The name is free when the job starts (Replace moved the earlier result aside); a file that
    // takes it before the job writes is left as it is and the job fails naming it (replace: false),
    // since nobody gave that file up.
    const run = () =>
      this.deps.jobs.run(`Pruning ${basename(model)} (${strategy}, ${percentLabel(sparsity)}%)`, 'prune', {
        ...params,
        out,
        replace: false,
      });
    const result = where.action === 'replace' ? await replaceEarlier(where.files, run, (m) => this.deps.output.warn(m)) : await run();
    if (!result) return undefined;
    await this.written()
      .record(result.out, result.files, recorded)
      .catch((e: Error) => this.deps.output.warn(`could not remember ${result.out} as written by PruneScope: ${e.message}`));
    for (const note of result.notes) this.deps.output.info(`prune ${basename(model)}: ${note}`);
    // Not awaited: the command is done when the file is written, whether or not anyone answers the notification.
    void vscode.window.showInformationMessage(pruneNotification(result, strategy), 'Open', 'Compare with Original').then(async (pick) => {
      if (pick === 'Open') await this.openModel(result.out);
      if (pick === 'Compare with Original') await this.runCompare(model, result.out);
    });
    return result;
  }

  /** The pruned models PruneScope wrote (what Replace may replace), beside the results cache. */
  private written(): WrittenModels {
    return new WrittenModels(join(dirname(this.deps.cache.dir), 'written-models.json'));
  }

  private async openModel(file: string): Promise<void> {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), inspectorViewType(file));
  }

  /**
   * Where the pruned model goes when `same` (this pruning's name) is taken: asked (Open earlier
   * result / Replace it / Keep both) or, for a call with options, its ifExists (default: keep both).
   * Replace is offered, and done, only for a model PruneScope wrote there and nobody changed since.
   * undefined: nothing to write (opened, cancelled).
   */
  private async pruneTarget(
    args: unknown[],
    same: string,
    recorded: Record<string, unknown>,
    model: string,
  ): Promise<{ action: 'new' | 'keep' } | { action: 'replace'; files: string[] } | undefined> {
    if (![same, ...outputFiles(same)].some(nameTaken)) return { action: 'new' };
    const written = this.written();
    const earlier = await written.ownership(same, recorded);
    const given = answersGiven(args, overridesFromArgs(args)) ? (ifExistsOption(args) ?? 'keep') : ifExistsOption(args);
    let action: RepruneAction | undefined = given;
    if (!action) {
      const { placeholder, items } = repruneChoices(earlier, basename(same));
      const title = `Prune ${basename(model)}: ${basename(same)} exists`;
      action = await askOne(
        title,
        placeholder,
        items.map((i) => ({ label: i.label, detail: i.detail, pick: i.action })),
      );
    }
    if (action === undefined) return undefined;
    if (action === 'open') {
      await this.openModel(same);
      return undefined;
    }
    if (action === 'keep') return { action: 'keep' };
    // Checked again now: the file may have changed while the question was open.
    const now = await written.ownership(same, recorded);
    if (now.owner !== 'prunescope') {
      throw new Error(
        `${same} is not replaced: ${now.owner === 'changed' ? 'it changed since PruneScope wrote it' : 'PruneScope did not write it'}`,
      );
    }
    return { action: 'replace', files: await written.filesOf(same) };
  }

  async compare(args: unknown[]): Promise<ComparisonResults | undefined> {
    if (!(await this.trusted('Comparing checkpoints'))) return undefined;
    const targets = targetsFromArgs(args);
    let a: string | undefined = targets[0] ?? this.activeModelFile();
    let b: string | undefined = targets[1];
    if (!a) {
      const both = await vscode.window.showOpenDialog({ title: 'Two checkpoints to compare', canSelectMany: true, filters: MODEL_FILTERS });
      if (!both || both.length === 0) return undefined;
      [a, b] = [both[0].fsPath, both[1]?.fsPath];
    }
    // Next to A, its pruned copies first: what a person most likely compares it with.
    b ??= await pickSecondModel(a, MODEL_FILTERS);
    if (!b) return undefined;
    return this.runCompare(a, b, undefined, args);
  }

  async runCompare(
    a: string,
    b: string,
    metric?: string,
    args: readonly unknown[] = [],
    previous?: ComparisonResults,
  ): Promise<ComparisonResults | undefined> {
    const settings = this.settings(args);
    const dataset = this.dataset(settings, a);
    const params = {
      a,
      b,
      dataset,
      normalization: normalizationParam(settings.normalization),
      backend: settings.backend,
      engine: settings.engine,
      ...readParams(settings),
      samples: settings.samples,
      metric,
    };
    const key = cacheKey({
      job: 'compare',
      models: [await hashModel(a), await hashModel(b)],
      dataset: await hashDataset(dataset, this.deps.mnistVersion),
      settings: { ...params, a: undefined, b: undefined, dataset: undefined },
      toolVersion: this.deps.toolVersion,
    });
    // The earlier results only save work (the worker reuses what still applies): not part of the key.
    return this.showCachedOr(`Compare: ${basename(a)} ↔ ${basename(b)}`, key, () =>
      this.deps.jobs.run(`Comparing ${basename(a)} with ${basename(b)}`, 'compare', { ...params, previous }),
    );
  }

  /** The comparison again with another metric (the panel's metric picker); how it ended, for the panel to say. */
  async rerunComparison(results: ComparisonResults, metric: string): Promise<CompareOutcome> {
    const [a, b] = [results.a.model.path, results.b.model.path];
    const shown = await this.runCompare(a, b, metric, [], results).catch((e: Error) => {
      this.deps.output.error(`Compare with ${metric}: ${e.message}`);
      return undefined;
    });
    if (shown) return { outcome: 'done' };
    const ended = this.deps.jobs.lastEnded(`Comparing ${basename(a)} with ${basename(b)}`);
    return ended?.outcome === 'cancelled' ? { outcome: 'cancelled' } : { outcome: 'failed', message: ended?.message };
  }

  async train(): Promise<void> {
    if (!(await this.trusted('Training'))) return;
    const settings = this.settings();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const hiddenText = await vscode.window.showInputBox({
      title: `Train a baseline MLP on ${settings.dataset}: hidden layers`,
      prompt: 'Units per hidden layer, comma-separated (ReLU, dropout 0.5, Adam, early stopping)',
      value: '1000, 1000, 500, 200',
      validateInput: (t) => (parseLayerSizes(t) ? undefined : 'positive integers separated by commas'),
    });
    const hidden = hiddenText === undefined ? undefined : parseLayerSizes(hiddenText);
    if (!hidden) return;
    const epochsText = await vscode.window.showInputBox({
      title: 'Train a baseline MLP: epochs',
      prompt: 'Most epochs (training stops early when validation loss stops improving for 3 epochs)',
      value: '20',
      validateInput: (t) => (/^\d+$/.test(t.trim()) && Number(t) > 0 ? undefined : 'a positive integer'),
    });
    if (!epochsText) return;
    let out: string;
    if (root) {
      out = trainingOutputDir(join(root, 'models'), hidden);
    } else {
      const parent = await vscode.window.showOpenDialog({
        title: 'Folder to save the model in',
        canSelectFolders: true,
        canSelectFiles: false,
      });
      if (!parent?.[0]) return;
      out = trainingOutputDir(parent[0].fsPath, hidden);
    }
    // The job creates the folders: one that fails or is cancelled leaves none behind. The folder
    // was free when named; a model put there meanwhile is never replaced (replace: false).
    const result = await this.deps.jobs.run(`Training MLP ${hidden.join('-')}`, 'train', {
      dataset: this.dataset(settings, out),
      normalization: normalizationParam(settings.normalization),
      backend: settings.backend,
      engine: settings.engine,
      ...readParams(settings),
      hidden,
      dropout: 0.5,
      epochs: Number(epochsText),
      patience: 3,
      batchSize: 512,
      learningRate: 0.001,
      seed: 1,
      out,
      replace: false,
    });
    if (!result) return;
    const last = result.epochs[result.epochs.length - 1];
    const acc = last?.valAccuracy === null || last === undefined ? '' : `, validation accuracy ${(last.valAccuracy * 100).toFixed(2)}%`;
    const pick = await vscode.window.showInformationMessage(
      `PruneScope: trained ${out} (${result.epochs.length} epochs${acc}, ${result.backend} backend).`,
      'Open',
    );
    const file = result.files[0] ?? join(out, 'model.json');
    if (pick) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), inspectorViewType(file));
  }

  async evaluate(args: unknown[]): Promise<JobResult<'evaluate'> | undefined> {
    if (!(await this.trusted('Evaluation'))) return undefined;
    const model = await this.model(args, 'Model to evaluate');
    if (!model) return undefined;
    const settings = this.settings();
    const r = await this.deps.jobs.run(`Evaluating ${basename(model)}`, 'evaluate', {
      model,
      dataset: this.dataset(settings, model),
      normalization: normalizationParam(settings.normalization),
      backend: settings.backend,
      engine: settings.engine,
      ...readParams(settings),
      split: 'test',
    });
    if (!r) return undefined;
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
    const message = `${basename(model)} on ${r.data} (${r.samples} samples): accuracy ${pct(r.accuracy)}, loss ${r.loss?.toFixed(4) ?? 'n/a'} [${r.backend}]`;
    this.deps.output.info(message);
    void vscode.window.showInformationMessage(`PruneScope: ${message}`);
    return r;
  }

  /** Where the last study's timed epoch is kept, for the next estimate. */
  private studyRateFile(): string {
    return join(dirname(this.deps.cache.dir), 'study-timing.json');
  }

  /**
   * Run Study: the grid and budget from the options argument (automation, tests: `{ useDefaults:
   * true }`, `{ grid: 'quick', budgetMinutes: 5 }`, any study field, `out`), else asked. Its
   * results.json and report.html go into a new folder under studies/; the Study panel shows them.
   */
  async study(args: unknown[]): Promise<JobResult<'study'> | undefined> {
    if (!(await this.trusted('A study'))) return undefined;
    const settings = this.settings();
    const measured = await readStudyRate(this.studyRateFile());
    const call = studyCallFromArgs(args) ?? (await askStudy(measured ?? ASSUMED_SECONDS_PER_PARAMETER_ROW, measured !== undefined));
    if (!call) return undefined;
    const out = call.out ?? (await this.studyFolder(call));
    if (!out) return undefined;
    const [a, b] = call.choice.strategies ?? DEFAULT_STUDY_STRATEGIES;
    // The folder was free when named; results put there meanwhile are never replaced (replace: false).
    const result = await this.deps.jobs.run(`Study of ${a} against ${b} on MNIST`, 'study', {
      dataset: 'mnist',
      backend: settings.backend,
      engine: settings.engine,
      ...call.choice,
      budgetSeconds: call.budgetSeconds,
      out,
      replace: false,
    });
    if (!result) return undefined;
    const r = result.results;
    await writeStudyRate(this.studyRateFile(), measuredRate(r.settings, r.plan.epochSeconds)).catch((e: Error) =>
      this.deps.output.warn(`could not keep the study's timing: ${e.message}`),
    );
    this.deps.studies.show(`Study: ${basename(out)}`, r, result.files[0]);
    const skipped = r.skipped.length ? `, ${r.skipped.length} left out by the budget` : '';
    const done = `PruneScope: study of ${r.models.length} models done in ${minutesText(r.seconds)}${skipped}; wrote ${out}.`;
    // Not awaited: the command is done when the files are written, whether or not anyone answers.
    void vscode.window.showInformationMessage(done, 'Open Report').then(async (pick) => {
      if (pick) await vscode.env.openExternal(vscode.Uri.file(result.files[1]));
    });
    return result;
  }

  /** A folder no file takes yet, under the workspace's studies/ (else in one the person picks). */
  private async studyFolder(call: StudyCall): Promise<string | undefined> {
    const [a, b] = call.choice.strategies ?? DEFAULT_STUDY_STRATEGIES;
    const name = `study-${a}-vs-${b}`.replace(/[^A-Za-z0-9_-]+/g, '_');
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (root) return freePath(join(root, 'studies'), name, '');
    const parent = await vscode.window.showOpenDialog({
      title: 'Folder to save the study in',
      canSelectFolders: true,
      canSelectFiles: false,
    });
    return parent?.[0] ? freePath(parent[0].fsPath, name, '') : undefined;
  }

  cancel(): void {
    if (!this.deps.jobs.cancelAll()) void vscode.window.showInformationMessage('PruneScope: no job is running.');
  }

  async openResults(args: unknown[]): Promise<void> {
    let file: string | undefined = targetsFromArgs(args)[0];
    if (!file) {
      const recent = await this.pickRecent();
      if (recent === 'cancelled') return;
      if (recent) return this.deps.panels.show(`Results: ${recent.title}`, recent.results);
      const picked = await vscode.window.showOpenDialog({ title: 'Open PruneScope results', filters: { 'PruneScope results': ['json'] } });
      file = picked?.[0]?.fsPath;
    }
    if (!file) return;
    let results: AnyResults;
    try {
      results = parseAnyResults(await fs.readFile(file, 'utf8'), file);
    } catch (e) {
      void vscode.window.showErrorMessage(`PruneScope: ${(e as Error).message}`);
      return;
    }
    // A study's folder names it (its file is results.json, as every results file is).
    if (results.kind === 'study') this.deps.studies.show(`Study: ${basename(dirname(file))}`, results, file);
    else this.deps.panels.show(`Results: ${basename(file)}`, results);
  }

  /** The workspace's recent analyses and comparisons (the results cache), newest first; undefined: browse for a file. */
  private async pickRecent(): Promise<RecentResults | undefined | 'cancelled'> {
    const recent = await this.deps.cache.recent();
    if (recent.length === 0) return undefined;
    const browse = { label: '$(folder-opened) Open a results file...', description: '', entry: undefined };
    const items = recent.map((r) => ({ label: r.title, description: r.savedAt.toLocaleString(), entry: r }));
    const pick = await vscode.window.showQuickPick([...items, browse], {
      title: 'Open PruneScope results',
      placeHolder: 'recent analyses and comparisons of this workspace',
    });
    return pick ? pick.entry : 'cancelled';
  }

  /**
   * Picks the activations safetensors and PyTorch state dicts are read with (they store none) and
   * keeps them in the workspace's prunescope.stateDict* settings, which every later job uses.
   */
  async chooseActivations(): Promise<void> {
    const settings = this.settings();
    const pick = async (title: string, current: string) =>
      (
        await vscode.window.showQuickPick(
          ACTIVATIONS.map((a) => ({ label: a, description: a === current ? 'current' : undefined })),
          { title, placeHolder: `now ${current}` },
        )
      )?.label;
    const hidden = await pick('Activation after each hidden layer of a state dict (1/2)', settings.stateDictActivation);
    if (!hidden) return;
    const output = await pick('Activation after the output layer (2/2; linear: logits)', settings.stateDictOutputActivation);
    if (!output) return;
    const config = vscode.workspace.getConfiguration('prunescope');
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await config.update('stateDictActivation', hidden, target);
    await config.update('stateDictOutputActivation', output, target);
    this.deps.output.info(`state dicts are read with ${hidden} hidden layers and a ${output} output layer`);
  }

  private async exportStudyReport(study: ShownStudy): Promise<void> {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'HTML report', description: 'self-contained page with every chart; opens offline', format: 'html' as const },
        { label: 'JSON', description: 'the study results file (prunescope-results, kind "study")', format: 'json' as const },
        { label: 'CSV', description: 'one row per factor, value and sparsity: both accuracies and the gap', format: 'csv' as const },
        { label: 'PNG', description: 'the charts on screen, one image each', format: 'png' as const },
      ],
      { title: `Export ${study.title}` },
    );
    if (!pick) return;
    if (pick.format === 'png') study.requestCharts();
    else await exportStudy(study, pick.format, this.deps.extensionPath);
  }

  async exportReport(): Promise<void> {
    // The Study panel in front, or the last panel shown when no results panel is open.
    const study = this.deps.studies.focused ?? (this.deps.panels.active ? undefined : this.deps.studies.active);
    if (study) return this.exportStudyReport(study);
    const panel = this.deps.panels.active;
    if (!panel) {
      void vscode.window.showInformationMessage(
        'PruneScope: open results first (Run Pruning Analysis, Compare Checkpoints, Run Study or Open Results).',
      );
      return;
    }
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'HTML report', description: 'self-contained page with every chart; opens offline', format: 'html' as const },
        { label: 'JSON', description: 'the results file (prunescope-results)', format: 'json' as const },
        { label: 'CSV', description: 'one row per strategy, sparsity and layer', format: 'csv' as const },
        { label: 'PNG', description: 'the charts on screen, one image each', format: 'png' as const },
      ],
      { title: `Export ${panel.title}` },
    );
    if (!pick) return;
    if (pick.format === 'png') panel.requestCharts();
    else if (pick.format === 'html') await exportReportHtml(panel.results, this.deps.extensionPath, await this.metricIds());
    else await exportData(panel.results, pick.format);
  }
}

/** A dataset's size on disk (a file, or the files directly in a folder), for the estimate; undefined when unreadable. */
async function datasetBytes(spec: string): Promise<number | undefined> {
  try {
    const s = await fs.stat(spec);
    if (!s.isDirectory()) return s.size;
    let sum = 0;
    for (const e of await fs.readdir(spec, { withFileTypes: true })) if (e.isFile()) sum += (await fs.stat(join(spec, e.name))).size;
    return sum;
  } catch {
    return undefined;
  }
}
