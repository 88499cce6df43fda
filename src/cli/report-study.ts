import { promises as fs } from 'node:fs';
import { engineInfo } from '../core/backend';
import { makeFolderFor, recoverPartialWrites, writeFilesAtomically, writeGroup } from '../core/io/atomic';
import type { StudyResults } from '../core/results/format';
import { inert, pageHead, type ReportAssets } from '../report/html';
import { warn } from './output';
import { readAssets, resultsPaths } from './report';

/**
 * The study's self-contained report: the results panel's bundle and stylesheet inlined, as in
 * report.html of an analysis, on a page marked data-view="study" whose embedded results the
 * bundle's Study view (webview-ui/src/study-view.ts) draws with the panel's charts.
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

/** results.json and report.html of a study in `out`, as one group: both appear or neither does. */
export async function writeStudyResultsAndReport(given: StudyResults, out: string): Promise<{ results: string; report: string }> {
  const engine = engineInfo()?.name;
  const results: StudyResults = engine ? { ...given, backend: { ...given.backend, engine } } : given;
  await recoverPartialWrites(out, undefined, warn);
  const paths = resultsPaths(out);
  const created = (await makeFolderFor(paths.results)) !== undefined;
  const html = studyReportHtml(results, await readAssets());
  try {
    await writeGroup(async () => {
      await writeFilesAtomically([
        { path: paths.results, data: `${JSON.stringify(results)}\n` },
        { path: paths.report, data: html },
      ]);
    });
  } catch (e) {
    if (created) await fs.rmdir(out).catch(() => undefined);
    throw e;
  }
  return paths;
}
