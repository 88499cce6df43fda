/**
 * Helpers for the ONNX tests: building small models with onnx-proto, running them in
 * onnxruntime-web, and comparing outputs. Test-only (imports the dev dependency onnxruntime-web).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { onnx } from 'onnx-proto';
import type { Activation, DenseLayer, MLP } from '../../src/core/model/mlp';
import { seededRandom } from '../../src/core/random';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const DT = onnx.TensorProto.DataType;

export const rng = seededRandom;

export function randomArray(n: number, rand: () => number, scale = 1, offset = -0.5): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() + offset) * scale);
}

export function rand32(n: number, seed: number, scale = 1): Float32Array {
  return randomArray(n, rng(seed), scale);
}

export function rawFloat32(values: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(values);
  return new Uint8Array(f.buffer.slice(0));
}

/** A FLOAT initializer in raw_data. */
export function fTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return { name, dims, dataType: DT.FLOAT, rawData: rawFloat32(values) };
}

/** A FLOAT initializer in float_data. */
export function fDataTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return { name, dims, dataType: DT.FLOAT, floatData: Array.from(values) };
}

export function i64Tensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: DT.INT64, int64Data: values };
}

export type AttrValue = number | number[] | onnx.ITensorProto | { f: number } | { s: string } | { floats: number[] };

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('f' in v && typeof v.f === 'number') return { name, type: T.FLOAT, f: v.f };
  if ('s' in v && typeof v.s === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v.s) };
  if ('floats' in v && Array.isArray(v.floats)) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: v as onnx.ITensorProto };
}

export function node(
  opType: string,
  input: string[],
  output: string[],
  attrs: Record<string, AttrValue> = {},
  name = '',
  domain = '',
): onnx.INodeProto {
  return { opType, input, output, name, domain, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) };
}

export function valueInfo(name: string, dims: (number | string)[], elemType: number = DT.FLOAT): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export interface ModelSpec {
  ir?: number;
  opset?: number;
  mlOpset?: number;
  producer?: [string, string];
  nodes: onnx.INodeProto[];
  initializers?: onnx.ITensorProto[];
  sparseInitializers?: onnx.ISparseTensorProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
}

export function buildModel(spec: ModelSpec): Uint8Array {
  const opsetImport: onnx.IOperatorSetIdProto[] = [{ domain: '', version: spec.opset ?? 13 }];
  if (spec.mlOpset) opsetImport.push({ domain: 'ai.onnx.ml', version: spec.mlOpset });
  const model = onnx.ModelProto.create({
    irVersion: spec.ir ?? 8,
    producerName: spec.producer?.[0] ?? 'test',
    producerVersion: spec.producer?.[1] ?? '1.0',
    opsetImport,
    graph: {
      name: 'g',
      node: spec.nodes,
      initializer: spec.initializers ?? [],
      sparseInitializer: spec.sparseInitializers ?? [],
      input: spec.inputs,
      output: spec.outputs,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), `prunescope-${prefix}-`));
}

export async function writeTemp(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const p = join(dir, name);
  await fs.writeFile(p, bytes);
  return p;
}

/** Runs a model in onnxruntime-web on one float32 input and returns its first output. */
export async function runOrt(model: Uint8Array | string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const bytes = typeof model === 'string' ? await fs.readFile(model) : model;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, dims) };
    const out = await session.run(feeds);
    return Float32Array.from(out[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

/**
 * Asserts |actual - expected| <= tol * max(1, max |expected|) element-wise. Scaling by the output
 * range (not per element) is what float32 allows: a 784-term dot product carries rounding error
 * proportional to the size of its terms, so two correct float32 engines (onnxruntime, tfjs) differ
 * by ~1e-6 of the output scale even where an output happens to be near zero.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values'): number {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let range = 1;
  for (let i = 0; i < expected.length; i++) range = Math.max(range, Math.abs(expected[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(
    worst <= tol * range,
    `${what}: largest difference ${worst} at ${at} (${actual[at]} vs ${expected[at]}) exceeds ${tol} x ${range}`,
  );
  return worst;
}

/** Reads a TensorProto file (test_data_set_0/input_0.pb and the like) as float32 values and dims. */
export async function readTensorPb(path: string): Promise<{ dims: number[]; values: Float32Array }> {
  const t = onnx.TensorProto.decode(await fs.readFile(path));
  const dims = t.dims.map((d) => Number(d));
  const raw = t.rawData;
  const values = raw && raw.length > 0 ? new Float32Array(new Uint8Array(raw).buffer) : Float32Array.from(t.floatData);
  return { dims, values };
}

export function randomMLP(sizes: number[], activations: Activation[], seed: number, inputShape?: number[]): MLP {
  const rand = rng(seed);
  const layers: DenseLayer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push({
      name: `dense_${i + 1}`,
      inputSize: sizes[i],
      units: sizes[i + 1],
      weights: randomArray(sizes[i] * sizes[i + 1], rand, 1),
      bias: randomArray(sizes[i + 1], rand, 0.5),
      activation: activations[i],
    });
  }
  return { name: 'random', inputShape: inputShape ?? [sizes[0]], inputSize: sizes[0], layers };
}
