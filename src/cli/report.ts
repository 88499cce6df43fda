import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { engineInfo } from '../core/backend';
import { makeFolderFor, recoverPartialWrites, writeFilesAtomically, writeGroup } from '../core/io/atomic';
import { SIMILARITY_METRIC_IDS } from '../core/metrics/similarity';
import type { Results } from '../core/results/format';
import { warn } from './output';
import { reportHtml } from '../report/html';

/** dist/ and media/ beside this bundle (dist/cli.js), or beside the sources when run with tsx. */
export async function readAssets(): Promise<{ script: string; style: string }> {
  const root = join(__dirname, __filename.endsWith('.ts') ? '../..' : '..');
  const [script, style] = await Promise.all([
    fs.readFile(join(root, 'dist', 'webview.js'), 'utf8'),
    fs.readFile(join(root, 'media', 'webview.css'), 'utf8'),
  ]);
  return { script, style };
}

export async function writeReport(results: Results, path: string): Promise<string> {
  const html = reportHtml(results, await readAssets(), results.kind === 'comparison' ? [...SIMILARITY_METRIC_IDS] : []);
  await writeFilesAtomically([{ path, data: html }]);
  return path;
}

/**
 * results.json and report.html in `out`, as one group: both appear or neither does. Leftovers of
 * an earlier run that was killed while writing there are cleaned up first, and a folder this call
 * created is removed again when the write fails.
 */
export function resultsPaths(out: string): { results: string; report: string } {
  return { results: join(out, 'results.json'), report: join(out, 'report.html') };
}

export async function writeResultsAndReport(given: Results, out: string): Promise<{ results: string; report: string }> {
  const engine = engineInfo()?.name;
  const results: Results = engine ? { ...given, backend: { ...given.backend, engine } } : given;
  await recoverPartialWrites(out, undefined, warn);
  const paths = resultsPaths(out);
  const created = (await makeFolderFor(paths.results)) !== undefined;
  try {
    await writeGroup(async () => {
      await writeFilesAtomically([{ path: paths.results, data: `${JSON.stringify(results)}\n` }]);
      await writeReport(results, paths.report);
    });
  } catch (e) {
    if (created) await fs.rmdir(out).catch(() => undefined);
    throw e;
  }
  return paths;
}
