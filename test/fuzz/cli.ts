/** Entry of scripts/fuzz.mjs: runs the fuzzer, prints the tables, writes bench-results/fuzz.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../fixtures';
import { DEFAULT_HOSTILE } from './cases';
import { formatClassTable, formatTable, runFuzz, type FuzzReport } from './harness';
import { HOSTILE_CLASSES, type HostileClass } from './hostile';
import { FUZZ_FORMATS, type FuzzFormat } from './seeds';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const USAGE =
  `usage: fuzz.mjs [--cases N] [--seed S] [--format ${FUZZ_FORMATS.join('|')}[,...]]\n` +
  `                [--hostile-share X] [--classes ${HOSTILE_CLASSES.join('|')}[,...]] [--timeout MS] [--max-rss MB]\n` +
  `  --hostile-share  share of the cases that are hostile (every round(1/X)-th case; default ${DEFAULT_HOSTILE.share}, 0 none, 1 all)\n` +
  `  --classes        hostile classes to run (default all)\n` +
  `  --timeout        per-case limit in ms (default 5000)\n` +
  `  --max-rss        worker resident-memory ceiling per case in MB (default 1536)`;

interface CliOptions {
  cases: number;
  seed: number;
  formats: readonly FuzzFormat[];
  share: number;
  classes?: HostileClass[];
  timeoutMs?: number;
  maxRssMb?: number;
}

/** The options from the command line; prints the usage and exits 2 on any that is not valid. */
function parseOptions(): CliOptions {
  const cases = Number(arg('cases') ?? 10000);
  const seed = Number(arg('seed') ?? 1);
  const only = arg('format');
  const formats = only ? (only.split(',') as FuzzFormat[]) : FUZZ_FORMATS;
  const bad = formats.filter((f) => !FUZZ_FORMATS.includes(f));
  const share = Number(arg('hostile-share') ?? DEFAULT_HOSTILE.share);
  const classes = arg('classes')?.split(',') as HostileClass[] | undefined;
  const badClasses = (classes ?? []).filter((c) => !HOSTILE_CLASSES.includes(c));
  const timeoutMs = arg('timeout') === undefined ? undefined : Number(arg('timeout'));
  const maxRssMb = arg('max-rss') === undefined ? undefined : Number(arg('max-rss'));
  if (
    bad.length ||
    badClasses.length ||
    !Number.isInteger(cases) ||
    cases < 1 ||
    !Number.isFinite(seed) ||
    !(share >= 0 && share <= 1) ||
    (timeoutMs !== undefined && !(timeoutMs > 0)) ||
    (maxRssMb !== undefined && !(maxRssMb > 0))
  ) {
    console.error(USAGE);
    process.exit(2);
  }
  return { cases, seed, formats, share, classes, timeoutMs, maxRssMb };
}

/** The run's settings, the tables, the peaks and the first failures of each format. */
function printReport(report: FuzzReport, o: CliOptions): void {
  console.log(
    `\nseed ${o.seed}, ${o.cases} cases per format (hostile: every ${o.share > 0 ? Math.round(1 / o.share) : '-'}th case, classes ${(o.classes ?? HOSTILE_CLASSES).join(',')}), ` +
      `${report.timeoutMs} ms per case limit, worker heap ${report.maxHeapMb} MB, resident-memory ceiling ${report.maxRssMb} MB\n` +
      `third-party seeds: ${report.thirdPartySeeds}\n`,
  );
  console.log(formatTable(report));
  console.log(`\nby class:\n${formatClassTable(report)}`);
  console.log(`\nby hostile mutation:\n${formatClassTable(report, true)}`);
  console.log(`\nfiles lost or altered: ${report.filesLostOrAltered.length} of ${report.seedFilesChecked} checked`);
  for (const s of report.formats) {
    if (s.peakCase)
      console.log(
        `  ${s.format}: peak RSS ${s.peakRssMb.toFixed(0)} MB at #${s.peakCase.index} [${(s.peakCase.ops ?? [s.peakCase.plan ?? 'generic']).join(' ')}]`,
      );
  }
  for (const s of report.formats)
    for (const f of s.failures.slice(0, 8))
      console.log(`  ${s.format} #${f.index} ${f.kind} ${f.seed ?? ''} ${f.file ?? ''} [${(f.ops ?? []).join(' ')}]\n    ${f.message}`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const o = parseOptions();
  const report = await runFuzz({
    cases: o.cases,
    seed: o.seed,
    formats: o.formats,
    timeoutMs: o.timeoutMs,
    maxRssMb: o.maxRssMb,
    hostile: { share: o.share, classes: o.classes },
    onFormatDone: (s) =>
      console.log(
        `${s.format}: ${s.tried} tried, ${s.errors} errors, ${s.crashes} crashes (${s.memory} over memory), ${s.unnamed} unnamed, ${s.hangs} hangs, ${s.escapes} escapes (${s.seconds.toFixed(1)} s)`,
      ),
  });
  const out = join(repoRoot, 'bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'fuzz.json'), JSON.stringify({ ...report, createdAt: new Date().toISOString() }, null, 2));
  printReport(report, o);
  const failed = report.formats.some((s) => s.crashes || s.hangs || s.unnamed || s.escapes) || report.filesLostOrAltered.length;
  process.exit(failed ? 1 : 0);
}

void main();
