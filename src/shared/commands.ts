/**
 * The VS Code commands the extension registers. The list is the one source: the extension
 * registers exactly these (Commands.register), package.json's contributes.commands declares
 * exactly these (commands.test.ts compares them), and the webviews may only ask for one of them.
 */
export const COMMAND_NAMES = [
  'inspect',
  'analyze',
  'prune',
  'compare',
  'train',
  'evaluate',
  'study',
  'cancel',
  'openResults',
  'exportReport',
  'chooseActivations',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** A command's id as VS Code knows it. */
export type CommandId = `prunescope.${CommandName}`;

export function commandId(name: CommandName): CommandId {
  return `prunescope.${name}`;
}
