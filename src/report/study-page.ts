import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { StudyResults } from '../core/results/format';
import { inert, pageHead, type ReportAssets } from './html';

/**
 * The study's self-contained report: the results panel's bundle and stylesheet inlined, as in
 * report.html of an analysis, on a page marked data-view="study" whose embedded results the
 * bundle's Study view (webview-ui/src/study-view.ts) draws with the panel's charts. Here, not in
 * src/cli, because the CLI, the worker's study job and the extension's Export Report all build it.
 */

export function studyReportTitle(results: StudyResults): string {
  const [a, b] = results.settings.strategies;
  return `PruneScope study: ${a} against ${b} on ${results.dataset.name}`;
}

export function studyReportHtml(results: StudyResults, assets: ReportAssets): string {
  const title = studyReportTitle(results);
  // JSON inside <script type="application/json">: only "<" needs escaping to stay inert.
  const json = JSON.stringify(results).replace(/</g, '\\u003c');
  return `${pageHead(title, assets)}
<body class="vscode-light" data-view="study">
<div id="root" class="root"><p class="muted">Loading…</p></div>
<script id="prunescope-study" type="application/json">${json}</script>
<script>
(function () {
  if (window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches) document.body.className = 'vscode-dark';
  var state;
  // The bundle's results page asks for a VS Code API; this page has no host to talk to.
  window.acquireVsCodeApi = function () {
    return { postMessage: function () {}, getState: function () { return state; }, setState: function (s) { state = s; } };
  };
})();
</script>
<script>
${inert(assets.script)}
</script>
</body>
</html>
`;
}

/**
 * dist/webview.js and media/webview.css of this installation: beside the running bundle's dist/
 * folder (dist/worker.js, dist/cli.js), or of the checkout when run from source.
 */
export async function readBundleAssets(root = join(__dirname, __filename.endsWith('.ts') ? '../..' : '..')): Promise<ReportAssets> {
  const [script, style] = await Promise.all([
    fs.readFile(join(root, 'dist', 'webview.js'), 'utf8'),
    fs.readFile(join(root, 'media', 'webview.css'), 'utf8'),
  ]);
  return { script, style };
}
