/**
 * TensorFlow.js model folders written by hand for the tests: a model.json (JSON.stringify of a
 * plain object laid out as the tfjs converters and tfjs-layers write it) and one weights shard of
 * little-endian float32 values, concatenated in manifest order. Independent of the product's tfjs
 * reader and writer (src/core/formats/tfjs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { float32LE } from './protobuf';

export interface TfjsWeight {
  name: string;
  shape: readonly number[];
  values: ArrayLike<number>;
}

export interface TfjsFolder {
  dir: string;
  /** model.json; a weightsManifest key (any value) marks where the manifest goes, else it comes last. */
  json: Record<string, unknown>;
  weights: readonly TfjsWeight[];
  /** Default model.json. */
  jsonName?: string;
  /** The shard's file name; default weights.bin. */
  shardName?: string;
  /** The path the manifest gives for the shard (e.g. "./weights.bin"); default shardName. */
  manifestPath?: string;
}

/** Writes the folder; returns the model.json path. */
export function writeTfjsFolder(f: TfjsFolder): string {
  mkdirSync(f.dir, { recursive: true });
  const shardName = f.shardName ?? 'weights.bin';
  for (const w of f.weights) {
    const count = w.shape.reduce((a, d) => a * d, 1);
    if (count !== w.values.length)
      throw new Error(`${w.name}: shape [${w.shape.join(', ')}] holds ${count} values, given ${w.values.length}`);
  }
  const bytes = new Uint8Array(f.weights.reduce((n, w) => n + 4 * w.values.length, 0));
  let at = 0;
  for (const w of f.weights) {
    bytes.set(float32LE(w.values), at);
    at += 4 * w.values.length;
  }
  writeFileSync(join(f.dir, shardName), bytes);
  const manifest = [
    { paths: [f.manifestPath ?? shardName], weights: f.weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' })) },
  ];
  // Assigning a key the object already has keeps its place in JSON.stringify's order.
  const json = { ...f.json, weightsManifest: manifest };
  const path = join(f.dir, f.jsonName ?? 'model.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}

/** A Keras Dense layer entry ({ class_name, config }) as tfjs-layers 1.x saves it. */
export function denseLayer(name: string, units: number, activation: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const init = { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'normal', seed: null } };
  return {
    class_name: 'Dense',
    config: {
      units,
      activation,
      use_bias: true,
      kernel_initializer: init,
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      name,
      trainable: true,
      ...extra,
    },
  };
}

/** GraphDef pieces as the tfjs converter writes them (dimension sizes as strings). */
export const graphDef = {
  shape: (dims: readonly number[]) => ({ dim: dims.map((d) => ({ size: String(d) })) }),
  placeholder(name: string, dims: readonly number[]) {
    return { name, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: graphDef.shape(dims) } } };
  },
  constant(name: string, dims: readonly number[], controlInput?: string) {
    return {
      ...(controlInput ? { input: [`^${controlInput}`] } : {}),
      attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: graphDef.shape(dims) } } },
      name,
      op: 'Const',
    };
  },
  matMul(name: string, a: string, b: string, extra: Record<string, unknown> = {}) {
    return {
      input: [a, b],
      attr: { transpose_b: { b: false }, transpose_a: { b: false }, T: { type: 'DT_FLOAT' } },
      name,
      op: 'MatMul',
      ...extra,
    };
  },
  biasAdd(name: string, x: string, bias: string) {
    return {
      input: [x, bias],
      attr: { T: { type: 'DT_FLOAT' }, data_format: { s: Buffer.from('NHWC').toString('base64') } },
      name,
      op: 'BiasAdd',
    };
  },
  unary(name: string, op: string, x: string) {
    return { input: [x], attr: { T: { type: 'DT_FLOAT' } }, name, op };
  },
};
