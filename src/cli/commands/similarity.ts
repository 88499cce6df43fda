import { readNpy } from '../../core/io/npy';
import { matrix } from '../../core/metrics/matrix';
import { SIMILARITY_METRICS } from '../../core/metrics/similarity';
import { DataError } from '../../core/errors';
import { intOption, parse } from '../args';
import { startBackend, type Command } from '../command';
import { printJson } from '../output';
import { metricOption } from './analyze';

async function readMatrix(path: string) {
  const a = await readNpy(path);
  if (a.shape.length !== 2) {
    throw new DataError(path, `holds an array of shape [${a.shape.join(', ')}]; similarity needs a 2-D array with one row per sample`);
  }
  return matrix(a.data, a.shape[0], a.shape[1]);
}

export const similarityCommand: Command = {
  name: 'similarity',
  summary: 'similarity of two activation matrices (.npy, rows are samples)',
  usage:
    'prunescope similarity A.npy B.npy --metric linear-cka|rbf-cka|debiased-cka|minibatch-cka|mean-cca|svcca|pwcca|nbs [--batch N] [--json]',
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { metric: { type: 'string' }, batch: { type: 'string' } },
      { min: 2, max: 2, names: 'A.npy and B.npy' },
    );
    const metric = metricOption(values.metric);
    const batch = values.batch === undefined ? undefined : intOption(values.batch, 'batch', 256, 1);
    await startBackend(values, { lightTfjs: true });
    const x = await readMatrix(positionals[0]);
    const y = await readMatrix(positionals[1]);
    const value = SIMILARITY_METRICS[metric].compute(x, y, { batch, names: { x: positionals[0], y: positionals[1] } });
    if (values.json) printJson({ metric, value, n: x.rows, p: x.cols, q: y.cols });
    else process.stdout.write(`${metric}: ${value.toFixed(6)} (n = ${x.rows}, p = ${x.cols}, q = ${y.cols})\n`);
  },
};
