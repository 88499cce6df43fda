import { withWriteScope } from '../core/io/scope';
import { isPruneScopeError, UsageError } from '../core/errors';
import type { Command } from './command';
import { relaunch, relaunchEnv } from './relaunch';
import { activationsCommand } from './commands/activations';
import { analyzeCommand } from './commands/analyze';
import { compareCommand } from './commands/compare';
import { evaluateCommand } from './commands/evaluate';
import { geometryCommand } from './commands/geometry';
import { inspectCommand } from './commands/inspect';
import { predictCommand } from './commands/predict';
import { pruneCommand } from './commands/prune';
import { similarityCommand } from './commands/similarity';
import { studyCommand } from './commands/study';
import { trainCommand } from './commands/train';

/** Every CLI command. A new command is one file plus one line here. */
export const COMMANDS: readonly Command[] = [
  inspectCommand,
  predictCommand,
  evaluateCommand,
  trainCommand,
  pruneCommand,
  analyzeCommand,
  compareCommand,
  studyCommand,
  similarityCommand,
  activationsCommand,
  geometryCommand,
];

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: prunescope <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'common options: --json (machine-readable output), --verbose (say which backend runs),',
    '                --engine auto|onnxruntime|wasm|tfjs-node (auto: onnxruntime when it loads),',
    '                --backend auto|tensorflow|wasm|cpu, --help',
    "run 'prunescope <command> --help' for a command's options",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);
    return name ? EXIT_OK : EXIT_USAGE;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`prunescope: unknown command "${name}"\n\n${help()}\n`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n\n${command.summary}\n`);
    return EXIT_OK;
  }
  try {
    // One write scope per command: no file it writes replaces an existing one without --force, or an input ever.
    await withWriteScope({ replace: false, howToReplace: '--force' }, () => command.run(rest));
    return EXIT_OK;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`prunescope ${name}: ${e.message}\nusage: ${command.usage}\n`);
      return EXIT_USAGE;
    }
    if (isPruneScopeError(e)) {
      process.stderr.write(`prunescope ${name}: ${e.message}\n`);
      return EXIT_FAILED;
    }
    // Not caused by input: still no stack trace unless asked for, but say it is ours.
    const err = e as Error;
    process.stderr.write(`prunescope ${name}: internal error: ${err?.message ?? String(e)}\n`);
    if (rest.includes('--verbose') || rest.includes('-v')) process.stderr.write(`${err?.stack ?? ''}\n`);
    return EXIT_FAILED;
  }
}

/** Runs the CLI on this process's arguments and sets its exit code (relaunching first, see relaunch.ts). */
export function runCli(): void {
  const env = relaunchEnv(process.env);
  if (env) {
    relaunch(env);
    return;
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`prunescope: internal error: ${(e as Error).message}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}

if (require.main === module) runCli();
