import { runComparison } from '../../core/experiments';
import { assertOutputFolder } from '../../core/io/atomic';
import { parse, requireString } from '../args';
import { claimOutputs, FORCE_OPTION, startBackend, type Command } from '../command';
import { info, printJson, table } from '../output';
import { resultsPaths, writeResultsAndReport } from '../report';
import { metricOption } from './analyze';
import { compareSummary, crossHeading } from './compare-summary';
import { dataOptionsFrom, noteSamples, progressPrinter, sampleOptions } from './experiment-options';
import { geometryFrom, geometryOptions, geometrySummary } from './geometry';
import { modelReadOptions, readOptionsFrom } from './inspect';

function formatMatrix(rows: string[], cols: string[], values: (number | null)[][]): string {
  return table(
    ['', ...cols],
    values.map((r, i) => [rows[i], ...r.map((v) => (v === null ? 'n/a' : v.toFixed(3)))]),
  );
}

export const compareCommand: Command = {
  name: 'compare',
  summary:
    "two checkpoints on the same samples: accuracy, loss, agreement and size of each, then layer-by-layer similarity (and of each with itself), both models' APoZ and representational geometry",
  usage:
    'prunescope compare MODEL_A MODEL_B --data mnist|PATH [--metric linear-cka|rbf-cka|debiased-cka|minibatch-cka|mean-cca|svcca|pwcca|nbs] [--split validation|test|train] [--samples N] [--geometry-samples 500|0] [--geometry-step S] [--json] [--force] --out DIR',
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...modelReadOptions,
        ...sampleOptions,
        ...geometryOptions,
        metric: { type: 'string' },
        out: { type: 'string' },
        ...FORCE_OPTION,
      },
      { min: 2, max: 2, names: 'MODEL_A and MODEL_B' },
    );
    const out = requireString(values.out, 'out');
    // Before the work: a file where the folder should go would only fail it at the end.
    assertOutputFolder(out);
    await claimOutputs(values, Object.values(resultsPaths(out)), positionals);
    const metric = metricOption(values.metric);
    const geometry = geometryFrom(values);
    await startBackend(values, { lightTfjs: true });
    const results = await runComparison(
      {
        modelA: positionals[0],
        modelB: positionals[1],
        readOptions: readOptionsFrom(values),
        ...dataOptionsFrom(values),
        // Compared on the rows of the split named; without --split, the validation rows.
        activationSplit: values.split === undefined ? undefined : dataOptionsFrom(values).split,
        metric,
        geometry,
      },
      { onProgress: values.json ? undefined : progressPrinter() },
    );
    noteSamples(values, results.dataset);
    const { results: resultsPath, report: reportPath } = await writeResultsAndReport(results, out);
    if (values.json) {
      printJson({
        results: resultsPath,
        report: reportPath,
        metric,
        agreement: results.agreement ?? null,
        a: { evaluation: results.a.evaluation ?? null, size: results.a.size ?? null },
        b: { evaluation: results.b.evaluation ?? null, size: results.b.size ?? null },
        cross: results.cross,
        selfA: results.a.selfSimilarity,
        selfB: results.b.selfSimilarity,
      });
      return;
    }
    info(`${compareSummary(results)}\n`);
    info(`${crossHeading(results)}\n`);
    info(formatMatrix(results.a.model.layerNames, results.b.model.layerNames, results.cross));
    for (const [side, s] of [
      ['A', results.a],
      ['B', results.b],
    ] as const) {
      if (!s.geometry?.length) continue;
      info(`\nrepresentational geometry of ${side} (R^2 of the RDM with about half the units, added by APoZ):\n`);
      info(geometrySummary(s.geometry));
    }
    info(`\nwrote ${resultsPath} and ${reportPath}`);
  },
};
