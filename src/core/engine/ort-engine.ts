import type { onnx } from 'onnx-proto';
import { buildOnnxModel, encodeOnnxModel } from '../formats/onnx/write';
import type { MLP } from '../model/mlp';
import { blockCross, type DenseEngine, type ForwardOptions, type ForwardOutput, yieldToLoop } from './dense';
import { floatValueInfo, onnxRuntime, ortMatMul, OrtSession } from './onnxruntime';

/** A forward session of one architecture, and the names its weights and biases are fed under. */
interface ShapeSession {
  session: OrtSession;
  /** Per layer, the graph inputs of its kernel and (when it has one) its bias. */
  params: { weight: string; bias?: string }[];
}

/**
 * The model's own graph (as PruneScope writes it, weights stored dense) with its kernels and
 * biases turned into graph inputs, and, when asked, every layer's post-activation tensor as an
 * extra output. A layer starts at its Gemm node; its output is the last node output before the
 * next Gemm.
 */
function forwardModel(mlp: MLP, activations: boolean): { bytes: Uint8Array; outputs: string[]; params: ShapeSession['params'] } {
  const model = buildOnnxModel(mlp, 'dense-engine', { dense: true });
  const graph = model.graph as onnx.GraphProto;
  const gemms = graph.node.filter((n) => n.opType === 'Gemm');
  const params = gemms.map((n) => {
    const [, weight, bias] = n.input ?? [];
    return { weight, ...(bias ? { bias } : {}) };
  });
  const fed = new Set(params.flatMap((p) => (p.bias ? [p.weight, p.bias] : [p.weight])));
  graph.initializer = graph.initializer.filter((t) => !fed.has(t.name ?? ''));
  mlp.layers.forEach((l, i) => {
    graph.input.push(floatValueInfo(params[i].weight, [l.inputSize, l.units]));
    if (params[i].bias) graph.input.push(floatValueInfo(params[i].bias, [l.units]));
  });
  if (!activations) return { bytes: encodeOnnxModel(model), outputs: ['output'], params };
  const layerOutputs: string[] = [];
  for (const node of graph.node) {
    const out = node.output?.[0];
    if (!out) continue;
    if (node.opType === 'Gemm') layerOutputs.push(out);
    else if (layerOutputs.length > 0 && node.opType !== 'Flatten') layerOutputs[layerOutputs.length - 1] = out;
  }
  for (const name of layerOutputs.slice(0, -1)) graph.output.push(floatValueInfo(name, ['batch', 'units']));
  return { bytes: encodeOnnxModel(model), outputs: layerOutputs, params };
}

/**
 * Everything the graph of forwardModel depends on except the weights' values: models of one
 * architecture share a session (every point of a sweep, a model and its unit-free copies).
 */
function architectureKey(mlp: MLP, activations: boolean): string {
  const layers = mlp.layers.map((l) => [l.inputSize, l.units, l.activation, l.alpha ?? '', l.dropout ?? 0, l.bias ? 1 : 0].join(','));
  return `${activations ? 'acts' : 'out'}|${mlp.inputShape.join('x')}|${layers.join(';')}`;
}

/**
 * Sessions per architecture, made on first use. The weights go in with every run instead of
 * into the session: a pruning sweep runs 40 models of one shape, and a session per model (an
 * encoded 10 MB graph, parsed and copied by onnxruntime, twice per point) cost more than the
 * runs of the 512-sample representations it served. It also means a model changed in place can
 * never run on a stale copy. Re-packing a kernel per run costs one pass over it, small against
 * the products of a batch.
 */
const shapeSessions = new Map<string, ShapeSession>();

/**
 * Sessions kept at most: structured pruning makes a new architecture per point, and each session
 * keeps its arena (tens of MB at 2048-row batches), so the least recently used ones go.
 */
const MAX_SESSIONS = 8;

function forwardSession(mlp: MLP, activations: boolean): ShapeSession {
  const key = architectureKey(mlp, activations);
  let s = shapeSessions.get(key);
  if (s) shapeSessions.delete(key);
  else {
    const { bytes, outputs, params } = forwardModel(mlp, activations);
    s = { session: new OrtSession(onnxRuntime()!, bytes, outputs), params };
  }
  shapeSessions.set(key, s);
  for (const [k, old] of shapeSessions) {
    if (shapeSessions.size <= MAX_SESSIONS) break;
    old.session.dispose();
    shapeSessions.delete(k);
  }
  return s;
}

/** The feeds of one run: rows r0..r0+rows of x, and the model's weights and biases. */
function forwardFeeds(mlp: MLP, s: ShapeSession, x: Float32Array, r0: number, rows: number) {
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
    input: { data: x.subarray(r0 * mlp.inputSize, (r0 + rows) * mlp.inputSize), dims: [rows, ...mlp.inputShape] },
  };
  mlp.layers.forEach((l, i) => {
    const p = s.params[i];
    feeds[p.weight] = { data: l.weights, dims: [l.inputSize, l.units] };
    if (p.bias && l.bias) feeds[p.bias] = { data: l.bias, dims: [l.units] };
  });
  return feeds;
}

/**
 * Rows per run of a forward pass unless the caller says: up to ONE_RUN_ROWS in one run (each run
 * packs the weights again), more in runs of BATCH_ROWS so the session's arena stays bounded.
 */
const ONE_RUN_ROWS = 8192;
const BATCH_ROWS = 2048;

/**
 * The wanted layers' outputs on n rows of x, as whole [n, units] matrices, in runs of at most
 * `batch` rows (default: see ONE_RUN_ROWS). Each run writes its rows of every output straight
 * into the results: outputs onnxruntime allocated stayed in its arena after being handed over
 * (compare's peak went from ~650 to ~600 MB for two challenge networks at 5,000 rows), and
 * copying them out of multi-run passes cost a pass over every output. A generator that pauses before each run, so a synchronous caller runs it
 * through (`finish`) and an asynchronous one lets the event loop in between (`finishYielding`).
 */
function* forwardRuns(mlp: MLP, x: Float32Array, n: number, batchSize: number | undefined, all: boolean): Generator<void, Float32Array[]> {
  const batch = batchSize ?? (n <= ONE_RUN_ROWS ? n : BATCH_ROWS);
  const s = forwardSession(mlp, all);
  const wanted = all ? mlp.layers.map((_, i) => i) : [mlp.layers.length - 1];
  const results = wanted.map((l) => new Float32Array(n * mlp.layers[l].units));
  for (let r0 = 0; r0 < n; r0 += batch) {
    yield;
    const rows = Math.min(batch, n - r0);
    const into: Record<string, { data: Float32Array; dims: number[] }> = {};
    wanted.forEach((l, k) => {
      const units = mlp.layers[l].units;
      into[s.session.outputs[k]] = { data: results[k].subarray(r0 * units, (r0 + rows) * units), dims: [rows, units] };
    });
    s.session.run(forwardFeeds(mlp, s, x, r0, rows), into);
  }
  return results;
}

function finish<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

async function finishYielding<T>(g: Generator<void, T>): Promise<T> {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    await yieldToLoop();
  }
}

/** Every layer's output after its activation on n rows of x, as whole [n, units] matrices. */
export function ortActivations(mlp: MLP, x: Float32Array, n: number, batch?: number): Float32Array[] {
  if (!onnxRuntime()) throw new Error('onnxruntime engine used after onnxruntime-node failed to load');
  return finish(forwardRuns(mlp, x, n, batch, true));
}

async function ortForward(mlp: MLP, x: Float32Array, n: number, options: ForwardOptions): Promise<ForwardOutput> {
  const results = await finishYielding(forwardRuns(mlp, x, n, options.batchSize, !!options.activations));
  const outputs = results[results.length - 1];
  return options.activations ? { outputs, activations: results } : { outputs };
}

function matMul(...args: Parameters<DenseEngine['matMul']>): Float32Array {
  const c = ortMatMul(...args);
  if (!c) throw new Error('onnxruntime engine used after onnxruntime-node failed to load');
  return c;
}

/** The onnxruntime engine; undefined when onnxruntime-node does not load here. */
export function onnxRuntimeEngine(): DenseEngine | undefined {
  if (!onnxRuntime()) return undefined;
  return {
    name: 'onnxruntime',
    matMul,
    async gram(X, n, p) {
      await yieldToLoop();
      return blockCross(matMul, X, n, p, X, p);
    },
    async cross(X, n, p, Y, q) {
      await yieldToLoop();
      return blockCross(matMul, X, n, p, Y, q);
    },
    forward: (mlp, x, n, options = {}) => ortForward(mlp, x, n, options),
  };
}
