import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { prunedCopies } from './compare-pick';

/**
 * The checkpoint to compare `a` with: a quick pick of a's pruned copies (newest first) and
 * "Browse...", or, without copies, the file dialog straight away; the dialog opens in a's folder.
 */
export async function pickSecondModel(a: string, filters: Record<string, string[]>): Promise<string | undefined> {
  const browse = async () => {
    const picked = await vscode.window.showOpenDialog({
      title: `Checkpoint to compare with ${basename(a)}`,
      canSelectMany: false,
      filters,
      defaultUri: vscode.Uri.file(dirname(a)),
    });
    return picked?.[0]?.fsPath;
  };
  const copies = prunedCopies(a);
  if (copies.length === 0) return browse();
  const items: (vscode.QuickPickItem & { path?: string })[] = [
    { label: 'Pruned copies', kind: vscode.QuickPickItemKind.Separator },
    ...copies.map((path) => ({ label: basename(path), description: dirname(path), path })),
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(folder-opened) Browse...', description: `another checkpoint, from ${basename(dirname(a))}/` },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: `Compare ${basename(a)} with`,
    placeHolder: 'A pruned copy of it, or browse for another checkpoint',
    matchOnDescription: true,
  });
  if (!pick) return undefined;
  return pick.path ?? browse();
}
