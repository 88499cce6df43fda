import { engineInfo, initBackend } from '../backend';
import { sliceRows, type Dataset } from '../data/dataset';
import { checkFits } from '../data/load';
import { PruneScopeError } from '../errors';
import type { ReadOptions } from '../formats/format';
import { onnxWeightBytes } from '../formats/onnx/write';
import { readModel } from '../formats/registry';
import { hiddenLayerGeometry, type LayerGeometryOptions } from '../metrics/geometry-layers';
import { linearCKAMatrix } from '../metrics/cka';
import type { Matrix } from '../metrics/matrix';
import { countNonzero } from '../model/count';
import { outputSize, type MLP } from '../model/mlp';
import { isSimilarityMetricId, SIMILARITY_METRIC_IDS, type SimilarityMetricId } from '../metrics/similarity';
import type { ComparisonResults, ComparisonSide, LayerGeometry, ModelInfo } from '../results/format';
import { evaluate } from '../train/evaluate';
import { checkCancelled, prepareActivationData, resultsHeader, type DataOptions, type JobHooks } from './analysis';
import { modelInfo } from './model-info';
import { layerApoz, representations, similarityMatrix } from './representations';

export interface ComparisonOptions extends DataOptions {
  modelA: string;
  modelB: string;
  readOptions?: ReadOptions;
  metric?: SimilarityMetricId;
  /** Both models' representational geometry, as in AnalysisOptions; false skips it. */
  geometry?: LayerGeometryOptions | false;
  /**
   * An earlier comparison (e.g. before the panel switched metric). Where it compared the same
   * files on the same activation rows, its geometry curves are reused instead of recomputed.
   */
  previous?: ComparisonResults;
}

/** Whether `previous` measured this model file on these activation rows. */
function sameInputs(
  previous: ComparisonResults | undefined,
  side: 'a' | 'b',
  info: ModelInfo,
  dataset: ComparisonResults['dataset'],
): boolean {
  if (!previous || !info.sha256 || previous[side].model.sha256 !== info.sha256) return false;
  const d = previous.dataset;
  return (
    d.name === dataset.name &&
    d.activationSplit === dataset.activationSplit &&
    d.activationSamples === dataset.activationSamples &&
    d.normalization === dataset.normalization
  );
}

type Values = { values: (number | null)[][] };

/** Parameters (all, and those a sparse kernel keeps), FLOPs and ONNX bytes, counted as an analysis counts its points. */
export function modelSize(mlp: MLP): NonNullable<ComparisonSide['size']> {
  let weights = 0;
  let nonzeroWeights = 0;
  let biases = 0;
  for (const l of mlp.layers) {
    weights += l.weights.length;
    nonzeroWeights += countNonzero(l.weights);
    biases += l.bias?.length ?? 0;
  }
  return {
    parameters: weights + biases,
    nonzeroParameters: nonzeroWeights + biases,
    flops: 2 * nonzeroWeights,
    onnxBytes: onnxWeightBytes(mlp.layers),
  };
}

interface PairEvaluation {
  a?: ComparisonSide['evaluation'];
  b?: ComparisonSide['evaluation'];
  agreement?: number;
}

/**
 * Accuracy and loss of A and B, and how often B predicts what A predicts, on the very rows the
 * similarity is measured on. Unlabelled rows give nothing; a model with too few outputs for the
 * labels gets no accuracy (and the pair no agreement) instead of failing the whole comparison.
 */
export async function evaluatePair(a: MLP, b: MLP, rows: Dataset, outputs: { a?: Matrix; b?: Matrix } = {}): Promise<PairEvaluation> {
  if (!rows.y) return {};
  const fits = (m: MLP) => rows.classes <= outputSize(m);
  // float32 outputs of exactly these rows are the models' forward passes already done.
  const given = (m?: Matrix) => (m && m.rows === rows.n && m.data instanceof Float32Array ? { outputs: m.data } : {});
  const evA = fits(a) ? await evaluate(a, rows, { keepPredictions: true, ...given(outputs.a) }) : undefined;
  const refB = evA?.predictions ? { referencePredictions: evA.predictions } : {};
  const evB = fits(b) ? await evaluate(b, rows, { ...refB, ...given(outputs.b) }) : undefined;
  const pick = (e: typeof evA) => e && { accuracy: e.accuracy, loss: e.loss };
  return {
    a: pick(evA),
    b: pick(evB),
    ...(evB?.agreement !== undefined && outputSize(a) === outputSize(b) ? { agreement: evB.agreement } : {}),
  };
}

/**
 * A against B, A against itself and B against itself. Linear CKA on onnxruntime takes all three
 * from one pass: [A, B] against itself is one self product (CrossMoments.addOrt multiplies only
 * its upper blocks), whose blocks are the three matrices; apart, the Grams of A and B were
 * multiplied twice (~17% more products for the challenge network).
 */
function threeMatrices(
  repsA: Matrix[],
  repsB: Matrix[],
  metric: SimilarityMetricId,
  names: { namesA: string[]; namesB: string[] },
  progress: (fraction: number, message: string) => void,
  signal: AbortSignal | undefined,
): { cross: Values; selfA: Values; selfB: Values } {
  const { namesA, namesB } = names;
  // On onnxruntime only: the other multipliers have no self product and would do more work.
  if (metric === 'linear-cka' && engineInfo()?.name === 'onnxruntime') {
    progress(0.3, 'linear-cka: A against B and each against itself');
    const all = [...repsA, ...repsB];
    const m = linearCKAMatrix(all, all, { xNames: [...namesA, ...namesB], yNames: [...namesA, ...namesB] }).values;
    const block = (rows: number, cols: number, h: number, w: number) => ({
      values: m.slice(rows, rows + h).map((r) => r.slice(cols, cols + w)),
    });
    const [a, b] = [repsA.length, repsB.length];
    return { cross: block(0, a, a, b), selfA: block(0, 0, a, a), selfB: block(a, a, b, b) };
  }
  // Progress after every layer pair, and a chance to stop: on wide layers a pair can take seconds.
  const pairs = (from: number, to: number, label: string) => {
    progress(from, label);
    return (done: number, total: number) => {
      progress(from + ((to - from) * done) / total, `${label} (${done}/${total} layer pairs)`);
      checkCancelled(signal);
    };
  };
  const cross = similarityMatrix(repsA, repsB, metric, {
    xNames: namesA,
    yNames: namesB,
    onPair: pairs(0.3, 0.6, `${metric}: A against B`),
  });
  const selfA = similarityMatrix(repsA, repsA, metric, {
    xNames: namesA,
    yNames: namesA,
    onPair: pairs(0.6, 0.8, `${metric}: A against itself`),
  });
  const selfB = similarityMatrix(repsB, repsB, metric, {
    xNames: namesB,
    yNames: namesB,
    onPair: pairs(0.8, 0.9, `${metric}: B against itself`),
  });
  return { cross, selfA, selfB };
}

function side(
  model: ModelInfo,
  mlp: MLP,
  reps: Matrix[],
  self: Values,
  evaluation: ComparisonSide['evaluation'],
  geometry: LayerGeometry[] | undefined,
): ComparisonSide {
  return {
    model,
    ...(evaluation && { evaluation }),
    size: modelSize(mlp),
    apoz: layerApoz(mlp, reps),
    selfSimilarity: self.values,
    ...(geometry && { geometry }),
  };
}

/**
 * Two checkpoints side by side: every layer of A against every layer of B (and each against
 * itself) on the same samples, both models' accuracy, loss, agreement and size on those samples,
 * and their APoZ and representational geometry.
 */
export async function runComparison(options: ComparisonOptions, hooks: JobHooks = {}): Promise<ComparisonResults> {
  await initBackend();
  const metric = options.metric ?? 'linear-cka';
  if (!isSimilarityMetricId(metric)) {
    throw new PruneScopeError(`unknown similarity metric "${metric}" (expected one of ${SIMILARITY_METRIC_IDS.join(', ')})`);
  }
  const progress = (fraction: number, message: string) => hooks.onProgress?.({ fraction, message });
  progress(0, `reading ${options.modelA} and ${options.modelB}`);
  const a = await readModel(options.modelA, options.readOptions);
  const b = await readModel(options.modelB, options.readOptions);
  const data = await prepareActivationData(options);
  checkFits(data.activationSet, a.inputSize, undefined, options.modelA, a.inputShape);
  checkFits(data.activationSet, b.inputSize, undefined, options.modelB, b.inputShape);
  checkCancelled(hooks.signal);

  progress(0.1, 'computing activations');
  const x = data.activationSet.x;
  const repsA = representations(a, x, data.samples);
  const repsB = representations(b, x, data.samples);
  checkCancelled(hooks.signal);
  const namesA = a.layers.map((l) => `A ${l.name}`);
  const namesB = b.layers.map((l) => `B ${l.name}`);
  progress(0.2, 'accuracy, loss and agreement of A and B');
  const evaluation = await evaluatePair(a, b, sliceRows(data.activationSet, 0, data.samples), { a: repsA.at(-1), b: repsB.at(-1) });
  checkCancelled(hooks.signal);
  const { cross, selfA, selfB } = threeMatrices(repsA, repsB, metric, { namesA, namesB }, (f, m) => progress(f, m), hooks.signal);
  // Both models are compared, and evaluated, on the activation samples.
  const header = resultsHeader(data, { split: data.activationSplit, samples: data.samples });
  const infoA = await modelInfo(a);
  const infoB = await modelInfo(b);
  let geometryA: LayerGeometry[] | undefined;
  let geometryB: LayerGeometry[] | undefined;
  if (options.geometry !== false) {
    checkCancelled(hooks.signal);
    progress(0.9, 'representational geometry of A and B');
    const { previous } = options;
    geometryA = hiddenLayerGeometry(
      a.layers,
      repsA,
      options.geometry,
      sameInputs(previous, 'a', infoA, header.dataset) ? previous?.a.geometry : undefined,
    );
    geometryB = hiddenLayerGeometry(
      b.layers,
      repsB,
      options.geometry,
      sameInputs(previous, 'b', infoB, header.dataset) ? previous?.b.geometry : undefined,
    );
  }
  progress(1, 'done');

  return {
    ...header,
    kind: 'comparison',
    metric,
    ...(evaluation.agreement !== undefined && { agreement: evaluation.agreement }),
    a: side(infoA, a, repsA, selfA, evaluation.a, geometryA),
    b: side(infoB, b, repsB, selfB, evaluation.b, geometryB),
    cross: cross.values,
  };
}
