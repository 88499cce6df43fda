import { availableParallelism } from 'node:os';
import { onnx } from 'onnx-proto';
import { nativeCall, nativeRelease } from './native-gate';

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

/** A float input: float32, or float64 for the sums the norm graphs take (rawNormsModel). */
type FloatFeed = { data: Float32Array | Float64Array; dims: number[] };

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: object): Record<string, OrtTensorLike>;
  dispose(): void;
}

interface OrtModules {
  Tensor: new (type: 'float32' | 'float64', data: Float32Array | Float64Array, dims: readonly number[]) => unknown;
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
      nativeCall(() => r.initOrt());
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

/** How an OrtSession plans its memory and rewrites its graph; every field defaults to onnxruntime's own. */
export interface OrtSessionOptions {
  memPattern?: boolean;
  arena?: boolean;
  /** 'basic' keeps a Transpose before a MatMul as written (see gemmT); default 'all'. */
  optimization?: 'basic' | 'all';
}

/**
 * The sessions of the product graphs: no arena, no memory pattern (see ortBlockMoments), and no
 * fusion of gemmT's transposes back into the product.
 */
const PRODUCT_SESSION: OrtSessionOptions = { memPattern: false, arena: false, optimization: 'basic' };

/** A session created once and run many times (synchronously; see the file comment). */
export class OrtSession {
  private readonly session: NativeSession;

  constructor(
    private readonly ort: OrtModules,
    model: Uint8Array,
    readonly outputs: string[],
    { memPattern = true, arena = true, optimization = 'all' }: OrtSessionOptions = {},
  ) {
    this.session = nativeCall(() => {
      const session = new ort.InferenceSession();
      session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: ortThreads(),
        interOpNumThreads: 1,
        graphOptimizationLevel: optimization,
        executionMode: 'sequential',
        // Idle threads sleep instead of spinning: on shared, loaded cores spinning took CPU from
        // the threads doing the work (same wall time or better, ~20% less CPU measured here).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
        enableMemPattern: memPattern,
        enableCpuMemArena: arena,
      });
      return session;
    });
  }

  /** Runs once; outputs named in `into` are written into those buffers instead of new ones. */
  run(feeds: Record<string, FloatFeed>, into: Record<string, { data: Float32Array; dims: number[] }> = {}): Record<string, OrtTensorLike> {
    const inputs: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds))
      inputs[name] = new this.ort.Tensor(t.data instanceof Float64Array ? 'float64' : 'float32', t.data, t.dims);
    const fetches: Record<string, unknown> = {};
    for (const o of this.outputs) fetches[o] = into[o] ? new this.ort.Tensor('float32', into[o].data, into[o].dims) : null;
    const out = nativeCall(() => this.session.run(inputs, fetches, {}));
    for (const o of Object.keys(into)) out[o] = into[o];
    return out;
  }

  /** Runs a graph whose outputs are all float64 (the norm graphs): each output's values. */
  runFloat64(feeds: Record<string, FloatFeed>): Record<string, Float64Array> {
    const out = this.run(feeds) as Record<string, { data: unknown }>;
    return Object.fromEntries(
      this.outputs.map((o) => {
        const data = out[o].data;
        if (!(data instanceof Float64Array)) throw new Error(`onnxruntime output ${o} is not float64`);
        return [o, data];
      }),
    );
  }

  dispose(): void {
    nativeRelease(() => this.session.dispose());
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
  // A transposed A is transposed first, then multiplied as it is (see gemmT): its session runs at
  // optimization 'basic'. Only a transposed B goes to Gemm (a b^T ran as fast as a b here).
  const nodes: onnx.INodeProto[] = transA ? [{ opType: 'Transpose', input: ['A'], output: ['At'] }] : [];
  const left = transA ? 'At' : 'A';
  nodes.push(
    transB
      ? { opType: 'Gemm', input: [left, 'B'], output: ['C'], attribute: [{ name: 'transB', type: INT, i: 1 }] }
      : { opType: 'MatMul', input: [left, 'B'], output: ['C'] },
  );
  return rawGraph('matmul', nodes, [floatValueInfo('A', a), floatValueInfo('B', b)], [floatValueInfo('C', ['m', 'n'])]);
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
    s = new OrtSession(ort, matMulModel(!!trans.a, !!trans.b), ['C'], { optimization: 'basic' });
    matMulSessions.set(key, s);
  }
  const out = s.run({
    A: { data: A.subarray(0, m * k), dims: trans.a ? [k, m] : [m, k] },
    B: { data: B.subarray(0, k * n), dims: trans.b ? [n, k] : [k, n] },
  });
  return out.C.data;
}

/** X X^T in float64 for X rows x cols: its transpose, then one MatMul (MLAS's double kernel). */
function rowGram64Model(): Uint8Array {
  return rawGraph(
    'row-gram-f64',
    [
      { opType: 'Transpose', input: ['X'], output: ['Xt'] },
      { opType: 'MatMul', input: ['X', 'Xt'], output: ['G'] },
    ],
    [doubleValueInfo('X', ['rows', 'cols'])],
    [doubleValueInfo('G', ['rows', 'rows'])],
  );
}

let rowGram64Session: OrtSession | undefined;

/**
 * X X^T (rows x rows, row-major) in float64 for X rows x cols, row-major; undefined when
 * onnxruntime is not available. Float32 values multiply exactly in float64, so this differs from
 * float64 loops only in the order of the sums. The representational geometry's full-layer pair
 * sums (500 samples x 1000 units: ~11 ms here against ~150 ms in JS).
 */
export function ortRowGram64(x: Float64Array, rows: number, cols: number): Float64Array | undefined {
  const ort = onnxRuntime();
  if (!ort) return undefined;
  rowGram64Session ??= new OrtSession(ort, rowGram64Model(), ['G'], { optimization: 'basic' });
  return rowGram64Session.runFloat64({ X: { data: x.subarray(0, rows * cols), dims: [rows, cols] } }).G;
}

/** A run of columns of one representation; symmetric products are multiplied piece by piece. */
export interface Piece {
  rep: number;
  /** First column within the representation. */
  start: number;
  width: number;
}

/** Target piece width: 1000 columns go as 4 pieces of 250, 500 as 2, 200 as 1. */
const PIECE = 256;

/**
 * Each representation cut into near-equal pieces of about PIECE columns. A symmetric product
 * C^T C needs only the blocks on and above the diagonal, so with s pieces a side it costs
 * (s + 1) / (2 s) of the full product: 62.5% for four pieces.
 */
export function symmetricPieces(cols: number[]): Piece[] {
  const out: Piece[] = [];
  cols.forEach((c, rep) => {
    const s = Math.max(1, Math.round(c / PIECE));
    for (let k = 0; k < s; k++) {
      const start = Math.round((k * c) / s);
      out.push({ rep, start, width: Math.round(((k + 1) * c) / s) - start });
    }
  });
  return out;
}

/** The moments of one row block, float32, as `blockMomentsModel` lays them out. */
export interface BlockMoments {
  /** X_i^T Y_j (p_i x q_j, row-major) at i * (y representations) + j; absent for a self product. */
  cross?: Float32Array[];
  /**
   * Upper blocks of symmetric products, one list per scope: per x then y representation (its
   * Gram), or one scope of every x piece for a self product (X_cat^T X_cat). A scope lists
   * piece_a^T piece_b (width_a x width_b, row-major) for a = 0, 1, ... and b = a, a + 1, ...
   */
  uppers: Float32Array[][];
  /** Column sums of the centred, scaled values, x representations then y (x only for self). */
  sums: Float32Array[];
}

type Nodes = onnx.INodeProto[];
const INT = onnx.AttributeProto.AttributeType.INT;

function int64Init(name: string, values: number[]): onnx.ITensorProto {
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values };
}

/**
 * a^T b written to `out`: a transposed once (`<a>T`, shared by every product of a as the left
 * operand), then a plain MatMul. onnxruntime's kernels multiply a^T b ~25-30% slower than a b
 * (1000 x 10,000 x 1000 on 2 threads here: 188-213 ms as a Gemm with transA, 144-155 ms with the
 * Transpose, 138 ms for the product alone), and the Transpose is ~10 ms. The sessions must run at
 * optimization 'basic' (PRODUCT_SESSION): at 'all' onnxruntime fuses the two back into one
 * transposed product.
 */
function gemmT(nodes: Nodes, a: string, b: string, out: string): void {
  nodes.push({ opType: 'MatMul', input: [transposed(nodes, a), b], output: [out] });
}

/** `<a>T`, the transpose of a: its node added unless the graph has it already. */
function transposed(nodes: Nodes, a: string): string {
  const at = `${a}T`;
  if (!nodes.some((n) => n.output?.includes(at))) nodes.push({ opType: 'Transpose', input: [a], output: [at] });
  return at;
}

/** One block of a symmetric product: rows of piece a against piece b, a <= b (see upperBlocks). */
interface UpperBlock {
  name: string;
  a: number;
  b: number;
  h: number;
  w: number;
}

/**
 * piece_a^T piece_b for every pair of pieces a <= b, each its own Gemm and graph output named
 * `<prefix>u<a>b<b>`. The pieces come as row ranges of transposes (transposedPieces), so each
 * block is an a b^T product: the fast kernel, with no operand copied again. One Gemm per upper
 * block row (piece_a^T times the concatenated pieces from a on) ran near the same speed, but each
 * concatenation copied up to every column of the block afresh: ~490 MB of new memory per
 * 2048-row block of two challenge networks side by side, which `prunescope compare` paid in page
 * faults (about 0.3 s of system time, and 100 MB of peak memory).
 */
function upperBlocks(nodes: Nodes, pieces: { name: string; width: number }[], prefix: string): UpperBlock[] {
  return pieces.flatMap((pa, a) =>
    pieces.slice(a).map((pb, d) => {
      const name = `${prefix}u${a}b${a + d}`;
      nodes.push({ opType: 'Gemm', input: [pa.name, pb.name], output: [name], attribute: [{ name: 'transB', type: INT, i: 1 }] });
      return { name, a, b: a + d, h: pa.width, w: pb.width };
    }),
  );
}

/** x ([rows, c]) as symmetricPieces cuts it, each piece transposed: one Transpose, then one Split of its rows. */
function transposedPieces(x: string, c: number, g: { nodes: Nodes; inits: onnx.ITensorProto[] }): { name: string; width: number }[] {
  const widths = symmetricPieces([c]).map((p) => p.width);
  return splitRows(transposed(g.nodes, x), widths, g).map((name, k) => ({ name, width: widths[k] }));
}

/** Input `id` ([rows, c]) centred by its shift `m<id>` and scaled by `s<id>`: the nodes and inputs; returns the centred name. */
function centreInput(id: string, c: number, nodes: Nodes, inputs: onnx.IValueInfoProto[]): string {
  inputs.push(floatValueInfo(`m${id}`, [c]), floatValueInfo(`s${id}`, [1]));
  nodes.push(
    { opType: 'Sub', input: [id, `m${id}`], output: [`d${id}`] },
    { opType: 'Mul', input: [`d${id}`, `s${id}`], output: [`c${id}`] },
  );
  return `c${id}`;
}

/** Builds the centring of one side; returns each representation's centred tensor and its pieces. */
function centreSide(side: string, cols: number[], g: { nodes: Nodes; inputs: onnx.IValueInfoProto[]; inits: onnx.ITensorProto[] }) {
  return cols.map((c, l) => {
    const id = `${side}${l}`;
    g.inputs.push(floatValueInfo(id, ['rows', c]));
    centreInput(id, c, g.nodes, g.inputs);
    g.nodes.push({
      opType: 'ReduceSum',
      input: [`c${id}`, 'axis0'],
      output: [`sum${id}`],
      attribute: [{ name: 'keepdims', type: INT, i: 0 }],
    });
    return { centred: `c${id}`, pieces: transposedPieces(`c${id}`, c, g) };
  });
}

/**
 * One graph for every product of a row block (issue 15): inputs x0.., y0.. (raw rows, [rows,
 * cols]) with per-representation shifts (`mx0`.., [cols]) and power-of-two scales (`sx0`.., [1]).
 * Each representation is centred and scaled once in the graph; out come its column sums, its
 * Gram as upper blocks (see BlockMoments) and X_i^T Y_j for every pair, each its own Gemm and
 * output: one Gemm of the side-by-side concatenations copied both sides' columns once more per
 * block. `yCols` empty (a list against itself): the upper blocks of X_cat^T X_cat, which hold
 * the Grams and the cross products at about half the cost of both.
 */
export function blockMomentsModel(xCols: number[], yCols: number[]): { bytes: Uint8Array; outputs: string[] } {
  const g = { nodes: [] as Nodes, inputs: [] as onnx.IValueInfoProto[], inits: [int64Init('axis0', [0])] };
  const self = yCols.length === 0;
  const xs = centreSide('x', xCols, g);
  const ys = self ? [] : centreSide('y', yCols, g);
  const outputs: string[] = [];
  const names = (blocks: UpperBlock[]) => blocks.map((b) => b.name);
  if (self)
    outputs.push(
      ...names(
        upperBlocks(
          g.nodes,
          xs.flatMap((r) => r.pieces),
          'self',
        ),
      ),
    );
  else {
    xs.forEach((x, i) =>
      ys.forEach((y, j) => {
        gemmT(g.nodes, x.centred, y.centred, `cross${i}_${j}`);
        outputs.push(`cross${i}_${j}`);
      }),
    );
    [...xs, ...ys].forEach((r, k) => outputs.push(...names(upperBlocks(g.nodes, r.pieces, `g${k}`))));
  }
  outputs.push(...[...xCols.map((_, l) => `sumx${l}`), ...yCols.map((_, l) => `sumy${l}`)]);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'PruneScope',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'block-moments',
      node: g.nodes,
      initializer: g.inits,
      input: g.inputs,
      output: outputs.map((o) => floatValueInfo(o, o.startsWith('sum') ? ['c'] : ['a', 'b'])),
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), outputs };
}

/** Output name -> dims of blockMomentsModel(xCols, yCols), independent of the rows of a block. */
function momentOutputDims(xCols: number[], yCols: number[]): Map<string, number[]> {
  const dims = new Map<string, number[]>();
  const uppers = (prefix: string, ps: Piece[]) =>
    ps.forEach((p, a) => ps.slice(a).forEach((q, k) => dims.set(`${prefix}u${a}b${a + k}`, [p.width, q.width])));
  if (yCols.length === 0) uppers('self', symmetricPieces(xCols));
  else {
    xCols.forEach((p, i) => yCols.forEach((q, j) => dims.set(`cross${i}_${j}`, [p, q])));
    [...xCols, ...yCols].forEach((c, k) => uppers(`g${k}`, symmetricPieces([c])));
  }
  xCols.forEach((c, l) => dims.set(`sumx${l}`, [c]));
  yCols.forEach((c, l) => dims.set(`sumy${l}`, [c]));
  return dims;
}

/**
 * Sessions per shape list, each with its output buffers: written in place every run, so no
 * run allocates (and page-faults in) tens of MB of fresh output memory.
 */
const momentSessions = new Map<string, { session: OrtSession; into: Record<string, { data: Float32Array; dims: number[] }> }>();

/** A side of `ortBlockMoments`: rows of each representation with its shift and scale. */
export interface MomentInputs {
  rows: Float32Array[];
  cols: number[];
  shifts: Float32Array[];
  scales: number[];
}

/** Splits the session's outputs into BlockMoments (names as blockMomentsModel gives them). */
function collect(out: Record<string, OrtTensorLike>, names: string[], scopes: number): BlockMoments {
  const uppers: Float32Array[][] = Array.from({ length: scopes }, () => []);
  for (const o of names) {
    const m = /^(self|g(\d+))u\d+b\d+$/.exec(o);
    if (m) uppers[m[2] === undefined ? 0 : Number(m[2])].push(out[o].data);
  }
  const sums = names.filter((o) => o.startsWith('sum')).map((o) => out[o].data);
  const cross = names.filter((o) => o.startsWith('cross')).map((o) => out[o].data);
  return { ...(cross.length ? { cross } : {}), uppers, sums };
}

/**
 * Centres, scales and multiplies one row block on onnxruntime in one session run (sessions cached
 * per shape list); `y` undefined: the self product X_cat^T X_cat. Undefined without onnxruntime.
 * The arrays returned are the session's own buffers: the next call with the same shapes
 * overwrites them, so add them up before calling again.
 */
export function ortBlockMoments(x: MomentInputs, y: MomentInputs | undefined, rows: number): BlockMoments | undefined {
  const ort = onnxRuntime();
  if (!ort) return undefined;
  const key = `${x.cols.join(',')}|${y ? y.cols.join(',') : 'self'}`;
  let cached = momentSessions.get(key);
  if (!cached) {
    const { bytes, outputs } = blockMomentsModel(x.cols, y?.cols ?? []);
    const into: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, dims] of momentOutputDims(x.cols, y?.cols ?? []))
      into[name] = { data: new Float32Array(dims[0] * (dims[1] ?? 1)), dims };
    // Without the memory pattern the first runs of a session (every call of a one-shot CLI job)
    // took ~20% less time here: the arena grew once instead of per planned pattern. Without the
    // arena too: since no product needs a concatenated copy, every intermediate of a 2048-row
    // block is at most one representation's rows (8 MB for 1000 columns), which malloc reuses
    // from run to run, while the arena kept up to twice its need (it grows in powers of two)
    // and faulted it all in on the first call. The 6x6 benchmark's first call took 2.2-3.0 s
    // without it against 2.8-3.4 s with it (three runs each, in turn), the 60,000-row stream
    // the same (medians 14.8 and 14.7 s of five), and compare's self product 2.7-3.2 s against
    // 3.5-4.2 s when it still concatenated.
    cached = { session: new OrtSession(ort, bytes, outputs, PRODUCT_SESSION), into };
    momentSessions.set(key, cached);
  }
  const s = cached.session;
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  const feed = (side: string, m: MomentInputs) =>
    m.cols.forEach((c, l) => {
      feeds[`${side}${l}`] = { data: m.rows[l].subarray(0, rows * c), dims: [rows, c] };
      feeds[`m${side}${l}`] = { data: m.shifts[l], dims: [c] };
      feeds[`s${side}${l}`] = { data: Float32Array.of(m.scales[l]), dims: [1] };
    });
  feed('x', x);
  if (y) feed('y', y);
  return collect(s.run(feeds, cached.into), s.outputs, y ? x.cols.length + y.cols.length : 1);
}

/** One side of `ortRawProducts`: rows of each representation, some centred on the way in. */
export interface RawSide {
  rows: Float32Array[];
  cols: number[];
  /** Per representation: undefined to multiply its rows as they are, else its shift and scale. */
  centring: ({ shift: Float32Array; scale: number } | undefined)[];
  /**
   * ortRawNorms, y side: per representation, the x one whose very rows it has, both multiplied
   * as they are (two networks' shared input): their products are multiplied once.
   */
  sameAs?: (number | undefined)[];
}

/**
 * Products of rows as they are, in one session run (issue 15): no centring, so no copy of those
 * rows; a representation marked in `centred` is centred and scaled first, as in
 * blockMomentsModel. `yCols` empty (a list against itself): X_i^T X_j for i <= j, in that order.
 * Else X_i^T Y_j for every pair, then each X_i^T X_i, then each Y_j^T Y_j, each Gram as its upper
 * blocks (gramBlocks: the pieces of symmetricPieces, block (a, b) for a <= b in that order, as
 * blockMomentsModel lays them out). Whoever asks decides which rows are safe to multiply
 * uncentred (CrossMoments does, from the first rows it sees). Returns each output's dims too.
 */
export function rawProductsModel(
  xCols: number[],
  yCols: number[],
  centred: { x: boolean[]; y: boolean[] },
): { bytes: Uint8Array; outputs: string[]; dims: number[][] } {
  const { nodes, inputs, names } = rawOperands(xCols, yCols, centred);
  const g = { nodes, inits: [] as onnx.ITensorProto[] };
  const cols = { x: xCols, y: yCols };
  const outputs: string[] = [];
  const dims: number[][] = [];
  for (const [a, b] of rawProductPairs(xCols.length, yCols.length)) {
    const [p, q] = [cols[a.side][a.i], cols[b.side][b.i]];
    const name = `${a.side}${a.i}_${b.side}${b.i}`;
    if (yCols.length === 0 || a.side !== b.side) {
      gemmT(nodes, names[a.side][a.i], names[b.side][b.i], name);
      outputs.push(name);
      dims.push([p, q]);
      continue;
    }
    for (const block of gramBlocks(names[a.side][a.i], p, name, g)) {
      outputs.push(block.name);
      dims.push([block.h, block.w]);
    }
  }
  const infos = outputs.map((o) => floatValueInfo(o, ['a', 'b']));
  return { bytes: rawGraph('raw-products', nodes, inputs, infos, g.inits), outputs, dims };
}

/** The inputs x0.., y0.. of the raw graphs and the names to multiply: centred ones centred in the graph, a y in yAsX its x. */
function rawOperands(xCols: number[], yCols: number[], centred: { x: boolean[]; y: boolean[] }, yAsX: (number | undefined)[] = []) {
  const nodes: Nodes = [];
  const inputs: onnx.IValueInfoProto[] = [];
  const operand = (side: 'x' | 'y', c: number, l: number) => {
    const id = `${side}${l}`;
    inputs.push(floatValueInfo(id, ['rows', c]));
    return centred[side][l] ? centreInput(id, c, nodes, inputs) : id;
  };
  const x = xCols.map((c, l) => operand('x', c, l));
  const y = yCols.map((c, l) => (yAsX[l] === undefined ? operand('y', c, l) : x[yAsX[l]]));
  return { nodes, inputs, names: { x, y } };
}

/** The nodes as an encoded ONNX model (opset 13), inputs and outputs as given. */
function rawGraph(
  name: string,
  nodes: Nodes,
  inputs: onnx.IValueInfoProto[],
  outputs: onnx.IValueInfoProto[],
  initializer: onnx.ITensorProto[] = [],
): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'PruneScope',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name, node: nodes, input: inputs, output: outputs, initializer },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A tensor's type as float64, with named (dynamic) dimensions. */
function doubleValueInfo(name: string, dims: (string | number)[]): onnx.IValueInfoProto {
  const info = floatValueInfo(name, dims);
  info.type!.tensorType!.elemType = onnx.TensorProto.DataType.DOUBLE;
  return info;
}

/** Rows per float32 partial sum of the column sums rawNormsModel takes in the graph. */
const SUM_GROUP = 128;

/**
 * The products of rawProductsModel reduced in the graph to what the norms of their centred
 * versions need (issue 15). Per representation, its column sums s (float64, [cols]): for one
 * multiplied raw, taken in the graph and returned as `u<side><i>` (the rows again as `<id>g`,
 * [groups, SUM_GROUP, cols], summed in float32 per group of SUM_GROUP rows, then in float64 with
 * `<id>r`, the float64 sums of the rows left over); for one centred, given as input `u<side><i>`.
 * Per pair k, P_k = a^T b in float32 as there, then in float64 its squared Frobenius norm `n<k>`
 * and `q<k>` = s_a^T P_k s_b; for a Gram (a = b, from its upper blocks: gramNorms) also its
 * trace `t<k>`. Then ||P - s_a s_b^T / n||^2 = n_k - 2 q_k / n + |s_a|^2 |s_b|^2 / n^2. No
 * product leaves the graph: each is freed when reduced, so its memory serves the next one,
 * where returned products were ~72 MB of fresh memory for the 6x6 benchmark matrix; the sums
 * took ~15 ms on two threads there against ~80 ms for a float64 pass in JS, within 3e-8 of it.
 */
export function rawNormsModel(
  xCols: number[],
  yCols: number[],
  centred: { x: boolean[]; y: boolean[] },
  yAsX: (number | undefined)[] = [],
): { bytes: Uint8Array; outputs: string[] } {
  const { nodes, inputs, names } = rawOperands(xCols, yCols, centred, yAsX);
  const cols = { x: xCols, y: yCols };
  const inits = [int64Init('flat', [-1]), int64Init('axis0', [0]), int64Init('axis1', [1]), int64Init('column', [-1, 1])];
  const outputs: onnx.IValueInfoProto[] = [];
  for (const side of ['x', 'y'] as const)
    cols[side].forEach((c, l) => {
      const id = `${side}${l}`;
      if (side === 'y' && yAsX[l] !== undefined) return;
      if (centred[side][l]) inputs.push(doubleValueInfo(`u${id}`, [c]));
      else outputs.push(graphSums(id, c, nodes, inputs));
      nodes.push({ opType: 'Reshape', input: [`u${id}`, 'column'], output: [`u${id}c`] });
    });
  const done = new Set<string>();
  const pairs = rawProductPairs(xCols.length, yCols.length).map(([a, b]) => [asX(a, yAsX), asX(b, yAsX)]);
  for (const [ca, cb] of byLeftOperand(pairs)) {
    const k = pairTag(ca, cb);
    if (done.has(k)) continue;
    done.add(k);
    const [a, b] = [names[ca.side][ca.i], names[cb.side][cb.i]];
    const [sa, sb] = [`u${ca.side}${ca.i}c`, `u${cb.side}${cb.i}c`];
    if (k === pairTag(ca, ca)) outputs.push(...gramNorms(k, a, cols[ca.side][ca.i], sa, { nodes, inits }));
    else {
      gemmT(nodes, a, b, `P${k}`);
      outputs.push(...pairNorms(k, sa, sb, nodes));
    }
  }
  return { bytes: rawGraph('raw-norms', nodes, inputs, outputs, inits), outputs: outputs.map((o) => o.name!) };
}

/**
 * Pairs with the same left operand next to each other (stable otherwise): its transpose (gemmT)
 * is then freed after its last product, before the next one is made, instead of every one
 * living until the Grams at the end (peak memory of the 6x6 benchmark 498-515 MB against 548-596,
 * measured before the Grams went as blocks).
 */
function byLeftOperand(pairs: Operand[][]): Operand[][] {
  const tag = (o: Operand) => `${o.side}${String(o.i).padStart(6, '0')}`;
  return [...pairs].sort((p, q) => (tag(p[0]) < tag(q[0]) ? -1 : tag(p[0]) > tag(q[0]) ? 1 : 0));
}

/** The operand itself, or for a y representation with an x one's very rows, that x one. */
function asX(o: Operand, yAsX: (number | undefined)[]): Operand {
  const i = o.side === 'y' ? yAsX[o.i] : undefined;
  return i === undefined ? o : { side: 'x', i };
}

/** rawNormsModel's name for the product a^T b in its outputs. */
function pairTag(a: Operand, b: Operand): string {
  return `${a.side}${a.i}${b.side}${b.i}`;
}

const KEEP_NO_DIMS = [{ name: 'keepdims', type: INT, i: 0 }];

/** Column sums of input `id` in the graph, as rawNormsModel describes: the output `u<id>`. */
function graphSums(id: string, c: number, nodes: Nodes, inputs: onnx.IValueInfoProto[]): onnx.IValueInfoProto {
  inputs.push(floatValueInfo(`${id}g`, ['groups', 'group', c]), doubleValueInfo(`${id}r`, [c]));
  nodes.push(
    { opType: 'ReduceSum', input: [`${id}g`, 'axis1'], output: [`${id}gs`], attribute: KEEP_NO_DIMS },
    {
      opType: 'Cast',
      input: [`${id}gs`],
      output: [`${id}gd`],
      attribute: [{ name: 'to', type: INT, i: onnx.TensorProto.DataType.DOUBLE }],
    },
    { opType: 'ReduceSum', input: [`${id}gd`, 'axis0'], output: [`${id}m`], attribute: KEEP_NO_DIMS },
    { opType: 'Add', input: [`${id}m`, `${id}r`], output: [`u${id}`] },
  );
  return doubleValueInfo(`u${id}`, [c]);
}

/** P<k> in float64: its squared norm `n<k>` and `q<k>` = sa^T P<k> sb, for sa, sb sums as columns. */
function pairNorms(k: string, sa: string, sb: string, nodes: Nodes): onnx.IValueInfoProto[] {
  nodes.push({
    opType: 'Cast',
    input: [`P${k}`],
    output: [`D${k}`],
    attribute: [{ name: 'to', type: INT, i: onnx.TensorProto.DataType.DOUBLE }],
  });
  squaredNorm(`D${k}`, nodes, `n${k}`);
  weightedSum(`D${k}`, sa, sb, nodes, `q${k}`);
  return [doubleValueInfo(`n${k}`, []), doubleValueInfo(`q${k}`, [])];
}

/** ||m||_F^2 as a scalar named `out`; returns its name. */
function squaredNorm(m: string, nodes: Nodes, out = `${m}n`): string {
  nodes.push({ opType: 'ReduceSumSquare', input: [m], output: [out], attribute: KEEP_NO_DIMS });
  return out;
}

/**
 * sa^T m sb as a scalar named `out`, for columns sa and sb; returns its name. As a column: MatMul
 * by a 1-D vector took ~5x as long here (40 ms of the 6x6 run).
 */
function weightedSum(m: string, sa: string, sb: string, nodes: Nodes, out = `${m}q`): string {
  nodes.push(
    { opType: 'MatMul', input: [m, sb], output: [`${m}v`] },
    { opType: 'Mul', input: [`${m}v`, sa], output: [`${m}w`] },
    { opType: 'ReduceSum', input: [`${m}w`], output: [out], attribute: KEEP_NO_DIMS },
  );
  return out;
}

/**
 * The trace of the square float64 matrix m (w x w): every (w + 1)-th value of it flattened, w
 * values read (a Mul by EyeLike read and wrote all of a Gram, ~80 ms of the 6x6 benchmark's
 * run). Returns its name.
 */
function trace(m: string, w: number, g: { nodes: Nodes; inits: onnx.ITensorProto[] }): string {
  g.inits.push(int64Init(`${m}d`, [0]), int64Init(`${m}de`, [w * w]), int64Init(`${m}ds`, [w + 1]));
  g.nodes.push(
    { opType: 'Reshape', input: [m, 'flat'], output: [`${m}f`] },
    { opType: 'Slice', input: [`${m}f`, `${m}d`, `${m}de`, 'axis0', `${m}ds`], output: [`${m}g`] },
    { opType: 'ReduceSum', input: [`${m}g`], output: [`${m}t`], attribute: KEEP_NO_DIMS },
  );
  return `${m}t`;
}

/** m cut along its first axis into parts of the given sizes (one part: m itself); returns their names. */
function splitRows(m: string, sizes: number[], g: { nodes: Nodes; inits: onnx.ITensorProto[] }): string[] {
  if (sizes.length === 1) return [m];
  const parts = sizes.map((_, r) => `${m}p${r}`);
  g.inits.push(int64Init(`${m}ps`, sizes));
  g.nodes.push({ opType: 'Split', input: [m, `${m}ps`], output: parts, attribute: [{ name: 'axis', type: INT, i: 0 }] });
  return parts;
}

/**
 * The Gram x^T x of x ([rows, c]) reduced as pairNorms reduces a product, with its trace `t<k>`,
 * from the blocks on and above its diagonal only (gramBlocks): ||G||^2 = sum_a ||G_aa||^2 +
 * 2 sum_{a<b} ||G_ab||^2, s^T G s likewise with s_a^T G_ab s_b, trace G = sum_a trace G_aa.
 */
function gramNorms(k: string, x: string, c: number, sums: string, g: { nodes: Nodes; inits: onnx.ITensorProto[] }): onnx.IValueInfoProto[] {
  const widths = symmetricPieces([c]).map((p) => p.width);
  const sumPieces = splitRows(sums, widths, g);
  const terms = { diagonal: { n: [] as string[], q: [] as string[] }, above: { n: [] as string[], q: [] as string[] }, t: [] as string[] };
  for (const block of gramBlocks(x, c, `G${k}`, g)) {
    const D = `${block.name}D`;
    g.nodes.push({
      opType: 'Cast',
      input: [block.name],
      output: [D],
      attribute: [{ name: 'to', type: INT, i: onnx.TensorProto.DataType.DOUBLE }],
    });
    const place = block.a === block.b ? terms.diagonal : terms.above;
    place.n.push(squaredNorm(D, g.nodes));
    place.q.push(weightedSum(D, sumPieces[block.a], sumPieces[block.b], g.nodes));
    if (block.a === block.b) terms.t.push(trace(D, block.h, g));
  }
  g.nodes.push(...symmetricSum(terms.diagonal.n, terms.above.n, `n${k}`), ...symmetricSum(terms.diagonal.q, terms.above.q, `q${k}`), {
    opType: 'Sum',
    input: terms.t,
    output: [`t${k}`],
  });
  return [doubleValueInfo(`n${k}`, []), doubleValueInfo(`q${k}`, []), doubleValueInfo(`t${k}`, [])];
}

/**
 * The float32 blocks on and above the diagonal of the Gram x^T x (x is [rows, c]), as
 * upperBlocks names them: with s pieces that is (s + 1) / 2s of the multiply-adds, 62.5% for
 * 1000 columns: 113-119 ms against 155-160 for the whole Gram here at 10,000 rows.
 */
function gramBlocks(x: string, c: number, prefix: string, g: { nodes: Nodes; inits: onnx.ITensorProto[] }): UpperBlock[] {
  return upperBlocks(g.nodes, transposedPieces(x, c, g), prefix);
}

/** Nodes writing sum(diagonal) + 2 sum(above) as `out`: a symmetric matrix's sum from its upper blocks. */
function symmetricSum(diagonal: string[], above: string[], out: string): Nodes {
  if (above.length === 0) return [{ opType: 'Sum', input: diagonal, output: [out] }];
  return [
    { opType: 'Sum', input: diagonal, output: [`${out}d`] },
    { opType: 'Sum', input: above, output: [`${out}a`] },
    { opType: 'Add', input: [`${out}a`, `${out}a`], output: [`${out}2`] },
    { opType: 'Add', input: [`${out}d`, `${out}2`], output: [out] },
  ];
}

/** A representation of one side of rawProductsModel. */
interface Operand {
  side: 'x' | 'y';
  i: number;
}

/** The operand pairs of rawProductsModel's outputs, in its order. */
function rawProductPairs(nx: number, ny: number): [Operand, Operand][] {
  const x = Array.from({ length: nx }, (_, i): Operand => ({ side: 'x', i }));
  const y = Array.from({ length: ny }, (_, i): Operand => ({ side: 'y', i }));
  const pair = (a: Operand, b: Operand): [Operand, Operand] => [a, b];
  if (ny === 0) return x.flatMap((a, i) => x.slice(i).map((b) => pair(a, b)));
  return [...x.flatMap((a) => y.map((b) => pair(a, b))), ...x.map((a) => pair(a, a)), ...y.map((b) => pair(b, b))];
}

type Buffers = Record<string, { data: Float32Array; dims: number[] }>;

/** The inputs of the raw graphs: each side's rows, and the shift and scale of those centred. */
function rawFeeds(xs: RawSide, ys: RawSide | undefined, rows: number): Record<string, FloatFeed> {
  const feeds: Record<string, FloatFeed> = {};
  const feed = (side: 'x' | 'y', m: RawSide) =>
    m.cols.forEach((c, l) => {
      feeds[`${side}${l}`] = { data: m.rows[l].subarray(0, rows * c), dims: [rows, c] };
      const centring = m.centring[l];
      if (!centring) return;
      feeds[`m${side}${l}`] = { data: centring.shift, dims: [c] };
      feeds[`s${side}${l}`] = { data: Float32Array.of(centring.scale), dims: [1] };
    });
  feed('x', xs);
  if (ys) feed('y', ys);
  return feeds;
}

/** The cache key of a raw graph: both sides' widths and which representations are centred. */
function rawKey(xs: RawSide, ys: RawSide | undefined): string {
  const centred = centredFlags(xs, ys);
  return [xs.cols, centred.x.map(Number), ys ? ys.cols : 'self', centred.y.map(Number)].join('|');
}

function centredFlags(xs: RawSide, ys: RawSide | undefined): { x: boolean[]; y: boolean[] } {
  const flags = (side: RawSide | undefined) => side?.centring.map((c) => c !== undefined) ?? [];
  return { x: flags(xs), y: flags(ys) };
}

/** Per shape list: the session, its output dims, its own buffers, and sets handed back to reuse. */
const rawSessions = new Map<string, { session: OrtSession; dims: number[][]; into?: Buffers; spare: Buffers[] }>();

/** Products of ortRawProducts; `recycle` (fresh ones only) hands their arrays back for reuse. */
export interface RawProducts {
  products: Float32Array[];
  recycle?: () => void;
}

/**
 * rawProductsModel's products of `rows` rows (ys undefined: xs against themselves), float32, in
 * its order. `fresh`: in arrays the caller keeps until it calls `recycle` (a set handed back
 * earlier, else new ones: fresh memory is what a first call pays most for here); else in buffers
 * the session keeps, which the next call with the same shapes overwrites. Undefined without
 * onnxruntime.
 */
export function ortRawProducts(xs: RawSide, ys: RawSide | undefined, rows: number, fresh: boolean): RawProducts | undefined {
  const ort = onnxRuntime();
  if (!ort) return undefined;
  const yCols = ys?.cols ?? [];
  const key = rawKey(xs, ys);
  let cached = rawSessions.get(key);
  if (!cached) {
    const { bytes, outputs, dims } = rawProductsModel(xs.cols, yCols, centredFlags(xs, ys));
    cached = { session: new OrtSession(ort, bytes, outputs, PRODUCT_SESSION), dims, spare: [] };
    rawSessions.set(key, cached);
  }
  const { session, dims, spare } = cached;
  const buffers = (): Buffers =>
    Object.fromEntries(session.outputs.map((o, k) => [o, { data: new Float32Array(dims[k][0] * dims[k][1]), dims: dims[k] }]));
  const into = fresh ? (spare.pop() ?? buffers()) : (cached.into ??= buffers());
  session.run(rawFeeds(xs, ys, rows), into);
  const products = session.outputs.map((o) => into[o].data);
  if (!fresh) return { products };
  let kept = true;
  // One set kept for the next caller: enough for calls one after another.
  const recycle = () => {
    if (kept && spare.length === 0) spare.push(into);
    kept = false;
  };
  return { products, recycle };
}

/** What rawNormsModel gives for one pair of representations, in float64. */
export interface RawPairNorms {
  /** Representation a of the pair a^T b, and b. */
  a: { side: 'x' | 'y'; i: number };
  b: { side: 'x' | 'y'; i: number };
  /** ||a^T b||_F^2. */
  normSquared: number;
  /** u_a^T (a^T b) u_b, for u_a, u_b the column sums of a and b. */
  sumProduct: number;
  /** trace(a^T a), for a Gram (a = b). */
  trace?: number;
}

const normSessions = new Map<string, OrtSession>();

/**
 * rawNormsModel on `rows` rows (ys undefined: xs against themselves, pairs i <= j), given the
 * column sums of each centred representation as multiplied (`centredSums`, undefined for raw
 * ones). Gives every representation's column sums and the pairs in the model's order. Undefined
 * without onnxruntime.
 */
export function ortRawNorms(
  xs: RawSide,
  ys: RawSide | undefined,
  rows: number,
  centredSums: { x: (Float64Array | undefined)[]; y: (Float64Array | undefined)[] },
): { sums: { x: Float64Array[]; y: Float64Array[] }; pairs: RawPairNorms[] } | undefined {
  const ort = onnxRuntime();
  if (!ort) return undefined;
  const yAsX = ys?.sameAs ?? [];
  const key = `${rawKey(xs, ys)}|${yAsX.join(',')}`;
  let session = normSessions.get(key);
  if (!session) {
    const { bytes, outputs } = rawNormsModel(xs.cols, ys?.cols ?? [], centredFlags(xs, ys), yAsX);
    session = new OrtSession(ort, bytes, outputs, PRODUCT_SESSION);
    normSessions.set(key, session);
  }
  const feeds = rawFeeds(xs, ys, rows);
  Object.assign(feeds, sumFeeds('x', xs, rows, centredSums.x), ys ? sumFeeds('y', ys, rows, centredSums.y) : {});
  yAsX.forEach((i, l) => {
    if (i !== undefined) delete feeds[`y${l}`];
  });
  const out = session.runFloat64(feeds);
  const sumsOf = (side: 'x' | 'y', m: RawSide | undefined) =>
    m?.cols.map((_, l) => {
      const o = asX({ side, i: l }, yAsX);
      return out[`u${o.side}${o.i}`] ?? centredSums[side][l]!;
    }) ?? [];
  const pairs = rawProductPairs(xs.cols.length, ys?.cols.length ?? 0).map(([a, b]) => {
    const k = pairTag(asX(a, yAsX), asX(b, yAsX));
    const gram = a.side === b.side && a.i === b.i;
    return { a, b, normSquared: out[`n${k}`][0], sumProduct: out[`q${k}`][0], ...(gram ? { trace: out[`t${k}`][0] } : {}) };
  });
  return { sums: { x: sumsOf('x', xs), y: sumsOf('y', ys) }, pairs };
}

/** rawNormsModel's sum inputs of one side: given sums of centred ones, rows in groups and the rest's sums for raw ones. */
function sumFeeds(side: string, m: RawSide, rows: number, centredSums: (Float64Array | undefined)[]): Record<string, FloatFeed> {
  const group = Math.min(SUM_GROUP, rows);
  const main = rows - (rows % group);
  const feeds: Record<string, FloatFeed> = {};
  m.cols.forEach((c, l) => {
    const id = `${side}${l}`;
    if (m.sameAs?.[l] !== undefined) return;
    const given = centredSums[l];
    if (m.centring[l]) {
      if (!given) throw new Error(`ortRawNorms: ${id} is centred but has no sums`);
      feeds[`u${id}`] = { data: given, dims: [c] };
      return;
    }
    feeds[`${id}g`] = { data: m.rows[l].subarray(0, main * c), dims: [main / group, group, c] };
    const rest = new Float64Array(c);
    for (let i = main; i < rows; i++) for (let j = 0; j < c; j++) rest[j] += m.rows[l][i * c + j];
    feeds[`${id}r`] = { data: rest, dims: [c] };
  });
  return feeds;
}
