import * as vscode from 'vscode';
import {
  DEFAULT_BUDGET_MINUTES,
  GRID_CHOICES,
  gridText,
  parseBudgetMinutes,
  planText,
  studyEstimate,
  type StudyCall,
  type StudyGrid,
} from './study-flow';

const GRID_LABELS: Record<StudyGrid, string> = { default: 'Default grid', quick: 'Quick grid' };

/**
 * Run Study's two questions: the grid (each with the plan's estimate at the default budget) and
 * the budget in minutes, which says while typing how much of the grid fits. `rate`: seconds per
 * parameter and row of an epoch, measured by the last study or assumed (`measured` says which).
 */
export async function askStudy(rate: number, measured: boolean): Promise<StudyCall | undefined> {
  const basis = measured
    ? 'estimated from the last study’s timed epoch'
    : 'estimated; the study times an epoch first and keeps to the budget';
  const items = (Object.keys(GRID_CHOICES) as StudyGrid[]).map((grid) => {
    const { settings, plan } = studyEstimate(GRID_CHOICES[grid], DEFAULT_BUDGET_MINUTES * 60, rate);
    return { label: GRID_LABELS[grid], description: planText(plan), detail: gridText(settings), grid };
  });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Run Study on MNIST (1/2): the grid',
    placeHolder: `baselines varied one factor at a time, each pruned and retrained with two strategies (${basis})`,
    matchOnDetail: true,
  });
  if (!pick) return undefined;
  const choice = GRID_CHOICES[pick.grid];
  const text = await vscode.window.showInputBox({
    title: `Run Study on MNIST (2/2): ${pick.label.toLowerCase()}, time budget in minutes`,
    prompt: 'Models the plan puts past the budget are left out, and so is a model the study, once running, sees it cannot finish in time.',
    value: String(DEFAULT_BUDGET_MINUTES),
    validateInput: (t) => {
      const minutes = parseBudgetMinutes(t);
      if (minutes === undefined) return 'a positive number of minutes';
      const { plan } = studyEstimate(choice, minutes * 60, rate);
      const severity = plan.models.length ? vscode.InputBoxValidationSeverity.Info : vscode.InputBoxValidationSeverity.Warning;
      return { message: planText(plan), severity };
    },
  });
  const minutes = text === undefined ? undefined : parseBudgetMinutes(text);
  return minutes === undefined ? undefined : { choice, budgetSeconds: minutes * 60 };
}
