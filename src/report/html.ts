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
  const payload = { message, csv: resultsToCsv(results) };
  // JSON inside <script type="application/json">: only "<" needs escaping to stay inert.
  const json = JSON.stringify(payload).replace(/</g, '\\u003c');
  return `${pageHead(title, assets)}
<body class="vscode-light" data-view="results">
<div id="root" class="root"><p class="muted">Loading…</p></div>
<script id="prunescope-report" type="application/json">${json}</script>
<script>
(function () {
  var payload = JSON.parse(document.getElementById('prunescope-report').textContent);
  if (window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches) document.body.className = 'vscode-dark';
  var state;
  function download(name, href) {
    var a = document.createElement('a');
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  function blobUrl(text, type) { return URL.createObjectURL(new Blob([text], { type: type })); }
  window.acquireVsCodeApi = function () {
    return {
      postMessage: function (m) {
        if (!m || typeof m.type !== 'string') return;
        if (m.type === 'ready') window.postMessage(payload.message, '*');
        else if (m.type === 'exportPng') download(String(m.name).replace(/[^A-Za-z0-9._-]+/g, '_') + '.png', m.dataUrl);
        else if (m.type === 'exportData' && m.format === 'csv') download('results.csv', blobUrl(payload.csv, 'text/csv'));
        else if (m.type === 'exportData' && m.format === 'json') download('results.json', blobUrl(JSON.stringify(payload.message.results, null, 2), 'application/json'));
      },
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
