/**
 * Shows the steps of prune-flow.ts as one quick input after another, with a Back button, as VS
 * Code's multi-step input sample does: Enter takes what the step shows active (the settings at
 * first), Escape cancels the whole flow.
 */
import * as vscode from 'vscode';
import {
  applyAnswer,
  FLOW_STEPS,
  stepSpec,
  type FlowChoices,
  type FlowContext,
  type FlowKind,
  type StepItem,
  type StepSpec,
  type Workload,
} from './prune-flow';

type Answer = { kind: 'next'; value: Partial<FlowChoices> } | { kind: 'back' } | undefined;

interface ShownItem extends vscode.QuickPickItem {
  value?: Partial<FlowChoices>;
  /** What the typed text did not mean: accepting it does nothing. */
  error?: boolean;
}

/** The open step, for the real-editor tests (prunescope.test.dialog): what a person sees in it. */
export interface DialogState {
  /** "Prune model.onnx: sparsity (2/5)". */
  title: string;
  placeholder: string;
  items: string[];
  /** Each item's description (the schedule step's estimates). */
  descriptions: string[];
  active: string[];
  selected: string[];
  value: string;
}

let open: vscode.QuickPick<ShownItem> | undefined;
/** What the open step does with typed text. */
let onTyped: ((value: string) => void) | undefined;

export function dialogState(): DialogState | undefined {
  if (!open) return undefined;
  // As the workbench draws it: the title, then the step.
  const step = open.step === undefined ? '' : ` (${open.step}/${open.totalSteps})`;
  return {
    title: `${open.title ?? ''}${step}`,
    placeholder: open.placeholder ?? '',
    items: open.items.map((i) => i.label),
    descriptions: open.items.map((i) => i.description ?? ''),
    active: open.activeItems.map((i) => i.label),
    selected: open.selectedItems.map((i) => i.label),
    value: open.value,
  };
}

/** Types into the open step, as a person would (the tests cannot type into the workbench). */
export function typeIntoDialog(value: string): boolean {
  if (!open) return false;
  open.value = value;
  // The workbench reports the change back too; reading it here already is the same and does not wait for it.
  onTyped?.(value);
  return true;
}

function shown(item: StepItem): ShownItem {
  return { label: item.label, description: item.description, detail: item.detail, value: item.value };
}

/** The items with, when text is typed and the step reads text, what it means first (or why not). */
function itemsFor(spec: StepSpec, typed: string): ShownItem[] {
  const base = spec.items.map(shown);
  if (!spec.parse || typed.trim() === '' || spec.canPickMany) return base;
  const r = spec.parse(typed);
  if ('error' in r) return [{ label: `$(error) ${r.error}`, error: true, alwaysShow: true }, ...base];
  return [{ label: r.label, description: 'typed', value: r.value, alwaysShow: true }, ...base];
}

/** As the workbench's filter does: the first item whose label has the typed text becomes the one Enter takes. */
function activateMatch(qp: vscode.QuickPick<vscode.QuickPickItem>, typed: string): void {
  const match = qp.items.find((i) => i.label.toLowerCase().includes(typed.trim().toLowerCase()));
  if (match) qp.activeItems = [match];
}

function askStep(spec: StepSpec): Promise<Answer> {
  const qp = vscode.window.createQuickPick<ShownItem>();
  open = qp;
  qp.title = spec.title;
  qp.step = spec.step;
  qp.totalSteps = spec.totalSteps;
  qp.placeholder = spec.placeholder;
  qp.canSelectMany = spec.canPickMany;
  qp.ignoreFocusOut = true;
  // Typed numbers must not be filtered away by the labels: the step shows what they mean instead.
  qp.matchOnDescription = false;
  qp.buttons = spec.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  qp.items = itemsFor(spec, '');
  const activeItems = qp.items.filter((i) => spec.active.includes(i.label));
  if (spec.canPickMany) qp.selectedItems = activeItems;
  else qp.activeItems = activeItems.slice(0, 1);
  return new Promise<Answer>((done) => {
    let answered = false;
    const finish = (a: Answer) => {
      answered = true;
      done(a);
      qp.dispose();
    };
    const typed = (v: string) => {
      if (spec.canPickMany) return;
      if (!spec.parse) return activateMatch(qp, v);
      qp.items = itemsFor(spec, v);
      qp.activeItems = qp.items.slice(0, 1);
    };
    onTyped = typed;
    qp.onDidChangeValue(typed);
    qp.onDidTriggerButton((b) => {
      if (b === vscode.QuickInputButtons.Back) finish({ kind: 'back' });
    });
    qp.onDidAccept(() => {
      if (spec.canPickMany) {
        const picked = qp.selectedItems.flatMap((i) => i.value?.strategies ?? []);
        if (picked.length > 0) finish({ kind: 'next', value: { strategies: picked } });
        else qp.placeholder = 'Check at least one strategy (Space), then press Enter';
        return;
      }
      const item = qp.activeItems[0];
      if (item && !item.error && item.value) finish({ kind: 'next', value: item.value });
    });
    qp.onDidHide(() => {
      if (open === qp) [open, onTyped] = [undefined, undefined];
      if (!answered) finish(undefined);
    });
    qp.show();
  });
}

/** How long the last step waits for the estimate's sizes before it shows without them. */
const WORKLOAD_WAIT_MS = 3000;

/**
 * Asks the five steps from `initial` (the settings); undefined when the person cancels. Back
 * keeps what was answered, so going forward again shows it active. The workload for the estimate
 * loads while the first steps are answered; the last step waits a moment for it, else goes without.
 */
export async function askFlow(
  kind: FlowKind,
  ctx: Omit<FlowContext, 'workload'>,
  initial: FlowChoices,
  workload: Promise<Workload | undefined>,
): Promise<FlowChoices | undefined> {
  let choices = initial;
  let index = 0;
  while (index < FLOW_STEPS.length) {
    const id = FLOW_STEPS[index];
    const late = () => new Promise<undefined>((r) => setTimeout(() => r(undefined), WORKLOAD_WAIT_MS));
    const known = id === 'schedule' ? await Promise.race([workload.catch(() => undefined), late()]) : undefined;
    const answer = await askStep(stepSpec(kind, id, { ...ctx, workload: known }, choices));
    if (!answer) return undefined;
    if (answer.kind === 'back') {
      index = Math.max(0, index - 1);
      continue;
    }
    choices = applyAnswer(choices, answer.value);
    index++;
  }
  return choices;
}

/** One question outside the steps (the re-prune choice); undefined when cancelled. */
export async function askOne<T>(title: string, placeholder: string, items: (vscode.QuickPickItem & { pick: T })[]): Promise<T | undefined> {
  const qp = vscode.window.createQuickPick<ShownItem & { pick?: T }>();
  [open, onTyped] = [qp, (v) => activateMatch(qp, v)];
  qp.title = title;
  qp.placeholder = placeholder;
  qp.ignoreFocusOut = true;
  qp.items = items;
  return new Promise<T | undefined>((done) => {
    let answered = false;
    qp.onDidAccept(() => {
      answered = true;
      done(qp.activeItems[0]?.pick);
      qp.dispose();
    });
    qp.onDidHide(() => {
      if (open === qp) [open, onTyped] = [undefined, undefined];
      if (!answered) done(undefined);
      qp.dispose();
    });
    qp.show();
  });
}
