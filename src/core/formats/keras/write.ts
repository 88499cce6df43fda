/**
 * Writes an MLP as a Keras 3 `.keras` file that `keras.saving.load_model` loads: a zip (entries
 * stored, as Python's zipfile writes them) of metadata.json, config.json and model.weights.h5, as
 * keras/src/saving/saving_lib.py `_save_model_to_fileobj` lays them out.
 *
 * config.json is a Sequential: an InputLayer with batch_shape, a Flatten when the input has more
 * than one axis, then per MLP layer a Dense (its activation; a LeakyReLU layer after a linear
 * Dense for leaky_relu, whose slope Dense cannot carry) and a Dropout when the layer has a rate.
 * Layers are named as Keras names them (dense, dense_1, ...). Each layer's config has the keys
 * Keras 3.1's get_config writes and nothing later versions added, so that every Keras 3 release
 * accepts it (later releases read the 3.1 form; the 3.1 loader refuses keys it does not know).
 *
 * model.weights.h5 holds what `_save_state` writes for an uncompiled Sequential: an empty `vars`
 * group for the model itself, `layers/<class in snake case, numbered per class>/vars` for each
 * layer after the InputLayer, with Dense's kernel as `0` [inputs, units] and bias as `1`, float32;
 * no optimizer.
 */
import { zipSync } from 'fflate';
import { resolve } from 'node:path';
import { PruneScopeError } from '../../errors';
import { writeFilesAtomically } from '../../io/atomic';
import { validateMLP, type DenseLayer, type MLP } from '../../model/mlp';
import type { WriteResult } from '../format';
import { writeHdf5 } from './h5';
import type { Json } from './topology';
import { containerPaths, toSnakeCase } from './weights';
import { CONFIG_ENTRY, METADATA_ENTRY, WEIGHTS_ENTRY } from './zip';

/** The Keras release whose serialization the files follow (metadata.json's keras_version). */
export const KERAS_VERSION = '3.1.1';

/** One layer of the Sequential, with the arrays its vars group holds. */
interface LayerOut {
  className: string;
  config: Json;
  /** The input shape Keras records when it builds the layer (undefined for layers it does not build). */
  buildInput?: (number | null)[];
  vars: { shape: number[]; values: Float32Array }[];
}

/** Keras names layers by class: dense, dense_1, ... (keras.src.backend.common.global_state uniquify). */
class Namer {
  private readonly used = new Map<string, number>();
  next(className: string): string {
    const base = toSnakeCase(className);
    const n = this.used.get(base);
    this.used.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  }
}

function initializer(className: string, config: Json): Json {
  return { module: 'keras.initializers', class_name: className, config, registered_name: null };
}

function denseOut(layer: DenseLayer, name: string, activation: string): LayerOut {
  return {
    className: 'Dense',
    config: {
      name,
      trainable: true,
      dtype: 'float32',
      units: layer.units,
      activation,
      use_bias: layer.bias !== null,
      kernel_initializer: initializer('GlorotUniform', { seed: null }),
      bias_initializer: initializer('Zeros', {}),
      kernel_regularizer: null,
      bias_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
    buildInput: [null, layer.inputSize],
    vars: [
      { shape: [layer.inputSize, layer.units], values: layer.weights },
      ...(layer.bias ? [{ shape: [layer.units], values: layer.bias }] : []),
    ],
  };
}

/** The Sequential's layers after its InputLayer. */
function layersOf(mlp: MLP): LayerOut[] {
  const names = new Namer();
  const out: LayerOut[] = [];
  if (mlp.inputShape.length > 1) {
    out.push({
      className: 'Flatten',
      config: { name: names.next('Flatten'), trainable: true, dtype: 'float32', data_format: 'channels_last' },
      buildInput: [null, ...mlp.inputShape],
      vars: [],
    });
  }
  for (const layer of mlp.layers) {
    const leaky = layer.activation === 'leaky_relu';
    out.push(denseOut(layer, names.next('Dense'), leaky ? 'linear' : layer.activation));
    if (leaky) {
      const config = { name: names.next('LeakyReLU'), trainable: true, dtype: 'float32', negative_slope: layer.alpha ?? 0.01 };
      out.push({ className: 'LeakyReLU', config, vars: [] });
    }
    if (layer.dropout && layer.dropout > 0) {
      const config = { name: names.next('Dropout'), trainable: true, dtype: 'float32', rate: layer.dropout, seed: null, noise_shape: null };
      out.push({ className: 'Dropout', config, vars: [] });
    }
  }
  return out;
}

/** A name Keras accepts for the model (no '/'), from the MLP's. */
function modelName(mlp: MLP): string {
  const name = mlp.name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');
  return name || 'sequential';
}

/** config.json: the Sequential as serialization_lib.serialize_keras_object writes it. */
function kerasConfig(mlp: MLP, layers: LayerOut[]): Json {
  const batchShape = [null, ...mlp.inputShape];
  const input: Json = {
    module: 'keras.layers',
    class_name: 'InputLayer',
    config: { batch_shape: batchShape, dtype: 'float32', sparse: false, name: 'input_layer' },
    registered_name: null,
  };
  const serialized = layers.map((l) => {
    const entry: Json = { module: 'keras.layers', class_name: l.className, config: l.config, registered_name: null };
    if (l.buildInput) entry.build_config = { input_shape: l.buildInput };
    return entry;
  });
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: { name: modelName(mlp), trainable: true, dtype: 'float32', layers: [input, ...serialized], build_input_shape: batchShape },
    registered_name: null,
    build_config: { input_shape: batchShape },
  };
}

/** model.weights.h5 of the Sequential's layers. */
function kerasWeights(layers: LayerOut[]): Promise<Uint8Array> {
  const paths = containerPaths(
    '/layers',
    layers.map((l) => l.className),
  );
  return writeHdf5((w) => {
    w.group('/layers');
    layers.forEach((l, i) => {
      w.group(paths[i]);
      w.group(`${paths[i]}/vars`);
      l.vars.forEach((v, k) => w.float32(`${paths[i]}/vars/${k}`, v.shape, v.values));
    });
    w.group('/vars');
  });
}

/** "2024-06-26@16:51:48", as saving_lib writes date_saved (local time). */
function dateSaved(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}@${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The bytes of the .keras archive for `mlp`. */
export async function kerasArchive(mlp: MLP, now = new Date()): Promise<Uint8Array> {
  const layers = layersOf(mlp);
  const weights = await kerasWeights(layers);
  const text = (json: Json) => new TextEncoder().encode(JSON.stringify(json));
  const metadata = { keras_version: KERAS_VERSION, date_saved: dateSaved(now) };
  // Stored, not deflated, in the order saving_lib writes them.
  return zipSync(
    {
      [METADATA_ENTRY]: [text(metadata), { level: 0, mtime: now }],
      [CONFIG_ENTRY]: [text(kerasConfig(mlp, layers)), { level: 0, mtime: now }],
      [WEIGHTS_ENTRY]: [weights, { level: 0, mtime: now }],
    },
    { level: 0 },
  );
}

export async function writeKeras(mlp: MLP, path: string): Promise<WriteResult> {
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new PruneScopeError(`${path}: cannot write the model: ${(e as Error).message}`);
  }
  const file = resolve(path);
  const data = await kerasArchive(mlp);
  const bytes = await writeFilesAtomically([{ path: file, data }]);
  return { files: [file], bytes };
}
