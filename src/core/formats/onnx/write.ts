/**
 * Builds an ONNX model (IR 8, opset 13) from an MLP: an optional Flatten, then per layer a Gemm
 * with the kernel as B ([in, out], transB=0, so the Keras layout is stored as is), an activation
 * node and, when the layer records one, an inference-inactive Dropout that keeps the rate.
 * A kernel that is mostly zeros (unstructured pruning) is stored as a sparse initializer when
 * that is smaller, so a pruned model's file really shrinks; onnxruntime expands it on load.
 */
import { onnx } from 'onnx-proto';
import { Writer } from 'protobufjs/minimal';
import { HOST_LITTLE_ENDIAN } from '../../io/endian';
import { countNonzero } from '../../model/count';
import type { DenseLayer, MLP } from '../../model/mlp';
import { validateMLP } from '../../model/mlp';
import { PruneScopeError } from '../../errors';
import type { WriteOptions } from '../format';

export const WRITE_IR_VERSION = 8;
export const WRITE_OPSET = 13;

function floatTensor(name: string, dims: number[], values: Float32Array | number[]): onnx.TensorProto {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  let raw: Uint8Array;
  // Little-endian floats are ONNX raw data as they are: a plain copy.
  if (HOST_LITTLE_ENDIAN) raw = new Uint8Array(f.buffer, f.byteOffset, f.byteLength).slice();
  else {
    raw = new Uint8Array(f.byteLength);
    const view = new DataView(raw.buffer);
    for (let k = 0; k < f.length; k++) view.setFloat32(k * 4, f[k], true);
  }
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
}

/**
 * Stored values and the bytes of their linear indices, each an unsigned varint (how protobuf
 * stores the entries of packed int64_data). An index takes b bytes over
 * [128^(b-1), 128^b), so the non-zeros are counted per such range, without a branch per weight:
 * a sweep asks this of every point's model, and testing each weight and sizing its index took
 * 12-14 ms per million weights at half kept, counting per range 3-6 ms.
 */
function sparseCost(w: Float32Array): { nnz: number; indexBytes: number } {
  let nnz = 0;
  let indexBytes = 0;
  for (let b = 1, lo = 0; lo < w.length; b++) {
    const hi = Math.min(w.length, 128 ** b);
    const count = countNonzero(w, lo, hi);
    nnz += count;
    indexBytes += b * count;
    lo = hi;
  }
  return { nnz, indexBytes };
}

/**
 * Bytes the writer stores for these weights: float32 kernels and biases, dense or as sparse
 * values and indices, whichever it picks. The file adds the graph (a few hundred bytes) to it.
 */
export function onnxWeightBytes(layers: readonly Pick<DenseLayer, 'weights' | 'bias'>[]): number {
  let bytes = 0;
  for (const l of layers) {
    const { nnz, indexBytes } = sparseCost(l.weights);
    bytes += Math.min(4 * l.weights.length, 4 * nnz + indexBytes) + 4 * (l.bias?.length ?? 0);
  }
  return bytes;
}

/**
 * The kernel as a sparse initializer (float32 values, linear int64 indices in ascending order,
 * as the spec and the ONNX checker require) when that takes fewer bytes than the dense tensor;
 * otherwise null. -0 counts as a stored zero and comes back as 0.
 */
function sparseKernel(name: string, dims: number[], w: Float32Array): onnx.SparseTensorProto | null {
  const { nnz, indexBytes } = sparseCost(w);
  if (4 * nnz + indexBytes >= 4 * w.length) return null;
  const values = new Float32Array(nnz);
  const indices = new Array<number>(nnz);
  for (let k = 0, j = 0; k < w.length; k++) {
    if (w[k] !== 0) {
      values[j] = w[k];
      indices[j++] = k;
    }
  }
  return onnx.SparseTensorProto.create({
    values: floatTensor(name, [nnz], values),
    indices: onnx.TensorProto.create({ dims: [nnz], dataType: onnx.TensorProto.DataType.INT64, int64Data: indices }),
    dims,
  });
}

function valueInfo(name: string, dims: (number | string)[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}

function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

/** Distinct, non-empty layer names; tensor names derive from them. */
function layerNames(layers: DenseLayer[]): string[] {
  const used = new Set<string>(['input', 'output']);
  return layers.map((l, i) => {
    const base = l.name || `dense_${i + 1}`;
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  });
}

/** The graph as it is written: nodes, initializers, and the value that holds the data so far. */
interface GraphParts {
  nodes: onnx.INodeProto[];
  inits: onnx.TensorProto[];
  sparseInits: onnx.SparseTensorProto[];
  x: string;
}

/** A node after a layer's Gemm: its operator, the constants it takes after the data, and its attributes. */
interface LayerStep {
  op: string;
  extraInputs?: string[];
  attrs?: onnx.IAttributeProto[];
}

export function buildOnnxModel(mlp: MLP, producerVersion: string, options: WriteOptions = {}): onnx.ModelProto {
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new PruneScopeError(`cannot write ${mlp.name} as ONNX: ${(e as Error).message}`);
  }
  const g: GraphParts = { nodes: [], inits: [], sparseInits: [], x: 'input' };
  if (mlp.inputShape.length > 1) {
    g.nodes.push({ name: 'flatten', opType: 'Flatten', input: [g.x], output: ['flatten_output'], attribute: [attrInt('axis', 1)] });
    g.x = 'flatten_output';
  }
  const names = layerNames(mlp.layers);
  mlp.layers.forEach((l, idx) => addLayer(g, l, names[idx], idx === mlp.layers.length - 1, options));
  return modelProto(mlp, producerVersion, g);
}

/** One dense layer: its weights (sparse unless options.dense), a Gemm, then its activation and dropout nodes. */
function addLayer(g: GraphParts, l: DenseLayer, name: string, last: boolean, options: WriteOptions): void {
  const gemmInputs = [g.x, `${name}.weight`];
  const sparse = options.dense ? null : sparseKernel(`${name}.weight`, [l.inputSize, l.units], l.weights);
  if (sparse) g.sparseInits.push(sparse);
  else g.inits.push(floatTensor(`${name}.weight`, [l.inputSize, l.units], l.weights));
  if (l.bias) {
    g.inits.push(floatTensor(`${name}.bias`, [l.units], l.bias));
    gemmInputs.push(`${name}.bias`);
  }
  const steps = layerSteps(l, name, g.inits);
  const gemmOut = steps.length === 0 && last ? 'output' : `${name}.linear`;
  g.nodes.push({
    name,
    opType: 'Gemm',
    input: gemmInputs,
    output: [gemmOut],
    attribute: [attrFloat('alpha', 1), attrFloat('beta', 1), attrInt('transA', 0), attrInt('transB', 0)],
  });
  g.x = gemmOut;
  steps.forEach((st, k) => {
    const out = last && k === steps.length - 1 ? 'output' : `${name}.${st.op.toLowerCase()}`;
    const input = [g.x, ...(st.extraInputs ?? [])];
    g.nodes.push({ name: `${name}/${st.op}`, opType: st.op, input, output: [out], attribute: st.attrs ?? [] });
    g.x = out;
  });
}

/** The nodes after a layer's Gemm (activation, then dropout); constants they take go to `inits`. */
function layerSteps(l: DenseLayer, name: string, inits: onnx.TensorProto[]): LayerStep[] {
  const steps: LayerStep[] = [];
  switch (l.activation) {
    case 'linear':
      break;
    case 'relu':
      steps.push({ op: 'Relu' });
      break;
    case 'relu6':
      inits.push(floatTensor(`${name}.clip_min`, [], [0]), floatTensor(`${name}.clip_max`, [], [6]));
      steps.push({ op: 'Clip', extraInputs: [`${name}.clip_min`, `${name}.clip_max`] });
      break;
    case 'leaky_relu':
      steps.push({ op: 'LeakyRelu', attrs: [attrFloat('alpha', l.alpha ?? 0.01)] });
      break;
    case 'sigmoid':
      steps.push({ op: 'Sigmoid' });
      break;
    case 'tanh':
      steps.push({ op: 'Tanh' });
      break;
    case 'softmax':
      steps.push({ op: 'Softmax', attrs: [attrInt('axis', 1)] });
      break;
    case 'log_softmax':
      steps.push({ op: 'LogSoftmax', attrs: [attrInt('axis', 1)] });
      break;
  }
  if (l.dropout && l.dropout > 0) {
    inits.push(floatTensor(`${name}.dropout_ratio`, [], [l.dropout]));
    steps.push({ op: 'Dropout', extraInputs: [`${name}.dropout_ratio`] });
  }
  return steps;
}

/** The ModelProto around the written graph: IR version, opset, producer, input and output. */
function modelProto(mlp: MLP, producerVersion: string, g: GraphParts): onnx.ModelProto {
  const units = mlp.layers[mlp.layers.length - 1].units;
  const source = mlp.source ? ` from ${mlp.source.format} (${mlp.source.path})` : '';
  return onnx.ModelProto.create({
    irVersion: WRITE_IR_VERSION,
    producerName: 'PruneScope',
    producerVersion,
    docString: `MLP ${mlp.name} written by PruneScope${source}`,
    opsetImport: [{ domain: '', version: WRITE_OPSET }],
    graph: {
      name: mlp.name,
      node: g.nodes,
      initializer: g.inits,
      sparseInitializer: g.sparseInits,
      input: [valueInfo('input', ['batch', ...mlp.inputShape])],
      output: [valueInfo('output', ['batch', units])],
    },
  });
}

/**
 * protobufjs writes every int64 through a 64-bit LongBits object made for it, which made the
 * int64 indices of a pruned kernel most of the time it takes to save (0.6 s for the 1.2 million
 * indices of the challenge network at 50%). A number in [0, 2^32) has the same varint as a
 * uint32, which protobufjs writes directly: the same bytes (write.test.ts compares them), 2.5x
 * faster. Anything else (negative, larger, a Long) goes the usual way.
 */
class IndexWriter extends Writer {
  override int64(value: Parameters<Writer['int64']>[0]): Writer {
    if (typeof value === 'number' && value >= 0 && value <= 0xffffffff) return this.uint32(value);
    return super.int64(value);
  }
}

export function encodeOnnxModel(model: onnx.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model, new IndexWriter()).finish();
}
