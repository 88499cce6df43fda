import { availableParallelism } from 'node:os';
import { onnx } from 'onnx-proto';

/**
 * onnxruntime-node, loaded lazily. It is an optional dependency: when it is absent or its native
 * binary does not load, `onnxRuntime()` returns undefined, one line saying why goes to stderr
 * (once per process) and is kept in `onnxRuntimeNote()`, and callers use the wasm engine.
 *
 * Sessions run through the package's native binding (`onnxruntime-node/dist/binding`), whose
 * `run` is synchronous: the public `InferenceSession.run` only wraps that call in a Promise
 * (setImmediate). Going to the binding lets the synchronous similarity code (CrossMoments,
 * CenteredGrams, and through them `compare` and the analysis) use onnxruntime without making
 * every caller async; the async DenseEngine methods are built on the same calls. If a future
 * version moves the binding, the shape check below fails and the fallback note says so.
 */

interface OrtTensorLike {
  data: Float32Array;
  dims: readonly number[];
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, OrtTensorLike>;
  dispose(): void;
}

interface OrtModules {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  version: string;
  initOrt: () => void;
  InferenceSession: new () => NativeSession;
}

/** Module id; PRUNESCOPE_ONNXRUNTIME_MODULE overrides it so a test can make the load really fail. */
function moduleId(): string {
  return process.env.PRUNESCOPE_ONNXRUNTIME_MODULE || 'onnxruntime-node';
}

/** Loads the package and checks the parts used here; a string says why it cannot be used. */
export function loadOnnxRuntime(id: string = moduleId()): OrtModules | string {
  try {
    // Dynamic ids keep esbuild from inlining the package (it also lists it as external).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const main = require(id) as { Tensor?: unknown; env?: { versions?: { node?: string } } };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const b = require(`${id}/dist/binding`) as { binding?: { InferenceSession?: unknown }; initOrt?: unknown };
    if (typeof main.Tensor !== 'function' || typeof b.initOrt !== 'function' || typeof b.binding?.InferenceSession !== 'function') {
      return `${id} has no native InferenceSession binding where this version of PruneScope expects it`;
    }
    return {
      Tensor: main.Tensor as OrtModules['Tensor'],
      version: main.env?.versions?.node ?? 'unknown',
      initOrt: b.initOrt as () => void,
      InferenceSession: b.binding.InferenceSession as OrtModules['InferenceSession'],
    };
  } catch (e) {
    return `${id} did not load (${String((e as Error).message).split('\n')[0]})`;
  }
}

let cached: OrtModules | null | undefined;
let note: string | undefined;

/** The loaded package, or undefined (after one stderr line) when it cannot be used. */
export function onnxRuntime(): OrtModules | undefined {
  if (cached === undefined) {
    const r = loadOnnxRuntime();
    if (typeof r === 'string') {
      cached = null;
      note = `note: ${r}; dense products run on the wasm engine instead`;
      process.stderr.write(`prunescope ${note}\n`);
    } else {
      r.initOrt();
      cached = r;
    }
  }
  return cached ?? undefined;
}

/** Why onnxruntime is not used, when it is not (after `onnxRuntime()` was asked). */
export function onnxRuntimeNote(): string | undefined {
  return note;
}

/** Threads inside one onnxruntime operator: every core (PRUNESCOPE_ORT_THREADS overrides). */
export function ortThreads(): number {
  const asked = Number(process.env.PRUNESCOPE_ORT_THREADS);
  return Number.isInteger(asked) && asked >= 1 ? asked : availableParallelism();
}

/** A session created once and run many times (synchronously; see the file comment). */
export class OrtSession {
  private readonly session: NativeSession;

  constructor(
    private readonly ort: OrtModules,
    model: Uint8Array,
    readonly outputs: string[],
  ) {
    this.session = new ort.InferenceSession();
    this.session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
      intraOpNumThreads: ortThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
  }

  run(feeds: Record<string, { data: Float32Array; dims: number[] }>): Record<string, OrtTensorLike> {
    const inputs: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new this.ort.Tensor('float32', t.data, t.dims);
    const fetches: Record<string, null> = {};
    for (const o of this.outputs) fetches[o] = null;
    return this.session.run(inputs, fetches, {});
  }

  dispose(): void {
    this.session.dispose();
  }
}

/** A float tensor's type with named (dynamic) dimensions. */
export function floatValueInfo(name: string, dims: (string | number)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** C = op(A) op(B) with dynamic shapes: one session serves every size. */
export function matMulModel(transA: boolean, transB: boolean): Uint8Array {
  const a = transA ? ['k', 'm'] : ['m', 'k'];
  const b = transB ? ['n', 'k'] : ['k', 'n'];
  const INT = onnx.AttributeProto.AttributeType.INT;
  // MatMul when nothing is transposed (its kernel ran ~30% faster than Gemm(transA) here); else Gemm.
  const node: onnx.INodeProto =
    transA || transB
      ? {
          opType: 'Gemm',
          input: ['A', 'B'],
          output: ['C'],
          attribute: [
            { name: 'transA', type: INT, i: transA ? 1 : 0 },
            { name: 'transB', type: INT, i: transB ? 1 : 0 },
          ],
        }
      : { opType: 'MatMul', input: ['A', 'B'], output: ['C'] };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'PruneScope',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'matmul',
      node: [node],
      input: [floatValueInfo('A', a), floatValueInfo('B', b)],
      output: [floatValueInfo('C', ['m', 'n'])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const matMulSessions = new Map<string, OrtSession>();

/**
 * op(A) op(B) in float32 on onnxruntime (A is m x k, or k x m with transA; B likewise), row-major;
 * undefined when onnxruntime is not available. Sessions are cached per transpose pair.
 */
export function ortMatMul(
  A: Float32Array,
  B: Float32Array,
  m: number,
  k: number,
  n: number,
  trans: { a?: boolean; b?: boolean } = {},
): Float32Array | undefined {
  const ort = onnxRuntime();
  if (!ort) return undefined;
  const key = `${trans.a ? 1 : 0}${trans.b ? 1 : 0}`;
  let s = matMulSessions.get(key);
  if (!s) {
    s = new OrtSession(ort, matMulModel(!!trans.a, !!trans.b), ['C']);
    matMulSessions.set(key, s);
  }
  const out = s.run({
    A: { data: A.subarray(0, m * k), dims: trans.a ? [k, m] : [m, k] },
    B: { data: B.subarray(0, k * n), dims: trans.b ? [n, k] : [k, n] },
  });
  return out.C.data;
}
