import type { StudyResults } from '../core/results/format';
import { reportPage, type ReportAssets } from './html';

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
  return reportPage(studyReportTitle(results), assets, {
    view: 'study',
    dataId: 'prunescope-study',
    data: results,
    // The bundle's results page asks for a VS Code API; this page has no host to talk to.
    postMessage: 'function () {}',
  });
}

// The worker's study job and the Study panel read the assets from here, beside the study page.
export { readBundleAssets } from './html';
