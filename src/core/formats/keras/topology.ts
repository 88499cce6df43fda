/**
 * The Keras model topology as every Keras serialization writes it (Keras 2 and 3 model configs,
 * tfjs LayersModel topologies converted from them): the list of layers, the single chain of a
 * Functional model, activations, and the Dense layers built along the chain. Shared by the
 * TensorFlow.js LayersModel reader and the Keras reader; each supplies its own weight lookup.
 */
import { ModelFormatError } from '../../errors';
import { ACTIVATIONS, type Activation, type DenseLayer } from '../../model/mlp';
import { preview } from '../tfjs/weights';

export type Json = Record<string, unknown>;

/** The file being read and the format's label, for messages. */
export interface Src {
  file: string;
  label: string;
}

export function isRecord(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export interface KerasLayer {
  className: string;
  name: string;
  config: Json;
  raw: Json;
  /** Position in the model's layer list (0-based) and its length, for messages. */
  index: number;
  count: number;
}

export function where(l: KerasLayer): string {
  return `layer ${l.index + 1} of ${l.count} '${l.name}' (${l.className})`;
}

export function whyUnsupported(cls: string): string {
  if (/Conv|Pool|UpSampling|ZeroPadding|Cropping/.test(cls)) return 'convolution and pooling layers are not part of an MLP';
  if (/GRU|LSTM|RNN|Bidirectional|TimeDistributed|Attention/.test(cls)) return 'recurrent and attention layers are not part of an MLP';
  if (cls === 'Embedding') return 'embedding lookups are not part of an MLP';
  if (/Normalization/.test(cls)) return 'normalization layers are not supported';
  if (/^(Add|Subtract|Multiply|Average|Maximum|Minimum|Concatenate|Dot)$/.test(cls))
    return 'layers that merge several tensors make a branching model, not an MLP';
  if (/^(Sequential|Model|Functional)$/.test(cls)) return 'nested models are not supported';
  return 'this layer type is not supported';
}

/**
 * Names of the layers a Keras tensor reference list points at, in every serialization Keras used,
 * in document order. Walks with its own stack: the nesting comes from the file.
 */
export function collectRefs(root: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const x = stack.pop();
    if (Array.isArray(x)) {
      // Keras 2 / tfjs: ['dense_1', 0, 0, {}] (or ['dense_1', 0, 0] in input_layers/output_layers).
      if (x.length >= 3 && typeof x[0] === 'string' && typeof x[1] === 'number' && typeof x[2] === 'number') {
        out.push(x[0]);
        continue;
      }
      for (let i = x.length - 1; i >= 0; i--) stack.push(x[i]);
    } else if (isRecord(x)) {
      // Keras 3: {class_name: '__keras_tensor__', config: {keras_history: ['dense_1', 0, 0]}}.
      const history = isRecord(x.config) ? x.config.keras_history : undefined;
      if (x.class_name === '__keras_tensor__' && Array.isArray(history) && typeof history[0] === 'string') {
        out.push(history[0]);
        continue;
      }
      const values = Object.values(x);
      for (let i = values.length - 1; i >= 0; i--) stack.push(values[i]);
    }
  }
  return out;
}

/** [batch, ...dims] from batch_input_shape (Keras 2, tfjs) or batch_shape (Keras 3). */
export function batchShapeOf(cfg: Json | undefined): unknown[] | undefined {
  if (!cfg) return undefined;
  for (const key of ['batch_input_shape', 'batch_shape']) {
    let v = cfg[key];
    if (isRecord(v) && Array.isArray(v.items)) v = v.items;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- a JSON list; its entries are checked by the caller
    if (Array.isArray(v)) return v;
  }
  return undefined;
}

export interface ParsedActivation {
  activation: Activation;
  alpha?: number;
}

export function parseActivation(src: Src, l: KerasLayer, value: unknown): ParsedActivation {
  let name: unknown = value;
  if (isRecord(value)) name = typeof value.config === 'string' ? value.config : value.class_name;
  if (name === null || name === undefined) return { activation: 'linear' };
  if (typeof name !== 'string') {
    throw new ModelFormatError(src.file, src.label, `activation ${preview(value)} is not understood`, where(l));
  }
  // tfjs writes snake_case but reads camelCase too (logSoftmax).
  const snake = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  if (snake === 'leaky_relu') return { activation: 'leaky_relu', alpha: 0.2 };
  if ((ACTIVATIONS as readonly string[]).includes(snake)) return { activation: snake as Activation };
  throw new ModelFormatError(src.file, src.label, `activation '${name}' is not supported (supported: ${ACTIVATIONS.join(', ')})`, where(l));
}

/** Activation of a standalone ReLU layer (Keras ReLU: max_value, negative_slope, threshold). */
export function reluLayerActivation(src: Src, l: KerasLayer): ParsedActivation {
  const maxValue = l.config.max_value ?? null;
  const slope = (l.config.negative_slope ?? 0) as number;
  const threshold = (l.config.threshold ?? 0) as number;
  if (threshold !== 0) {
    throw new ModelFormatError(src.file, src.label, `ReLU with threshold ${preview(threshold)} is not supported`, where(l));
  }
  if (maxValue === null && slope === 0) return { activation: 'relu' };
  if (maxValue === 6 && slope === 0) return { activation: 'relu6' };
  if (maxValue === null && typeof slope === 'number' && slope > 0) return { activation: 'leaky_relu', alpha: slope };
  throw new ModelFormatError(
    src.file,
    src.label,
    `ReLU with max_value ${preview(maxValue)} and negative_slope ${preview(slope)} is not supported (only plain relu, max_value 6, or a negative slope alone)`,
    where(l),
  );
}

export function parseLayers(src: Src, raw: unknown): KerasLayer[] {
  if (!Array.isArray(raw)) throw new ModelFormatError(src.file, src.label, 'the model config has no list of layers');
  return raw.map((entry, index) => {
    if (!isRecord(entry) || typeof entry.class_name !== 'string') {
      throw new ModelFormatError(src.file, src.label, 'layer entry has no class_name', `layer ${index + 1} of ${raw.length}`);
    }
    const config = isRecord(entry.config) ? entry.config : {};
    const name =
      typeof config.name === 'string' ? config.name : typeof entry.name === 'string' ? entry.name : `${entry.class_name}_${index + 1}`;
    return { className: entry.class_name, name, config, raw: entry, index, count: raw.length };
  });
}

/** What a model config says about the model: its layers, name, kind and config. */
export interface Topology {
  layers: KerasLayer[];
  modelName: string | undefined;
  sequential: boolean;
  /** The model's config as the file gives it (a list of layers in old Sequential files). */
  config: unknown;
  kerasVersion: string | undefined;
}

/**
 * Reads a Sequential or Functional model's layers from a model config (or an object holding it as
 * model_config). `place` names where the config sits in the file, for messages.
 */
export function readTopology(src: Src, outer: unknown, place = 'modelTopology'): Topology {
  if (!isRecord(outer)) throw new ModelFormatError(src.file, src.label, `the file has no ${place}`);
  const kerasVersion = typeof outer.keras_version === 'string' ? outer.keras_version : undefined;
  // Converted Keras files nest the model under model_config.
  const topology: Json = isRecord(outer.model_config) ? outer.model_config : outer;
  const modelClass = topology.class_name;
  const config = topology.config;
  let layers: KerasLayer[];
  let modelName: string | undefined;
  let sequential: boolean;
  if (modelClass === 'Sequential') {
    sequential = true;
    // Old tfjs/Keras: config is the list of layers; later: {name, layers}.
    layers = parseLayers(src, Array.isArray(config) ? config : isRecord(config) ? config.layers : undefined);
    if (isRecord(config) && typeof config.name === 'string') modelName = config.name;
  } else if (modelClass === 'Model' || modelClass === 'Functional') {
    sequential = false;
    if (!isRecord(config)) throw new ModelFormatError(src.file, src.label, 'the Functional model has no config');
    layers = parseLayers(src, config.layers);
    if (typeof config.name === 'string') modelName = config.name;
  } else {
    throw new ModelFormatError(
      src.file,
      src.label,
      `model class ${preview(modelClass)} is not supported (expected Sequential or a Functional Model)`,
      place,
    );
  }
  if (layers.length === 0) throw new ModelFormatError(src.file, src.label, 'the model has no layers');
  return { layers, modelName, sequential, config, kerasVersion };
}

/** The layers from the input to the output of a Functional model that is a single chain. */
export function functionalChain(src: Src, layers: KerasLayer[], config: Json): KerasLayer[] {
  const { file, label } = src;
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputs = collectRefs(config.input_layers);
  const outputs = collectRefs(config.output_layers);
  if (outputs.length !== 1) {
    throw new ModelFormatError(
      file,
      label,
      `the model has ${outputs.length} outputs (${outputs.map((o) => `'${o}'`).join(', ') || 'none'}); an MLP has exactly one`,
      'model outputs',
    );
  }
  if (inputs.length !== 1) {
    throw new ModelFormatError(
      file,
      label,
      `the model has ${inputs.length} inputs (${inputs.map((o) => `'${o}'`).join(', ') || 'none'}); an MLP has exactly one`,
      'model inputs',
    );
  }
  const inbound = inboundLayers(src, layers, byName);
  const out = byName.get(outputs[0]);
  if (!out) throw new ModelFormatError(file, label, `the output refers to unknown layer '${outputs[0]}'`, 'model outputs');
  const chain: KerasLayer[] = [];
  const seen = new Set<string>();
  for (let cur: KerasLayer | undefined = out; cur;) {
    if (seen.has(cur.name)) throw new ModelFormatError(file, label, 'the layers form a cycle', where(cur));
    seen.add(cur.name);
    chain.push(cur);
    const ins: string[] = inbound.get(cur.name) ?? [];
    cur = ins.length ? byName.get(ins[0]) : undefined;
  }
  chain.reverse();
  if (chain[0].name !== inputs[0]) {
    throw new ModelFormatError(file, label, `the output does not depend on the input '${inputs[0]}'`, where(chain[0]));
  }
  const off = layers.find((l) => !seen.has(l.name));
  if (off) {
    throw new ModelFormatError(
      file,
      label,
      'the layer is not on the path from the input to the output; branching models are not MLPs',
      where(off),
    );
  }
  return chain;
}

/** The layer each layer takes its input from (none for the input): each is applied once, to one known layer's output. */
function inboundLayers(src: Src, layers: KerasLayer[], byName: Map<string, KerasLayer>): Map<string, string[]> {
  const { file, label } = src;
  const inbound = new Map<string, string[]>();
  for (const l of layers) {
    const nodes = Array.isArray(l.raw.inbound_nodes) ? l.raw.inbound_nodes : [];
    if (nodes.length > 1) {
      throw new ModelFormatError(file, label, `the layer is applied ${nodes.length} times; shared layers are not part of an MLP`, where(l));
    }
    const refs = nodes.length === 1 ? collectRefs(nodes[0]) : [];
    for (const r of refs) {
      if (!byName.has(r)) throw new ModelFormatError(file, label, `takes its input from unknown layer '${r}'`, where(l));
    }
    if (refs.length > 1) {
      throw new ModelFormatError(
        file,
        label,
        `combines ${refs.length} tensors (${refs.map((r) => `'${r}'`).join(', ')}); branching models are not MLPs`,
        where(l),
      );
    }
    inbound.set(l.name, refs);
  }
  return inbound;
}

/** The input shape without the batch dimension, from the first layer or later hints; undefined when not declared. */
export function declaredInputShape(src: Src, first: KerasLayer, config: unknown): number[] | undefined {
  let declared = batchShapeOf(first.config);
  if (!declared && isRecord(config) && Array.isArray(config.build_input_shape)) declared = config.build_input_shape;
  if (!declared && isRecord(first.raw.build_config) && Array.isArray(first.raw.build_config.input_shape)) {
    declared = first.raw.build_config.input_shape;
  }
  if (!declared) return undefined;
  const dims = declared.slice(1);
  const known = dims.every((d) => Number.isSafeInteger(d) && (d as number) > 0);
  if (known && dims.length > 0) return dims as number[];
  if (dims.length > 1) {
    throw new ModelFormatError(src.file, src.label, `the input shape ${preview(declared)} has unknown sizes`, where(first));
  }
  return undefined;
}

/** A Dense layer's kernel as the file holds it, before its values are taken. */
export interface KernelRef {
  name: string;
  shape: number[];
}

/**
 * Dense layers built layer by layer along the chain: activations fold into the Dense layer before
 * them, dropout rates attach to it, Flatten and Reshape only track the shape of the features.
 * Each reader finds the weights its own way (the abstract methods).
 */
export abstract class LayerChain {
  readonly dense: DenseLayer[] = [];
  /** True while the last Dense layer's activation is still linear and only no-ops followed it. */
  protected canFold = false;
  /** Features per sample of the current value, when known. */
  protected shape: number[] | undefined;
  /** The model's input shape: as declared, or taken from the first kernel. */
  inputShape: number[] | undefined;

  constructor(
    protected readonly src: Src,
    protected readonly notes: string[],
    shape: number[] | undefined,
  ) {
    this.shape = shape;
    this.inputShape = shape ? [...shape] : undefined;
  }

  /** The Dense layer's kernel, a matrix (throws when there is none). */
  protected abstract kernelOf(l: KerasLayer): KernelRef;
  /** The kernel's values, checked to be float32 of `shape`. */
  protected abstract kernelValues(l: KerasLayer, kernel: KernelRef, shape: [number, number]): Float32Array;
  /** The bias of a Dense layer that uses one, checked to be float32 of [units]. */
  protected abstract biasValues(l: KerasLayer, units: number): Float32Array;
  /** A layer class the shared chain does not know; the reader checked the classes before. */
  protected addOther(_l: KerasLayer, _i: number): void {}

  /** Layer `l`, at position `i` of the chain. */
  add(l: KerasLayer, i: number): void {
    const c = l.config;
    switch (l.className) {
      case 'InputLayer':
        if (i !== 0) throw new ModelFormatError(this.src.file, this.src.label, 'an InputLayer can only come first', where(l));
        break;
      case 'Dense':
        return this.addDense(l);
      case 'Activation':
        return this.applyActivation(l, parseActivation(this.src, l, c.activation));
      case 'ReLU':
        return this.applyActivation(l, reluLayerActivation(this.src, l));
      case 'LeakyReLU': {
        // tfjs and Keras 2 call the slope alpha, Keras 3 negative_slope; both default to 0.3.
        const alpha = (c.negative_slope ?? c.alpha ?? 0.3) as number;
        if (typeof alpha !== 'number') {
          throw new ModelFormatError(this.src.file, this.src.label, `alpha ${preview(alpha)} is not a number`, where(l));
        }
        return this.applyActivation(l, { activation: 'leaky_relu', alpha });
      }
      case 'Softmax':
        return this.softmax(l);
      case 'Dropout':
        return this.addDropout(l);
      case 'Flatten':
        return this.flatten(l);
      case 'Reshape':
        return this.reshape(l);
      default:
        return this.addOther(l, i);
    }
  }

  /** The Dense layers, once there is one. */
  finish(): DenseLayer[] {
    if (this.dense.length === 0) throw new ModelFormatError(this.src.file, this.src.label, 'the model has no Dense layers');
    return this.dense;
  }

  protected softmax(l: KerasLayer): void {
    const c = l.config;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- a JSON value of the config, checked by its users
    const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
    if (axis !== -1 && !(this.shape && this.shape.length === 1 && axis === 1)) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `softmax over axis ${preview(c.axis)} is not supported (only the last axis)`,
        where(l),
      );
    }
    this.applyActivation(l, { activation: 'softmax' });
  }

  protected applyActivation(l: KerasLayer, act: ParsedActivation): void {
    if (act.activation === 'linear') return;
    if (!this.canFold) {
      const last = this.dense[this.dense.length - 1];
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        last
          ? `activation ${act.activation} follows '${last.name}', which already applies ${last.activation}; it cannot be folded into a Dense layer`
          : `activation ${act.activation} comes before any Dense layer; it cannot be folded into a Dense layer`,
        where(l),
      );
    }
    const last = this.dense[this.dense.length - 1];
    last.activation = act.activation;
    if (act.alpha !== undefined) last.alpha = act.alpha;
    this.canFold = false;
  }

  protected addDense(l: KerasLayer): void {
    const c = l.config;
    const kernelW = this.kernelOf(l);
    const shape = this.denseInput(l, kernelW);
    const units = typeof c.units === 'number' ? c.units : kernelW.shape[1];
    if (units === 0) {
      const from = typeof c.units === 'number' ? '' : ` (from its kernel '${kernelW.name}' [${kernelW.shape}])`;
      throw new ModelFormatError(this.src.file, this.src.label, `has 0 units${from}; a Dense layer needs at least one`, where(l));
    }
    if (!Number.isSafeInteger(units) || units < 0) {
      throw new ModelFormatError(this.src.file, this.src.label, `units ${preview(c.units)} is not a positive integer`, where(l));
    }
    const kernel = this.kernelValues(l, kernelW, [shape[0], units]);
    const bias = c.use_bias !== false ? this.biasValues(l, units) : null;
    const act = parseActivation(this.src, l, c.activation);
    const layer: DenseLayer = { name: l.name, inputSize: shape[0], units, weights: kernel, bias, activation: act.activation };
    if (act.alpha !== undefined) layer.alpha = act.alpha;
    this.dense.push(layer);
    this.canFold = act.activation === 'linear';
    this.shape = [units];
  }

  /** The flat shape a Dense layer receives; an undeclared input shape is taken from its kernel. */
  protected denseInput(l: KerasLayer, kernelW: KernelRef): number[] {
    if (!this.shape) {
      this.shape = [kernelW.shape[0]];
      this.inputShape = this.inputShape ?? [...this.shape];
      this.notes.push(`the model does not declare its input shape; [${this.shape}] was taken from '${kernelW.name}'`);
    }
    if (this.shape.length !== 1) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `Dense receives a [${this.shape}] tensor and would act on its last axis only; an MLP needs a Flatten before it`,
        where(l),
      );
    }
    return this.shape;
  }

  protected addDropout(l: KerasLayer): void {
    const rate = l.config.rate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
      throw new ModelFormatError(this.src.file, this.src.label, `dropout rate ${preview(rate)} is not in [0, 1)`, where(l));
    }
    const last = this.dense[this.dense.length - 1];
    if (last) {
      // Two dropouts in a row keep a unit with probability (1-a)(1-b); one keeps its exact rate.
      last.dropout = last.dropout ? 1 - (1 - last.dropout) * (1 - rate) : rate;
    } else if (rate > 0) {
      this.notes.push(`dropout '${l.name}' (rate ${rate}) on the input was left out; it has no effect on predictions`);
    }
  }

  protected flatten(l: KerasLayer): void {
    if (!this.shape) return;
    if (l.config.data_format === 'channels_first' && this.shape.length > 1) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        'Flatten with data_format channels_first reorders its input; not supported',
        where(l),
      );
    }
    this.shape = [this.shape.reduce((a, b) => a * b, 1)];
  }

  protected reshape(l: KerasLayer): void {
    const shape = this.shape;
    if (!shape) throw new ModelFormatError(this.src.file, this.src.label, 'Reshape needs a declared input shape', where(l));
    const target = l.config.target_shape;
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Array.isArray(target) || !target.every((d) => Number.isSafeInteger(d) && ((d as number) > 0 || d === -1))) {
      throw new ModelFormatError(this.src.file, this.src.label, `target_shape ${preview(target)} is not a list of sizes`, where(l));
    }
    const dims = target as number[];
    const knownSize = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const unknown = dims.filter((d) => d === -1).length;
    const resolved = dims.map((d) => (d === -1 ? size / knownSize : d));
    if (unknown > 1 || resolved.some((d) => !Number.isInteger(d)) || resolved.reduce((a, b) => a * b, 1) !== size) {
      throw new ModelFormatError(this.src.file, this.src.label, `cannot reshape [${shape}] to [${dims}]`, where(l));
    }
    this.shape = resolved;
  }
}
