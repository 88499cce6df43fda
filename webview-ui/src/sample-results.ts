/**
 * Made-up results of the right shape, for the test page and the webview's tests when no real
 * results file is at hand. Deterministic. Values are plausible, not computed.
 */
import type { AnalysisResults, ComparisonResults, Histogram, LayerApoz, LayerGeometry, Point } from '../../src/core/results/format';

const tool = { name: 'prunescope' as const, version: '0.1.0' };
const backend = { name: 'wasm', tfjsVersion: '4.22.0' };
const dataset = {
  name: 'mnist',
  split: 'test',
  samples: 10000,
  normalization: 'unit',
  activationSplit: 'validation',
  activationSamples: 1000,
};

function hist(bins: number, from: number, to: number, f: (t: number) => number): Histogram {
  const edges = Array.from({ length: bins + 1 }, (_, i) => from + ((to - from) * i) / bins);
  return { edges, counts: Array.from({ length: bins }, (_, i) => Math.max(0, Math.round(f((i + 0.5) / bins)))) };
}

function apoz(layer: string, shift: number, units: number, applies = true): LayerApoz {
  if (!applies) return { layer, applies: false, reason: 'the output layer has no ReLU' };
  const h = hist(10, 0, 1, (t) => (units / 4) * Math.exp(-((t - 0.3 - shift) ** 2) / 0.04));
  return { layer, applies: true, mean: Math.min(1, 0.3 + shift), histogram: h };
}

/** Curves of the usual shape: the most active units carry the geometry, the most silent ones little. */
function geometry(layer: string, units: number, applies = true): LayerGeometry {
  if (!applies) return { layer, applies: false, reason: 'geometry adds units in APoZ order, and APoZ does not apply to sigmoid layers' };
  const step = Math.max(1, Math.ceil(units / 100));
  const ks = Array.from({ length: Math.ceil(units / step) }, (_, i) => Math.min(units, (i + 1) * step));
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    layer,
    applies: true,
    samples: 500,
    units,
    step,
    ascending: ks.map((k) => ({ k, r2: round(1 - (1 - k / units) ** 3) })),
    descending: ks.map((k) => ({ k, r2: round((k / units) ** 2) })),
  };
}

const names = ['dense_1', 'dense_2', 'dense_3'];
const sizes = [100, 50, 10];

function matrix(n: number, m: number, decay: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: m }, (_, j) => Math.max(0, Math.min(1, 1 - Math.abs(i - j) * 0.35 - decay * (i === j ? 0.5 : 1)))),
  );
}

function point(strategy: number, s: number, iteration: number, structured: boolean): Point {
  const drop = [0.2, 0.5, 0.35][strategy] * s ** 3 + 0.01 * iteration;
  const accuracy = Math.max(0.1, 0.975 - drop);
  const layers = names.map((name, i) => {
    const pruned = i < 2 ? s : 0;
    const units = structured ? Math.max(1, Math.round(sizes[i] * (1 - pruned))) : sizes[i];
    const inSize = i === 0 ? 784 : sizes[i - 1];
    const params = Math.round(inSize * sizes[i] * (1 - pruned));
    return {
      name,
      units,
      sparsity: pruned,
      parameters: params,
      flops: 2 * params,
      magnitudes: {
        pruned: hist(12, 0, 0.3, (t) => pruned * 800 * Math.max(0, 1 - t * 2)),
        kept: hist(12, 0, 0.3, (t) => (1 - pruned) * 900 * Math.exp(-t * 3) + (t > 0.4 ? 20 : 0)),
      },
      similarity: i === 2 ? 1 - drop : Math.max(0, 1 - s * (0.3 + i * 0.2)),
      apoz: apoz(name, s * 0.3, units, i < 2),
    };
  });
  const parameters = layers.reduce((a, l) => a + l.parameters, 0);
  return {
    sparsity: s,
    actualSparsity: s * 0.99,
    iteration,
    accuracy,
    loss: 0.08 + drop * 3,
    agreement: Math.max(0.1, 1 - drop * 1.1),
    parameters,
    flops: 2 * parameters,
    latency: samplePointLatency(structured, s),
    layers,
    similarityMatrix: matrix(3, 3, s * 0.5),
    finetuneEpochs: 0,
    // Dense kernels for removed neurons; sparse ones cost a value and a ~3-byte index per weight kept.
    onnxBytes: Math.round(structured ? 4 * parameters : Math.min(4 * 84060, 7 * parameters)),
  };
}

/** Medians with the runs behind them: 7 dense runs within -10%/+30%, CSR runs fewer as the product slows. */
function samplePointLatency(structured: boolean, s: number): Point['latency'] {
  const dense = 1.2 * (structured ? 1 - s * 0.8 : 1);
  const sparse = 1.8 * (1 - s) + 0.2;
  return {
    denseMsPer100: dense,
    sparseMsPer100: structured ? null : sparse,
    denseSpread: { runs: 7, minMs: dense * 0.9, maxMs: dense * 1.3 },
    sparseSpread: structured ? null : { runs: s < 0.5 ? 3 : 5, minMs: sparse * 0.8, maxMs: sparse * 1.5 },
  };
}

const sparsities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

// eslint-disable-next-line max-lines-per-function -- a data literal (sample results for the test page)
export function sampleAnalysis(): AnalysisResults {
  return {
    format: 'prunescope-results',
    version: 1,
    createdAt: '2025-01-01T12:00:00.000Z',
    tool,
    backend,
    dataset,
    kind: 'analysis',
    model: {
      path: '/workspace/models/<sample> model.json',
      sha256: '0'.repeat(64),
      format: 'tfjs-layers',
      producer: 'TensorFlow.js tfjs-layers v4.22.0',
      inputSize: 784,
      layerSizes: sizes,
      layerNames: names,
      activations: ['relu', 'relu', 'softmax'],
      parameters: 84060,
    },
    settings: {
      strategies: ['magnitude', 'unit-l2', 'apoz'],
      sparsities,
      schedule: 'iterative',
      finetuneEpochs: 1,
      iterations: 2,
      samples: 1000,
      metric: 'linear-cka',
      seed: 1,
      includeOutput: false,
    },
    baseline: {
      accuracy: 0.975,
      loss: 0.08,
      parameters: 84060,
      flops: 168120,
      latency: { denseMsPer100: 1.2, denseSpread: { runs: 7, minMs: 1.1, maxMs: 1.5 } },
      onnxBytes: 4 * 84060,
      apoz: names.map((n, i) => apoz(n, 0, sizes[i], i < 2)),
      similarityMatrix: matrix(3, 3, 0),
      geometry: names.slice(0, -1).map((n, i) => geometry(n, sizes[i])),
    },
    runs: [
      {
        strategy: 'magnitude',
        kind: 'unstructured',
        schedule: 'iterative',
        points: [0, 1].flatMap((it) => sparsities.map((s) => point(0, s, it, false))),
        seconds: 12.5,
        notes: [],
      },
      {
        strategy: 'unit-l2',
        kind: 'structured',
        schedule: 'iterative',
        points: [0, 1].flatMap((it) => sparsities.map((s) => point(1, s, it, true))),
        seconds: 9.1,
        notes: ['layer dense_2: 100% would remove all 50 units; kept 1'],
      },
      {
        strategy: 'apoz',
        kind: 'structured',
        schedule: 'iterative',
        points: [0, 1].flatMap((it) => sparsities.map((s) => point(2, s, it, true))),
        seconds: 15.2,
        notes: [],
      },
    ],
  };
}

export function sampleComparison(): ComparisonResults {
  return {
    format: 'prunescope-results',
    version: 1,
    createdAt: '2025-01-01T12:00:00.000Z',
    tool,
    backend,
    dataset,
    kind: 'comparison',
    metric: 'linear-cka',
    a: {
      model: {
        path: '/workspace/models/a.onnx',
        sha256: '1'.repeat(64),
        format: 'onnx',
        producer: 'pytorch 1.11',
        inputSize: 784,
        layerSizes: [10, 10, 10],
        layerNames: ['Gemm_2', 'Gemm_4', 'Gemm_6'],
        activations: ['relu', 'relu', 'linear'],
        parameters: 8070,
      },
      apoz: [],
      selfSimilarity: matrix(3, 3, 0),
      geometry: [geometry('Gemm_2', 10), geometry('Gemm_4', 10)],
    },
    b: {
      model: {
        path: '/workspace/models/b.onnx',
        sha256: '2'.repeat(64),
        format: 'onnx',
        producer: 'pytorch 1.11',
        inputSize: 784,
        layerSizes: [5, 5, 10],
        layerNames: ['Gemm_2', 'Gemm_4', 'Gemm_6'],
        activations: ['relu', 'relu', 'linear'],
        parameters: 3985,
      },
      apoz: [],
      selfSimilarity: matrix(3, 3, 0),
      geometry: [geometry('Gemm_2', 5), geometry('Gemm_4', 5, false)],
    },
    cross: [
      [0.91, 0.6, 0.41],
      [0.55, 0.83, 0.62],
      [0.38, 0.57, null],
    ],
  };
}
