import type { onnx } from 'onnx-proto';
import { buildOnnxModel, encodeOnnxModel } from '../formats/onnx/write';
import type { MLP } from '../model/mlp';
import { blockCross, type DenseEngine, type ForwardOptions, type ForwardOutput, yieldToLoop } from './dense';
import { floatValueInfo, onnxRuntime, ortMatMul, OrtSession } from './onnxruntime';

/**
 * The model's own graph (as PruneScope writes it, weights stored dense) with, when asked, every
 * layer's post-activation tensor as an extra output. A layer starts at its Gemm node; its output
 * is the last node output before the next Gemm.
 */
function forwardModel(mlp: MLP, activations: boolean): { bytes: Uint8Array; outputs: string[] } {
  const model = buildOnnxModel(mlp, 'dense-engine', { dense: true });
  const graph = model.graph as onnx.GraphProto;
  if (!activations) return { bytes: encodeOnnxModel(model), outputs: ['output'] };
  const layerOutputs: string[] = [];
  for (const node of graph.node) {
    const out = node.output?.[0];
    if (!out) continue;
    if (node.opType === 'Gemm') layerOutputs.push(out);
    else if (layerOutputs.length > 0 && node.opType !== 'Flatten') layerOutputs[layerOutputs.length - 1] = out;
  }
  for (const name of layerOutputs.slice(0, -1)) graph.output.push(floatValueInfo(name, ['batch', 'units']));
  return { bytes: encodeOnnxModel(model), outputs: layerOutputs };
}

/** Sessions per model, made on first use and reused for every later forward pass of it. */
const forwardSessions = new WeakMap<MLP, { checksum: number; byKind: Map<boolean, OrtSession> }>();

/**
 * A checksum of every weight and bias bit: a session holds a copy of the weights, so a model
 * changed in place (a pruning step, a refit) must not run on the stale copy. ~5 ms for the
 * 2.4 M parameters of the challenge network, against ~100 ms for its forward pass.
 */
function weightsChecksum(mlp: MLP): number {
  let h = 0x811c9dc5;
  for (const l of mlp.layers) {
    for (const a of l.bias ? [l.weights, l.bias] : [l.weights]) {
      const bits = new Int32Array(a.buffer, a.byteOffset, a.length);
      for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 0x01000193);
    }
    h = Math.imul(h ^ l.units, 0x01000193);
    for (const ch of `${l.activation}:${l.alpha ?? ''}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  }
  return h;
}

function forwardSession(mlp: MLP, activations: boolean): OrtSession {
  const checksum = weightsChecksum(mlp);
  let cached = forwardSessions.get(mlp);
  if (!cached || cached.checksum !== checksum) {
    cached?.byKind.forEach((s) => s.dispose());
    cached = { checksum, byKind: new Map() };
    forwardSessions.set(mlp, cached);
  }
  let s = cached.byKind.get(activations);
  if (!s) {
    const { bytes, outputs } = forwardModel(mlp, activations);
    s = new OrtSession(onnxRuntime()!, bytes, outputs);
    cached.byKind.set(activations, s);
  }
  return s;
}

/**
 * Every layer's output after its activation for rows r0..r0+rows of x, in one run of the model's
 * cached session; synchronous, for callers that are (experiments' representations).
 */
export function ortLayerOutputs(mlp: MLP, x: Float32Array, r0: number, rows: number): Float32Array[] {
  if (!onnxRuntime()) throw new Error('onnxruntime engine used after onnxruntime-node failed to load');
  const s = forwardSession(mlp, true);
  const out = s.run({ input: { data: x.subarray(r0 * mlp.inputSize, (r0 + rows) * mlp.inputSize), dims: [rows, ...mlp.inputShape] } });
  return s.outputs.map((o) => out[o].data);
}

/** Every layer's output after its activation on n rows of x, as whole [n, units] matrices. */
export function ortActivations(mlp: MLP, x: Float32Array, n: number, batch = 2048): Float32Array[] {
  const results = mlp.layers.map((l) => new Float32Array(n * l.units));
  for (let r0 = 0; r0 < n; r0 += batch) {
    const rows = Math.min(batch, n - r0);
    ortLayerOutputs(mlp, x, r0, rows).forEach((a, l) => results[l].set(a, r0 * mlp.layers[l].units));
  }
  return results;
}

async function ortForward(mlp: MLP, x: Float32Array, n: number, options: ForwardOptions): Promise<ForwardOutput> {
  const s = forwardSession(mlp, !!options.activations);
  const batch = options.batchSize ?? 2048;
  const results = mlp.layers.map((l) => new Float32Array(n * l.units));
  const wanted = options.activations ? mlp.layers.map((_, i) => i) : [mlp.layers.length - 1];
  for (let r0 = 0; r0 < n; r0 += batch) {
    await yieldToLoop();
    const rows = Math.min(batch, n - r0);
    const out = s.run({ input: { data: x.subarray(r0 * mlp.inputSize, (r0 + rows) * mlp.inputSize), dims: [rows, ...mlp.inputShape] } });
    wanted.forEach((l, k) => results[l].set(out[s.outputs[k]].data, r0 * mlp.layers[l].units));
  }
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
