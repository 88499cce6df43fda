/**
 * TensorFlow.js LayersModel (model.json + weight shards), as saved by tfjs-layers or converted
 * from Keras 2 / Keras 3 by the Python converter. Reads Sequential models and Functional models
 * that are a single chain; writes a Sequential of Dense layers that `tf.loadLayersModel` loads.
 */
import { resolve } from 'node:path';
import { ModelFormatError, PruneScopeError } from '../../errors';
import { tfjsLayersOutputFiles } from '../model-files';
import { writeFilesAtomically } from '../../io/atomic';
import { validateMLP, type DenseLayer, type MLP } from '../../model/mlp';
import type { ModelFormat, WriteResult } from '../format';
import {
  declaredInputShape,
  functionalChain,
  LayerChain,
  readTopology,
  where,
  whyUnsupported,
  type Json,
  type KerasLayer,
  type KernelRef,
  type Src,
} from '../keras/topology';
import {
  defaultModelName,
  detectTfjsKind,
  encodeWeights,
  loadWeightsManifest,
  readModelJson,
  type DecodedWeight,
  type LoadedWeights,
  type WeightToWrite,
} from './weights';

const LABEL = 'TensorFlow.js LayersModel';

/** Layers that can be part of an MLP (Dense plus shape-only and inference no-op layers). */
const SUPPORTED = new Set(['InputLayer', 'Dense', 'Activation', 'Dropout', 'Flatten', 'Reshape', 'ReLU', 'LeakyReLU', 'Softmax']);

const SRC = (file: string): Src => ({ file, label: LABEL });

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
  const model = readTopology(SRC(file), json.modelTopology);
  // Refuse what is not an MLP before looking at the weights.
  checkLayerClasses(file, model.layers);
  const chain = model.sequential ? model.layers : functionalChain(SRC(file), model.layers, model.config as Json);

  const weights = await loadWeightsManifest(file, LABEL, json.weightsManifest);
  const notes: string[] = [...weights.notes];
  const builder = new DenseChain(file, weights, notes, declaredInputShape(SRC(file), chain[0], model.config));
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

/** The shared Keras layer chain, with its weights from the tfjs weights manifest. */
class DenseChain extends LayerChain {
  private readonly used = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly weights: LoadedWeights,
    notes: string[],
    shape: number[] | undefined,
  ) {
    super(SRC(file), notes, shape);
  }

  /** The Dense layers, once there is one; weights no layer used are noted. */
  override finish(): DenseLayer[] {
    super.finish();
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

  protected override kernelValues(l: KerasLayer, kernel: KernelRef, shape: [number, number]): Float32Array {
    const values = floatWeight(this.file, l, kernel as DecodedWeight, shape);
    this.used.add(kernel.name);
    return values;
  }

  protected override biasValues(l: KerasLayer, units: number): Float32Array {
    const biasW = findWeight(this.file, this.weights, l, 'bias');
    if (!biasW) throw new ModelFormatError(this.file, LABEL, `use_bias is set but there is no weight named '${l.name}/bias'`, where(l));
    const bias = floatWeight(this.file, l, biasW, [units]);
    this.used.add(biasW.name);
    return bias;
  }

  /** The Dense layer's kernel weight, a matrix. */
  protected override kernelOf(l: KerasLayer): DecodedWeight {
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

/**
 * The tfjs-layers version a written model names as its producer, read from the package's
 * manifest: loading tfjs-layers itself only for its version string cost ~70 ms of every start.
 */
function tfjsLayersVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@tensorflow/tfjs-layers/package.json') as { version: string }).version;
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
      keras_version: `tfjs-layers ${tfjsLayersVersion()}`,
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
