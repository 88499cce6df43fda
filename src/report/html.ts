import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Results } from '../core/results/format';
import { resultsToCsv } from '../core/results/csv';
import type { ToResultsPanelMessage } from '../shared/results-panel-protocol';
import { THEMES } from './themes';

/**
 * The self-contained HTML report: the results panel's own bundle and stylesheet inlined, with a
 * small host script standing in for VS Code. It hands the embedded results to the panel and
 * turns the panel's export requests into downloads, so the page works offline from a file.
 */

export interface ReportAssets {
  /** dist/webview.js */
  script: string;
  /** media/webview.css */
  style: string;
}

function vars(v: Record<string, string>): string {
  return Object.entries(v)
    .map(([k, x]) => `${k}: ${x};`)
    .join(' ');
}

/** Text that is safe inside a <script> or <style> element. */
export function inert(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A self-contained page's document start through </head>: a CSP that allows only inline code and
 * data images, the title, the panel's stylesheet and both themes (the reader's light/dark
 * preference stands in for VS Code's). Shared by every report page.
 */
export function pageHead(title: string, assets: ReportAssets): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<style>
${inert(assets.style)}
body { ${vars(THEMES.light.vars)} }
@media (prefers-color-scheme: dark) { body { ${vars(THEMES.dark.vars)} } }
</style>
</head>`;
}

export function reportTitle(results: Results): string {
  return results.kind === 'analysis'
    ? `PruneScope analysis of ${results.model.path}`
    : `PruneScope comparison of ${results.a.model.path} and ${results.b.model.path}`;
}

export function reportHtml(results: Results, assets: ReportAssets, metrics: string[] = []): string {
  const title = reportTitle(results);
  // The page's host script answers the panel's "ready" with this message, as the extension does.
  const message: ToResultsPanelMessage = { type: 'showResults', title, results, metrics };
  return reportPage(title, assets, {
    view: 'results',
    dataId: 'prunescope-report',
    data: { message, csv: resultsToCsv(results) },
    prelude: `  var payload = JSON.parse(document.getElementById('prunescope-report').textContent);
  function download(name, href) {
    var a = document.createElement('a');
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  function blobUrl(text, type) { return URL.createObjectURL(new Blob([text], { type: type })); }`,
    postMessage: `function (m) {
        if (!m || typeof m.type !== 'string') return;
        if (m.type === 'ready') window.postMessage(payload.message, '*');
        else if (m.type === 'exportPng') download(String(m.name).replace(/[^A-Za-z0-9._-]+/g, '_') + '.png', m.dataUrl);
        else if (m.type === 'exportData' && m.format === 'csv') download('results.csv', blobUrl(payload.csv, 'text/csv'));
        else if (m.type === 'exportData' && m.format === 'json') download('results.json', blobUrl(JSON.stringify(payload.message.results, null, 2), 'application/json'));
      }`,
  });
}

/** What one kind of report page embeds and how its stand-in for VS Code answers the bundle. */
export interface ReportPage {
  /** The body's data-view: which view of the bundle draws the page. */
  view: 'results' | 'study';
  /** The id of the JSON script element the view reads `data` from. */
  dataId: string;
  data: unknown;
  /** Script run before the stand-in API is made (it may read the embedded data). */
  prelude?: string;
  /** The stand-in API's postMessage: a function expression. */
  postMessage: string;
}

/**
 * A self-contained report page: `data` embedded as JSON, a host script that gives the bundle the
 * VS Code API it asks for (keeping its setState in memory) and follows the reader's light or dark
 * preference, then the bundle itself.
 */
export function reportPage(title: string, assets: ReportAssets, page: ReportPage): string {
  // JSON inside <script type="application/json">: only "<" needs escaping to stay inert.
  const json = JSON.stringify(page.data).replace(/</g, '\\u003c');
  return `${pageHead(title, assets)}
<body class="vscode-light" data-view="${page.view}">
<div id="root" class="root"><p class="muted">Loading…</p></div>
<script id="${page.dataId}" type="application/json">${json}</script>
<script>
(function () {
  if (window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches) document.body.className = 'vscode-dark';
  var state;
${page.prelude ?? ''}
  window.acquireVsCodeApi = function () {
    return {
      postMessage: ${page.postMessage},
      getState: function () { return state; },
      setState: function (s) { state = s; },
    };
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
