import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFilesAtomically } from '../core/io/atomic';
import { SIMILARITY_METRIC_IDS } from '../core/metrics/similarity';
import type { Results } from '../core/results/format';
import { reportHtml } from '../report/html';

/** dist/ and media/ beside this bundle (dist/cli.js), or beside the sources when run with tsx. */
async function readAssets(): Promise<{ script: string; style: string }> {
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
