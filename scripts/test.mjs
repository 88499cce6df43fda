// Runs every *.test.ts under src/ and test/ with node's own test runner (through tsx).
// Arguments narrow the run to files whose path contains one of them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'test', 'webview-ui']
  .flatMap((d) => {
    try {
      return collect(join(root, d), []);
    } catch {
      return [];
    }
  })
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// A second reporter writes TAP to a file so this script can print one plain summary line.
const tapFile = join(mkdtempSync(join(tmpdir(), 'prunescope-test-')), 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, PRUNESCOPE_TEST: '1' } },
);
let summary = 'no summary (the test runner did not finish)';
try {
  const tap = readFileSync(tapFile, 'utf8');
  const count = (key) => Number((tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  summary = `${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped') + count('todo')} skipped`;
} catch {
  // The runner died before writing its report; the exit status below says so.
}
console.log(`\ntests: ${summary}`);
process.exit(result.status ?? 1);
