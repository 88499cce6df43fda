/**
 * Builds and inspects HDF5 and .keras files for the Keras tests, independently of the code under
 * test: HDF5 through h5wasm's Node build (`h5wasm/node`, real file paths; the reader uses the
 * in-memory build), zips through fflate, forward passes by hand in float64.
 */
import { zipSync } from 'fflate';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, File as H5File, Group } from 'h5wasm' with { 'resolution-mode': 'import' };
import type * as H5wasmNode from 'h5wasm/node' with { 'resolution-mode': 'import' };

type H5Node = typeof H5wasmNode;

let h5: Promise<H5Node> | undefined;

async function lib(): Promise<H5Node> {
  h5 ??= import('h5wasm/node').then(async (m) => {
    await m.ready;
    return m;
  });
  return h5;
}

/** An attribute: a string or list of strings (variable-length unless `fixed`), or numbers. */
export interface AttrSpec {
  value: string | string[] | Float64Array;
  /** Store the strings as fixed-length (h5py's numpy bytes arrays, e.g. Keras 2's weight_names). */
  fixed?: boolean;
}

/** A group (children) or a float dataset (data). */
export interface NodeSpec {
  attrs?: Record<string, AttrSpec | string | string[]>;
  children?: Record<string, NodeSpec>;
  data?: { shape: number[]; values: ArrayLike<number>; dtype?: '<f' | '<d' };
}

function addAttrs(target: Group | Dataset, attrs: NodeSpec['attrs']): void {
  for (const [name, raw] of Object.entries(attrs ?? {})) {
    const spec: AttrSpec = typeof raw === 'string' || Array.isArray(raw) ? { value: raw } : raw;
    const v = spec.value;
    if (v instanceof Float64Array) target.create_attribute(name, v, [v.length], '<d');
    else if (spec.fixed) {
      const list = Array.isArray(v) ? v : [v];
      const size = Math.max(1, ...list.map((s) => Buffer.byteLength(s)));
      target.create_attribute(name, list, Array.isArray(v) ? [list.length] : [], `S${size}`);
    } else target.create_attribute(name, v);
  }
}

function addNode(file: H5File, path: string, node: NodeSpec): void {
  if (node.data) {
    const { shape, values, dtype = '<f' } = node.data;
    const data = dtype === '<f' ? Float32Array.from(values) : Float64Array.from(values);
    file.create_dataset({ name: path, data, shape, dtype });
    addAttrs(file.get(path) as Dataset, node.attrs);
    return;
  }
  if (path !== '/') file.create_group(path);
  addAttrs(file.get(path) as Group, node.attrs);
  for (const [name, child] of Object.entries(node.children ?? {})) addNode(file, path === '/' ? `/${name}` : `${path}/${name}`, child);
}

/** Writes an HDF5 file at `path` holding `root`. */
export async function writeH5(path: string, root: NodeSpec): Promise<void> {
  const m = await lib();
  // The oldest file format, as h5py writes by default (no metadata checksums).
  const file = new m.File(path, 'w', { libver: ['earliest', 'v110'] });
  try {
    addNode(file, '/', root);
  } finally {
    file.close();
  }
}

/** The bytes of an HDF5 file holding `root` (written to `scratch`, then read). */
export async function h5Bytes(scratch: string, root: NodeSpec): Promise<Uint8Array> {
  await writeH5(scratch, root);
  return new Uint8Array(readFileSync(scratch));
}

/** A zip of `entries`, stored (Python's zipfile default). */
export function writeZip(path: string, entries: Record<string, Uint8Array | string>): void {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const [name, data] of Object.entries(entries)) {
    files[name] = [typeof data === 'string' ? new TextEncoder().encode(data) : data, { level: 0 }];
  }
  writeFileSync(path, zipSync(files));
}

/** What an HDF5 file holds: every group and dataset path with its attributes, datasets with dtype, shape and values. */
export interface TreeEntry {
  kind: 'group' | 'dataset';
  attrs: Record<string, unknown>;
  dtype?: string;
  shape?: number[];
  values?: Float32Array | Float64Array;
}

function walk(m: H5Node, g: Group, prefix: string, out: Map<string, TreeEntry>): void {
  for (const name of g.keys()) {
    const child = g.get(name);
    const path = `${prefix}/${name}`;
    if (child instanceof m.Dataset) {
      const attrs = Object.fromEntries(Object.entries(child.attrs).map(([k, a]) => [k, a.value]));
      out.set(path, { kind: 'dataset', attrs, dtype: child.dtype as string, shape: child.shape ?? [], values: child.value as Float32Array });
    } else if (child instanceof m.Group) {
      out.set(path, { kind: 'group', attrs: Object.fromEntries(Object.entries(child.attrs).map(([k, a]) => [k, a.value])) });
      walk(m, child, path, out);
    }
  }
}

/** Every group and dataset of the HDF5 file at `path`, by absolute path ('/' for the root). */
export async function readTree(path: string): Promise<Map<string, TreeEntry>> {
  const m = await lib();
  const file = new m.File(path, 'r');
  try {
    const out = new Map<string, TreeEntry>();
    out.set('/', { kind: 'group', attrs: Object.fromEntries(Object.entries(file.attrs).map(([k, a]) => [k, a.value])) });
    walk(m, file, '', out);
    return out;
  } finally {
    file.close();
  }
}

/** y = x W + b for one sample, W [inputs, units] row-major, in float64. */
export function dense(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, units: number): number[] {
  const y = Array.from({ length: units }, (_, j) => (b ? b[j] : 0));
  for (let i = 0; i < x.length; i++) for (let j = 0; j < units; j++) y[j] += x[i] * w[i * units + j];
  return y;
}

/** Keras activations by name, in float64. */
export function activate(name: string, y: number[], alpha = 0.2): number[] {
  switch (name) {
    case 'linear':
      return y;
    case 'relu':
      return y.map((v) => Math.max(0, v));
    case 'sigmoid':
      return y.map((v) => 1 / (1 + Math.exp(-v)));
    case 'tanh':
      return y.map((v) => Math.tanh(v));
    case 'leaky_relu':
      return y.map((v) => (v < 0 ? alpha * v : v));
    case 'softmax': {
      const m = Math.max(...y);
      const e = y.map((v) => Math.exp(v - m));
      const s = e.reduce((a, c) => a + c, 0);
      return e.map((v) => v / s);
    }
    default:
      throw new Error(`activation ${name} not in the test kit`);
  }
}

/** Keras BatchNormalization at inference, in float64. */
export function batchNorm(x: number[], p: { gamma?: ArrayLike<number>; beta?: ArrayLike<number>; mean: ArrayLike<number>; variance: ArrayLike<number>; eps: number }): number[] {
  return x.map((v, i) => ((p.gamma ? p.gamma[i] : 1) * (v - p.mean[i])) / Math.sqrt(p.variance[i] + p.eps) + (p.beta ? p.beta[i] : 0));
}

/** Deterministic values in [-1, 1). */
export function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/**
 * A Keras 3 weights-only file in `dir` (`model.weights.h5`: layers/<name>/vars/0, 1) of Dense
 * 3 -> 4 (tanh) -> 2, and the model config that goes beside it (not written: callers choose the name).
 */
export async function kerasWeightsOnly(dir: string): Promise<{ h5: string; config: object }> {
  const h5 = join(dir, 'model.weights.h5');
  const arr = (shape: number[], seed: number): NonNullable<NodeSpec['data']> => ({
    shape,
    values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i)),
  });
  const vars = (k: NodeSpec['data'], b: NodeSpec['data']): NodeSpec => ({ children: { vars: { children: { '0': { data: k }, '1': { data: b } } } } });
  await writeH5(h5, {
    children: {
      layers: { children: { dense: vars(arr([3, 4], 1), arr([4], 2)), dense_1: vars(arr([4, 2], 3), arr([2], 4)) } },
      vars: { children: {} },
    },
  });
  const layer = (cls: string, config: object) => ({ module: 'keras.layers', class_name: cls, config, registered_name: null });
  const denseLayer = (name: string, units: number, activation: string) =>
    layer('Dense', { name, trainable: true, dtype: 'float32', units, activation, use_bias: true });
  const config = {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: 'k3w',
      trainable: true,
      dtype: 'float32',
      layers: [
        layer('InputLayer', { batch_shape: [null, 3], dtype: 'float32', sparse: false, name: 'input_layer' }),
        denseLayer('dense', 4, 'tanh'),
        denseLayer('dense_1', 2, 'linear'),
      ],
    },
    registered_name: null,
  };
  return { h5, config };
}
