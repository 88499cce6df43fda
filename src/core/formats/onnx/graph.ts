/**
 * Turns an ONNX graph into dense layers by following the single chain of values from the model's
 * input to its output. Linear pieces (Gemm, MatMul, bias Add, per-feature Mul/Sub/Div, Scaler,
 * BatchNormalization) fold into the surrounding dense layer; Flatten and Reshape (with a stored
 * shape or one computed from Shape nodes) only flatten the input. Classifier post-processing after
 * the network's output is left out with a note; anything else that is not an MLP is refused with
 * the node's position, name and operator.
 */
import type { Activation, DenseLayer } from '../../model/mlp';
import { type Const, OnnxGraphBase, nameList } from './graph-base';
import { ML_DOMAIN, NETWORK_OPS, POST_MARKERS, POST_OPS, isDefaultDomain } from './ops';
import { DT, dataTypeName, int64, isFloatType } from './tensor';

export { ONNX_LABEL } from './graph-base';

type Layout = 'rows' | 'cols';

/** One dimension of a shape vector: a number, the batch size, or unknown. */
type Dim = number | 'B' | undefined;

interface Pending {
  layer: DenseLayer;
  /** 'linear' until an activation is applied; linear ops after that go to the next layer. */
  phase: 'linear' | 'activated';
  /**
   * Per-unit scale and shift of the layer's output (Mul, Add, Sub, Div, BatchNormalization folded
   * in), applied to the weights once when the layer is closed: folding each op into the weights
   * at once would cost inputs x units per op, and a file of many such ops would stall the reader.
   */
  fold?: { scale: Float64Array; shift: Float64Array; biased: boolean };
}

/** x -> scale * x + shift per feature (length 1: the same for every feature). */
interface Affine {
  scale: Float64Array;
  shift: Float64Array;
}

interface State {
  value: string;
  rank: number;
  /** Values per sample, when known. */
  features: number | undefined;
  /** rows: [batch, features]; cols: [features, batch] (after a Transpose of the data). */
  layout: Layout;
  pending: Pending | null;
  /** Linear ops met after an activation (or before the first layer), folded into the next layer. */
  affine: Affine | null;
  /** The first node of `affine`, for messages. */
  affineNode?: number;
}

/** The graph input as the walk reads it. */
interface GraphInput {
  name: string;
  rank: number;
  /** Whether the input declares a shape at all (if not, [batch, features] is assumed). */
  declaresShape: boolean;
  sampleDims: (number | undefined)[];
  /** The sample dimensions when every one is a number. */
  known: number[] | undefined;
}

export interface GraphReadResult {
  layers: DenseLayer[];
  inputShape: number[];
  inputSize: number;
  notes: string[];
}

/** The float32 value written with the fewest digits, so 0.01f reads back as 0.01. */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const c = Number(f.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return f;
}

/** How many nodes deep a shape computation (Shape, Gather, Concat, ...) is followed before giving up. */
const MAX_SHAPE_DEPTH = 32;
/** Longest shape vector evaluated; a Reshape that an MLP uses has two entries. */
const MAX_SHAPE_RANK = 64;

function at(v: Float64Array, i: number): number {
  return v.length === 1 ? v[0] : v[i];
}

export class OnnxGraphReader extends OnnxGraphBase {
  /** Shapes of the values on the data path, for Shape nodes that read them. */
  private readonly shapes = new Map<string, Dim[]>();
  private inputSampleDims: (number | undefined)[] = [];

  // ---- the walk ----

  walk(): GraphReadResult {
    const input = this.readInput();
    const s: State = {
      value: input.name,
      rank: input.rank,
      features: input.known ? input.known.reduce((a, b) => a * b, 1) : undefined,
      layout: 'rows',
      pending: null,
      affine: null,
    };
    const { chain, stopConsumers } = this.followDataPath(s);
    const networkOut = s.value;
    this.checkEnd(networkOut, stopConsumers, chain);
    this.closeNetwork(s, input.name, networkOut);
    const inputSize = this.layers[0].inputSize;
    const inputShape = this.resolveInputShape(input, inputSize);
    this.numberRepeatedLayerNames();
    return { layers: this.layers, inputShape, inputSize, notes: this.notes };
  }

  /** Checks that the graph input is a float tensor with a batch dimension and reads its sample dimensions. */
  private readInput(): GraphInput {
    const inputName = this.input.name ?? '';
    const tensorType = this.input.type?.tensorType;
    if (!tensorType) {
      this.fail(`input '${inputName}' is not a tensor (it is a sequence, map or has no type)`);
    }
    const elemType = tensorType.elemType ?? DT.FLOAT;
    if (!isFloatType(elemType)) {
      this.fail(`input '${inputName}' holds ${dataTypeName(elemType)} values; an MLP takes float features`);
    }
    if (elemType !== DT.FLOAT) {
      this.notes.push(`the model computes in ${dataTypeName(elemType)}; PruneScope reads its weights as float32`);
    }
    let dims: (number | undefined)[];
    if (tensorType.shape) {
      dims = (tensorType.shape.dim ?? []).map((d) => {
        if (d.dimParam) return undefined;
        const v = this.guard(undefined, () => int64(d.dimValue, `input dimension`));
        return v > 0 ? v : undefined;
      });
    } else {
      dims = [undefined, undefined];
      this.notes.push(`input '${inputName}' declares no shape; assumed [batch, features]`);
    }
    if (dims.length < 2) {
      this.fail(`input '${inputName}' has rank ${dims.length}; PruneScope expects a batch dimension followed by the features`);
    }
    const sampleDims = dims.slice(1);
    this.inputSampleDims = sampleDims;
    const known = sampleDims.every((d) => d !== undefined) ? sampleDims : undefined;
    return { name: inputName, rank: dims.length, declaresShape: !!tensorType.shape, sampleDims, known };
  }

  /**
   * Steps node by node along the single chain of values from the input, until the value is a graph
   * output, feeds no node or several, or feeds only post-processing. Returns the nodes walked and
   * the consumers of the value where the walk stopped.
   */
  private followDataPath(s: State): { chain: Set<number>; stopConsumers: number[] } {
    const chain = new Set<number>();
    for (;;) {
      this.shapes.set(s.value, this.currentShape(s));
      // Shape nodes only read the dimensions (for a Reshape further on); they are not a branch.
      const cons = (this.consumers.get(s.value) ?? []).filter((i) => !this.isShapeNode(i));
      const isOutput = this.outputSet.has(s.value);
      if (cons.length !== 1 || isOutput || this.isPostOnly(cons[0])) {
        return { chain, stopConsumers: cons };
      }
      const i = cons[0];
      if (chain.has(i)) this.fail('the graph has a cycle: the data path comes back to this node', i);
      chain.add(i);
      this.step(i, s);
      this.checkSideOutputs(i);
      const out = this.nodes[i].output?.[0];
      if (!out) this.fail('has no output', i);
      s.value = out;
    }
  }

  /** Checks the state at the network output and closes the last dense layer. */
  private closeNetwork(s: State, inputName: string, networkOut: string): void {
    if (s.affine) {
      this.fail("scales or shifts the output of the last dense layer's activation; that cannot be folded into a dense layer", s.affineNode);
    }
    if (s.layout === 'cols') {
      this.fail(`the network output '${networkOut}' is laid out [features, batch] (transposed); an MLP outputs [batch, features]`);
    }
    if (s.rank !== 2) this.fail(`the network output '${networkOut}' has rank ${s.rank}, not [batch, features]`);
    this.closePending(s);
    if (this.layers.length === 0) {
      this.fail(`no dense layer lies on the path from input '${inputName}' to output '${networkOut}'`);
    }
  }

  /** The model's input shape: the declared sample dimensions when all are known (and agree with the first layer), else [inputSize]. */
  private resolveInputShape(input: GraphInput, inputSize: number): number[] {
    const { name: inputName, known, sampleDims } = input;
    if (known) {
      const declared = known.reduce((a, b) => a * b, 1);
      if (declared !== inputSize) {
        this.fail(`input '${inputName}' declares [${known.join(', ')}] (${declared} values) but the first dense layer takes ${inputSize}`);
      }
      return [...known];
    }
    if (input.declaresShape) {
      this.notes.push(
        `input '${inputName}' does not declare every sample dimension ([${sampleDims.map((d) => d ?? '?').join(', ')}]); ` +
          `input shape taken as [${inputSize}]`,
      );
    }
    return [inputSize];
  }

  /** Layers that share a name get _2, _3, ... after the first. */
  private numberRepeatedLayerNames(): void {
    const seen = new Map<string, number>();
    for (const l of this.layers) {
      const k = seen.get(l.name) ?? 0;
      seen.set(l.name, k + 1);
      if (k > 0) l.name = `${l.name}_${k + 1}`;
    }
  }

  private isShapeNode(i: number): boolean {
    return isDefaultDomain(this.nodes[i].domain) && this.nodes[i].opType === 'Shape';
  }

  private currentShape(s: State): Dim[] {
    if (s.rank !== 2) return ['B', ...this.inputSampleDims];
    return s.layout === 'rows' ? ['B', s.features] : [s.features, 'B'];
  }

  /**
   * Evaluates a shape vector computed from Shape nodes and constants (Gather, Slice, Concat, ...).
   * The recursion is capped at MAX_SHAPE_DEPTH nodes, each value is evaluated once per Reshape
   * (`memo`, so Concat fan-out cannot make the work exponential) and vectors longer than
   * MAX_SHAPE_RANK are not shapes a Reshape to [batch, features] can use.
   */
  private evaluateShape(name: string | undefined, user: number, depth: number, memo = new Map<string, Dim[] | null>()): Dim[] | null {
    if (!name || depth > MAX_SHAPE_DEPTH) return null;
    const known = memo.get(name);
    if (known !== undefined) return known;
    memo.set(name, null);
    const v = this.evaluateShapeOnce(name, user, depth, memo);
    const result = v && v.length <= MAX_SHAPE_RANK ? v : null;
    memo.set(name, result);
    return result;
  }

  private evaluateShapeOnce(name: string, user: number, depth: number, memo: Map<string, Dim[] | null>): Dim[] | null {
    const c = this.tryConst(name, user);
    if (c) return c.size <= MAX_SHAPE_RANK ? this.ints(c, user) : null;
    const p = this.producer.get(name);
    if (p === undefined || !isDefaultDomain(this.nodes[p].domain)) return null;
    const n = this.nodes[p];
    const inputs = n.input ?? [];
    const ints = (k: number) => {
      const v = this.tryConst(inputs[k], p);
      return v ? this.ints(v, p) : undefined;
    };
    const slice = (data: Dim[], start: number, end: number) => {
      const clamp = (x: number) => Math.max(0, Math.min(data.length, x < 0 ? x + data.length : x));
      return data.slice(clamp(start), clamp(end));
    };
    switch (n.opType) {
      case 'Shape': {
        const shape = this.shapes.get(inputs[0]);
        if (!shape) return null;
        return slice(shape, this.attrInt(p, 'start', 0), this.attrInt(p, 'end', shape.length));
      }
      case 'Gather': {
        const data = this.evaluateShape(inputs[0], p, depth + 1, memo);
        const idx = ints(1);
        if (!data || !idx || this.attrInt(p, 'axis', 0) !== 0) return null;
        if (idx.some((k) => k < -data.length || k >= data.length)) return null;
        return idx.map((k) => data[k < 0 ? k + data.length : k]);
      }
      case 'Slice': {
        const data = this.evaluateShape(inputs[0], p, depth + 1, memo);
        if (!data) return null;
        const old = this.opset < 10;
        const starts = old ? this.attrInts(p, 'starts') : ints(1);
        const ends = old ? this.attrInts(p, 'ends') : ints(2);
        const axes = old ? this.attrInts(p, 'axes') : inputs[3] ? ints(3) : undefined;
        const steps = old ? undefined : inputs[4] ? ints(4) : undefined;
        if (!starts || !ends || starts.length !== 1 || ends.length !== 1) return null;
        if ((axes && (axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1))) || (steps && steps[0] !== 1)) return null;
        return slice(data, starts[0], ends[0]);
      }
      case 'Cast':
      case 'Identity':
      case 'Squeeze':
      case 'Unsqueeze':
        return this.evaluateShape(inputs[0], p, depth + 1, memo);
      case 'Concat': {
        const parts = inputs.map((x) => this.evaluateShape(x, p, depth + 1, memo));
        return parts.some((x) => x === null) ? null : (parts as Dim[][]).flat();
      }
      default:
        return null;
    }
  }

  /** Consumers that end the network: classifier post-processing, or a Cast away from float. */
  private isPostOnly(i: number): boolean {
    const n = this.nodes[i];
    const op = n.opType ?? '';
    if (n.domain === ML_DOMAIN) return op !== 'Scaler';
    if (!isDefaultDomain(n.domain)) return false;
    if (op === 'Cast') return !isFloatType(this.attrInt(i, 'to', 0));
    return POST_OPS.has(op) && !NETWORK_OPS.has(op);
  }

  /** Everything after the network output must be classifier post-processing, and every graph output accounted for. */
  private checkEnd(networkOut: string, cons: number[], chain: Set<number>): void {
    const producer = this.producer.get(networkOut);
    const outDesc = producer !== undefined ? `'${networkOut}' (output of ${this.where(producer)})` : `'${networkOut}'`;
    const down = this.downstreamNodes(networkOut, chain);
    const ordered = [...down].sort((a, b) => a - b);
    if (ordered.length > 0) {
      this.checkPostProcessing(networkOut, outDesc, cons, ordered);
    } else if (!this.outputSet.has(networkOut)) {
      this.fail(`the data path ends at ${outDesc}, which is not a graph output and feeds nothing (a dangling value)`);
    }
    this.checkOtherOutputs(networkOut, down);
  }

  /** Every node computed from `networkOut`; a node of the data path among them is a cycle. */
  private downstreamNodes(networkOut: string, chain: Set<number>): Set<number> {
    const down = new Set<number>();
    const queue = [networkOut];
    while (queue.length > 0) {
      const v = queue.pop() as string;
      for (const i of this.consumers.get(v) ?? []) {
        if (down.has(i)) continue;
        if (chain.has(i)) this.fail(`the graph has a cycle: '${v}' flows back into the network`, i);
        down.add(i);
        for (const o of this.nodes[i].output ?? []) if (o) queue.push(o);
      }
    }
    return down;
  }

  /** The nodes after the network output (`ordered`, in graph order) must be post-processing the reader leaves out, with a note. */
  private checkPostProcessing(networkOut: string, outDesc: string, cons: number[], ordered: number[]): void {
    const isPost = (i: number) => {
      const n = this.nodes[i];
      return (isDefaultDomain(n.domain) || n.domain === ML_DOMAIN) && POST_OPS.has(n.opType ?? '');
    };
    const bad = ordered.find((i) => !isPost(i));
    const marker = ordered.some((i) => POST_MARKERS.has(this.op(i)));
    if (bad !== undefined || !marker) this.failNotPostProcessing(networkOut, outDesc, cons, bad ?? ordered[0], bad);
    const produced = ordered.flatMap((i) => this.nodes[i].output ?? []).filter((o) => this.outputSet.has(o));
    this.notes.push(
      `left out post-processing after the network output '${networkOut}': ` +
        ordered.map((i) => this.where(i)).join('; ') +
        (produced.length > 0 ? `; it produced the graph output(s) ${produced.map((o) => `'${o}'`).join(', ')}` : '') +
        `; the MLP here outputs '${networkOut}'`,
    );
  }

  /** Says why what follows the network output is not post-processing: a second output, a branch, or a node that does not fit. */
  private failNotPostProcessing(networkOut: string, outDesc: string, cons: number[], culprit: number, bad: number | undefined): never {
    if (this.outputSet.has(networkOut)) {
      this.fail(
        `the graph has several outputs: ${outDesc} is a graph output and also feeds ${this.where(cons[0])}; ` +
          'PruneScope reads MLPs with one output',
      );
    }
    if (cons.length > 1) {
      this.fail(
        `the graph branches: ${outDesc} feeds ${cons.length} nodes (${cons.map((i) => this.where(i)).join('; ')}); ` +
          'PruneScope reads MLPs, which are one chain of layers',
      );
    }
    if (cons.length === 1 && (bad === undefined || !POST_MARKERS.has(this.op(cons[0])))) {
      this.fail(`${this.op(cons[0])} cannot sit on the data path of an MLP`, cons[0]);
    }
    this.fail(`follows the network output ${outDesc} but is not classifier post-processing the reader can leave out`, culprit);
  }

  /** Every graph output other than the network output must be computed from it (by the post-processing). */
  private checkOtherOutputs(networkOut: string, down: Set<number>): void {
    for (const o of this.outputs) {
      if (o === networkOut) continue;
      const p = this.producer.get(o);
      if (p === undefined || !down.has(p)) {
        this.fail(
          `the graph has several outputs (${nameList(this.outputs)}); ` +
            `'${o}' is not computed from the network output '${networkOut}'. PruneScope reads MLPs with one output`,
          p,
        );
      }
    }
  }

  /** Outputs after the first (Dropout's mask, BatchNormalization's running statistics) must be unused. */
  private checkSideOutputs(i: number): void {
    const outs = this.nodes[i].output ?? [];
    for (let k = 1; k < outs.length; k++) {
      const o = outs[k];
      if (o && ((this.consumers.get(o)?.length ?? 0) > 0 || this.outputSet.has(o))) {
        this.fail(`its output ${k + 1} '${o}' is used; only the main output of a ${this.op(i)} fits an MLP`, i);
      }
    }
  }

  // ---- one node on the data path ----

  private step(i: number, s: State): void {
    const n = this.nodes[i];
    const op = n.opType ?? '';
    const inputs = n.input ?? [];
    const dataSlots = inputs.map((x, k) => (x === s.value ? k : -1)).filter((k) => k >= 0);
    const binary = op === 'Gemm' || op === 'MatMul' || op === 'Add' || op === 'Sub' || op === 'Mul' || op === 'Div';
    if (!binary && (dataSlots.length !== 1 || dataSlots[0] !== 0)) {
      this.fail(`takes the data as input ${dataSlots.map((k) => k + 1).join(' and ')}; only its first input may be the data`, i);
    }
    if (n.domain === ML_DOMAIN) {
      if (op === 'Scaler') return this.scaler(i, s);
      this.fail('is not part of an MLP', i);
    }
    switch (op) {
      case 'Gemm':
        return this.gemm(i, s, dataSlots);
      case 'MatMul':
        return this.matmul(i, s, dataSlots);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.elementwise(i, s, dataSlots);
      case 'BatchNormalization':
        return this.batchNorm(i, s);
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
        return this.activate(i, s, op.toLowerCase() as Activation);
      case 'LeakyRelu':
        return this.activate(i, s, 'leaky_relu', shortestFloat32(this.attrFloat(i, 'alpha', 0.01)));
      case 'Softmax':
      case 'LogSoftmax':
        return this.activate(i, s, op === 'Softmax' ? 'softmax' : 'log_softmax', undefined, () => this.checkSoftmaxAxis(i, s));
      case 'Clip':
        return this.clip(i, s);
      case 'Identity':
      case 'Cast':
        return;
      case 'Dropout':
        return this.dropout(i, s);
      case 'Flatten':
        return this.flatten(i, s);
      case 'Reshape':
        return this.reshape(i, s);
      case 'Transpose':
        return this.transposeData(i, s);
      default:
        this.fail(`${op} cannot sit on the path of an MLP`, i);
    }
  }

  private needRank2(i: number, s: State): void {
    if (s.rank !== 2) {
      this.fail(`receives a rank-${s.rank} tensor; a dense layer needs [batch, features] (a Flatten or Reshape should come first)`, i);
    }
  }

  private layerName(i: number): string {
    // Called once the previous layer is closed, so the count is this layer's position.
    return this.nodes[i].name || `dense_${this.layers.length + 1}`;
  }

  private gemm(i: number, s: State, dataSlots: number[]): void {
    this.needRank2(i, s);
    const inputs = this.nodes[i].input ?? [];
    const alpha = this.attrFloat(i, 'alpha', 1);
    const beta = this.attrFloat(i, 'beta', 1);
    const transA = this.attrInt(i, 'transA', 0) !== 0;
    const transB = this.attrInt(i, 'transB', 0) !== 0;
    if (dataSlots.length !== 1) this.fail('multiplies the data by itself; not a dense layer', i);
    if (dataSlots[0] === 2) this.fail('adds the data as its C input; not a dense layer', i);
    const rows = s.layout === 'rows';
    let kernel: Float32Array;
    let K: number;
    let N: number;
    let outLayout: Layout;
    if (dataSlots[0] === 0) {
      // Y = alpha * op(X) op(B): op(X) must be [batch, K].
      if (rows === transA) {
        this.fail(`with transA=${transA ? 1 : 0} it would multiply across the batch of data laid out ${this.layoutDesc(s)}`, i);
      }
      const b = this.needConst(inputs[1], i, 'weight (B)');
      if (b.dims.length !== 2) this.fail(`weight '${b.name}' has shape [${b.dims.join(', ')}], not a matrix`, i);
      [K, N] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
      kernel = this.kernelFrom(b, i, transB, alpha);
      outLayout = 'rows';
    } else {
      // Weights on the left: Y = alpha * op(A) op(X) with op(X) = [K, batch] gives [N, batch].
      if (rows !== transB) {
        this.fail(`with transB=${transB ? 1 : 0} it would multiply across the batch of data laid out ${this.layoutDesc(s)}`, i);
      }
      const a = this.needConst(inputs[0], i, 'weight (A)');
      if (a.dims.length !== 2) this.fail(`weight '${a.name}' has shape [${a.dims.join(', ')}], not a matrix`, i);
      // op(A) is [N, K]; the kernel is op(A) transposed.
      [N, K] = transA ? [a.dims[1], a.dims[0]] : [a.dims[0], a.dims[1]];
      kernel = this.kernelFrom(a, i, !transA, alpha);
      outLayout = 'cols';
    }
    const c = this.optionalConst(inputs[2], i, 'bias (C)');
    let bias: Float32Array | null = null;
    if (c) {
      if (this.opset < 7 && this.attrInt(i, 'broadcast', 0) === 0) {
        this.fail(
          `has broadcast=0, so its C input '${c.name}' must have the full output shape [batch, ${N}]: ` +
            'a per-batch bias is not a dense layer bias',
          i,
        );
      }
      const v = this.biasVector(c, N, outLayout, i);
      bias = Float32Array.from({ length: N }, (_, j) => beta * at(v, j));
    }
    this.startLayer(i, s, kernel, K, N, bias);
    s.layout = outLayout;
  }

  private layoutDesc(s: State): string {
    return s.layout === 'rows' ? '[batch, features]' : '[features, batch]';
  }

  /** [K, N] kernel from a constant matrix that is [K, N] (transposed=false) or [N, K]. */
  private kernelFrom(m: Const, i: number, transposed: boolean, alpha: number): Float32Array {
    const v = this.floats(m, i);
    const [r, c] = m.dims;
    if (!transposed && alpha === 1) return Float32Array.from(v);
    const out = new Float32Array(r * c);
    if (transposed) {
      // m is [N=r, K=c]: kernel[k][n] = m[n][k]
      for (let n = 0; n < r; n++) for (let k = 0; k < c; k++) out[k * r + n] = alpha * v[n * c + k];
    } else {
      for (let k = 0; k < out.length; k++) out[k] = alpha * v[k];
    }
    return out;
  }

  /** A bias constant as N values (or one for all), checked to broadcast along the batch. */
  private biasVector(c: Const, N: number, layout: Layout, i: number): Float64Array {
    const size = c.size;
    if (size === 1) return Float64Array.of(this.floats(c, i)[0]);
    const d = c.dims;
    const ok =
      layout === 'rows'
        ? (d.length === 1 && d[0] === N) || (d.length === 2 && d[0] === 1 && d[1] === N)
        : d.length === 2 && d[0] === N && d[1] === 1;
    if (!ok) {
      this.fail(`bias '${c.name}' has shape [${d.join(', ')}], which does not broadcast over the batch of ${N} units`, i);
    }
    return Float64Array.from(this.floats(c, i));
  }

  private matmul(i: number, s: State, dataSlots: number[]): void {
    this.needRank2(i, s);
    const inputs = this.nodes[i].input ?? [];
    if (dataSlots.length !== 1) this.fail('multiplies the data by itself; not a dense layer', i);
    if (dataSlots[0] === 0) {
      if (s.layout !== 'rows') this.fail('would multiply across the batch of data laid out [features, batch]', i);
      const b = this.needConst(inputs[1], i, 'weight');
      if (b.dims.length !== 2) this.fail(`weight '${b.name}' has shape [${b.dims.join(', ')}], not a matrix`, i);
      this.startLayer(i, s, this.kernelFrom(b, i, false, 1), b.dims[0], b.dims[1], null);
    } else {
      if (s.layout !== 'cols') this.fail('multiplies weights by data laid out [batch, features]: this mixes the batch', i);
      const a = this.needConst(inputs[0], i, 'weight');
      if (a.dims.length !== 2) this.fail(`weight '${a.name}' has shape [${a.dims.join(', ')}], not a matrix`, i);
      this.startLayer(i, s, this.kernelFrom(a, i, true, 1), a.dims[1], a.dims[0], null);
    }
  }

  private startLayer(i: number, s: State, kernel: Float32Array, K: number, N: number, bias: Float32Array | null): void {
    if (N === 0)
      this.fail(`makes a dense layer of 0 units (its weights are [${K} inputs x 0 outputs]); a layer needs at least one unit`, i);
    if (K === 0) this.fail(`makes a dense layer that takes 0 inputs (its weights are [0 inputs x ${N} outputs])`, i);
    if (s.features !== undefined && s.features !== K) {
      this.fail(`receives ${s.features} values per sample but its weights take ${K}`, i);
    }
    this.closePending(s);
    if (s.affine) {
      const { scale, shift } = s.affine;
      const hasShift = shift.some((x) => x !== 0);
      const b = hasShift ? Float64Array.from({ length: N }, (_, n) => (bias ? bias[n] : 0)) : null;
      for (let k = 0; k < K; k++) {
        const sk = at(scale, k);
        const tk = at(shift, k);
        for (let n = 0; n < N; n++) {
          const w = kernel[k * N + n];
          if (b && tk !== 0) b[n] += tk * w;
          kernel[k * N + n] = sk * w;
        }
      }
      if (b) bias = Float32Array.from(b);
      s.affine = null;
    }
    s.pending = {
      phase: 'linear',
      layer: { name: this.layerName(i), inputSize: K, units: N, weights: kernel, bias, activation: 'linear' },
    };
    s.features = N;
  }

  private closePending(s: State): void {
    if (s.pending) {
      this.applyFold(s.pending);
      this.layers.push(s.pending.layer);
    }
    s.pending = null;
  }

  private foldOf(p: Pending): NonNullable<Pending['fold']> {
    return (p.fold ??= { scale: new Float64Array(p.layer.units).fill(1), shift: new Float64Array(p.layer.units), biased: false });
  }

  /** w' = w * scale per unit; b' = b * scale + shift (a bias appears when something shifted the output). */
  private applyFold(p: Pending): void {
    const f = p.fold;
    if (!f) return;
    const { units, inputSize, weights } = p.layer;
    for (let k = 0; k < inputSize; k++) for (let j = 0; j < units; j++) weights[k * units + j] *= f.scale[j];
    const b = p.layer.bias;
    if (b || f.biased) p.layer.bias = Float32Array.from({ length: units }, (_, j) => (b ? b[j] : 0) * f.scale[j] + f.shift[j]);
    p.fold = undefined;
  }

  /** A per-feature operand of an element-wise op: length 1 (all features) or the feature count. */
  private featureVector(c: Const, s: State, i: number, role: string, dimsOverride?: number[]): Float64Array {
    const dims = dimsOverride ?? c.dims;
    if (dims.length > s.rank) this.fail(`${role} '${c.name}' has shape [${c.dims.join(', ')}], more dimensions than the data`, i);
    if (c.size === 1) return Float64Array.of(this.floats(c, i)[0]);
    if (s.rank !== 2) {
      this.fail(
        `${role} '${c.name}' of shape [${c.dims.join(', ')}] varies across the rank-${s.rank} input; ` +
          'only single numbers can be folded before the input is flattened',
        i,
      );
    }
    const padded = [...new Array<number>(2 - dims.length).fill(1), ...dims];
    const featAxis = s.layout === 'rows' ? 1 : 0;
    if (padded[1 - featAxis] !== 1) {
      this.fail(`${role} '${c.name}' of shape [${c.dims.join(', ')}] varies along the batch, not per feature`, i);
    }
    const F = padded[featAxis];
    if (s.features !== undefined && F !== s.features) {
      this.fail(`${role} '${c.name}' has ${F} values for ${s.features} features`, i);
    }
    s.features = F;
    return Float64Array.from(this.floats(c, i));
  }

  /** Applies x -> scale*x + shift: into the current layer before its activation, else into the next layer. */
  private affine(s: State, i: number, scale: Float64Array | null, shift: Float64Array | null): void {
    const p = s.pending;
    if (p && p.phase === 'linear' && s.rank === 2) {
      const f = this.foldOf(p);
      if (scale) {
        for (let j = 0; j < p.layer.units; j++) {
          f.scale[j] *= at(scale, j);
          f.shift[j] *= at(scale, j);
        }
      }
      if (shift) {
        for (let j = 0; j < p.layer.units; j++) f.shift[j] += at(shift, j);
        f.biased = true;
      }
      return;
    }
    if (!s.affine) s.affineNode = i;
    const a = s.affine ?? { scale: Float64Array.of(1), shift: Float64Array.of(0) };
    const sc = scale ?? Float64Array.of(1);
    const sh = shift ?? Float64Array.of(0);
    const len = Math.max(a.scale.length, a.shift.length, sc.length, sh.length);
    s.affine = {
      scale: Float64Array.from({ length: len }, (_, k) => at(sc, k) * at(a.scale, k)),
      shift: Float64Array.from({ length: len }, (_, k) => at(sc, k) * at(a.shift, k) + at(sh, k)),
    };
  }

  private elementwise(i: number, s: State, dataSlots: number[]): void {
    const op = this.op(i);
    const inputs = this.nodes[i].input ?? [];
    if (dataSlots.length !== 1) this.fail(`combines the data with itself; not a per-feature ${op}`, i);
    const dataFirst = dataSlots[0] === 0;
    const c = this.needConst(inputs[dataFirst ? 1 : 0], i, 'operand');
    let dims: number[] | undefined;
    if (this.opset < 7) {
      // Before opset 7, broadcasting was opt-in, with an optional axis where the operand lines up.
      const broadcast = this.attrInt(i, 'broadcast', 0) !== 0;
      if (!broadcast && c.size !== 1) {
        this.fail(`has broadcast=0, so its operand '${c.name}' must have the data's full shape; not a per-feature ${op}`, i);
      }
      if (broadcast && this.attr(i, 'axis')) {
        let axis = this.attrInt(i, 'axis', 0);
        if (axis < 0) axis += s.rank;
        dims = [...new Array<number>(axis).fill(1), ...c.dims, ...new Array<number>(Math.max(0, s.rank - axis - c.dims.length)).fill(1)];
      }
    }
    const v = this.featureVector(c, s, i, 'operand', dims);
    switch (op) {
      case 'Add':
        return this.affine(s, i, null, v);
      case 'Sub':
        return dataFirst
          ? this.affine(
              s,
              i,
              null,
              v.map((x) => -x),
            )
          : this.affine(s, i, Float64Array.of(-1), v);
      case 'Mul':
        return this.affine(s, i, v, null);
      default:
        if (!dataFirst) this.fail(`divides the constant '${c.name}' by the data, which is not linear`, i);
        if (v.some((x) => x === 0)) this.fail(`divides by zero ('${c.name}' holds a 0)`, i);
        return this.affine(
          s,
          i,
          v.map((x) => 1 / x),
          null,
        );
    }
  }

  private scaler(i: number, s: State): void {
    this.needRank2(i, s);
    const offset = this.attr(i, 'offset')?.floats ?? [0];
    const scale = this.attr(i, 'scale')?.floats ?? [1];
    for (const [name, v] of [
      ['offset', offset],
      ['scale', scale],
    ] as const) {
      if (v.length !== 1 && s.features !== undefined && v.length !== s.features) {
        this.fail(`has ${v.length} ${name} values for ${s.features} features`, i);
      }
    }
    if (offset.length > 1) s.features = offset.length;
    if (scale.length > 1) s.features = scale.length;
    // (x - offset) * scale
    const sc = Float64Array.from(scale);
    const len = Math.max(offset.length, scale.length);
    const sh = Float64Array.from({ length: len }, (_, k) => -(offset.length === 1 ? offset[0] : offset[k]) * at(sc, k));
    this.affine(s, i, sc, sh);
  }

  private batchNorm(i: number, s: State): void {
    const inputs = this.nodes[i].input ?? [];
    if (inputs[0] !== s.value) this.fail('takes the data in a parameter slot', i);
    if (this.opset >= 14 && this.attrInt(i, 'training_mode', 0) !== 0) {
      this.fail('is in training mode (training_mode=1); it normalises with batch statistics, not stored ones', i);
    }
    if (this.opset < 7 && this.attrInt(i, 'is_test', 0) === 0) {
      this.fail('has is_test=0 (training mode before opset 7): it normalises with batch statistics, not stored ones', i);
    }
    if (this.opset < 9 && this.attrInt(i, 'spatial', 1) === 0 && s.rank !== 2) {
      this.fail('normalises each input element separately (spatial=0) before Flatten', i);
    }
    if (s.rank !== 2 || s.layout !== 'rows') {
      this.fail(
        s.rank !== 2
          ? `normalises the channels of a rank-${s.rank} tensor; only BatchNormalization on [batch, features] folds into a dense layer`
          : 'normalises data laid out [features, batch] along the batch',
        i,
      );
    }
    const eps = this.attrFloat(i, 'epsilon', 1e-5);
    const [gamma, beta, mean, variance] = ['scale', 'B', 'mean', 'var'].map((role, k) => {
      const c = this.needConst(inputs[k + 1], i, role);
      return this.featureVector(c, s, i, role);
    });
    const F = Math.max(gamma.length, beta.length, mean.length, variance.length);
    const scale = Float64Array.from({ length: F }, (_, j) => at(gamma, j) / Math.sqrt(at(variance, j) + eps));
    const p = s.pending;
    if (p && p.phase === 'linear') {
      // w' = w * gamma/sqrt(var+eps); b' = (b - mean) * gamma/sqrt(var+eps) + beta
      const f = this.foldOf(p);
      for (let j = 0; j < p.layer.units; j++) {
        f.scale[j] *= at(scale, j);
        f.shift[j] = (f.shift[j] - at(mean, j)) * at(scale, j) + at(beta, j);
      }
      f.biased = true;
      this.notes.push(`BatchNormalization ${this.where(i)} folded into dense layer '${p.layer.name}'`);
      return;
    }
    this.affine(
      s,
      i,
      scale,
      Float64Array.from({ length: F }, (_, j) => at(beta, j) - at(mean, j) * at(scale, j)),
    );
    this.notes.push(`BatchNormalization ${this.where(i)} folded into the inputs of the next dense layer`);
  }

  private activate(i: number, s: State, activation: Activation, alpha?: number, check?: () => void): void {
    const p = s.pending;
    if (!p) {
      this.fail(`applies ${this.op(i)} to the model input before any dense layer; PruneScope's MLPs start with a dense layer`, i);
    }
    if (p.phase === 'activated') {
      this.fail(
        `is a second activation after dense layer '${p.layer.name}' (already ${p.layer.activation}); ` +
          'each dense layer has one activation',
        i,
      );
    }
    this.needRank2(i, s);
    check?.();
    p.layer.activation = activation;
    if (alpha !== undefined) p.layer.alpha = alpha;
    p.phase = 'activated';
  }

  private checkSoftmaxAxis(i: number, s: State): void {
    let axis = this.attrInt(i, 'axis', this.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += s.rank;
    const featAxis = s.layout === 'rows' ? 1 : 0;
    // Before opset 13 the input is coerced to 2-D at `axis`; from 13 on it works along `axis`.
    const perSample = this.opset >= 13 ? s.rank === 2 && axis === featAxis : s.rank === 2 && axis === 1 && s.layout === 'rows';
    if (!perSample) {
      this.fail(`normalises along axis ${axis} of data laid out ${this.layoutDesc(s)}, not within each sample`, i);
    }
  }

  private clip(i: number, s: State): void {
    let min = -Infinity;
    let max = Infinity;
    if (this.opset < 11) {
      min = this.attrFloat(i, 'min', -Infinity);
      max = this.attrFloat(i, 'max', Infinity);
    } else {
      const inputs = this.nodes[i].input ?? [];
      const lo = this.optionalConst(inputs[1], i, 'min');
      const hi = this.optionalConst(inputs[2], i, 'max');
      if (lo) min = this.floats(lo, i)[0];
      if (hi) max = this.floats(hi, i)[0];
    }
    if (min === 0 && max === 6) return this.activate(i, s, 'relu6');
    if (min === 0 && max >= 3.4e38) return this.activate(i, s, 'relu');
    this.fail(`clips to [${min}, ${max}]; only [0, 6] (relu6) and [0, ∞) (relu) are activations PruneScope models`, i);
  }

  private dropout(i: number, s: State): void {
    let ratio = 0.5;
    if (this.opset < 7 && this.attrInt(i, 'is_test', 0) === 0) {
      this.notes.push(`Dropout ${this.where(i)} has is_test=0 (training mode before opset 7); read as inactive, as at inference`);
    }
    if (this.opset < 12) ratio = this.attrFloat(i, 'ratio', 0.5);
    else {
      const inputs = this.nodes[i].input ?? [];
      const r = this.optionalConst(inputs[1], i, 'ratio');
      if (r) ratio = this.floats(r, i)[0];
      const mode = this.optionalConst(inputs[2], i, 'training_mode');
      if (mode && this.floats(mode, i)[0] !== 0) {
        this.fail('runs in training mode (training_mode=true), so it drops values at inference', i);
      }
    }
    ratio = shortestFloat32(ratio);
    const p = s.pending;
    if (p && ratio > 0) p.layer.dropout = ratio;
    else if (!p && ratio > 0) this.notes.push(`input dropout ${this.where(i)} (ratio ${ratio}) is inactive at inference and was left out`);
  }

  private flatten(i: number, s: State): void {
    let axis = this.attrInt(i, 'axis', 1);
    if (axis < 0) axis += s.rank;
    if (s.layout !== 'rows') this.fail('flattens data laid out [features, batch]', i);
    if (axis === 0 && this.flattensOneSample(i, s)) axis = 1;
    if (axis !== 1) this.fail(`flattens at axis ${axis}, which mixes the batch into the features (only axis 1 keeps samples apart)`, i);
    s.rank = 2;
  }

  /**
   * Flatten at axis 0 straight on the input turns [1, ...] into one row: what PyTorch 1.3 exported
   * for `x.view(-1)` models, which run at batch 1 only. With a batch of 1 (or one left open) it is
   * the per-sample flatten, so the model is read as a per-sample MLP; a declared larger batch
   * would mix samples and is refused.
   */
  private flattensOneSample(i: number, s: State): boolean {
    const batch = this.inputBatch();
    if (s.value !== this.input.name || (batch !== undefined && batch !== 1)) return false;
    this.notes.push(
      `Flatten ${this.where(i)} flattens at axis 0, so the exported graph runs one sample at a time (batch 1); read as a per-sample MLP (PruneScope runs it on any batch)`,
    );
    return true;
  }

  private reshape(i: number, s: State): void {
    if (s.layout !== 'rows') this.fail('reshapes data laid out [features, batch]', i);
    const inputs = this.nodes[i].input ?? [];
    const computed = this.tryConst(inputs[1], i) ? null : this.evaluateShape(inputs[1], i, 0);
    const shape: Dim[] = computed ?? this.ints(this.needConst(inputs[1], i, 'shape'), i);
    const shown = shape.map((d) => (d === 'B' ? 'batch' : (d ?? '?'))).join(', ');
    if (shape.length === 2 && shape[0] === 'B') shape[0] = 0;
    if (shape.some((d) => typeof d !== 'number')) {
      this.fail(`reshapes to [${shown}]; only the first dimension may be the batch size, and every size must be known`, i);
    }
    const allowZero = this.opset >= 14 && this.attrInt(i, 'allowzero', 0) !== 0;
    if (shape.length !== 2) {
      this.fail(`reshapes to [${shown}]; a dense layer needs [batch, features]`, i);
    }
    const [a, b] = shape as number[];
    if (allowZero && (a === 0 || b === 0)) this.fail(`reshapes to [${shown}] with allowzero=1 (an empty tensor)`, i);
    const batchDim = this.inputBatch();
    const setFeatures = (f: number) => {
      if (s.features !== undefined && s.features !== f) {
        this.fail(`reshapes ${s.features} values per sample into rows of ${f}, which mixes samples`, i);
      }
      s.features = f;
    };
    if (a === -1) {
      if (b > 0) setFeatures(b);
      else if (!(b === 0 && s.rank === 2)) this.fail(`reshapes to [${shown}], which does not keep samples apart`, i);
    } else if (a === 0 || (a > 0 && batchDim === a)) {
      if (b > 0) setFeatures(b);
      else if (b === 0 && s.rank !== 2) this.fail(`reshapes to [${shown}], which keeps only the second input dimension`, i);
      else if (b < -1) this.fail(`reshapes to [${shown}]`, i);
    } else {
      this.fail(
        `reshapes to [${shown}], fixing the batch size to ${a}` +
          (batchDim === undefined ? ' while the input batch size is not fixed' : ` while the input's is ${batchDim}`),
        i,
      );
    }
    s.rank = 2;
  }

  private inputBatch(): number | undefined {
    const d = this.input.type?.tensorType?.shape?.dim?.[0];
    if (!d || d.dimParam) return undefined;
    const v = this.guard(undefined, () => int64(d.dimValue, 'input dimension'));
    return v > 0 ? v : undefined;
  }

  private transposeData(i: number, s: State): void {
    if (s.rank !== 2) {
      this.fail(`reorders the values of a rank-${s.rank} tensor before it is flattened; not supported`, i);
    }
    const perm = this.attrInts(i, 'perm') ?? [1, 0];
    if (perm.length === 2 && perm[0] === 0 && perm[1] === 1) return;
    if (perm.length === 2 && perm[0] === 1 && perm[1] === 0) {
      s.layout = s.layout === 'rows' ? 'cols' : 'rows';
      return;
    }
    this.fail(`has perm [${perm.join(', ')}], not a permutation of 2 dimensions`, i);
  }
}
