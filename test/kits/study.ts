/**
 * Study grids small enough for tests, shared by the core's, the worker's, the browser's and the
 * real editor's study tests (no product code here, and no vscode: the editor suite bundles it).
 * Each call returns a fresh object, so a test may change its copy.
 */

/**
 * Runs in seconds: 784-8-10 and 784-4-10, one epoch on 200 MNIST rows, one sparsity in one round.
 * The fields every caller of a study takes (runStudy's options, the study job's parameters, Run
 * Study's options argument), without the data set and the budget, whose names differ.
 */
export function tinyStudyGrid() {
  return {
    base: { width: 8, depth: 1, dropout: 0 },
    factors: { width: [8, 4] },
    epochs: 1,
    trainSamples: 200,
    validationSamples: 50,
    testSamples: 50,
    samples: 32,
    sparsities: [0.5],
    iterations: 1,
  };
}

/**
 * Both factors a chart is drawn per (dropout 0 and 0.25, width 16 and 8 around 784-16-10) at two
 * sparsities, on 300 training rows: what the browser tests draw. `epochs` and `iterations` are
 * the caller's, as they trade time for a less noisy gap.
 */
export function twoFactorStudyGrid(rounds: { epochs: number; iterations: number }) {
  return {
    base: { width: 16, depth: 1, dropout: 0 },
    factors: { dropout: [0, 0.25], width: [16, 8] },
    ...rounds,
    trainSamples: 300,
    validationSamples: 100,
    testSamples: 200,
    samples: 64,
    sparsities: [0.25, 0.5],
    finetuneEpochs: 1,
  };
}
