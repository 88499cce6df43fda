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
const forwardSessions = new WeakMap<MLP, Map<boolean, OrtSession>>();

function forwardSession(mlp: MLP, activations: boolean): OrtSession {
  let byKind = forwardSessions.get(mlp);
  if (!byKind) {
    byKind = new Map();
    forwardSessions.set(mlp, byKind);
  }
  let s = byKind.get(activations);
  if (!s) {
    const { bytes, outputs } = forwardModel(mlp, activations);
    s = new OrtSession(onnxRuntime()!, bytes, outputs);
    byKind.set(activations, s);
  }
  return s;
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
