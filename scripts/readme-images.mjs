// Copies the README's screenshots from what the tests took into docs/images/, so the README
// shows the real editor and the real panel, not mock-ups. Take them first:
//
//   node scripts/vscode-test.mjs --screenshots --grep "Run Pruning Analysis,Prune Model writes,Compare Checkpoints,inspector"
//   PRUNESCOPE_TEST=1 node --import tsx --test test/browser/compare-summary.test.ts test/browser/weight-maps.test.ts test/browser/inspector.test.ts
//
// then `node scripts/readme-images.mjs`. It stops, naming the test to run, when a screenshot is
// missing. Screenshots are 1600 x 1000 (the editor) or the page's size (the browser tests),
// 50-250 KB each as PNG.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'docs', 'images');

/** [taken by, file under artifacts/, name in docs/images/]. */
const IMAGES = [
  ['test/vscode/suite/jobs.suite.ts (--screenshots)', 'vscode/prune-dialog-estimate.png', 'prune-dialog.png'],
  ['test/vscode/suite/jobs.suite.ts (--screenshots)', 'vscode/analysis-results-panel.png', 'analysis-panel.png'],
  ['test/vscode/suite/jobs.suite.ts (--screenshots)', 'vscode/comparison-results-panel.png', 'compare-panel.png'],
  ['test/browser/inspector.test.ts', 'browser/inspector-histograms.png', 'inspector.png'],
  ['test/browser/weight-maps.test.ts', 'screenshots/weight-maps-real-panel.png', 'weight-maps.png'],
];

mkdirSync(out, { recursive: true });
const missing = IMAGES.filter(([, from]) => !existsSync(join(root, 'artifacts', from)));
if (missing.length) {
  for (const [test, from] of missing) console.error(`missing artifacts/${from}: run ${test}`);
  process.exit(1);
}
for (const [, from, to] of IMAGES) {
  copyFileSync(join(root, 'artifacts', from), join(out, to));
  console.log(`docs/images/${to} (${Math.round(statSync(join(out, to)).size / 1024)} KB) from artifacts/${from}`);
}
