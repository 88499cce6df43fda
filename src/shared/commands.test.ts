import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../test/fixtures';
import { COMMAND_NAMES, commandId } from './commands';

interface Contributes {
  commands: { command: string }[];
  menus: Record<string, { command: string }[]>;
}

function contributes(): Contributes {
  return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { contributes: Contributes }).contributes;
}

test('package.json contributes exactly the commands the extension registers', () => {
  const declared = contributes().commands.map((c) => c.command);
  assert.equal(new Set(declared).size, declared.length, 'a command is contributed twice');
  assert.deepEqual([...declared].sort(), COMMAND_NAMES.map(commandId).sort());
});

test('every menu of package.json names a registered command', () => {
  const known = new Set<string>(COMMAND_NAMES.map(commandId));
  for (const [menu, items] of Object.entries(contributes().menus)) {
    for (const item of items) assert.ok(known.has(item.command), `${menu}: ${item.command} is not registered`);
  }
});
