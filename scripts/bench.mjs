// Runs the benchmarks in bench/*.bench.ts, one child process each (through tsx), one after
// the other so they do not compete for the cores. Arguments pick benchmarks by name
// (`npm run bench -- training` runs bench/training.bench.ts). Each benchmark writes
// bench-results/<name>.json itself; afterwards this prints a summary table from those files:
// a JSON `summary` array of { metric, value, unit? } when there is one, else its top-level numbers.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { largePageEnv } from './large-pages.mjs';

const root = new URL('..', import.meta.url).pathname;
const benchDir = join(root, 'bench');
const resultsDir = join(root, 'bench-results');

const all = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`no benchmark named ${unknown.join(', ')}; available: ${all.join(', ')}`);
  process.exit(2);
}
const names = wanted.length ? wanted : all;
// A fresh clone has no results folder (it is ignored by git); each benchmark writes into it.
mkdirSync(resultsDir, { recursive: true });
// The peers benchmark times the `prunescope` command, which runs the bundle in dist/: built from
// the sources as they are now, or it times whatever was built last (session 13 found its compare
// row measuring code two commits old).
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if (build.status !== 0) {
  console.error('npm run build failed; the benchmarks did not run');
  process.exit(1);
}

const outcomes = [];
for (const name of names) {
  const file = join(benchDir, `${name}.bench.ts`);
  const out = join(resultsDir, `${name}.json`);
  const before = existsSync(out) ? statSync(out).mtimeMs : 0;
  console.log(`\n=== ${name} (${file.slice(root.length)}) ===`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: 'inherit', env: largePageEnv() });
  const seconds = (Date.now() - t0) / 1000;
  const fresh = existsSync(out) && statSync(out).mtimeMs > before;
  outcomes.push({ name, status: r.status ?? 1, seconds, out, fresh });
}

function formatValue(v) {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function rowsOf(json) {
  if (Array.isArray(json.summary)) {
    return json.summary.map((r) => [String(r.metric), formatValue(r.value), r.unit ?? '']);
  }
  return Object.entries(json)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
    .map(([k, v]) => [k, formatValue(v), '']);
}

console.log('\n=== summary ===');
const table = [];
for (const o of outcomes) {
  if (o.status !== 0) {
    table.push([o.name, 'FAILED', `exit ${o.status}`, '']);
    continue;
  }
  if (!o.fresh) {
    table.push([o.name, '(no result file written)', '', '']);
    continue;
  }
  let json;
  try {
    json = JSON.parse(readFileSync(o.out, 'utf8'));
  } catch (e) {
    table.push([o.name, `unreadable ${o.out}: ${e.message}`, '', '']);
    continue;
  }
  for (const [metric, value, unit] of rowsOf(json)) table.push([o.name, metric, value, unit]);
}
const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => r[i].length), ['bench', 'metric', 'value', 'unit'][i].length));
const line = (r) =>
  r
    .map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
    .join('  ')
    .trimEnd();
console.log(line(['bench', 'metric', 'value', 'unit']));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of table) console.log(line(r));
for (const o of outcomes) console.log(`${o.name}: ${o.seconds.toFixed(0)} s${o.fresh ? `, ${o.out.slice(root.length)}` : ''}`);
process.exit(outcomes.every((o) => o.status === 0 && o.fresh) ? 0 : 1);
