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
import { THEMES } from '../src/report/themes';
import { sampleAnalysis, sampleComparison } from './src/sample-results';

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
  const theme = THEMES[(o.theme ?? 'dark') as keyof typeof THEMES] ?? THEMES.dark;
  const vars = Object.entries(theme.vars)
    .map(([k, v]) => `${k}: ${v};`)
    .join(' ');
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
      message: {
        type: 'showResults',
        title: file ?? 'Sample results',
        results,
        metrics: ['linear-cka', 'rbf-cka', 'svcca', 'pwcca'],
        ui: tab ? { tab } : undefined,
      },
    };
  }
  writeFileSync(out, testPageHtml(options));
  process.stdout.write(`wrote ${out}\n`);
}

if (require.main === module) main(process.argv.slice(2));
