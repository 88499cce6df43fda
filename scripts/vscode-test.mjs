// Runs the extension-host tests (test/vscode/suite) inside a real VS Code: the VS Code server that
// code-server carries (scripts/install-test-deps.sh installs it), with its workbench opened in
// Debian's headless Chromium. Expects `npm run build` to have run (dist/extension.js); bundles only
// the test suite itself (dist/test/vscode-suite-tests.js, loaded through dist/test/vscode-suite.js).
// How tests are written: test/vscode/README.md.
//
//   node scripts/vscode-test.mjs [--grep a,b] [--screenshots] [--timeout SECONDS] [--keep] [--verbose] [--untrusted]
//
// --grep         run only tests whose name contains one of the substrings
// --screenshots  save a screenshot after every test (failed tests always get one) to artifacts/vscode/
// --timeout      bound for the whole run, default 900 s (or PRUNESCOPE_VSCODE_TIMEOUT)
// --keep         keep the temporary folders (user data, workspace, logs) and print where they are
// --verbose      relay the server's and the workbench's log lines as they come
// --vsix FILE    test the packaged extension instead (npm run package; this machine's platform-specific
//                package, e.g. prunescope-linux-x64-VERSION.vsix): FILE is installed into the
//                run's extensions folder with the server's --install-extension, and the window runs
//                test/vscode/suite/installed/index.ts from a tiny test extension, so PruneScope is
//                loaded only from its installed copy. Closes with `vsix: N passed, ...`.
// --untrusted    open the workspace in Restricted Mode (Workspace Trust on, no startup prompt, a
//                fresh user data folder that trusts nothing) and run test/vscode/suite/untrusted/
//                instead. Closes with `untrusted: N passed, ...`.
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  createWriteStream,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

const root = resolve(new URL('..', import.meta.url).pathname);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const { values: opts } = parseArgs({
  options: {
    grep: { type: 'string', default: '' },
    screenshots: { type: 'boolean', default: false },
    timeout: { type: 'string', default: process.env.PRUNESCOPE_VSCODE_TIMEOUT ?? '900' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    vsix: { type: 'string' },
    untrusted: { type: 'boolean', default: false },
  },
});
const untrusted = opts.untrusted;
if (untrusted && opts.vsix) fail('--untrusted and --vsix do not go together');
const vsix = opts.vsix ? resolve(opts.vsix) : undefined;
if (vsix && !existsSync(vsix))
  fail(`--vsix ${vsix} does not exist (npm run package -- --target ${process.platform}-${process.arch} writes one)`);
const timeoutMs = Number(opts.timeout) * 1000;
if (!(timeoutMs > 0)) fail(`--timeout must be a positive number of seconds, not ${opts.timeout}`);

// Names shared with test/vscode/harness/protocol.ts.
const EVENTS_FILE = 'events.jsonl';
const REQUESTS_DIR = 'requests';
const RESPONSES_DIR = 'responses';

// Same version and folder as scripts/install-test-deps.sh.
const CODE_SERVER_VERSION = '4.100.3';
const codeServerDir = process.env.PRUNESCOPE_CODE_SERVER_DIR ?? join(homedir(), '.cache/prunescope/code-server', CODE_SERVER_VERSION);
const serverMain = join(codeServerDir, 'node_modules/code-server/lib/vscode/out/server-main.js');
const artifacts = join(process.env.PRUNESCOPE_ARTIFACTS ?? join(root, 'artifacts'), 'vscode');

rmSync(artifacts, { recursive: true, force: true }); // Old screenshots would pass for this run's.

// Written into the workspace by the independent encoder kit (test/kits/encode), so the suite needs
// no third-party files: [the kit's twin, named by its path under ../shared/fixtures, destination
// under the workspace].
const WORKSPACE_FIXTURES = [
  ['onnx/mnist2x10.onnx', 'models/mnist2x10.onnx'],
  ['safetensors/dfdx-mnist/mnist.safetensors', 'models/mnist.safetensors'],
  ['tfjs/abalone-node', 'models/abalone'],
  ['unsupported/cnn_max_mninst2.onnx', 'unsupported/cnn_max_mninst2.onnx'],
];
// Built by the kit too but kept outside the workspace, whose file search must see only the models
// above; a test copies one in when it needs it (PRUNESCOPE_VSCODE_MODELS, spareModel in
// test/vscode/harness/util.ts): [the kit's twin, file name].
const SPARE_MODELS = [['onnx/mnist2x5_sigmoid.onnx', 'mnist2x5_sigmoid.onnx']];
// What the kit's own forward pass (test/kits/encode/reference.ts, no product code) says of a
// workspace model, for the tests to check the product's numbers against: [the kit's twin, the
// workspace path it is known by]. Written to reference.json beside the spare models.
const REFERENCE_MODELS = [['onnx/mnist2x10.onnx', 'models/mnist2x10.onnx']];

function fail(message) {
  console.error(`vscode-test: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Preconditions and the test bundle.

if (!existsSync(serverMain)) fail(`no VS Code server at ${serverMain}: run bash scripts/install-test-deps.sh first`);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (pkg.main && !existsSync(join(root, pkg.main))) {
  console.warn(`vscode-test: warning: ${pkg.main} does not exist; run npm run build first (the extension tests will fail)`);
}
// The entry VS Code loads is a two-line loader: Node maps stack traces through a bundle's source
// map only if source maps were enabled before that bundle was compiled.
const suiteName = vsix ? 'vscode-installed' : untrusted ? 'vscode-untrusted' : 'vscode-suite';
const suiteEntry = vsix
  ? 'test/vscode/suite/installed/index.ts'
  : untrusted
    ? 'test/vscode/suite/untrusted/index.ts'
    : 'test/vscode/suite/index.ts';
// The name on the closing line, which scripts/test.mjs reads.
const runLabel = vsix ? 'vsix' : untrusted ? 'untrusted' : 'vscode';
const suiteBundle = join(root, `dist/test/${suiteName}.js`);
await build({
  entryPoints: [join(root, suiteEntry)],
  outfile: join(root, `dist/test/${suiteName}-tests.js`),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  sourcemap: 'inline',
  logLevel: 'warning',
});
writeFileSync(
  suiteBundle,
  `'use strict';\n// Written by scripts/vscode-test.mjs.\nprocess.setSourceMapsEnabled(true);\nmodule.exports = require('./${suiteName}-tests.js');\n`,
);

// The Chromium launcher and screenshot helpers live in TypeScript (test/browser/browser.ts).
register();
const { launchBrowser, closeBrowser, newPage, safeFileName, frameTexts } = createRequire(import.meta.url)('../test/browser/browser.ts');
const requireTs = createRequire(import.meta.url);
const { built, builtNet } = requireTs('../test/kits/encode/models.ts');
const { accuracyAndLoss } = requireTs('../test/kits/encode/reference.ts');
const { mnistRows } = requireTs('../test/kits/encode/mnist.ts');

// ---------------------------------------------------------------------------------------------
// Fresh folders for this run.

const tmp = mkdtempSync(join(tmpdir(), 'prunescope-vscode-'));
const dirs = {
  userData: join(tmp, 'user-data'),
  serverData: join(tmp, 'server-data'),
  extensions: join(tmp, 'extensions'),
  workspace: join(tmp, 'workspace'),
  harness: join(tmp, 'harness'),
  logs: join(tmp, 'logs'),
  spareModels: join(tmp, 'spare-models'),
};
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
mkdirSync(join(dirs.harness, REQUESTS_DIR));
mkdirSync(join(dirs.harness, RESPONSES_DIR));

for (const [src, dest] of WORKSPACE_FIXTURES) {
  const to = join(dirs.workspace, dest);
  mkdirSync(resolve(to, '..'), { recursive: true });
  cpSync(built(src), to, { recursive: true });
}
for (const [src, name] of SPARE_MODELS) copyFileSync(built(src), join(dirs.spareModels, name));
{
  // The MNIST test split (10,000 images), as Evaluate Model reads it.
  const test = mnistRows('test', 0, 10000);
  const reference = Object.fromEntries(
    REFERENCE_MODELS.map(([src, rel]) => [rel, { testAccuracy: accuracyAndLoss(builtNet(src), test.x, test.y, test.n).accuracy }]),
  );
  writeFileSync(join(dirs.spareModels, 'reference.json'), JSON.stringify(reference, null, 2));
}
// Quiet the workbench: no welcome page, no marketplace lookups (the machine has no route to one).
const settings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
};
if (untrusted) {
  // Restricted Mode without the modal that would ask at startup: the user data folder is new, so no
  // folder is trusted, and the workspace opens untrusted with only the banner.
  Object.assign(settings, {
    'security.workspace.trust.enabled': true,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.emptyWindow': false,
  });
}
mkdirSync(join(dirs.userData, 'User'), { recursive: true });
writeFileSync(join(dirs.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
mkdirSync(join(dirs.workspace, '.vscode'));
// --vsix: the package goes into the extensions folder as a person's install would put it, and the
// extension under development is only a carrier for the tests (it contributes nothing).
let developmentPath = root;
if (vsix) {
  const installed = spawnSync(
    process.execPath,
    [
      serverMain,
      '--install-extension',
      vsix,
      '--extensions-dir',
      dirs.extensions,
      '--user-data-dir',
      dirs.userData,
      '--server-data-dir',
      dirs.serverData,
      '--accept-server-license-terms',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (installed.status !== 0) rmSync(tmp, { recursive: true, force: true });
  if (installed.status !== 0) fail(`installing ${vsix} failed (exit ${installed.status}):\n${installed.stdout}${installed.stderr}`);
  console.log(`vscode-test: ${installed.stdout.trim().split('\n').pop()}`);
  developmentPath = join(tmp, 'installed-test-extension');
  mkdirSync(developmentPath);
  writeFileSync(
    join(developmentPath, 'package.json'),
    JSON.stringify(
      {
        name: 'prunescope-installed-test',
        publisher: 'prunescope-test',
        version: '0.0.0',
        engines: { vscode: '^1.90.0' },
        extensionKind: ['workspace'],
      },
      null,
      2,
    ),
  );
}
writeFileSync(join(dirs.workspace, '.vscode/settings.json'), JSON.stringify(settings, null, 2));

// ---------------------------------------------------------------------------------------------
// Cleanup that runs however the run ends.

let server = null;
let browser = null;
let page = null;
let finished = false;
let extHostExit = null;
/** Extension host exits that window reloads asked for (a test's 'reloading' event): not failures. */
let expectedExits = 0;
/** When the last reload was asked for, until the extension host after it reports back. */
let reloadedAt = null;
let serverExit = null;
let pageCrashed = false;
// What the tests reported so far.
const results = { passed: [], failed: [], skipped: [] };
let ended = null;
let current = null;
let eventsOffset = 0;
let pending = '';
let lastProgress = Date.now();
const deadline = started + timeoutMs;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    // The server is a process group leader: the extension host, pty host and watchers go with it.
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
process.on('exit', killServer);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`vscode-test: ${sig}, stopping`);
    killServer();
    if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  });
}

const serverLogPath = join(dirs.logs, 'server.log');
const pageLogPath = join(dirs.logs, 'workbench-console.log');
const serverLog = createWriteStream(serverLogPath);
const pageLog = createWriteStream(pageLogPath);

// ---------------------------------------------------------------------------------------------
// The VS Code server.

const serverEnv = {
  ...process.env,
  PRUNESCOPE_TEST: '1',
  PRUNESCOPE_VSCODE_HARNESS: dirs.harness,
  PRUNESCOPE_VSCODE_WORKSPACE: dirs.workspace,
  PRUNESCOPE_VSCODE_REPO: root,
  PRUNESCOPE_VSCODE_GREP: opts.grep,
  PRUNESCOPE_VSCODE_SCREENSHOTS: opts.screenshots ? 'all' : 'failures',
  PRUNESCOPE_VSCODE_MODELS: dirs.spareModels,
  ...(untrusted ? { PRUNESCOPE_VSCODE_UNTRUSTED: '1' } : {}),
  ...(vsix ? { PRUNESCOPE_VSCODE_EXTENSIONS: dirs.extensions, PRUNESCOPE_VSCODE_VSIX: vsix } : {}),
};
// VS Code's own test switches would change how the server behaves; keep the caller's out.
delete serverEnv.ELECTRON_RUN_AS_NODE;
delete serverEnv.VSCODE_IPC_HOOK_CLI;

const port = await new Promise((resolvePort, rejectPort) => {
  server = spawn(
    process.execPath,
    [
      serverMain,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--without-connection-token',
      '--accept-server-license-terms',
      '--disable-telemetry',
      ...(untrusted ? [] : ['--disable-workspace-trust']),
      '--user-data-dir',
      dirs.userData,
      '--server-data-dir',
      dirs.serverData,
      '--extensions-dir',
      dirs.extensions,
    ],
    { cwd: tmp, env: serverEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const timer = setTimeout(() => rejectPort(new Error('the VS Code server did not start listening within 60 s')), 60_000);
  let buffered = '';
  const onData = (chunk) => {
    const text = chunk.toString();
    serverLog.write(text);
    if (opts.verbose) process.stdout.write(text.replace(/^(?=.)/gm, '[server] '));
    buffered += text;
    const listening = buffered.match(/Extension host agent listening on (\d+)/);
    if (listening) {
      clearTimeout(timer);
      resolvePort(Number(listening[1]));
    }
    const exited = text.match(/Extension Host Process exited with code: (\d+|null), signal: (\w+)/);
    if (exited) extHostExit = { code: exited[1], signal: exited[2] };
    if (buffered.length > 100_000) buffered = buffered.slice(-10_000);
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.on('exit', (code, signal) => {
    serverExit = { code, signal };
    clearTimeout(timer);
    rejectPort(new Error(`the VS Code server exited (code ${code}, signal ${signal}) before listening`));
  });
}).catch((err) => finish(err.message));
console.log(`vscode-test: VS Code server on 127.0.0.1:${port} (${elapsed()})`);

// ---------------------------------------------------------------------------------------------
// The workbench in Chromium, with the extension under development and the test entry.

const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
const payload = [
  ['extensionDevelopmentPath', remote(developmentPath)],
  ['extensionTestsPath', remote(suiteBundle)],
];
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

try {
  browser = await launchBrowser();
  ({ page } = await newPage(browser, { viewport: { width: 1600, height: 1000 } }));
  page.on('console', (m) => {
    const line = `[${m.type()}] ${m.text()}\n`;
    pageLog.write(line);
    if (opts.verbose) process.stdout.write(`[workbench] ${line}`);
  });
  page.on('pageerror', (e) => pageLog.write(`[pageerror] ${e.message}\n`));
  page.on('crash', () => {
    pageCrashed = true;
    pageLog.write('[crash] the workbench page crashed\n');
  });
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
} catch (err) {
  await finish(`could not open the workbench: ${err.message}`);
}
console.log(`vscode-test: workbench opened (${elapsed()})`);

// ---------------------------------------------------------------------------------------------
// Follow the events, answer requests, and stop on the end event, a dead process or the timeout.

function readEvents() {
  const file = join(dirs.harness, EVENTS_FILE);
  if (!existsSync(file)) return;
  const buf = readFileSync(file);
  if (buf.length <= eventsOffset) return;
  pending += buf.subarray(eventsOffset).toString('utf8');
  eventsOffset = buf.length;
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) if (line.trim()) onEvent(JSON.parse(line));
}

function onEvent(e) {
  lastProgress = Date.now();
  switch (e.type) {
    case 'begin':
      console.log(`vscode-test: VS Code ${e.vscodeVersion}, ${e.total} tests (${elapsed()})`);
      break;
    case 'start':
      current = e.name;
      break;
    case 'pass':
      results.passed.push(e.name);
      console.log(`  ok    ${e.name} (${e.ms} ms)`);
      current = null;
      break;
    case 'fail':
      results.failed.push({ name: e.name, error: e.error });
      console.log(`  FAIL  ${e.name} (${e.ms} ms)\n${e.error.replace(/^/gm, '        ')}`);
      current = null;
      break;
    case 'skip':
      results.skipped.push(e.name);
      break;
    case 'end':
      ended = e;
      break;
    case 'reloading':
      // The test reloads the window: its extension host exits, and that exit is not a crash.
      expectedExits++;
      reloadedAt = Date.now();
      console.log(`  ...   ${e.name}: reloading the window (${elapsed()})`);
      break;
    case 'resumed':
      current = e.name;
      reloadedAt = null;
      break;
  }
}

async function answerRequests() {
  const reqDir = join(dirs.harness, REQUESTS_DIR);
  for (const name of readdirSync(reqDir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const reqFile = join(reqDir, name);
    let response;
    try {
      const req = JSON.parse(readFileSync(reqFile, 'utf8'));
      response = await handleRequest(req);
    } catch (err) {
      response = { ok: false, error: err.message };
    }
    rmSync(reqFile, { force: true });
    const tmpFile = join(dirs.harness, RESPONSES_DIR, `${name}.tmp`);
    writeFileSync(tmpFile, JSON.stringify(response));
    renameSync(tmpFile, join(dirs.harness, RESPONSES_DIR, name));
  }
}

async function handleRequest(req) {
  switch (req.op) {
    case 'screenshot':
      return { ok: true, path: await screenshot(req.name) };
    case 'webviewTexts':
      // Webviews are iframes (a host frame and the content frame inside it); the top document is the workbench.
      return { ok: true, frames: await frameTexts(page, true) };
    case 'webviewCanvases':
      return { ok: true, canvases: await webviewCanvases() };
    case 'notifications':
      return {
        ok: true,
        messages: await page
          .mainFrame()
          .evaluate(() => [...document.querySelectorAll('.notification-list-item-message')].map((e) => e.textContent ?? '')),
      };
    default:
      return { ok: false, error: `unknown request ${JSON.stringify(req.op)}` };
  }
}

// Runs in each webview frame: every canvas, how much of it differs from its top-left pixel.
function describeCanvases() {
  return [...document.querySelectorAll('canvas')].map((c) => {
    const info = {
      url: location.href,
      label: c.getAttribute('aria-label') ?? c.className,
      width: c.width,
      height: c.height,
      painted: 0,
      colours: 0,
    };
    const ctx = c.width > 0 && c.height > 0 ? c.getContext('2d') : null;
    if (!ctx) return info;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) info.painted++;
      if (seen.size < 1000) seen.add((d[i] << 24) ^ (d[i + 1] << 16) ^ (d[i + 2] << 8) ^ d[i + 3]);
    }
    info.colours = seen.size;
    return info;
  });
}

async function webviewCanvases() {
  const out = [];
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    const found = await frame.evaluate(describeCanvases).catch(() => []); // a frame that went away has none
    out.push(...found);
  }
  return out;
}

async function screenshot(name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${safeFileName(name)}.png`);
  await page.screenshot({ path, timeout: 20_000 });
  return path;
}

let failure = null;
while (!ended) {
  readEvents();
  if (ended) break;
  await answerRequests().catch((err) => console.error(`vscode-test: answering a request failed: ${err.message}`));
  if (pageCrashed) {
    failure = 'the workbench page crashed in Chromium';
    break;
  }
  if (serverExit) {
    failure = `the VS Code server exited (code ${serverExit.code}, signal ${serverExit.signal})`;
    break;
  }
  if (extHostExit && expectedExits > 0) {
    expectedExits--;
    extHostExit = null;
  }
  if (extHostExit) {
    // Give the last events a moment to land: the host exits right after run() returns.
    await sleep(500);
    readEvents();
    if (!ended) failure = `the extension host exited (code ${extHostExit.code}) before the tests finished`;
    break;
  }
  if (reloadedAt !== null && Date.now() - reloadedAt > 120_000) {
    failure = `the window did not come back within 120 s of the reload "${current}" asked for`;
    break;
  }
  if (Date.now() > deadline) {
    failure = `timed out after ${timeoutMs / 1000} s${current ? ` during "${current}"` : ''}`;
    break;
  }
  if (!current && results.passed.length + results.failed.length === 0 && Date.now() - lastProgress > 180_000) {
    failure = 'the tests did not start within 180 s of opening the workbench (see the logs)';
    break;
  }
  await sleep(200);
}
await finish(failure);

// ---------------------------------------------------------------------------------------------

function dumpLogTail(path, label, lines = 40) {
  try {
    const text = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    if (text) console.error(`---- last lines of the ${label} (${path}) ----\n${text}\n----`);
  } catch {
    // No log yet.
  }
}

async function finish(problem) {
  if (finished) return;
  finished = true;
  if (!problem && !ended) problem = 'the tests did not report their end';
  // A run that broke off counts as a failure of the test that was running (or of the run itself).
  if (problem) results.failed.push({ name: current ?? '(the test run)', error: problem });
  const failed = results.failed.length > 0;
  if (page && !pageCrashed && (failed || opts.screenshots)) {
    const shot = await screenshot(failed ? 'FAILED-final' : 'final').catch(() => null);
    if (shot) console.log(`vscode-test: screenshot ${shot}`);
  }
  if (browser) await closeBrowser(browser);
  killServer();
  serverLog.end();
  pageLog.end();
  await sleep(100);
  if (failed) {
    mkdirSync(artifacts, { recursive: true });
    for (const [from, to] of [
      [serverLogPath, 'server.log'],
      [pageLogPath, 'workbench-console.log'],
    ]) {
      if (existsSync(from)) copyFileSync(from, join(artifacts, to));
    }
    copyExtensionHostLogs();
    if (problem) {
      console.error(`vscode-test: ${problem}`);
      dumpLogTail(serverLogPath, 'server log');
    }
    console.error(`vscode-test: logs saved in ${artifacts}`);
  }
  if (opts.keep) console.log(`vscode-test: kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });

  if (failed) {
    console.log('vscode-test: failed:');
    for (const f of results.failed) console.log(`  ${f.name}: ${f.error.split('\n')[0]}`);
  }
  console.log(`vscode-test: finished in ${elapsed()}`);
  // The plain closing line CI reads.
  console.log(`${runLabel}: ${results.passed.length} passed, ${results.failed.length} failed, ${results.skipped.length} skipped`);
  process.exit(failed ? 1 : 0);
}

function copyExtensionHostLogs() {
  // <user-data>/logs/<time>/exthost*/**: the extension host's own log, where its console output goes.
  const logsRoot = join(dirs.userData, 'logs');
  if (!existsSync(logsRoot)) return;
  try {
    cpSync(logsRoot, join(artifacts, 'vscode-logs'), { recursive: true });
  } catch {
    // Best effort: the run's verdict does not depend on the logs.
  }
}
