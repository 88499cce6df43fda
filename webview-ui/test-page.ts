/**
 * Builds a plain HTML page that runs dist/webview.js outside VS Code, for browser tests
 * (Playwright) and screenshots:
 *
 *   node --import tsx webview-ui/test-page.ts [results.json|--sample-analysis|--sample-comparison|--inspect MODEL] [--out page.html] [--theme dark|light|high-contrast] [--tab TAB]
 *
 * The page defines a fake `acquireVsCodeApi` that records posted messages in
 * `window.__prunescope.posted` and state in `window.__prunescope.state`, sets VS Code-like theme
 * variables, then posts the results (or a model summary) to the webview as the extension would.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseResults } from '../src/core/results/format';
import { sampleAnalysis, sampleComparison } from './src/sample-results';

/** VS Code-like theme classes and variables (tests switch between them). */
export const THEMES: Record<string, { cls: string; vars: Record<string, string> }> = {
  dark: {
    cls: 'vscode-dark',
    vars: {
      '--vscode-foreground': '#cccccc', '--vscode-editor-background': '#1e1e1e', '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-charts-foreground': '#cccccc', '--vscode-charts-lines': 'rgba(204,204,204,0.25)', '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#cca700', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-orange': '#d18616', '--vscode-button-background': '#0e639c', '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#3a3d41', '--vscode-button-secondaryForeground': '#cccccc', '--vscode-widget-border': '#454545',
      '--vscode-dropdown-background': '#3c3c3c', '--vscode-dropdown-foreground': '#f0f0f0', '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px',
      '--vscode-errorForeground': '#f48771', '--vscode-focusBorder': '#007fd4',
    },
  },
  light: {
    cls: 'vscode-light',
    vars: {
      '--vscode-foreground': '#616161', '--vscode-editor-background': '#ffffff', '--vscode-descriptionForeground': '#717171',
      '--vscode-charts-foreground': '#616161', '--vscode-charts-lines': 'rgba(97,97,97,0.25)', '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-red': '#e51400', '--vscode-charts-yellow': '#bf8803', '--vscode-charts-green': '#388a34', '--vscode-charts-purple': '#652d90',
      '--vscode-charts-orange': '#d18616', '--vscode-button-background': '#007acc', '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#5f6a79', '--vscode-button-secondaryForeground': '#ffffff', '--vscode-widget-border': '#d4d4d4',
      '--vscode-dropdown-background': '#ffffff', '--vscode-dropdown-foreground': '#616161', '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px',
      '--vscode-errorForeground': '#a1260d', '--vscode-focusBorder': '#0090f1',
    },
  },
  'high-contrast': {
    cls: 'vscode-high-contrast',
    vars: {
      '--vscode-foreground': '#ffffff', '--vscode-editor-background': '#000000', '--vscode-descriptionForeground': '#ffffff',
      '--vscode-charts-foreground': '#ffffff', '--vscode-charts-lines': 'rgba(255,255,255,0.5)', '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#ffd700', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-orange': '#d18616', '--vscode-button-background': '#000000', '--vscode-button-foreground': '#ffffff', '--vscode-button-border': '#6fc3df',
      '--vscode-widget-border': '#6fc3df', '--vscode-dropdown-background': '#000000', '--vscode-dropdown-foreground': '#ffffff',
      '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px', '--vscode-errorForeground': '#f48771', '--vscode-focusBorder': '#f38518',
    },
  },
};

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export interface TestPageOptions {
  /** The message the fake extension posts once the webview says it is ready. */
  message: unknown;
  view: 'results' | 'inspector';
  theme?: string;
  /** URL of dist/webview.js and media/webview.css; default file URLs into this checkout. */
  scriptUrl?: string;
  styleUrl?: string;
}

export function testPageHtml(o: TestPageOptions): string {
  const root = resolve(__dirname, '..');
  const theme = THEMES[o.theme ?? 'dark'] ?? THEMES.dark;
  const vars = Object.entries(theme.vars).map(([k, v]) => `${k}: ${v};`).join(' ');
  const script = o.scriptUrl ?? pathToFileURL(resolve(root, 'dist/webview.js')).href;
  const style = o.styleUrl ?? pathToFileURL(resolve(root, 'media/webview.css')).href;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>PruneScope webview test page</title>
<link rel="stylesheet" href="${style}">
<style>body { ${vars} }</style>
</head>
<body class="${theme.cls}" data-view="${o.view}">
<div id="root" class="root"></div>
<script id="prunescope-message" type="application/json">${scriptJson(o.message)}</script>
<script>
  window.__prunescope = { posted: [], state: undefined };
  window.acquireVsCodeApi = () => ({
    postMessage(m) {
      window.__prunescope.posted.push(m);
      if (m && m.type === 'ready') {
        const msg = JSON.parse(document.getElementById('prunescope-message').textContent);
        window.postMessage(msg, '*');
      }
    },
    getState() { return window.__prunescope.state; },
    setState(s) { window.__prunescope.state = s; },
  });
</script>
<script src="${script}"></script>
</body>
</html>
`;
}

function main(argv: string[]): void {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = value('--out') ?? 'webview-test-page.html';
  const theme = value('--theme') ?? 'dark';
  const inspect = value('--inspect');
  let options: TestPageOptions;
  if (inspect) {
    // A summary JSON as the inspect job returns it (see src/worker/protocol.ts inspectResultSchema).
    const model = JSON.parse(readFileSync(inspect, 'utf8')) as unknown;
    options = { view: 'inspector', theme, message: { type: 'showModel', file: inspect, model } };
  } else {
    const file = argv.find((a, i) => !a.startsWith('--') && !['--out', '--theme', '--inspect', '--tab'].includes(argv[i - 1] ?? ''));
    const results = argv.includes('--sample-comparison')
      ? sampleComparison()
      : file
        ? parseResults(readFileSync(file, 'utf8'), file)
        : sampleAnalysis();
    const tab = value('--tab');
    options = {
      view: 'results',
      theme,
      message: { type: 'showResults', title: file ?? 'Sample results', results, metrics: ['linear-cka', 'rbf-cka', 'svcca', 'pwcca'], ui: tab ? { tab } : undefined },
    };
  }
  writeFileSync(out, testPageHtml(options));
  process.stdout.write(`wrote ${out}\n`);
}

if (require.main === module) main(process.argv.slice(2));
