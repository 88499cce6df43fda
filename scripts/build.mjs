// Bundles the Node entries (extension, worker, CLI) and the browser entry (webview) with esbuild.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// TensorFlow.js stays external: tfjs-node (native) and tfjs-backend-wasm (ships .wasm files)
// must share one tfjs-core instance with the code that uses them.
const nodeExternal = ['vscode', '@tensorflow/*', 'onnxruntime-node', 'onnxruntime-web'];

/**
 * h5wasm (the HDF5 library, 4-5 MB of JavaScript) goes into dist/h5wasm.js alone; the Node bundles
 * require it from beside themselves when a Keras .h5 file is read, so their start-up does not
 * compile it (scripts/h5wasm-entry.mjs).
 */
const h5wasmOutside = {
  name: 'h5wasm-outside',
  setup(b) {
    b.onResolve({ filter: /^h5wasm$/ }, () => ({ path: './h5wasm.js', external: true }));
  },
};

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
};

const entries = [
  {
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
    plugins: [h5wasmOutside],
  },
  {
    entryPoints: ['scripts/h5wasm-entry.mjs'],
    outfile: 'dist/h5wasm.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
  },
  // bin/prunescope.js decides on relaunching (src/cli/relaunch.ts) before loading the 2 MB CLI bundle.
  { entryPoints: ['src/cli/relaunch.ts'], outfile: 'dist/launch.js', platform: 'node', format: 'cjs', target: 'node20' },
  {
    entryPoints: ['src/worker/worker.ts'],
    outfile: 'dist/worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
    plugins: [h5wasmOutside],
  },
  // Reads HDF5 (Keras .h5) off the main thread so a damaged file that makes HDF5 loop can be stopped
  // (src/core/formats/keras/h5-run.ts looks for it beside the bundle that runs).
  {
    entryPoints: ['src/core/formats/keras/h5-worker.ts'],
    outfile: 'dist/h5-worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
    plugins: [h5wasmOutside],
  },
  {
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
    plugins: [h5wasmOutside],
  },
  { entryPoints: ['webview-ui/src/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife', target: 'es2022' },
].filter((e) => existsSync(e.entryPoints[0]));

await Promise.all(entries.map((e) => build({ ...common, ...e, ...(watch ? {} : {}) })));
