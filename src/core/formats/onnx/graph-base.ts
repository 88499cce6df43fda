/**
 * The bookkeeping under the ONNX graph walk: value producers and consumers, node positions for
 * messages, attributes, and stored constants (initializers, Constant nodes, and Identity,
 * Transpose or Cast of them). Operators and graph inputs are checked here before any weight is read.
 */
import { onnx } from 'onnx-proto';
import { ModelFormatError } from '../../errors';
import type { DenseLayer } from '../../model/mlp';
import { CONSTANT_OPS, describeOp, isDefaultDomain, isKnownOp } from './ops';
import {
  DT,
  TensorError,
  dataTypeName,
  elementCount,
  int64,
  isExternal,
  isFloatType,
  sparseDims,
  sparseTensorFloats,
  tensorDims,
  tensorFloats,
  tensorInts,
} from './tensor';

export const ONNX_LABEL = 'ONNX';

/** Operators that index a shape vector. */
const SHAPE_INDEX_OPS = new Set(['Gather', 'Slice']);
/** Operators a shape vector passes through on its way to a Reshape. */
export const SHAPE_PASS_OPS = new Set(['Gather', 'Slice', 'Cast', 'Identity', 'Squeeze', 'Unsqueeze']);

/**
 * How a constant derives from a stored one: the stored constant, a permutation of its dimensions
 * (Transpose), and whether a Cast to an integer type truncated its values. Identity, Cast and
 * Transpose compose into one of these, so a chain of any length is evaluated in one step, never
 * through one nested call per node.
 */
interface ConstView {
  root: Const;
  perm: number[] | null;
  truncate: boolean;
}

/** A stored constant (initializer, Constant node, or a Transpose/Identity/Cast of one). */
export class Const {
  private f?: Float32Array;
  private n?: number[];
  readonly view: ConstView;
  constructor(
    readonly name: string,
    readonly dims: number[],
    private readonly getFloats: () => Float32Array,
    private readonly getInts: () => number[],
    view?: ConstView,
  ) {
    this.view = view ?? { root: this, perm: null, truncate: false };
  }
  get size(): number {
    return elementCount(this.dims);
  }
  floats(): Float32Array {
    return (this.f ??= this.getFloats());
  }
  ints(): number[] {
    return (this.n ??= this.getInts());
  }
}

/** `src` seen through Identity (no change), Cast (truncate to integers) or Transpose (perm), composed with how src itself derives. */
function deriveConst(name: string, src: Const, change: { perm?: number[]; truncate?: boolean }): Const {
  const base = src.view;
  const root = base.root;
  let perm = change.perm ? change.perm.map((p) => (base.perm ? base.perm[p] : p)) : base.perm;
  if (perm && perm.every((p, k) => p === k)) perm = null;
  const truncate = base.truncate || change.truncate === true;
  const dims = perm ? perm.map((p) => root.dims[p]) : root.dims;
  // The values are read (and checked) before the permutation is computed, so a tensor that does
  // not hold what it declares is refused before anything of its declared size is allocated.
  const ints = (): number[] => {
    let v: number[];
    if (truncate) {
      // Integers stay exact through ints(); non-integral floats are truncated as Cast does.
      try {
        v = root.ints();
      } catch {
        v = Array.from(root.floats(), (x) => Math.trunc(x));
      }
    } else {
      v = root.ints();
    }
    if (!perm) return v;
    const order = transposeOrder(root.dims, perm).order;
    return Array.from(order, (k) => v[k]);
  };
  const floats = (): Float32Array => {
    if (truncate) return Float32Array.from(ints());
    const v = root.floats();
    if (!perm) return v;
    const order = transposeOrder(root.dims, perm).order;
    return Float32Array.from(order, (k) => v[k]);
  };
  return new Const(name, dims, floats, ints, { root, perm, truncate });
}

/** A list of names for a message, cut after `max` of them. */
export function nameList(names: readonly string[], max = 8): string {
  const shown = names
    .slice(0, max)
    .map((x) => `'${shorten(x)}'`)
    .join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** A name from the file, cut to a length a message can carry. */
export function shorten(name: string, max = 200): string {
  return name.length > max ? `${name.slice(0, max)}... (${name.length} characters)` : name;
}

/** Source index of each element of the transposed array. */
function transposeOrder(dims: number[], perm: number[]): { dims: number[]; order: Uint32Array } {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]);
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * dims[i + 1];
  const total = elementCount(dims);
  const order = new Uint32Array(total);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < total; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * strides[perm[d]];
    order[o] = src;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outDims[d]) break;
      idx[d] = 0;
    }
  }
  return { dims: outDims, order };
}

/** Graph bookkeeping shared by the walk: messages, attributes, constants and structure checks. */
export class OnnxGraphBase {
  readonly notes: string[] = [];
  readonly opset: number;
  private readonly graph: onnx.IGraphProto;
  protected readonly nodes: onnx.INodeProto[];
  protected readonly producer = new Map<string, number>();
  protected readonly consumers = new Map<string, number[]>();
  private readonly initializers = new Map<string, onnx.ITensorProto>();
  private readonly sparse = new Map<string, onnx.ISparseTensorProto>();
  protected readonly outputs: string[];
  protected readonly outputSet: Set<string>;
  /** Values computed from Shape nodes only (through Gather, Slice, Concat, Cast, ...), filled by prescan. */
  private readonly shapeValues = new Set<string>();
  private readonly consts = new Map<string, Const | null>();
  protected readonly layers: DenseLayer[] = [];
  protected input!: onnx.IValueInfoProto;

  constructor(
    model: onnx.IModelProto,
    protected readonly file: string,
  ) {
    if (!model.graph) this.fail('the file holds no graph (not an ONNX model, or a truncated one)');
    this.graph = model.graph;
    this.nodes = this.graph.node ?? [];
    const irVersion = int64(model.irVersion ?? 0, 'ir_version');
    if (irVersion <= 0) this.fail('the file declares no IR version (not an ONNX model, or a truncated one)');
    if (irVersion < 3 || irVersion > 10) {
      this.notes.push(`IR version ${irVersion} is outside 3–10, the versions this reader was written for`);
    }
    const opsets = (model.opsetImport ?? []).filter((o) => isDefaultDomain(o.domain));
    if (opsets.length === 0) this.fail('the model imports no ai.onnx operator set');
    this.opset = int64(opsets[0].version ?? 0, 'opset version');
    if (this.opset < 6 || this.opset > 21) {
      this.notes.push(`opset ${this.opset} is outside 6–21, the versions this reader was written for`);
    }
    // A value has one definition: the same name twice would leave the reader to pick the weights.
    const defined = new Map<string, string>();
    const define = (name: string, what: string) => {
      const before = defined.get(name);
      if (before !== undefined) {
        this.fail(
          `${what} is named '${shorten(name)}' like ${before}; a graph defines each value once, so which weights are meant is ambiguous`,
        );
      }
      defined.set(name, what);
    };
    (this.graph.initializer ?? []).forEach((t, k) => {
      if (!t.name) return;
      define(t.name, `initializer ${k + 1}`);
      this.initializers.set(t.name, t);
    });
    (this.graph.sparseInitializer ?? []).forEach((t, k) => {
      // The spec names a sparse initializer by its values tensor.
      const name = t.values?.name ?? t.indices?.name;
      if (!name) return;
      define(name, `sparse initializer ${k + 1}`);
      this.sparse.set(name, t);
    });
    this.outputs = (this.graph.output ?? []).map((o) => o.name ?? '');
    this.outputSet = new Set(this.outputs);
  }

  // ---- messages ----

  protected where(i: number | undefined): string | undefined {
    if (i === undefined) return undefined;
    const n = this.nodes[i];
    const op = isDefaultDomain(n.domain) ? n.opType : `${n.domain}.${n.opType}`;
    const name = n.name ? ` '${shorten(n.name)}'` : '';
    const out = !n.name && n.output?.[0] ? `, output '${shorten(n.output[0])}'` : '';
    return `node ${i + 1} of ${this.nodes.length}${name} (${shorten(op ?? '')}${out})`;
  }

  protected fail(problem: string, node?: number): never {
    throw new ModelFormatError(this.file, ONNX_LABEL, problem, this.where(node));
  }

  protected op(i: number): string {
    return this.nodes[i].opType ?? '';
  }

  protected attr(i: number, name: string): onnx.IAttributeProto | undefined {
    return (this.nodes[i].attribute ?? []).find((a) => a.name === name);
  }

  protected attrInt(i: number, name: string, def: number): number {
    const a = this.attr(i, name);
    if (!a) return def;
    if (a.type === onnx.AttributeProto.AttributeType.FLOAT) return a.f ?? def;
    return this.guard(i, () => int64(a.i, `attribute ${name}`));
  }

  protected attrFloat(i: number, name: string, def: number): number {
    const a = this.attr(i, name);
    if (!a) return def;
    if (a.type === onnx.AttributeProto.AttributeType.INT) return this.guard(i, () => int64(a.i, `attribute ${name}`));
    return a.f ?? def;
  }

  protected attrInts(i: number, name: string): number[] | undefined {
    const a = this.attr(i, name);
    if (!a) return undefined;
    return this.guard(i, () => (a.ints ?? []).map((v) => int64(v, `attribute ${name}`)));
  }

  /** Runs tensor code, turning its errors into a ModelFormatError located at node i. */
  protected guard<T>(i: number | undefined, fn: () => T, tensor?: string): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof TensorError) this.fail(tensor ? `tensor '${tensor}' ${e.message}` : e.message, i);
      throw e;
    }
  }

  protected floats(c: Const, i: number): Float32Array {
    return this.guard(i, () => c.floats(), c.name);
  }

  protected ints(c: Const, i: number): number[] {
    return this.guard(i, () => c.ints(), c.name);
  }

  // ---- structure checks, before anything large is read ----

  /** Checks operators, graph inputs and value producers; returns the tensors stored in external files. */
  prescan(): onnx.ITensorProto[] {
    this.nodes.forEach((n, i) => {
      for (const o of n.output ?? []) {
        if (!o) continue;
        if (this.producer.has(o)) {
          this.fail(`value '${shorten(o)}' is also produced by ${this.where(this.producer.get(o))}; a graph assigns each value once`, i);
        }
        if (this.initializers.has(o) || this.sparse.has(o)) {
          this.fail(
            `its output '${shorten(o)}' is also an initializer; a graph assigns each value once, so which weights are meant is ambiguous`,
            i,
          );
        }
        this.producer.set(o, i);
      }
      for (const name of new Set(n.input ?? [])) {
        if (!name) continue;
        const list = this.consumers.get(name) ?? [];
        list.push(i);
        this.consumers.set(name, list);
      }
    });
    this.findShapeValues();
    this.nodes.forEach((n, i) => {
      if (!isKnownOp(n.domain, n.opType ?? '') && !this.indexesShape(i)) {
        this.fail(
          `operator ${describeOp(n.domain, n.opType ?? '')} is not supported: PruneScope reads MLPs ` +
            '(Gemm/MatMul layers with element-wise activations)',
          i,
        );
      }
    });

    const inputs = (this.graph.input ?? []).filter((v) => v.name && !this.initializers.has(v.name) && !this.sparse.has(v.name));
    if (inputs.length === 0) this.fail('the graph has no run-time input (every input is an initializer)');
    if (inputs.length > 1) {
      const extra = inputs.slice(1).map((v) => v.name ?? '');
      const user = this.consumers.get(extra[0])?.[0];
      this.fail(
        `the graph has ${inputs.length} run-time inputs (${nameList(inputs.map((v) => v.name ?? ''))}); an MLP takes one ` +
          'input and keeps its weights in the file as initializers' +
          (user !== undefined ? `, but ${this.where(user)} takes '${extra[0]}' from the caller at run time` : ''),
      );
    }
    this.input = inputs[0];

    const dense = this.nodes.filter((n) => isDefaultDomain(n.domain) && (n.opType === 'Gemm' || n.opType === 'MatMul'));
    if (dense.length === 0) {
      const ops = [...new Set(this.nodes.map((n) => n.opType))].join(', ') || 'none';
      this.fail(
        `the graph has no dense layer (operators: ${ops}); PruneScope reads MLPs, which need at least one ` +
          'Gemm or MatMul with weights stored in the file',
      );
    }

    const external: onnx.ITensorProto[] = [];
    for (const t of this.initializers.values()) if (isExternal(t)) external.push(t);
    for (const t of this.sparse.values()) for (const part of [t.values, t.indices]) if (part && isExternal(part)) external.push(part);
    for (const n of this.nodes) {
      for (const a of n.attribute ?? []) if (a.t && isExternal(a.t)) external.push(a.t);
    }
    return external;
  }

  /**
   * Gather or Slice that picks dimensions out of a Shape, as PyTorch exports `x.view(x.size(0), -1)`:
   * allowed, unlike a Gather on data (an embedding lookup).
   */
  private indexesShape(i: number): boolean {
    const n = this.nodes[i];
    const x = n.input?.[0];
    return isDefaultDomain(n.domain) && SHAPE_INDEX_OPS.has(n.opType ?? '') && !!x && this.shapeValues.has(x);
  }

  /**
   * Marks the values computed from Shape nodes: Shape's outputs, then forward through Concat (any
   * input) and the SHAPE_PASS_OPS (first input). One pass over the graph with a work list, so neither
   * long chains nor Concat fan-out make it recurse or repeat work.
   */
  private findShapeValues(): void {
    const work: string[] = [];
    const mark = (i: number) => {
      for (const o of this.nodes[i].output ?? []) {
        if (o && !this.shapeValues.has(o)) {
          this.shapeValues.add(o);
          work.push(o);
        }
      }
    };
    this.nodes.forEach((n, i) => {
      if (isDefaultDomain(n.domain) && n.opType === 'Shape') mark(i);
    });
    while (work.length > 0) {
      const v = work.pop() as string;
      for (const i of this.consumers.get(v) ?? []) {
        const n = this.nodes[i];
        if (!isDefaultDomain(n.domain)) continue;
        if (n.opType === 'Concat' || (SHAPE_PASS_OPS.has(n.opType ?? '') && n.input?.[0] === v)) mark(i);
      }
    }
  }

  // ---- constants ----

  private constFromTensor(name: string, t: onnx.ITensorProto, i: number | undefined): Const {
    const dims = this.guard(i, () => tensorDims(t), name);
    this.guard(i, () => elementCount(dims), name);
    return new Const(
      name,
      dims,
      () => tensorFloats(t),
      () => tensorInts(t),
    );
  }

  private constFromSparse(name: string, t: onnx.ISparseTensorProto, i: number | undefined): Const {
    const dims = this.guard(i, () => sparseDims(t), name);
    this.guard(i, () => elementCount(dims), name);
    const floats = () => sparseTensorFloats(t);
    return new Const(name, dims, floats, () =>
      Array.from(floats(), (x) => {
        if (!Number.isInteger(x)) throw new TensorError(`value ${x} is not an integer`);
        return x;
      }),
    );
  }

  /** Identity, Cast or Transpose node i applied to the stored constant `src`. */
  private constFromNode(name: string, i: number, src: Const): Const {
    const n = this.nodes[i];
    switch (n.opType) {
      case 'Cast': {
        const to = this.attrInt(i, 'to', 0);
        if (isFloatType(to)) return deriveConst(name, src, {});
        if (to === DT.INT64 || to === DT.INT32) return deriveConst(name, src, { truncate: true });
        return this.fail(`casts constant '${shorten(n.input?.[0] ?? '')}' to ${dataTypeName(to)}, which the reader does not evaluate`, i);
      }
      case 'Transpose': {
        const rank = src.dims.length;
        const perm = this.attrInts(i, 'perm') ?? [...Array(rank).keys()].reverse();
        if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, k) => p !== k)) {
          this.fail(
            `perm [${perm.slice(0, 16).join(', ')}${perm.length > 16 ? ', ...' : ''}] does not permute the ${rank} dimensions of '${shorten(src.name)}'`,
            i,
          );
        }
        return deriveConst(name, src, { perm });
      }
      default:
        return deriveConst(name, src, {});
    }
  }

  private constantNodeValue(name: string, i: number): Const {
    const n = this.nodes[i];
    for (const a of n.attribute ?? []) {
      switch (a.name) {
        case 'value':
          if (!a.t) this.fail('Constant has an empty value', i);
          return this.constFromTensor(name, a.t, i);
        case 'value_float':
          return new Const(
            name,
            [],
            () => Float32Array.of(a.f ?? 0),
            () => [a.f ?? 0],
          );
        case 'value_floats': {
          const v = a.floats ?? [];
          return new Const(
            name,
            [v.length],
            () => Float32Array.from(v),
            () => [...v],
          );
        }
        case 'value_int': {
          const v = this.guard(i, () => int64(a.i, 'value_int'));
          return new Const(
            name,
            [],
            () => Float32Array.of(v),
            () => [v],
          );
        }
        case 'value_ints': {
          const v = this.guard(i, () => (a.ints ?? []).map((x) => int64(x, 'value_ints')));
          return new Const(
            name,
            [v.length],
            () => Float32Array.from(v),
            () => v,
          );
        }
        default:
          break;
      }
    }
    const kinds = (n.attribute ?? []).map((a) => a.name).join(', ') || 'nothing';
    this.fail(`Constant holds ${kinds}; only numeric tensors are supported`, i);
  }

  /**
   * The stored constant called `name`, following Identity/Cast/Transpose nodes down to an
   * initializer or Constant node with a loop (a chain of 100,000 Identity nodes is a list here, not
   * a call stack), then composing the chain back up. `user` is the node asking, so that errors in
   * an initializer point at where it is used.
   */
  private resolveConst(name: string, user?: number): Const | null {
    if (!name) return null;
    const chain: { name: string; node: number }[] = [];
    const onChain = new Set<number>();
    let base: Const | null = null;
    let cur = name;
    for (;;) {
      const cached = this.consts.get(cur);
      if (cached !== undefined) {
        base = cached;
        break;
      }
      const at = chain.length > 0 ? chain[chain.length - 1].node : user;
      const init = this.initializers.get(cur);
      const sparse = this.sparse.get(cur);
      const p = this.producer.get(cur);
      const n = p !== undefined ? this.nodes[p] : undefined;
      if (init) base = this.constFromTensor(cur, init, at);
      else if (sparse) base = this.constFromSparse(cur, sparse, at);
      else if (p === undefined || !n || !isDefaultDomain(n.domain) || !CONSTANT_OPS.has(n.opType ?? '')) base = null;
      else if (n.opType === 'Constant') base = this.constantNodeValue(cur, p);
      else {
        if (onChain.has(p)) this.fail(`the graph has a cycle through '${shorten(cur)}'`, p);
        onChain.add(p);
        chain.push({ name: cur, node: p });
        cur = n.input?.[0] ?? '';
        if (!cur) break;
        continue;
      }
      this.consts.set(cur, base);
      break;
    }
    let c = base;
    for (let k = chain.length - 1; k >= 0; k--) {
      const { name: value, node } = chain[k];
      c = c ? this.constFromNode(value, node, c) : null;
      this.consts.set(value, c);
    }
    return c;
  }

  /** A node input that must be a stored constant; explains what it is otherwise. */
  protected needConst(name: string | undefined, i: number, role: string): Const {
    if (!name) this.fail(`has no ${role} input`, i);
    const c = this.resolveConst(name, i);
    if (c) return c;
    if (name === this.input.name) {
      this.fail(`takes the model input '${name}' as its ${role}, a second path from the input (not an MLP)`, i);
    }
    const p = this.producer.get(name);
    if (p !== undefined) {
      this.fail(`its ${role} '${name}' is computed at run time by ${this.where(p)}; an MLP keeps its weights in the file`, i);
    }
    this.fail(`its ${role} '${name}' is not produced by any node, initializer or graph input (a dangling input)`, i);
  }

  /** The stored constant called `name`, or null when it is computed at run time (or absent). */
  protected tryConst(name: string | undefined, user: number): Const | null {
    return name ? this.resolveConst(name, user) : null;
  }

  protected optionalConst(name: string | undefined, i: number, role: string): Const | null {
    return name ? this.needConst(name, i, role) : null;
  }
}
