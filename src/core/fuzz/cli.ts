/** Entry of scripts/fuzz.mjs: runs the fuzzer, prints the table, writes bench-results/fuzz.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatTable, runFuzz } from './harness';
import { FUZZ_FORMATS, type FuzzFormat } from './seeds';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const cases = Number(arg('cases') ?? 10000);
  const seed = Number(arg('seed') ?? 1);
  const only = arg('format');
  const formats = only ? (only.split(',') as FuzzFormat[]) : FUZZ_FORMATS;
  const bad = formats.filter((f) => !FUZZ_FORMATS.includes(f));
  if (bad.length || !Number.isInteger(cases) || cases < 1 || !Number.isFinite(seed)) {
    console.error(`usage: fuzz.mjs [--cases N] [--seed S] [--format ${FUZZ_FORMATS.join('|')}[,...]]`);
    process.exit(2);
  }
  const report = await runFuzz({
    cases,
    seed,
    formats,
    onFormatDone: (s) => console.log(`${s.format}: ${s.tried} tried, ${s.errors} errors, ${s.crashes} crashes, ${s.unnamed} unnamed, ${s.hangs} hangs (${s.seconds.toFixed(1)} s)`),
  });
  const out = resolve(__dirname, '..', '..', '..', 'bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'fuzz.json'), JSON.stringify({ ...report, createdAt: new Date().toISOString() }, null, 2));
  console.log(`\nseed ${seed}, ${cases} cases per format, ${report.timeoutMs} ms per case limit, worker heap ${report.maxHeapMb} MB\n`);
  console.log(formatTable(report));
  console.log(`\nfiles lost or altered: ${report.filesLostOrAltered.length} of ${report.seedFilesChecked} checked`);
  for (const s of report.formats) for (const f of s.failures.slice(0, 5)) console.log(`  ${s.format} #${f.index} ${f.kind} ${f.seed ?? ''} ${f.file ?? ''} [${(f.ops ?? []).join(' ')}]\n    ${f.message}`);
  const bad2 = report.formats.some((s) => s.crashes || s.hangs || s.unnamed) || report.filesLostOrAltered.length;
  process.exit(bad2 ? 1 : 0);
}

void main();
