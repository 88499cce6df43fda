import type { Results } from '../core/results/format';
import { resultsToCsv } from '../extension/results-export';

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

/** Theme variables the panel reads from VS Code; here from the reader's light/dark preference. */
const LIGHT = {
  '--vscode-foreground': '#3b3b3b',
  '--vscode-editor-background': '#ffffff',
  '--vscode-descriptionForeground': '#717171',
  '--vscode-charts-foreground': '#3b3b3b',
  '--vscode-charts-lines': 'rgba(97,97,97,0.25)',
  '--vscode-charts-blue': '#1a85ff',
  '--vscode-charts-red': '#e51400',
  '--vscode-charts-yellow': '#bf8803',
  '--vscode-charts-green': '#388a34',
  '--vscode-charts-purple': '#652d90',
  '--vscode-charts-orange': '#d18616',
  '--vscode-button-background': '#005fb8',
  '--vscode-button-foreground': '#ffffff',
  '--vscode-button-secondaryBackground': '#e5e5e5',
  '--vscode-button-secondaryForeground': '#3b3b3b',
  '--vscode-widget-border': '#d4d4d4',
  '--vscode-dropdown-background': '#ffffff',
  '--vscode-dropdown-foreground': '#3b3b3b',
  '--vscode-font-family': 'system-ui, -apple-system, "Segoe UI", sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-errorForeground': '#a1260d',
  '--vscode-focusBorder': '#005fb8',
};
const DARK: Record<keyof typeof LIGHT, string> = {
  ...LIGHT,
  '--vscode-foreground': '#cccccc',
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-charts-foreground': '#cccccc',
  '--vscode-charts-lines': 'rgba(204,204,204,0.25)',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-red': '#f14c4c',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-button-background': '#0078d4',
  '--vscode-button-secondaryBackground': '#313131',
  '--vscode-button-secondaryForeground': '#cccccc',
  '--vscode-widget-border': '#454545',
  '--vscode-dropdown-background': '#313131',
  '--vscode-dropdown-foreground': '#cccccc',
  '--vscode-errorForeground': '#f48771',
  '--vscode-focusBorder': '#0078d4',
};

function vars(v: Record<string, string>): string {
  return Object.entries(v)
    .map(([k, x]) => `${k}: ${x};`)
    .join(' ');
}

/** Text that is safe inside a <script> or <style> element. */
function inert(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function reportTitle(results: Results): string {
  return results.kind === 'analysis'
    ? `PruneScope analysis of ${results.model.path}`
    : `PruneScope comparison of ${results.a.model.path} and ${results.b.model.path}`;
}

export function reportHtml(results: Results, assets: ReportAssets, metrics: string[] = []): string {
  const title = reportTitle(results);
  const payload = {
    message: { type: 'showResults', title, results, metrics },
    csv: resultsToCsv(results),
  };
  // JSON inside <script type="application/json">: only "<" needs escaping to stay inert.
  const json = JSON.stringify(payload).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<style>
${inert(assets.style)}
body { ${vars(LIGHT)} }
@media (prefers-color-scheme: dark) { body { ${vars(DARK)} } }
</style>
</head>
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
