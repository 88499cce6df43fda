/** The CKA-pruning study of src/core/experiments/study.ts as a worker job, writing its results and report. */
import { AsyncResource } from 'node:async_hooks';
import { join } from 'node:path';
import { initEngine } from '../core/backend';
import { noModelFits, prepareStudy, runPreparedStudy, type PreparedStudy, type StudyOptions } from '../core/experiments/study';
import type { JobHooks } from '../core/experiments/analysis';
import { makeFolderFor, writeFilesAtomically } from '../core/io/atomic';
import { assertMayWriteAll } from '../core/io/scope';
import type { StudyResults } from '../core/results/format';
import { readBundleAssets, studyReportHtml } from '../report/study-page';
import type { JobParams } from '../shared/jobs';
import type { JobContext, JobTable } from './job-context';

/**
 * Made when this module loads, outside any job. The study writes its data subset and each
 * baseline into a temporary folder and reads them back at once; inside the job's write group
 * those writes would only be staged until the job ends, so they run in this resource's context,
 * which has no group (and no scope: the folder is the study's own, made empty and removed after).
 */
const outsideTheJob = new AsyncResource('prunescope-study-work');

/** The job's fields as the core takes them (absent ones take the core's defaults). */
export function studyOptions(p: JobParams<'study'>): StudyOptions {
  return {
    data: p.dataset,
    normalize: p.normalization,
    base: p.base,
    factors: p.factors,
    epochs: p.epochs,
    trainSamples: p.trainSamples,
    validationSamples: p.validationSamples,
    testSamples: p.testSamples,
    samples: p.samples,
    sparsities: p.sparsities,
    finetuneEpochs: p.finetuneEpochs,
    iterations: p.iterations,
    strategies: p.strategies,
    seed: p.seed,
    budgetSeconds: p.budgetSeconds,
  };
}

/** Where a study's files go in its folder, as the CLI names them. */
export function studyPaths(out: string): { results: string; report: string } {
  return { results: join(out, 'results.json'), report: join(out, 'report.html') };
}

function planLine(prepared: PreparedStudy): string {
  const { plan } = prepared;
  const left = plan.skipped.length ? `; left out past the budget: ${plan.skipped.map((m) => m.id).join(', ')}` : '';
  return (
    `study plan: ${plan.models.map((m) => m.id).join(', ') || 'no model'} (${plan.pointsPerModel} pruned points each), ` +
    `about ${Math.round(plan.estimatedSeconds)} s of a budget of ${Math.round(plan.budgetSeconds)} s, ` +
    `from one epoch of ${plan.epochSeconds.toFixed(2)} s${left}`
  );
}

async function runStudyWork(p: JobParams<'study'>, ctx: JobContext): Promise<StudyResults> {
  const hooks: JobHooks = { onProgress: (x) => ctx.progress(x.fraction, x.message), signal: ctx.signal };
  const prepared = await prepareStudy(studyOptions(p), hooks);
  try {
    ctx.log(planLine(prepared));
    if (prepared.plan.models.length === 0) throw noModelFits(prepared.plan);
    const m = prepared.plan.models.length;
    ctx.progress(0, `plan: ${m} model${m === 1 ? '' : 's'}, about ${Math.round(prepared.plan.estimatedSeconds)} s`);
    return await runPreparedStudy(prepared, hooks);
  } finally {
    await prepared.cleanup();
  }
}

export const STUDY_JOBS: JobTable<'study'> = {
  async study(p, ctx) {
    const engine = await initEngine(p.engine, p.backend);
    const paths = studyPaths(p.out);
    // Before the work, not after it: results already in that folder are replaced only when asked,
    // and a missing webview bundle fails now rather than after the study.
    await assertMayWriteAll([paths.results, paths.report]);
    const assets = await readBundleAssets();
    const found = await outsideTheJob.runInAsyncScope(() => runStudyWork(p, ctx));
    const results: StudyResults = { ...found, backend: { ...found.backend, engine: engine.name } };
    ctx.progress(1, `writing ${paths.results} and report.html`);
    await makeFolderFor(paths.results);
    await writeFilesAtomically([
      { path: paths.results, data: `${JSON.stringify(results)}\n` },
      { path: paths.report, data: studyReportHtml(results, assets) },
    ]);
    return { out: p.out, files: [paths.results, paths.report], results };
  },
};
