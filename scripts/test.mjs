// Runs every *.test.ts under src/ and test/ with node's own test runner (through tsx), then the
// extension-host tests in a real VS Code (scripts/vscode-test.mjs) when it is installed
// (scripts/install-test-deps.sh; on CI it must be), the Restricted Mode suite in an untrusted
// workspace (vscode-test.mjs --untrusted), then the packaged extension: npm run package
// into a temporary folder and the same VS Code with that .vsix installed (vscode-test.mjs --vsix).
// Prints how long each part took and one summary line for all.
// Arguments narrow the unit run to files whose path contains one of them and skip the editor run;
// --unit skips the editor run, --vscode runs only it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { largePageEnv } from './large-pages.mjs';

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

const args = process.argv.slice(2);
const onlyUnit = args.includes('--unit');
const onlyVscode = args.includes('--vscode');
const filters = args.filter((a) => !a.startsWith('--'));
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

if (files.length === 0 && !onlyVscode) {
  console.error('no test files matched');
  process.exit(1);
}

function unitTests() {
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
    { cwd: root, stdio: 'inherit', env: { ...largePageEnv(), PRUNESCOPE_TEST: '1' } },
  );
  const counts = { passed: 0, failed: 0, skipped: 0, ok: result.status === 0 };
  try {
    const tap = readFileSync(tapFile, 'utf8');
    const count = (key) => Number((tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
    counts.passed = count('pass');
    counts.failed = count('fail') + count('cancelled');
    counts.skipped = count('skipped') + count('todo');
    counts.compatSkipped = compatSkips(tap);
  } catch {
    // The runner died before writing its report; its exit status says so.
    counts.failed += 1;
  }
  return counts;
}

/**
 * The tests of the compatibility suite (runs on the third-party files in ../shared/fixtures) that
 * were skipped because those files are absent: TAP points whose SKIP reason is test/fixtures.ts's
 * COMPAT_SKIP_REASON, suites left out (node:test counts only tests).
 */
function compatSkips(tap) {
  const lines = tap.split('\n');
  let n = 0;
  lines.forEach((line, i) => {
    if (!/^\s*ok \d+ - .* # SKIP fixtures absent: /.test(line)) return;
    for (let j = i + 1; j < lines.length && !/^\s*\.\.\.$/.test(lines[j]); j++) if (/^\s*type: 'suite'$/.test(lines[j])) return;
    n++;
  });
  return n;
}

/** mode: 'vscode' (the suites), 'untrusted' (Restricted Mode suite) or 'vsix' (the installed package). */
function vscodeTests(mode) {
  const vsix = mode === 'vsix';
  const server = spawnSync('bash', [join(root, 'scripts', 'install-test-deps.sh'), '--print'], { encoding: 'utf8' }).stdout.trim();
  if (!server || !existsSync(server)) {
    const why = 'the real VS Code for extension-host tests is not installed (npm run test:deps installs it)';
    if (process.env.CI) {
      console.error(`${mode}: ${why}`);
      return { passed: 0, failed: 1, skipped: 0, ok: false };
    }
    // A suite that cannot run counts as one skipped in the summary line, never as nothing.
    console.log(`\n${mode}: suite skipped (counted as 1 skipped): ${why}`);
    return { passed: 0, failed: 0, skipped: 1, ok: true };
  }
  let args = [];
  if (vsix) {
    console.log('\n== the packaged extension (.vsix) installed in a real VS Code');
    const out = join(mkdtempSync(join(tmpdir(), 'prunescope-vsix-')), 'prunescope.vsix');
    const p = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs'), '--out', out], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    const said = `${p.stdout ?? ''}${p.stderr ?? ''}`;
    process.stdout.write(
      said
        .split('\n')
        .filter((l) => /^package: /.test(l))
        .join('\n') + '\n',
    );
    if (p.status !== 0) {
      console.error(said);
      return { passed: 0, failed: 1, skipped: 0, ok: false };
    }
    args = ['--vsix', out];
  } else if (mode === 'untrusted') {
    console.log('\n== extension-host tests in a real VS Code, workspace not trusted (Restricted Mode)');
    args = ['--untrusted'];
  } else {
    console.log('\n== extension-host tests in a real VS Code');
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'vscode-test.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(r.stdout ?? '');
  if (vsix) rmSync(dirname(args[1]), { recursive: true, force: true });
  const m = (r.stdout ?? '').match(/^(?:vscode|vsix|untrusted): (\d+) passed, (\d+) failed, (\d+) skipped$/m);
  const counts = m ? { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) } : { passed: 0, failed: 1, skipped: 0 };
  return { ...counts, ok: r.status === 0 && counts.failed === 0 };
}

const runs = [];
const timings = [];
function timed(name, fn) {
  const t0 = Date.now();
  const r = fn();
  timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return r;
}
if (!onlyVscode) runs.push(timed('unit+browser', unitTests));
if (!onlyUnit && filters.length === 0) {
  runs.push(timed('vscode', () => vscodeTests('vscode')));
  runs.push(timed('untrusted', () => vscodeTests('untrusted')));
  runs.push(timed('vsix', () => vscodeTests('vsix')));
}
console.log(`\ntook: ${timings.join(', ')}`);
const fixturesDir = process.env.PRUNESCOPE_FIXTURES ?? join(root, '..', 'shared', 'fixtures');
const compatSkipped = runs.reduce((a, r) => a + (r.compatSkipped ?? 0), 0);
if (!existsSync(fixturesDir)) {
  // The third-party model files are not here: say how much of the compatibility suite did not run.
  const where = process.env.PRUNESCOPE_FIXTURES
    ? `PRUNESCOPE_FIXTURES=${process.env.PRUNESCOPE_FIXTURES} not found`
    : '../shared/fixtures not found; set PRUNESCOPE_FIXTURES';
  console.log(`compatibility suite: ${compatSkipped} tests skipped (${where})`);
}
const total = runs.reduce(
  (a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped, ok: a.ok && r.ok }),
  { passed: 0, failed: 0, skipped: 0, ok: true },
);
console.log(`\ntests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.ok && total.failed === 0 ? 0 : 1);
