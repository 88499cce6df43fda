import { onnx } from 'onnx-proto';
import { floatValueInfo } from '../engine/onnxruntime';
import type { LayerSpec } from './backprop';

/**
 * One Adam step of an MLP as an ONNX graph, for onnxruntime (issue 15): the same forward pass,
 * softmax cross-entropy, hand-written backward pass (backprop.ts), L1/L2 penalties and Keras'
 * Adam (adam.ts) that the TensorFlow.js trainer runs, written as graph nodes so that one session
 * run does a whole step on MLAS kernels. Parameters are graph inputs, not initializers: the
 * session is built once per run and fed the current weights every step.
 *
 * Names: x [rows, in], y [rows, classes] one-hot, inv [1] = 1 / rows, alpha [1] = Adam's step
 * size with bias correction; per layer l: w{l} [in, out], b{l} [out] (layers with a bias), the
 * moments mw{l} vw{l} mb{l} vb{l}, pmw{l} (0/1 pruning mask, masked layers), d{l} [rows, out]
 * (dropout mask, layers with dropout). Outputs: logits, loss (sum over rows), and the updated
 * w{l}' b{l}' mw{l}' ... named with a trailing "_next".
 */

const INT = onnx.AttributeProto.AttributeType.INT;
const FLOAT = onnx.AttributeProto.AttributeType.FLOAT;

export interface StepGraphSpec {
  inputSize: number;
  units: number[];
  specs: LayerSpec[];
  hasBias: boolean[];
  masked: boolean[];
  beta1: number;
  beta2: number;
  epsilon: number;
  l1: number;
  l2: number;
}

/** A tiny ONNX graph builder: every op gets a fresh output name. */
class Graph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly inits: onnx.ITensorProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  private count = 0;
  private readonly constants = new Map<number, string>();

  op(type: string, input: string[], attribute: onnx.IAttributeProto[] = [], out = `t${this.count++}`): string {
    this.nodes.push({ opType: type, input, output: [out], attribute });
    return out;
  }

  input(name: string, dims: (string | number)[]): string {
    this.inputs.push(floatValueInfo(name, dims));
    return name;
  }

  output(from: string, name: string): void {
    this.op('Identity', [from], [], name);
    // No shape: onnxruntime infers it (an empty dims list would declare a scalar).
    this.outputs.push({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
  }

  /** A float scalar constant (shared per value). */
  c(value: number): string {
    let name = this.constants.get(value);
    if (!name) {
      name = `c${this.constants.size}`;
      this.inits.push({ name, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [value] });
      this.constants.set(value, name);
    }
    return name;
  }

  axes(values: number[]): string {
    const name = `axes${values.join('_')}`;
    if (!this.inits.some((t) => t.name === name)) {
      this.inits.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
    }
    return name;
  }

  encode(name: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'PruneScope',
      opsetImport: [{ domain: '', version: 13 }],
      graph: { name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** A hidden layer's activation, as inference applies it (model/forward.ts). */
function activate(g: Graph, z: string, spec: LayerSpec): string {
  switch (spec.activation) {
    case 'linear':
      return z;
    case 'relu':
      return g.op('Relu', [z]);
    case 'relu6':
      return g.op('Clip', [z, g.c(0), g.c(6)]);
    case 'leaky_relu':
      return g.op('LeakyRelu', [z], [{ name: 'alpha', type: FLOAT, f: spec.alpha ?? 0.01 }]);
    case 'sigmoid':
      return g.op('Sigmoid', [z]);
    case 'tanh':
      return g.op('Tanh', [z]);
    default:
      throw new Error(`no onnxruntime training for activation ${spec.activation}`);
  }
}

/** d(activation)/dz from the activation's output a, as backprop.ts takes it; undefined means 1. */
function derivative(g: Graph, a: string, spec: LayerSpec): string | undefined {
  const step = (v: string) => g.op('Cast', [g.op('Greater', [v, g.c(0)])], [{ name: 'to', type: INT, i: 1 }]);
  switch (spec.activation) {
    case 'linear':
      return undefined;
    case 'relu':
      return step(a);
    case 'relu6':
      return g.op('Mul', [step(a), step(g.op('Sub', [g.c(6), a]))]);
    case 'leaky_relu':
      return g.op('Where', [g.op('Greater', [a, g.c(0)]), g.c(1), g.c(spec.alpha ?? 0.01)]);
    case 'sigmoid':
      return g.op('Mul', [a, g.op('Sub', [g.c(1), a])]);
    case 'tanh':
      return g.op('Sub', [g.c(1), g.op('Mul', [a, a])]);
    default:
      throw new Error(`no onnxruntime training for activation ${spec.activation}`);
  }
}

function dense(g: Graph, x: string, l: number, hasBias: boolean): string {
  const z = g.op('MatMul', [x, `w${l}`]);
  return hasBias ? g.op('Add', [z, `b${l}`]) : z;
}

/** Forward pass; returns what each layer multiplied (after dropout), the hidden outputs and the logits. */
function forward(g: Graph, s: StepGraphSpec, training: boolean): { inputs: string[]; outputs: string[]; logits: string } {
  const L = s.units.length;
  const inputs = ['x'];
  const outputs: string[] = [];
  for (let l = 0; l < L - 1; l++) {
    const a = activate(g, dense(g, inputs[l], l, s.hasBias[l]), s.specs[l]);
    outputs.push(a);
    inputs.push(training && s.specs[l].dropout > 0 ? g.op('Mul', [a, `d${l}`]) : a);
  }
  return { inputs, outputs, logits: dense(g, inputs[L - 1], L - 1, s.hasBias[L - 1]) };
}

/** Log-probabilities and the sum over rows of the cross-entropy against the one-hot y. */
function loss(g: Graph, logits: string): { logp: string; lossSum: string } {
  const logp = g.op('LogSoftmax', [logits], [{ name: 'axis', type: INT, i: 1 }]);
  const lossSum = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [logp, 'y'])], [{ name: 'keepdims', type: INT, i: 0 }])]);
  return { logp, lossSum };
}

/** Keras' Adam on one parameter (adam.ts), then the pruning mask; outputs `${p}_next` and its moments'. */
function adam(g: Graph, s: StepGraphSpec, p: string, grad: string, mask?: string): void {
  const [m, v] = [`m${p}`, `v${p}`];
  const m2 = g.op('Add', [m, g.op('Mul', [g.op('Sub', [grad, m]), g.c(1 - s.beta1)])]);
  const v2 = g.op('Add', [v, g.op('Mul', [g.op('Sub', [g.op('Mul', [grad, grad]), v]), g.c(1 - s.beta2)])]);
  const step = g.op('Div', [g.op('Mul', [m2, 'alpha']), g.op('Add', [g.op('Sqrt', [v2]), g.c(s.epsilon)])]);
  const w = g.op('Sub', [p, step]);
  g.output(mask ? g.op('Mul', [w, mask]) : w, `${p}_next`);
  g.output(m2, `${m}_next`);
  g.output(v2, `${v}_next`);
}

/** The kernel gradient with the L2 and L1 penalties of fit.ts added. */
function penalised(g: Graph, s: StepGraphSpec, grad: string, w: string): string {
  let total = grad;
  if (s.l2 > 0) total = g.op('Add', [total, g.op('Mul', [w, g.c(2 * s.l2)])]);
  if (s.l1 > 0) total = g.op('Add', [total, g.op('Mul', [g.op('Sign', [w]), g.c(s.l1)])]);
  return total;
}

function declareInputs(g: Graph, s: StepGraphSpec, training: boolean): void {
  const L = s.units.length;
  g.input('x', ['rows', s.inputSize]);
  g.input('y', ['rows', s.units[L - 1]]);
  if (training) ['inv', 'alpha'].forEach((name) => g.input(name, [1]));
  const sizes = [s.inputSize, ...s.units];
  for (let l = 0; l < L; l++) {
    const params: [string, number[]][] = [[`w${l}`, [sizes[l], sizes[l + 1]]]];
    if (s.hasBias[l]) params.push([`b${l}`, [sizes[l + 1]]]);
    for (const [name, dims] of params) {
      // Adam's moments go in beside each parameter when training.
      for (const prefix of training ? ['', 'm', 'v'] : ['']) g.input(`${prefix}${name}`, dims);
    }
    if (training && s.masked[l]) g.input(`pmw${l}`, [sizes[l], sizes[l + 1]]);
    if (training && l < L - 1 && s.specs[l].dropout > 0) g.input(`d${l}`, ['rows', sizes[l + 1]]);
  }
}

/** The training step graph (see the file's comment). */
export function trainStepModel(s: StepGraphSpec): Uint8Array {
  const g = new Graph();
  declareInputs(g, s, true);
  const f = forward(g, s, true);
  const { logp, lossSum } = loss(g, f.logits);
  g.output(f.logits, 'logits');
  g.output(lossSum, 'loss');
  // d(mean CE)/d(logits) = (softmax - y) / rows
  let dz = g.op('Mul', [g.op('Sub', [g.op('Exp', [logp]), 'y']), 'inv']);
  for (let l = s.units.length - 1; l >= 0; l--) {
    const gw = g.op('Gemm', [f.inputs[l], dz], [{ name: 'transA', type: INT, i: 1 }]);
    const gb = s.hasBias[l] ? g.op('ReduceSum', [dz, g.axes([0])], [{ name: 'keepdims', type: INT, i: 0 }]) : undefined;
    let next: string | undefined;
    if (l > 0) {
      let da = g.op('Gemm', [dz, `w${l}`], [{ name: 'transB', type: INT, i: 1 }]);
      if (s.specs[l - 1].dropout > 0) da = g.op('Mul', [da, `d${l - 1}`]);
      const d = derivative(g, f.outputs[l - 1], s.specs[l - 1]);
      next = d ? g.op('Mul', [da, d]) : da;
    }
    adam(g, s, `w${l}`, penalised(g, s, gw, `w${l}`), s.masked[l] ? `pmw${l}` : undefined);
    if (gb) adam(g, s, `b${l}`, gb);
    if (next) dz = next;
  }
  return g.encode('train-step');
}

/** Logits and the cross-entropy sum of a batch under given parameters (validation). */
export function evalModel(s: StepGraphSpec): Uint8Array {
  const g = new Graph();
  declareInputs(g, s, false);
  const f = forward(g, s, false);
  g.output(f.logits, 'logits');
  g.output(loss(g, f.logits).lossSum, 'loss');
  return g.encode('eval');
}
