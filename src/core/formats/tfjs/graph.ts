/**
 * TensorFlow.js GraphModel (a frozen TensorFlow graph in model.json + weight shards), as made
 * by the tfjs converter. Reads graphs that are one chain from a Placeholder to one output built
 * of MatMul / _FusedMatMul, bias adds and activations; refuses anything else.
 */
import { resolve } from 'node:path';
import { ModelFormatError } from '../../errors';
import { validateMLP, type Activation, type DenseLayer, type MLP } from '../../model/mlp';
import type { ModelFormat } from '../format';
import { defaultModelName, detectTfjsKind, loadWeightsManifest, preview, readModelJson, type LoadedWeights } from './weights';

const LABEL = 'TensorFlow.js GraphModel';

type Json = Record<string, unknown>;

function isRecord(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const PASS_THROUGH = new Set(['Identity', 'IdentityN', 'StopGradient', 'Snapshot']);
const MATMUL = new Set(['MatMul', 'BatchMatMul', 'BatchMatMulV2', '_FusedMatMul']);
const BIAS = new Set(['BiasAdd', 'Add', 'AddV2']);
const ACTIVATION_OPS: Record<string, Activation> = {
  Relu: 'relu',
  Relu6: 'relu6',
  LeakyRelu: 'leaky_relu',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  Softmax: 'softmax',
  LogSoftmax: 'log_softmax',
};
const SUPPORTED = new Set([
  'Placeholder',
  'PlaceholderWithDefault',
  'Const',
  'NoOp',
  'Reshape',
  ...PASS_THROUGH,
  ...MATMUL,
  ...BIAS,
  ...Object.keys(ACTIVATION_OPS),
]);

interface GNode {
  name: string;
  op: string;
  /** Producers of the data inputs (output index dropped) and of the control inputs. */
  inputs: string[];
  control: string[];
  attr: Json;
  index: number;
  count: number;
}

function where(n: GNode): string {
  return `node ${n.index + 1} of ${n.count} '${n.name}' (${n.op})`;
}

/** 'name', 'name:1' or 'name:out:1' -> 'name', as tfjs-converter parses input names. */
function producerName(input: string): string {
  return input.split(':')[0];
}

function boolAttr(n: GNode, ...keys: string[]): boolean {
  for (const k of keys) {
    const a = n.attr[k];
    if (isRecord(a) && typeof a.b === 'boolean') return a.b;
  }
  return false;
}

function numberAttr(n: GNode, key: string, fallback: number): number {
  const a = n.attr[key];
  if (!isRecord(a)) return fallback;
  const v = a.f ?? a.i;
  const num = typeof v === 'string' ? Number(v) : v;
  return typeof num === 'number' && Number.isFinite(num) ? num : fallback;
}

/** Longest attribute string kept: operator names are short, anything longer is not one. */
const MAX_ATTR_STRING = 256;

/**
 * String list attributes are base64 in the JSON GraphDef (fused_ops: ['Qmlhc0FkZA==']), or lists
 * of character codes. Built one character at a time (a spread of a list from the file could
 * exceed the argument limit) and cut at MAX_ATTR_STRING.
 */
function stringListAttr(n: GNode, key: string): string[] {
  const a = n.attr[key];
  if (!isRecord(a) || !isRecord(a.list) || !Array.isArray(a.list.s)) return [];
  return a.list.s.map((s) => {
    if (typeof s === 'string') return Buffer.from(s.slice(0, Math.ceil(MAX_ATTR_STRING / 3) * 4), 'base64').toString('latin1');
    if (!Array.isArray(s)) return '';
    let text = '';
    for (let i = 0; i < s.length && i < MAX_ATTR_STRING; i++) {
      const c: unknown = s[i];
      text += typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 0xffff ? String.fromCharCode(c) : '\ufffd';
    }
    return text;
  });
}

function shapeDims(shape: unknown): number[] | undefined {
  if (!isRecord(shape) || shape.unknownRank) return undefined;
  if (!Array.isArray(shape.dim)) return [];
  return shape.dim.map((d) => {
    const size = isRecord(d) ? d.size : undefined;
    const v = typeof size === 'string' ? parseInt(size, 10) : typeof size === 'number' ? size : -1;
    return Number.isFinite(v) ? v : -1;
  });
}

function signatureNames(section: unknown): string[] {
  if (!isRecord(section)) return [];
  return Object.entries(section).map(([key, v]) => (isRecord(v) && typeof v.name === 'string' ? v.name : key));
}

function layerNameFor(node: GNode, k: number, taken: Set<string>): string {
  const parts = node.name.split('/');
  let base = parts.length >= 2 ? parts[parts.length - 2] : node.name;
  if (!base || /^(StatefulPartitionedCall|PartitionedCall)$/.test(base) || base === node.op) base = `dense_${k}`;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

type Signature = Json | undefined;

async function readGraphModel(modelPath: string): Promise<MLP> {
  const file = resolve(modelPath);
  const json = await readModelJson(file, LABEL);
  const { nodes, list } = parseNodes(file, json.modelTopology);
  // Refuse what is not an MLP before looking at the graph's shape or the weights.
  checkOperators(file, list, nodes);
  const signature = graphSignature(json);
  const input = findInput(file, list, nodes, signature);
  const output = findOutput(file, list, nodes, signature);
  const path = chainBetween(file, nodes, input, output);

  const weights = await loadWeightsManifest(file, LABEL, json.weightsManifest);
  const notes = [...weights.notes];
  const dims = declaredInputDims(input, signature);
  const chain = new LayerChain(file, nodes, weights, notes, dims, inputFeatures(file, input, dims, notes));
  for (const n of path) chain.step(n);
  const layers = chain.finish(output);

  const finalShape = chain.inputShape ?? [layers[0].inputSize];
  const mlp: MLP = {
    name: defaultModelName(file),
    inputShape: finalShape,
    inputSize: finalShape.reduce((p, d) => p * d, 1),
    layers,
    source: { format: 'tfjs-graph', path: file, producer: producerOf(json), notes, files: [file, ...weights.files] },
  };
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(file, LABEL, (e as Error).message);
  }
  return mlp;
}

/** The nodes of modelTopology, by name and in file order; a node without name or op, or a name given twice, is refused. */
function parseNodes(file: string, topology: unknown): { nodes: Map<string, GNode>; list: GNode[] } {
  if (!isRecord(topology) || !Array.isArray(topology.node)) {
    throw new ModelFormatError(file, LABEL, 'modelTopology has no list of nodes');
  }
  const rawNodes = topology.node;
  const nodes = new Map<string, GNode>();
  const list: GNode[] = rawNodes.map((raw, index) => {
    if (!isRecord(raw) || typeof raw.name !== 'string' || typeof raw.op !== 'string') {
      throw new ModelFormatError(file, LABEL, 'node has no name or op', `node ${index + 1} of ${rawNodes.length}`);
    }
    const inputs: string[] = [];
    const control: string[] = [];
    for (const inp of Array.isArray(raw.input) ? raw.input : []) {
      if (typeof inp !== 'string') continue;
      if (inp.startsWith('^')) control.push(inp.slice(1));
      else inputs.push(producerName(inp));
    }
    const node: GNode = {
      name: raw.name,
      op: raw.op,
      inputs,
      control,
      attr: isRecord(raw.attr) ? raw.attr : {},
      index,
      count: rawNodes.length,
    };
    if (nodes.has(node.name)) throw new ModelFormatError(file, LABEL, 'two nodes have this name', where(node));
    nodes.set(node.name, node);
    return node;
  });
  return { nodes, list };
}

/** Every operator must be one an MLP graph uses, and every input must name a node. */
function checkOperators(file: string, list: GNode[], nodes: Map<string, GNode>): void {
  for (const n of list) {
    if (!SUPPORTED.has(n.op)) {
      throw new ModelFormatError(
        file,
        LABEL,
        `operator ${n.op} is not supported: PruneScope reads MLP graphs of MatMul, _FusedMatMul, BiasAdd/Add, Relu, Relu6, LeakyRelu, Sigmoid, Tanh, Softmax, Reshape and Identity`,
        where(n),
      );
    }
    for (const ref of [...n.inputs, ...n.control]) {
      if (!nodes.has(ref)) throw new ModelFormatError(file, LABEL, `input '${ref}' refers to no node`, where(n));
    }
  }
}

/** tfjs takes the signature from userDefinedMetadata first, then the top level. */
function graphSignature(json: Json): Signature {
  const udm = isRecord(json.userDefinedMetadata) ? json.userDefinedMetadata : undefined;
  return udm && isRecord(udm.signature) ? udm.signature : isRecord(json.signature) ? json.signature : undefined;
}

/** The one input: the signature's, else the one Placeholder. */
function findInput(file: string, list: GNode[], nodes: Map<string, GNode>, signature: Signature): GNode {
  let inputNames = signatureNames(signature?.inputs).map(producerName);
  if (inputNames.length === 0) inputNames = list.filter((n) => n.op.startsWith('Placeholder')).map((n) => n.name);
  if (inputNames.length !== 1) {
    throw new ModelFormatError(
      file,
      LABEL,
      `the graph has ${inputNames.length} inputs (${inputNames.map((s) => `'${s}'`).join(', ') || 'no Placeholder'}); an MLP has exactly one`,
      'graph inputs',
    );
  }
  const input = nodes.get(inputNames[0]);
  if (!input) throw new ModelFormatError(file, LABEL, `the signature's input '${inputNames[0]}' is not a node`, 'graph inputs');
  return input;
}

/** The one output: the signature's, else the one node nothing consumes. */
function findOutput(file: string, list: GNode[], nodes: Map<string, GNode>, signature: Signature): GNode {
  let outputNames = signatureNames(signature?.outputs).map(producerName);
  if (outputNames.length === 0) {
    // As tfjs does: every node nothing consumes (control edges included), Consts aside.
    const consumed = new Set(list.flatMap((n) => [...n.inputs, ...n.control]));
    outputNames = list.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp').map((n) => n.name);
  }
  if (outputNames.length !== 1) {
    throw new ModelFormatError(
      file,
      LABEL,
      `the graph has ${outputNames.length} outputs (${outputNames.map((s) => `'${s}'`).join(', ') || 'none'}); an MLP has exactly one`,
      'graph outputs',
    );
  }
  const output = nodes.get(outputNames[0]);
  if (!output) throw new ModelFormatError(file, LABEL, `the signature's output '${outputNames[0]}' is not a node`, 'graph outputs');
  return output;
}

/** Walks back from the output: every step must have exactly one computed (non-Const) input. Returns the nodes after the input, in order. */
function chainBetween(file: string, nodes: Map<string, GNode>, input: GNode, output: GNode): GNode[] {
  const path: GNode[] = [];
  const seen = new Set<string>();
  for (let cur = output; cur !== input;) {
    if (seen.has(cur.name)) throw new ModelFormatError(file, LABEL, 'the graph has a cycle', where(cur));
    seen.add(cur.name);
    if (cur.op.startsWith('Placeholder')) {
      throw new ModelFormatError(file, LABEL, `the output depends on a second input besides '${input.name}'`, where(cur));
    }
    path.push(cur);
    const computed = cur.inputs.filter((name) => nodes.get(name)!.op !== 'Const');
    if (computed.length === 0) {
      throw new ModelFormatError(file, LABEL, `the output does not depend on the input '${input.name}'`, where(cur));
    }
    if (new Set(computed).size > 1) {
      throw new ModelFormatError(
        file,
        LABEL,
        `combines computed tensors ${computed.map((c) => `'${c}'`).join(' and ')}; branching graphs are not MLPs`,
        where(cur),
      );
    }
    cur = nodes.get(computed[0])!;
  }
  return path.reverse();
}

/** Input dimensions [batch, ...features] from the placeholder, else from the signature. */
function declaredInputDims(input: GNode, signature: Signature): number[] | undefined {
  let dims = shapeDims(isRecord(input.attr.shape) ? input.attr.shape.shape : undefined);
  if (!dims && signature && isRecord(signature.inputs)) {
    const entry = Object.values(signature.inputs)[0];
    if (isRecord(entry)) dims = shapeDims(entry.tensorShape);
  }
  return dims;
}

/** The declared features per sample, when every one is known; a fixed batch size is noted. */
function inputFeatures(file: string, input: GNode, dims: number[] | undefined, notes: string[]): number[] | undefined {
  if (!dims) return undefined;
  if (dims.length < 2) {
    throw new ModelFormatError(file, LABEL, `input shape [${dims}] has no batch dimension; expected [batch, features...]`, where(input));
  }
  if (dims[0] > 0) notes.push(`the input '${input.name}' has a fixed batch size of ${dims[0]}`);
  const features = dims.slice(1);
  if (features.every((d) => d > 0)) return features;
  if (features.length > 1) throw new ModelFormatError(file, LABEL, `input shape [${dims}] has unknown feature sizes`, where(input));
  return undefined;
}

/** The converter and TensorFlow version the model.json names, if any. */
function producerOf(json: Json): string | undefined {
  const producer = [
    typeof json.convertedBy === 'string' ? json.convertedBy : undefined,
    typeof json.generatedBy === 'string' ? `TensorFlow ${json.generatedBy}` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return producer || undefined;
}

/**
 * Dense layers built node by node along the chain: a MatMul opens a layer, bias adds and one
 * activation complete it, Reshape only regroups the features and pass-through nodes are skipped.
 */
class LayerChain {
  readonly layers: DenseLayer[] = [];
  private readonly taken = new Set<string>();
  private stage: 'none' | 'linear' | 'activated' = 'none';
  /** Features per sample of the value at the current node, when known. */
  private shape: number[] | undefined;
  /** The model's input shape: as declared, or taken from the first weight. */
  inputShape: number[] | undefined;

  constructor(
    private readonly file: string,
    private readonly nodes: Map<string, GNode>,
    private readonly weights: LoadedWeights,
    private readonly notes: string[],
    private readonly dims: number[] | undefined,
    shape: number[] | undefined,
  ) {
    this.shape = shape;
    this.inputShape = shape ? [...shape] : undefined;
  }

  step(n: GNode): void {
    if (PASS_THROUGH.has(n.op)) return;
    if (MATMUL.has(n.op)) return this.matmul(n);
    if (BIAS.has(n.op)) {
      const c = n.inputs.find((name) => this.nodes.get(name)!.op === 'Const');
      if (!c) throw new ModelFormatError(this.file, LABEL, 'adds two computed tensors; branching graphs are not MLPs', where(n));
      return this.addBias(n, c);
    }
    if (n.op in ACTIVATION_OPS) return this.setActivation(n, ACTIVATION_OPS[n.op], numberAttr(n, 'alpha', 0.2));
    if (n.op === 'Reshape') return this.reshape(n);
    throw new ModelFormatError(this.file, LABEL, `operator ${n.op} cannot be part of the chain`, where(n));
  }

  /** The layers, once the chain has at least one and ends flat. */
  finish(output: GNode): DenseLayer[] {
    if (this.layers.length === 0) throw new ModelFormatError(this.file, LABEL, 'the graph has no MatMul from the input to the output');
    if (this.shape && this.shape.length !== 1) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `the output has shape [batch, ${this.shape}]; an MLP ends in a flat layer`,
        where(output),
      );
    }
    return this.layers;
  }

  private constValues(n: GNode, name: string, dtype: 'float32' | 'int32'): { values: Float32Array | Int32Array; shape: number[] } {
    const w = this.weights.byName.get(name);
    if (!w) throw new ModelFormatError(this.file, LABEL, `constant '${name}' has no entry in the weights manifest`, where(n));
    if (w.dtype !== dtype || !w.values) {
      throw new ModelFormatError(this.file, LABEL, `constant '${name}' has dtype ${w.dtype}; expected ${dtype}`, where(n));
    }
    return { values: w.values as Float32Array | Int32Array, shape: w.shape };
  }

  private constInput(n: GNode, position: number): string {
    const name = n.inputs[position];
    if (name === undefined || this.nodes.get(name)!.op !== 'Const') {
      throw new ModelFormatError(this.file, LABEL, `input ${position + 1} must be a constant`, where(n));
    }
    return name;
  }

  private setActivation(n: GNode, activation: Activation, alpha?: number): void {
    if (this.stage !== 'linear') {
      throw new ModelFormatError(
        this.file,
        LABEL,
        this.stage === 'none'
          ? 'an activation before any MatMul cannot be part of a dense layer'
          : 'a second activation on the same layer cannot be represented',
        where(n),
      );
    }
    const layer = this.layers[this.layers.length - 1];
    layer.activation = activation;
    if (activation === 'leaky_relu') layer.alpha = alpha ?? 0.2;
    this.stage = 'activated';
  }

  private addBias(n: GNode, constName: string): void {
    if (this.stage !== 'linear') {
      throw new ModelFormatError(
        this.file,
        LABEL,
        this.stage === 'none'
          ? 'adds a constant before any MatMul'
          : 'adds a constant after the activation; it cannot be part of a dense layer',
        where(n),
      );
    }
    const layer = this.layers[this.layers.length - 1];
    const { values } = this.constValues(n, constName, 'float32');
    if (values.length !== layer.units && values.length !== 1) {
      throw new ModelFormatError(this.file, LABEL, `bias '${constName}' has ${values.length} values for ${layer.units} units`, where(n));
    }
    const bias = new Float32Array(layer.units);
    for (let j = 0; j < layer.units; j++) bias[j] = (layer.bias ? layer.bias[j] : 0) + values[values.length === 1 ? 0 : j];
    // A single bias keeps its exact bits; a second one is added in float32 as TF would.
    layer.bias = layer.bias ? bias : values.length === 1 ? bias : new Float32Array(values);
  }

  /** A MatMul (x·W) opens a dense layer; a _FusedMatMul also applies its fused bias and activation. */
  private matmul(n: GNode): void {
    const [a, b] = n.inputs;
    if (a === undefined || b === undefined) throw new ModelFormatError(this.file, LABEL, 'needs two inputs', where(n));
    if (this.nodes.get(a)!.op === 'Const') {
      throw new ModelFormatError(
        this.file,
        LABEL,
        'the data is the second MatMul operand (W·x); only x·W dense layers are supported',
        where(n),
      );
    }
    if (boolAttr(n, 'transpose_a', 'adj_x')) {
      throw new ModelFormatError(this.file, LABEL, 'transpose_a is set: the batch would be multiplied as features', where(n));
    }
    const transposeB = boolAttr(n, 'transpose_b', 'adj_y');
    const w = this.constValues(n, this.constInput(n, 1), 'float32');
    if (w.shape.length !== 2)
      throw new ModelFormatError(this.file, LABEL, `weight '${b}' has shape [${w.shape}]; expected a matrix`, where(n));
    const [inSize, units] = transposeB ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
    this.checkLayerInput(n, b, inSize);
    let kernel: Float32Array;
    if (transposeB) {
      kernel = new Float32Array(inSize * units);
      for (let u = 0; u < units; u++) for (let i = 0; i < inSize; i++) kernel[i * units + u] = w.values[u * inSize + i];
    } else {
      kernel = new Float32Array(w.values);
    }
    const name = layerNameFor(n, this.layers.length + 1, this.taken);
    this.layers.push({ name, inputSize: inSize, units, weights: kernel, bias: null, activation: 'linear' });
    this.stage = 'linear';
    this.shape = [units];
    if (n.op === '_FusedMatMul') this.fusedOps(n);
  }

  /** The value reaching a MatMul must be flat with `inSize` features; an undeclared input shape is taken from the weight `b`. */
  private checkLayerInput(n: GNode, b: string, inSize: number): void {
    if (!this.shape) {
      this.shape = [inSize];
      this.inputShape = this.inputShape ?? [inSize];
      this.notes.push(`the input shape is not declared; [${inSize}] was taken from '${b}'`);
    }
    if (this.shape.length !== 1) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `receives a [${this.shape}] tensor; a dense layer needs a flat input (Reshape first)`,
        where(n),
      );
    }
    if (this.shape[0] !== inSize) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `weight '${b}' takes ${inSize} inputs but the layer receives ${this.shape[0]}`,
        where(n),
      );
    }
  }

  /** The fused_ops of a _FusedMatMul: BiasAdd and one element-wise activation. */
  private fusedOps(n: GNode): void {
    const fused = stringListAttr(n, 'fused_ops');
    const args = n.inputs.slice(2);
    for (const op of fused) {
      if (op === 'BiasAdd') {
        if (args.length < 1) throw new ModelFormatError(this.file, LABEL, 'fused BiasAdd has no bias argument', where(n));
        this.addBias(n, this.constInput(n, 2));
      } else if (op in ACTIVATION_OPS && op !== 'Softmax' && op !== 'LogSoftmax') {
        this.setActivation(n, ACTIVATION_OPS[op], numberAttr(n, 'leakyrelu_alpha', 0.2));
      } else {
        throw new ModelFormatError(
          this.file,
          LABEL,
          `fused operation ${preview(op)} is not supported (only BiasAdd, Relu, Relu6, LeakyRelu, Sigmoid, Tanh)`,
          where(n),
        );
      }
    }
  }

  /** A Reshape that keeps the batch and regroups the features. */
  private reshape(n: GNode): void {
    const shape = this.shape;
    if (!shape)
      throw new ModelFormatError(this.file, LABEL, 'the input shape is not declared, so the reshape cannot be followed', where(n));
    const target = Array.from(this.constValues(n, this.constInput(n, 1), 'int32').values);
    const size = shape.reduce((p, d) => p * d, 1);
    const features = target.slice(1);
    const known = features.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const resolved = features.map((d) => (d === -1 ? size / known : d));
    const batchOk = target.length >= 1 && (target[0] === -1 || (this.dims !== undefined && target[0] === this.dims[0]));
    if (
      !batchOk ||
      features.filter((d) => d === -1).length > 1 ||
      resolved.some((d) => !Number.isInteger(d) || d <= 0) ||
      resolved.reduce((p, d) => p * d, 1) !== size
    ) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `reshape of [batch, ${shape}] to [${target}] mixes the batch with the features`,
        where(n),
      );
    }
    this.shape = resolved;
  }
}

export const tfjsGraphFormat: ModelFormat = {
  id: 'tfjs-graph',
  label: LABEL,
  detect: (path, head) => detectTfjsKind(path, head) === 'graph',
  read: (path) => readGraphModel(path),
  writeExtensions: [],
};
