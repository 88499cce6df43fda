/**
 * The questions Prune Model... and Run Pruning Analysis... ask, as data: which steps, what each
 * offers, what Enter takes (the settings), how typed text is read, and how long the run will
 * take. No vscode here, so that the node test runner checks it; prune-dialogs.ts shows it.
 */
import { percentLabel } from './naming';
import type { Settings } from './settings';

export type FlowKind = 'prune' | 'analyze';

/** The steps, in order; both commands ask all five. */
export const FLOW_STEPS = ['strategy', 'sparsity', 'compensation', 'finetune', 'schedule'] as const;
export type StepId = (typeof FLOW_STEPS)[number];

/** What the questions decide. Prune Model uses one strategy and one sparsity. */
export interface FlowChoices {
  strategies: string[];
  sparsities: number[];
  compensate: boolean;
  finetuneEpochs: number;
  /** 1: one-shot; more: iterative, that many rounds of pruning and fine-tuning. */
  iterations: number;
}

/** A strategy as the worker describes it (describe job). */
export interface StrategyInfo {
  id: string;
  kind: 'structured' | 'unstructured';
  description: string;
  needsSamples: boolean;
}

export interface StepItem {
  label: string;
  description?: string;
  detail?: string;
  /** What picking it sets. */
  value: Partial<FlowChoices>;
}

export interface StepSpec {
  id: StepId;
  /** "Prune model.onnx: sparsity"; VS Code draws the step after it: "... (2/5)". */
  title: string;
  step: number;
  totalSteps: number;
  placeholder: string;
  canPickMany: boolean;
  items: StepItem[];
  /** Labels of the items Enter takes: the current choice (the settings at first). */
  active: string[];
  /** Reads typed text as a choice (sparsities, epochs, rounds); undefined: the step takes only its items. */
  parse?: (text: string) => { value: Partial<FlowChoices>; label: string } | { error: string };
}

/** What the estimate and the strategy list need to know besides the choices. */
export interface FlowContext {
  modelName: string;
  strategies: StrategyInfo[];
  /** The model's layers and the dataset's rows, when known: the last step then shows the estimate. */
  workload?: Workload;
}

/** Prune Model's own choice: the best of a few structured strategies on the validation split. */
export const AUTO = 'auto';
/** How many strategies `auto` tries (core/experiments/prune-model.ts AUTO_CANDIDATES). */
const AUTO_CANDIDATE_COUNT = 3;

/** What Enter takes on every step: the settings (with a command's overrides already applied). */
export function defaultChoices(kind: FlowKind, s: Settings): FlowChoices {
  const base = { compensate: s.compensate, finetuneEpochs: s.finetuneEpochs };
  if (kind === 'prune') {
    return { ...base, strategies: [s.pruneStrategy], sparsities: [s.pruneSparsity], iterations: s.finetuneEpochs > 0 ? s.iterations : 1 };
  }
  return { ...base, strategies: [...s.strategies], sparsities: [...s.sparsities], iterations: s.finetuneEpochs > 0 ? s.iterations : 1 };
}

/**
 * Whether a command call answered the questions already: it overrides a setting (`overrides`,
 * from overridesFromArgs) or passes { useDefaults: true } (run with the settings as they are).
 * An editor menu's own context object does neither, so the questions are asked.
 */
export function answersGiven(args: readonly unknown[], overrides: object): boolean {
  if (Object.values(overrides).some((v) => v !== undefined)) return true;
  return args.some((a) => typeof a === 'object' && a !== null && !Array.isArray(a) && (a as Record<string, unknown>).useDefaults === true);
}

/** What a call without questions does when the same pruning was done before: { ifExists: 'open' | 'replace' | 'keep' }. */
export function ifExistsOption(args: readonly unknown[]): 'open' | 'replace' | 'keep' | undefined {
  for (const a of args) {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) continue;
    const v = (a as Record<string, unknown>).ifExists;
    if (v === 'open' || v === 'replace' || v === 'keep') return v;
    if (v !== undefined) throw new Error(`the command's options are not valid: ifExists: expected 'open', 'replace' or 'keep'`);
  }
  return undefined;
}

/** "50 %", "10, 20, 30 %". */
export function sparsityText(list: readonly number[]): string {
  return `${list.map(percentLabel).join(', ')} %`;
}

/**
 * Percentages as typed: "50", "50%", "10, 20 30" (commas or spaces). Each from 0 up to (not
 * including) 100; Prune Model takes exactly one.
 */
export function parseSparsities(text: string, kind: FlowKind): number[] | string {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.replace(/%$/, ''))
    .filter((p) => p.length > 0);
  if (parts.length === 0) return 'type a percentage, e.g. 50';
  const values: number[] = [];
  for (const p of parts) {
    const v = /^\d+(\.\d+)?$/.test(p) ? Number(p) : NaN;
    if (!(v >= 0 && v < 100)) return `"${p}" is not a percentage from 0 up to 100 (e.g. 50 or 97.5)`;
    values.push(Math.round(v * 10) / 1000);
  }
  if (kind === 'prune' && values.length > 1) return 'Prune Model writes one model: type one percentage';
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Sparsity presets: one share for Prune Model, lists for the analysis. */
const PRUNE_PRESETS = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];
const ANALYSIS_PRESETS: { name: string; list: number[] }[] = [
  { name: 'every 10 %', list: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] },
  { name: 'high sparsity', list: [0.8, 0.9, 0.95, 0.98, 0.99] },
  { name: 'coarse', list: [0.25, 0.5, 0.75] },
];
const EPOCH_PRESETS = [0, 1, 2, 3, 5, 10];
const ROUND_PRESETS = [2, 3, 5];

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-9);
}

function strategyStep(kind: FlowKind, ctx: FlowContext, c: FlowChoices): Omit<StepSpec, 'title' | 'step' | 'totalSteps' | 'id'> {
  const ids = [...new Set([...(kind === 'prune' ? [AUTO] : []), ...ctx.strategies.map((s) => s.id), ...c.strategies])];
  const items = ids.map((id): StepItem => {
    const s = ctx.strategies.find((k) => k.id === id);
    const description =
      id === AUTO ? 'structured, uses data' : s ? `${s.kind}${s.needsSamples ? ', uses data' : ''}` : 'not known to this version';
    const detail =
      id === AUTO ? `the most accurate of ${AUTO_CANDIDATE_COUNT} structured strategies on the validation split` : s?.description;
    return { label: id, description, detail, value: { strategies: [id] } };
  });
  return kind === 'prune'
    ? {
        placeholder: 'Strategy (Enter: the one from prunescope.pruneStrategy)',
        canPickMany: false,
        items,
        active: c.strategies.slice(0, 1),
      }
    : { placeholder: 'Strategies to compare (Space toggles; Enter: those checked)', canPickMany: true, items, active: c.strategies };
}

function sparsityStep(kind: FlowKind, c: FlowChoices): Omit<StepSpec, 'title' | 'step' | 'totalSteps' | 'id'> {
  const current = { label: sparsityText(c.sparsities), description: 'current', value: { sparsities: c.sparsities } };
  const presets: StepItem[] =
    kind === 'prune'
      ? PRUNE_PRESETS.map((v) => ({ label: sparsityText([v]), value: { sparsities: [v] } }))
      : ANALYSIS_PRESETS.map((p) => ({ label: sparsityText(p.list), description: p.name, value: { sparsities: p.list } }));
  const items = [current, ...presets.filter((p) => !sameList(p.value.sparsities ?? [], c.sparsities))];
  const parse = (text: string) => {
    const r = parseSparsities(text, kind);
    return typeof r === 'string' ? { error: r } : { value: { sparsities: r }, label: sparsityText(r) };
  };
  const placeholder =
    kind === 'prune'
      ? 'Share of weights or units to remove: pick one or type a percentage (Enter: current)'
      : 'Sparsities: pick a preset or type percentages, e.g. 50, 90, 95 (Enter: current)';
  return { placeholder, canPickMany: false, items, active: [current.label], parse };
}

function compensationStep(c: FlowChoices): Omit<StepSpec, 'title' | 'step' | 'totalSteps' | 'id'> {
  const items: StepItem[] = [
    {
      label: 'Compensate',
      detail: 'refit the weights that stay so the pruned layers reproduce the original outputs on validation rows',
      value: { compensate: true },
    },
    { label: 'No compensation', detail: 'keep the remaining weights as they are', value: { compensate: false } },
  ];
  return {
    placeholder: 'Compensation (Enter: prunescope.compensate)',
    canPickMany: false,
    items,
    active: [items[c.compensate ? 0 : 1].label],
  };
}

function epochsLabel(n: number): string {
  return n === 0 ? 'No fine-tuning' : `${n} epoch${n === 1 ? '' : 's'} of fine-tuning`;
}

function finetuneStep(c: FlowChoices): Omit<StepSpec, 'title' | 'step' | 'totalSteps' | 'id'> {
  const values = [...new Set([c.finetuneEpochs, ...EPOCH_PRESETS])];
  const items = values.map((n) => ({ label: epochsLabel(n), value: { finetuneEpochs: n } }));
  const parse = (text: string) => {
    const t = text.trim();
    if (!/^\d+$/.test(t) || Number(t) > 1000) return { error: 'type a whole number of epochs (0: none)' };
    return { value: { finetuneEpochs: Number(t) }, label: epochsLabel(Number(t)) };
  };
  return {
    placeholder: 'Fine-tuning epochs after pruning, 0 = none; pick or type a number (Enter: prunescope.finetuneEpochs)',
    canPickMany: false,
    items,
    active: [epochsLabel(c.finetuneEpochs)],
    parse,
  };
}

function roundsLabel(n: number): string {
  return n <= 1 ? 'One-shot' : `Iterative, ${n} rounds`;
}

function scheduleStep(kind: FlowKind, ctx: FlowContext, c: FlowChoices): Omit<StepSpec, 'title' | 'step' | 'totalSteps' | 'id'> {
  const iterative = c.finetuneEpochs > 0;
  const rounds = iterative ? [...new Set([1, c.iterations, ...ROUND_PRESETS])] : [1];
  const items = rounds.map((n): StepItem => {
    const choice = { ...c, iterations: n };
    const time = ctx.workload ? `${formatEstimate(estimateSeconds(kind, choice, ctx.strategies, ctx.workload))}` : undefined;
    const how =
      n <= 1 ? 'prune to the target at once' : `prune ${n} times, each removing a share of what remains, with fine-tuning after each round`;
    return { label: roundsLabel(n), description: time, detail: how, value: { iterations: n } };
  });
  const why = iterative
    ? 'Schedule (Enter: prunescope.iterations)'
    : 'Schedule: iterative schedules retrain between rounds; go Back and give fine-tuning epochs for them';
  return {
    placeholder: `${why}; times are estimates`,
    canPickMany: false,
    items,
    active: [roundsLabel(iterative ? c.iterations : 1)],
  };
}

/** Step `id` of the flow, offering what fits the choices made so far. */
export function stepSpec(kind: FlowKind, id: StepId, ctx: FlowContext, c: FlowChoices): StepSpec {
  const index = FLOW_STEPS.indexOf(id);
  const what = { strategy: kind === 'prune' ? 'strategy' : 'strategies', sparsity: kind === 'prune' ? 'sparsity' : 'sparsities' };
  const name = { ...what, compensation: 'compensation', finetune: 'fine-tuning', schedule: 'schedule and estimate' }[id];
  const verb = kind === 'prune' ? 'Prune' : 'Pruning analysis of';
  const body =
    id === 'strategy'
      ? strategyStep(kind, ctx, c)
      : id === 'sparsity'
        ? sparsityStep(kind, c)
        : id === 'compensation'
          ? compensationStep(c)
          : id === 'finetune'
            ? finetuneStep(c)
            : scheduleStep(kind, ctx, c);
  return {
    id,
    title: `${verb} ${ctx.modelName}: ${name}`,
    step: index + 1,
    totalSteps: FLOW_STEPS.length,
    ...body,
  };
}

/** The choices with what a step answered; a schedule the epochs no longer allow falls back to one-shot. */
export function applyAnswer(c: FlowChoices, answer: Partial<FlowChoices>): FlowChoices {
  const next = { ...c, ...answer };
  if (next.finetuneEpochs === 0) next.iterations = 1;
  return next;
}

// ---- the estimate ----

/**
 * What the estimate is computed from. `layers` are the dense layers (inputs x units); rows are
 * the dataset's: training rows feed fine-tuning, evaluation rows the accuracy before and after,
 * `samples` the activations data-driven strategies and the similarity measures use,
 * `calibrationRows` compensation.
 */
export interface Workload {
  layers: { inputSize: number; units: number }[];
  trainRows: number;
  evalRows: number;
  samples: number;
  calibrationRows: number;
  /** Rows of the validation split (auto judges its candidates there; compensation calibrates there). */
  validationRows: number;
}

/**
 * The cost model. A forward pass costs 2 FLOPs per weight per row, training (forward, backward,
 * Adam) 6. Compensation costs, per layer of n inputs and m units, 2 r n^2 (the Gram matrix of r
 * calibration rows) + n^3 / 3 (Cholesky) + 2 n^2 m (the solve). The similarity measures of an
 * analysis cost 2 s^2 m per layer (the s x s Gram matrices of s samples). Work runs at
 * FLOPS_PER_SECOND, and each job starts with a fixed JOB_OVERHEAD_S (starting the engine, reading
 * the data); each analysis point adds POINT_OVERHEAD_S (latency runs, bookkeeping). The constants
 * come from prunescope runs on a busy 2-core machine (a 784-1000-1000-10 MLP on MNIST: prune 5-7 s,
 * with one epoch of fine-tuning 15 s); a machine of its own is faster, a loaded one slower.
 */
export const FLOPS_PER_SECOND = 25e9;
export const JOB_OVERHEAD_S = 4;
export const POINT_OVERHEAD_S = 1;

function weights(layers: Workload['layers']): number {
  return layers.reduce((sum, l) => sum + l.inputSize * l.units, 0);
}

function compensationFlops(w: Workload): number {
  const r = Math.min(w.calibrationRows, w.validationRows);
  return w.layers.reduce((sum, { inputSize: n, units: m }) => sum + 2 * r * n * n + (n * n * n) / 3 + 2 * n * n * m, 0);
}

/** FLOPs of pruning to one sparsity with the choices: every round's scoring, compensation and fine-tuning. */
function pruneOnceFlops(c: FlowChoices, compensate: boolean, structured: boolean, sparsity: number, w: Workload): number {
  const full = weights(w.layers);
  // Structured pruning shrinks the model that fine-tunes; unstructured keeps its dense shape.
  const kept = structured ? full * (1 - sparsity) : full;
  const rounds = Math.max(1, c.iterations);
  const perRound = 2 * full * w.samples + (compensate ? compensationFlops(w) : 0) + c.finetuneEpochs * 6 * kept * w.trainRows;
  return rounds * perRound;
}

function isStructured(id: string, strategies: StrategyInfo[]): boolean {
  return id === AUTO || strategies.find((s) => s.id === id)?.kind === 'structured';
}

/** Seconds a Prune Model or analysis run with these choices is estimated to take (see the cost model above). */
export function estimateSeconds(kind: FlowKind, c: FlowChoices, strategies: StrategyInfo[], w: Workload): number {
  const full = weights(w.layers);
  const evaluate = 2 * full * w.evalRows;
  if (kind === 'prune') {
    const id = c.strategies[0] ?? AUTO;
    const s = c.sparsities[0] ?? 0.5;
    const once = pruneOnceFlops(c, c.compensate, isStructured(id, strategies), s, w);
    // auto prunes with each candidate and judges it on the validation split.
    const flops = id === AUTO ? AUTO_CANDIDATE_COUNT * (once + 2 * full * w.validationRows) + 2 * evaluate : once + 2 * evaluate;
    return JOB_OVERHEAD_S + flops / FLOPS_PER_SECOND;
  }
  const similarity = w.layers.reduce((sum, l) => sum + 2 * w.samples * w.samples * l.units, 0) + 2 * full * w.samples;
  // Every strategy plain and, with compensation, compensated; the original is measured once.
  const variants = c.compensate ? [false, true] : [false];
  let flops = evaluate + similarity;
  let points = 0;
  for (const id of c.strategies)
    for (const compensate of variants)
      for (const s of c.sparsities) {
        flops += pruneOnceFlops(c, compensate, isStructured(id, strategies), s, w) + evaluate + similarity;
        points++;
      }
  return JOB_OVERHEAD_S + points * POINT_OVERHEAD_S + flops / FLOPS_PER_SECOND;
}

/** "about 40 s (estimate)", "about 3 min (estimate)", "about 1.5 h (estimate)". */
export function formatEstimate(seconds: number): string {
  const text =
    seconds < 60
      ? `${Math.max(5, Math.round(seconds / 5) * 5)} s`
      : seconds < 3600
        ? `${Math.round(seconds / 60)} min`
        : `${(Math.round(seconds / 360) / 10).toFixed(1)} h`;
  return `about ${text} (estimate)`;
}

/** MNIST's splits (core/data/mnist.ts): 55,000 training, 5,000 validation, 10,000 test rows. */
export const MNIST_ROWS = { train: 55_000, validation: 5_000, test: 10_000 };

/**
 * The rows of a dataset, for the estimate: MNIST's are known; another dataset's are guessed from
 * its size on disk at 4 bytes per value of `inputSize` (float32 arrays; CSV text takes about as
 * much), split 80/10/10.
 */
export function datasetRows(
  spec: string,
  bytes: number | undefined,
  inputSize: number,
): { train: number; validation: number; test: number } {
  if (spec.trim().toLowerCase() === 'mnist') return MNIST_ROWS;
  const rows = Math.max(1, Math.round((bytes ?? 0) / (4 * Math.max(1, inputSize))));
  return { train: Math.round(rows * 0.8), validation: Math.round(rows * 0.1), test: Math.round(rows * 0.1) };
}
