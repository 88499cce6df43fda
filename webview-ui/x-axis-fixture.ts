/**
 * Real results for the x-axis tests of the panel (webview-ui/x-axis.test.ts) and the report
 * (src/report/report.test.ts): the CLI's analysis of a 2-128-128-2 MLP, whose parameter and FLOP
 * counts are worked out by hand below, pruned with unit-l2 and magnitude at 25% and 50%.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeModel } from '../src/core/formats/registry';
import { encodeNpz } from '../src/core/io/npy';
import type { AnalysisResults } from '../src/core/results/format';
import { initMLP } from '../src/core/train/fit';
import { cli, readResults } from '../test/browser/webview-page';

/**
 * 2 inputs, hidden layers of 128 and 128, 2 outputs. Weights 2*128 + 128*128 + 128*2 = 16,896,
 * biases 128 + 128 + 2 = 258: 17,154 parameters; FLOPs 2 * 16,896 = 33,792 per sample.
 */
export const BASE_PARAMETERS = 17_154;
export const BASE_FLOPS = 33_792;

/**
 * unit-l2 at 50% keeps 64 + 64 units: weights 2*64 + 64*64 + 64*2 = 4,352, biases 64 + 64 + 2:
 * 4,482 parameters left, 12,672 of 17,154 removed (73.9%); FLOPs 8,704 left, 74.2% removed.
 * The 128 x 128 layer loses three quarters of its weights, which is why it is "about 75%".
 */
export const UNIT_HALF_PARAMETERS_REMOVED = 1 - 4_482 / BASE_PARAMETERS;
export const UNIT_HALF_FLOPS_REMOVED = 1 - 8_704 / BASE_FLOPS;

/**
 * magnitude at 50% zeroes half of each hidden layer's weights (the output layer is not pruned):
 * 128 + 8,192 = 8,320 weights, 48.5% of the parameters and 49.2% of the FLOPs.
 */
export const MAGNITUDE_HALF_PARAMETERS_REMOVED = 8_320 / BASE_PARAMETERS;
export const MAGNITUDE_HALF_FLOPS_REMOVED = (2 * 8_320) / BASE_FLOPS;

/** Two Gaussian features, label 1 when their sum is positive. */
function rows(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  let s = seed;
  const uniform = () => ((s = (s * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 2; j++) x[2 * i + j] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    y[i] = x[2 * i] + x[2 * i + 1] > 0 ? 1 : 0;
  }
  return { x, y };
}

/** Writes the model and an .npz dataset into `work`, runs `prunescope analyze` into work/analysis; returns that folder and its results. */
export async function unitPruningAnalysis(work: string): Promise<{ out: string; results: AnalysisResults }> {
  const mlp = initMLP({ inputShape: [2], hidden: [128, 128], classes: 2, seed: 3, name: 'wide-middle' });
  const model = join(work, 'wide-middle.onnx');
  await writeModel(mlp, model);
  const arrays: Parameters<typeof encodeNpz>[0] = {};
  for (const [split, n, seed] of [
    ['train', 300, 1],
    ['val', 200, 2],
    ['test', 200, 3],
  ] as const) {
    const r = rows(n, seed);
    arrays[`x_${split}`] = { dtype: 'float32', shape: [n, 2], data: r.x };
    arrays[`y_${split}`] = { dtype: 'int32', shape: [n], data: r.y };
  }
  const data = join(work, 'data.npz');
  writeFileSync(data, encodeNpz(arrays));
  const out = join(work, 'analysis');
  cli([
    'analyze',
    model,
    '--data',
    data,
    '--strategies',
    'unit-l2,magnitude',
    '--sparsities',
    '0.25,0.5',
    '--samples',
    '100',
    '--out',
    out,
  ]);
  const results = readResults(out);
  if (results.kind !== 'analysis') throw new Error(`expected an analysis in ${out}`);
  return { out, results };
}
