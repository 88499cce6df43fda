import { promises as fs } from 'node:fs';
import { engineInfo } from '../core/backend';
import { makeFolderFor, recoverPartialWrites, writeFilesAtomically, writeGroup } from '../core/io/atomic';
import type { StudyResults } from '../core/results/format';
import { studyReportHtml } from '../report/study-page';
import { warn } from './output';
import { readAssets, resultsPaths } from './report';

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
