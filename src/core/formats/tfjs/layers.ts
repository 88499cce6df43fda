/**
 * TensorFlow.js LayersModel (model.json + weight shards), as saved by tfjs-layers or converted
 * from Keras 2 / Keras 3 by the Python converter. Reads Sequential models and Functional models
 * that are a single chain; writes a Sequential of Dense layers that `tf.loadLayersModel` loads.
 */
import * as tf from '@tensorflow/tfjs';
import { resolve } from 'node:path';
import { ModelFormatError, PruneScopeError } from '../../errors';
import { tfjsLayersOutputFiles } from '../model-files';
import { writeFilesAtomically } from '../../io/atomic';
import { ACTIVATIONS, validateMLP, type Activation, type DenseLayer, type MLP } from '../../model/mlp';
import type { ModelFormat, WriteResult } from '../format';
import {
  defaultModelName,
  detectTfjsKind,
  encodeWeights,
  loadWeightsManifest,
  preview,
  readModelJson,
  type DecodedWeight,
  type LoadedWeights,
  type WeightToWrite,
} from './weights';

const LABEL = 'TensorFlow.js LayersModel';

/** Layers that can be part of an MLP (Dense plus shape-only and inference no-op layers). */
const SUPPORTED = new Set(['InputLayer', 'Dense', 'Activation', 'Dropout', 'Flatten', 'Reshape', 'ReLU', 'LeakyReLU', 'Softmax']);

type Json = Record<string, unknown>;

function isRecord(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

interface KerasLayer {
  className: string;
  name: string;
  config: Json;
  raw: Json;
  /** Position in the model's layer list (0-based) and its length, for messages. */
  index: number;
  count: number;
}

function where(l: KerasLayer): string {
  return `layer ${l.index + 1} of ${l.count} '${l.name}' (${l.className})`;
}

function whyUnsupported(cls: string): string {
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
function collectRefs(root: unknown): string[] {
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
function batchShapeOf(cfg: Json | undefined): unknown[] | undefined {
  if (!cfg) return undefined;
  for (const key of ['batch_input_shape', 'batch_shape']) {
    let v = cfg[key];
    if (isRecord(v) && Array.isArray(v.items)) v = v.items;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- a JSON list; its entries are checked by the caller
    if (Array.isArray(v)) return v;
  }
  return undefined;
}

interface ParsedActivation {
  activation: Activation;
  alpha?: number;
}

function parseActivation(file: string, l: KerasLayer, value: unknown): ParsedActivation {
  let name: unknown = value;
  if (isRecord(value)) name = typeof value.config === 'string' ? value.config : value.class_name;
  if (name === null || name === undefined) return { activation: 'linear' };
  if (typeof name !== 'string') {
    throw new ModelFormatError(file, LABEL, `activation ${preview(value)} is not understood`, where(l));
  }
  // tfjs writes snake_case but reads camelCase too (logSoftmax).
  const snake = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  if (snake === 'leaky_relu') return { activation: 'leaky_relu', alpha: 0.2 };
  if ((ACTIVATIONS as readonly string[]).includes(snake)) return { activation: snake as Activation };
  throw new ModelFormatError(file, LABEL, `activation '${name}' is not supported (supported: ${ACTIVATIONS.join(', ')})`, where(l));
}

/** Activation of a standalone ReLU layer (Keras ReLU: max_value, negative_slope, threshold). */
function reluLayerActivation(file: string, l: KerasLayer): ParsedActivation {
  const maxValue = l.config.max_value ?? null;
  const slope = (l.config.negative_slope ?? 0) as number;
  const threshold = (l.config.threshold ?? 0) as number;
  if (threshold !== 0) throw new ModelFormatError(file, LABEL, `ReLU with threshold ${preview(threshold)} is not supported`, where(l));
  if (maxValue === null && slope === 0) return { activation: 'relu' };
  if (maxValue === 6 && slope === 0) return { activation: 'relu6' };
  if (maxValue === null && typeof slope === 'number' && slope > 0) return { activation: 'leaky_relu', alpha: slope };
  throw new ModelFormatError(
    file,
    LABEL,
    `ReLU with max_value ${preview(maxValue)} and negative_slope ${preview(slope)} is not supported (only plain relu, max_value 6, or a negative slope alone)`,
    where(l),
  );
}

function parseLayers(file: string, raw: unknown): KerasLayer[] {
  if (!Array.isArray(raw)) throw new ModelFormatError(file, LABEL, 'the model config has no list of layers');
  return raw.map((entry, index) => {
    if (!isRecord(entry) || typeof entry.class_name !== 'string') {
      throw new ModelFormatError(file, LABEL, 'layer entry has no class_name', `layer ${index + 1} of ${raw.length}`);
    }
    const config = isRecord(entry.config) ? entry.config : {};
    const name =
      typeof config.name === 'string' ? config.name : typeof entry.name === 'string' ? entry.name : `${entry.class_name}_${index + 1}`;
    return { className: entry.class_name, name, config, raw: entry, index, count: raw.length };
  });
}

/** The layers from the input to the output of a Functional model that is a single chain. */
function functionalChain(file: string, layers: KerasLayer[], config: Json): KerasLayer[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputs = collectRefs(config.input_layers);
  const outputs = collectRefs(config.output_layers);
  if (outputs.length !== 1) {
    throw new ModelFormatError(
      file,
      LABEL,
      `the model has ${outputs.length} outputs (${outputs.map((o) => `'${o}'`).join(', ') || 'none'}); an MLP has exactly one`,
      'model outputs',
    );
  }
  if (inputs.length !== 1) {
    throw new ModelFormatError(
      file,
      LABEL,
      `the model has ${inputs.length} inputs (${inputs.map((o) => `'${o}'`).join(', ') || 'none'}); an MLP has exactly one`,
      'model inputs',
    );
  }
  const inbound = inboundLayers(file, layers, byName);
  const out = byName.get(outputs[0]);
  if (!out) throw new ModelFormatError(file, LABEL, `the output refers to unknown layer '${outputs[0]}'`, 'model outputs');
  const chain: KerasLayer[] = [];
  const seen = new Set<string>();
  for (let cur: KerasLayer | undefined = out; cur;) {
    if (seen.has(cur.name)) throw new ModelFormatError(file, LABEL, 'the layers form a cycle', where(cur));
    seen.add(cur.name);
    chain.push(cur);
    const ins: string[] = inbound.get(cur.name) ?? [];
    cur = ins.length ? byName.get(ins[0]) : undefined;
  }
  chain.reverse();
  if (chain[0].name !== inputs[0]) {
    throw new ModelFormatError(file, LABEL, `the output does not depend on the input '${inputs[0]}'`, where(chain[0]));
  }
  const off = layers.find((l) => !seen.has(l.name));
  if (off) {
    throw new ModelFormatError(
      file,
      LABEL,
      'the layer is not on the path from the input to the output; branching models are not MLPs',
      where(off),
    );
  }
  return chain;
}

/** The layer each layer takes its input from (none for the input): each is applied once, to one known layer's output. */
function inboundLayers(file: string, layers: KerasLayer[], byName: Map<string, KerasLayer>): Map<string, string[]> {
  const inbound = new Map<string, string[]>();
  for (const l of layers) {
    const nodes = Array.isArray(l.raw.inbound_nodes) ? l.raw.inbound_nodes : [];
    if (nodes.length > 1) {
      throw new ModelFormatError(file, LABEL, `the layer is applied ${nodes.length} times; shared layers are not part of an MLP`, where(l));
    }
    const refs = nodes.length === 1 ? collectRefs(nodes[0]) : [];
    for (const r of refs) {
      if (!byName.has(r)) throw new ModelFormatError(file, LABEL, `takes its input from unknown layer '${r}'`, where(l));
    }
    if (refs.length > 1) {
      throw new ModelFormatError(
        file,
        LABEL,
        `combines ${refs.length} tensors (${refs.map((r) => `'${r}'`).join(', ')}); branching models are not MLPs`,
        where(l),
      );
    }
    inbound.set(l.name, refs);
  }
  return inbound;
}

function findWeight(file: string, weights: LoadedWeights, l: KerasLayer, kind: string): DecodedWeight | undefined {
  const want = `${l.name}/${kind}`;
  const exact = weights.byName.get(want) ?? weights.byName.get(`${want}:0`);
  if (exact) return exact;
  // Converters may prefix the model's name ('sequential/dense/kernel').
  const candidates = weights.all.filter((w) => w.name.replace(/:0$/, '').endsWith(`/${want}`));
  if (candidates.length > 1) {
    throw new ModelFormatError(
      file,
      LABEL,
      `several weights could be its ${kind}: ${candidates.map((w) => `'${w.name}'`).join(', ')}`,
      where(l),
    );
  }
  return candidates[0];
}

function floatWeight(file: string, l: KerasLayer, w: DecodedWeight, shape: number[]): Float32Array {
  if (w.dtype !== 'float32' || !(w.values instanceof Float32Array)) {
    throw new ModelFormatError(file, LABEL, `weight '${w.name}' has dtype ${w.dtype}; expected float32`, where(l));
  }
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new ModelFormatError(file, LABEL, `weight '${w.name}' has shape [${w.shape}]; expected [${shape}]`, where(l));
  }
  return w.values;
}

async function readLayersModel(path: string): Promise<MLP> {
  const file = resolve(path);
  const json = await readModelJson(file, LABEL);
  const model = readTopology(file, json.modelTopology);
  // Refuse what is not an MLP before looking at the weights.
  checkLayerClasses(file, model.layers);
  const chain = model.sequential ? model.layers : functionalChain(file, model.layers, model.config as Json);

  const weights = await loadWeightsManifest(file, LABEL, json.weightsManifest);
  const notes: string[] = [...weights.notes];
  const builder = new DenseChain(file, weights, notes, declaredInputShape(file, chain[0], model.config));
  for (let i = 0; i < chain.length; i++) builder.add(chain[i], i);
  const dense = builder.finish();

  const finalShape = builder.inputShape ?? [dense[0].inputSize];
  const mlp: MLP = {
    name: model.modelName ?? defaultModelName(file),
    inputShape: finalShape,
    inputSize: finalShape.reduce((a, b) => a * b, 1),
    layers: dense,
    source: { format: 'tfjs-layers', path: file, producer: producerOf(json, model.kerasVersion), notes, files: [file, ...weights.files] },
  };
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(file, LABEL, (e as Error).message);
  }
  return mlp;
}

/** What modelTopology says about the model: its layers, name, kind and config. */
interface Topology {
  layers: KerasLayer[];
  modelName: string | undefined;
  sequential: boolean;
  /** The model's config as the file gives it (a list of layers in old Sequential files). */
  config: unknown;
  kerasVersion: string | undefined;
}

/** Reads a Sequential or Functional model's layers from modelTopology (or its model_config). */
function readTopology(file: string, outer: unknown): Topology {
  if (!isRecord(outer)) throw new ModelFormatError(file, LABEL, 'the file has no modelTopology');
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
    layers = parseLayers(file, Array.isArray(config) ? config : isRecord(config) ? config.layers : undefined);
    if (isRecord(config) && typeof config.name === 'string') modelName = config.name;
  } else if (modelClass === 'Model' || modelClass === 'Functional') {
    sequential = false;
    if (!isRecord(config)) throw new ModelFormatError(file, LABEL, 'the Functional model has no config');
    layers = parseLayers(file, config.layers);
    if (typeof config.name === 'string') modelName = config.name;
  } else {
    throw new ModelFormatError(
      file,
      LABEL,
      `model class ${preview(modelClass)} is not supported (expected Sequential or a Functional Model)`,
      'modelTopology',
    );
  }
  if (layers.length === 0) throw new ModelFormatError(file, LABEL, 'the model has no layers');
  return { layers, modelName, sequential, config, kerasVersion };
}

function checkLayerClasses(file: string, layers: KerasLayer[]): void {
  for (const l of layers) {
    if (!SUPPORTED.has(l.className)) {
      throw new ModelFormatError(
        file,
        LABEL,
        `${l.className} is not supported: ${whyUnsupported(l.className)} (PruneScope reads Dense layers with InputLayer, Activation, Dropout, Flatten, Reshape, ReLU, LeakyReLU and Softmax)`,
        where(l),
      );
    }
  }
}

/** The input shape without the batch dimension, from the first layer or later hints; undefined when not declared. */
function declaredInputShape(file: string, first: KerasLayer, config: unknown): number[] | undefined {
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
    throw new ModelFormatError(file, LABEL, `the input shape ${preview(declared)} has unknown sizes`, where(first));
  }
  return undefined;
}

/**
 * Dense layers built layer by layer along the chain: activations fold into the Dense layer before
 * them, dropout rates attach to it, Flatten and Reshape only track the shape of the features.
 */
class DenseChain {
  readonly dense: DenseLayer[] = [];
  /** True while the last Dense layer's activation is still linear and only no-ops followed it. */
  private canFold = false;
  private readonly used = new Set<string>();
  /** Features per sample of the current value, when known. */
  private shape: number[] | undefined;
  /** The model's input shape: as declared, or taken from the first kernel. */
  inputShape: number[] | undefined;

  constructor(
    private readonly file: string,
    private readonly weights: LoadedWeights,
    private readonly notes: string[],
    shape: number[] | undefined,
  ) {
    this.shape = shape;
    this.inputShape = shape ? [...shape] : undefined;
  }

  /** Layer `l`, at position `i` of the chain. */
  add(l: KerasLayer, i: number): void {
    const c = l.config;
    switch (l.className) {
      case 'InputLayer':
        if (i !== 0) throw new ModelFormatError(this.file, LABEL, 'an InputLayer can only come first', where(l));
        break;
      case 'Dense':
        return this.addDense(l);
      case 'Activation':
        return this.applyActivation(l, parseActivation(this.file, l, c.activation));
      case 'ReLU':
        return this.applyActivation(l, reluLayerActivation(this.file, l));
      case 'LeakyReLU': {
        // tfjs and Keras 2 call the slope alpha, Keras 3 negative_slope; both default to 0.3.
        const alpha = (c.negative_slope ?? c.alpha ?? 0.3) as number;
        if (typeof alpha !== 'number') throw new ModelFormatError(this.file, LABEL, `alpha ${preview(alpha)} is not a number`, where(l));
        return this.applyActivation(l, { activation: 'leaky_relu', alpha });
      }
      case 'Softmax': {
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- a JSON value of the config, checked by its users
        const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
        if (axis !== -1 && !(this.shape && this.shape.length === 1 && axis === 1)) {
          throw new ModelFormatError(
            this.file,
            LABEL,
            `softmax over axis ${preview(c.axis)} is not supported (only the last axis)`,
            where(l),
          );
        }
        return this.applyActivation(l, { activation: 'softmax' });
      }
      case 'Dropout':
        return this.addDropout(l);
      case 'Flatten':
        return this.flatten(l);
      case 'Reshape':
        return this.reshape(l);
    }
  }

  /** The Dense layers, once there is one; weights no layer used are noted. */
  finish(): DenseLayer[] {
    if (this.dense.length === 0) throw new ModelFormatError(this.file, LABEL, 'the model has no Dense layers');
    const unused = this.weights.all.filter((w) => !this.used.has(w.name) && w.role !== 'optimizer');
    if (unused.length > 0) {
      this.notes.push(
        `${unused.length} weight(s) in the manifest belong to no Dense layer and were ignored: ${unused
          .slice(0, 5)
          .map((w) => `'${w.name}'`)
          .join(', ')}${unused.length > 5 ? ', ...' : ''}`,
      );
    }
    return this.dense;
  }

  private applyActivation(l: KerasLayer, act: ParsedActivation): void {
    if (act.activation === 'linear') return;
    if (!this.canFold) {
      const last = this.dense[this.dense.length - 1];
      throw new ModelFormatError(
        this.file,
        LABEL,
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

  private addDense(l: KerasLayer): void {
    const c = l.config;
    const kernelW = this.kernelOf(l);
    const shape = this.denseInput(l, kernelW);
    const units = typeof c.units === 'number' ? c.units : kernelW.shape[1];
    if (units === 0) {
      const from = typeof c.units === 'number' ? '' : ` (from its kernel '${kernelW.name}' [${kernelW.shape}])`;
      throw new ModelFormatError(this.file, LABEL, `has 0 units${from}; a Dense layer needs at least one`, where(l));
    }
    if (!Number.isSafeInteger(units) || units < 0) {
      throw new ModelFormatError(this.file, LABEL, `units ${preview(c.units)} is not a positive integer`, where(l));
    }
    const kernel = floatWeight(this.file, l, kernelW, [shape[0], units]);
    this.used.add(kernelW.name);
    let bias: Float32Array | null = null;
    if (c.use_bias !== false) {
      const biasW = findWeight(this.file, this.weights, l, 'bias');
      if (!biasW) throw new ModelFormatError(this.file, LABEL, `use_bias is set but there is no weight named '${l.name}/bias'`, where(l));
      bias = floatWeight(this.file, l, biasW, [units]);
      this.used.add(biasW.name);
    }
    const act = parseActivation(this.file, l, c.activation);
    const layer: DenseLayer = { name: l.name, inputSize: shape[0], units, weights: kernel, bias, activation: act.activation };
    if (act.alpha !== undefined) layer.alpha = act.alpha;
    this.dense.push(layer);
    this.canFold = act.activation === 'linear';
    this.shape = [units];
  }

  /** The Dense layer's kernel weight, a matrix. */
  private kernelOf(l: KerasLayer): DecodedWeight {
    const all = this.weights.all;
    const kernelW = findWeight(this.file, this.weights, l, 'kernel');
    if (!kernelW) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `no weight named '${l.name}/kernel' in the weights manifest (it has ${all.length}: ${all
          .slice(0, 6)
          .map((w) => `'${w.name}'`)
          .join(', ')}${all.length > 6 ? ', ...' : ''})`,
        where(l),
      );
    }
    if (kernelW.shape.length !== 2) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `kernel '${kernelW.name}' has shape [${kernelW.shape}]; expected [inputs, units]`,
        where(l),
      );
    }
    return kernelW;
  }

  /** The flat shape a Dense layer receives; an undeclared input shape is taken from its kernel. */
  private denseInput(l: KerasLayer, kernelW: DecodedWeight): number[] {
    if (!this.shape) {
      this.shape = [kernelW.shape[0]];
      this.inputShape = this.inputShape ?? [...this.shape];
      this.notes.push(`the model does not declare its input shape; [${this.shape}] was taken from '${kernelW.name}'`);
    }
    if (this.shape.length !== 1) {
      throw new ModelFormatError(
        this.file,
        LABEL,
        `Dense receives a [${this.shape}] tensor and would act on its last axis only; an MLP needs a Flatten before it`,
        where(l),
      );
    }
    return this.shape;
  }

  private addDropout(l: KerasLayer): void {
    const rate = l.config.rate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
      throw new ModelFormatError(this.file, LABEL, `dropout rate ${preview(rate)} is not in [0, 1)`, where(l));
    }
    const last = this.dense[this.dense.length - 1];
    if (last) {
      // Two dropouts in a row keep a unit with probability (1-a)(1-b); one keeps its exact rate.
      last.dropout = last.dropout ? 1 - (1 - last.dropout) * (1 - rate) : rate;
    } else if (rate > 0) {
      this.notes.push(`dropout '${l.name}' (rate ${rate}) on the input was left out; it has no effect on predictions`);
    }
  }

  private flatten(l: KerasLayer): void {
    if (!this.shape) return;
    if (l.config.data_format === 'channels_first' && this.shape.length > 1) {
      throw new ModelFormatError(this.file, LABEL, 'Flatten with data_format channels_first reorders its input; not supported', where(l));
    }
    this.shape = [this.shape.reduce((a, b) => a * b, 1)];
  }

  private reshape(l: KerasLayer): void {
    const shape = this.shape;
    if (!shape) throw new ModelFormatError(this.file, LABEL, 'Reshape needs a declared input shape', where(l));
    const target = l.config.target_shape;
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Array.isArray(target) || !target.every((d) => Number.isSafeInteger(d) && ((d as number) > 0 || d === -1))) {
      throw new ModelFormatError(this.file, LABEL, `target_shape ${preview(target)} is not a list of sizes`, where(l));
    }
    const dims = target as number[];
    const knownSize = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const unknown = dims.filter((d) => d === -1).length;
    const resolved = dims.map((d) => (d === -1 ? size / knownSize : d));
    if (unknown > 1 || resolved.some((d) => !Number.isInteger(d)) || resolved.reduce((a, b) => a * b, 1) !== size) {
      throw new ModelFormatError(this.file, LABEL, `cannot reshape [${shape}] to [${dims}]`, where(l));
    }
    this.shape = resolved;
  }
}

function producerOf(json: Json, kerasVersion: string | undefined): string | undefined {
  const generated = typeof json.generatedBy === 'string' ? json.generatedBy : kerasVersion ? `keras ${kerasVersion}` : undefined;
  const converted = typeof json.convertedBy === 'string' ? json.convertedBy : undefined;
  if (generated && converted) return `${generated}, ${converted}`;
  return generated ?? converted;
}

/** Layer names tfjs accepts and keeps in weight names. */
function safeName(name: string, fallback: string, taken: Set<string>): string {
  let base = /^[A-Za-z0-9_.-]+$/.test(name) ? name : name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');
  if (!base) base = fallback;
  let candidate = base;
  for (let k = 2; taken.has(candidate); k++) candidate = `${base}_${k}`;
  taken.add(candidate);
  return candidate;
}

/** The model.json object and weight bytes of `mlp` as a tfjs Sequential LayersModel. */
// eslint-disable-next-line max-lines-per-function -- mostly the model.json literal as Prettier lays it out
export function toLayersModelArtifacts(mlp: MLP, weightsFileName: string): { json: Json; data: Uint8Array } {
  const taken = new Set<string>();
  const layersJson: Json[] = [];
  const toWrite: WeightToWrite[] = [];
  const batchInputShape = [null, ...mlp.inputShape];
  if (mlp.inputShape.length > 1) {
    layersJson.push({
      class_name: 'Flatten',
      config: {
        name: safeName('flatten', 'flatten', taken),
        trainable: true,
        batch_input_shape: batchInputShape,
        dtype: 'float32',
        data_format: 'channels_last',
      },
    });
  }
  mlp.layers.forEach((layer, i) => {
    const name = safeName(layer.name, `dense_${i + 1}`, taken);
    const leaky = layer.activation === 'leaky_relu';
    const config: Json = {
      name,
      trainable: true,
      units: layer.units,
      activation: leaky ? 'linear' : layer.activation,
      use_bias: layer.bias !== null,
      kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'normal', seed: null } },
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    };
    if (i === 0 && mlp.inputShape.length <= 1) {
      config.batch_input_shape = [null, mlp.inputSize];
      config.dtype = 'float32';
    }
    layersJson.push({ class_name: 'Dense', config });
    // tfjs has no leaky_relu activation string; a LeakyReLU layer after a linear Dense is the same.
    if (leaky) {
      layersJson.push({
        class_name: 'LeakyReLU',
        config: { name: safeName(`${name}_leaky_relu`, 'leaky_relu', taken), trainable: true, alpha: layer.alpha ?? 0.01 },
      });
    }
    if (layer.dropout && layer.dropout > 0) {
      layersJson.push({
        class_name: 'Dropout',
        config: {
          name: safeName(`${name}_dropout`, 'dropout', taken),
          trainable: true,
          rate: layer.dropout,
          noise_shape: null,
          seed: null,
        },
      });
    }
    toWrite.push({ name: `${name}/kernel`, shape: [layer.inputSize, layer.units], values: layer.weights });
    if (layer.bias) toWrite.push({ name: `${name}/bias`, shape: [layer.units], values: layer.bias });
  });
  const { group, data } = encodeWeights(toWrite, weightsFileName);
  const json: Json = {
    format: 'layers-model',
    generatedBy: 'PruneScope',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: mlp.name, layers: layersJson },
      keras_version: `tfjs-layers ${tf.version_layers}`,
      backend: 'tensor_flow.js',
    },
    weightsManifest: [group],
  };
  return { json, data };
}

async function writeLayersModel(mlp: MLP, path: string): Promise<WriteResult> {
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new PruneScopeError(`${path}: cannot write the model: ${(e as Error).message}`);
  }
  const [jsonPath, binPath] = tfjsLayersOutputFiles(path);
  const { json, data } = toLayersModelArtifacts(mlp, binPath);
  const text = JSON.stringify(json);
  // The weights are renamed into place before the model.json that points at them.
  const bytes = await writeFilesAtomically([
    { path: binPath, data },
    { path: jsonPath, data: text },
  ]);
  return { files: [jsonPath, binPath], bytes };
}

export const tfjsLayersFormat: ModelFormat = {
  id: 'tfjs-layers',
  label: LABEL,
  detect: (path, head) => detectTfjsKind(path, head) === 'layers',
  read: (path) => readLayersModel(path),
  writeExtensions: ['.json'],
  write: writeLayersModel,
  outputFiles: tfjsLayersOutputFiles,
};
