/**
 * A Keras model config (the `model_config` attribute of an .h5 file, config.json of a .keras
 * file, what `model.to_json()` writes) as the chain of layers PruneScope reads: Sequential and
 * single-chain Functional models, with models nested in them flattened in place.
 */
import { ModelFormatError } from '../../errors';
import { preview, tooDeep } from '../tfjs/weights';
import {
  functionalChain,
  isRecord,
  readTopology,
  where,
  whyUnsupported,
  type Json,
  type KerasLayer,
  type Src,
  type Topology,
} from './topology';
import { containerPaths } from './weights';

export const KERAS_LABEL = 'Keras';

/** Layers that can be part of an MLP: Dense, BatchNormalization (folded), shape-only and inference no-op layers. */
const SUPPORTED = new Set([
  'InputLayer',
  'Dense',
  'BatchNormalization',
  'Activation',
  'Dropout',
  'Flatten',
  'Reshape',
  'ReLU',
  'LeakyReLU',
  'Softmax',
]);
const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);
/** The supported layers that hold weights. */
export const WEIGHTED = new Set(['Dense', 'BatchNormalization']);

/** Nested models flattened deeper than this are refused (the nesting comes from the file). */
const MAX_NESTING = 8;

export interface KerasModel {
  topology: Topology;
  /** The layers from input to output, nested models flattened. */
  chain: KerasLayer[];
  /** Each layer's path in a Keras 3 weights file ('/layers/dense_1', '/layers/sequential/layers/dense'). */
  varsPaths: Map<KerasLayer, string>;
  /** The top-level layers with weights, in the model's order (what a legacy .h5 pairs its layer groups with). */
  weighted: KerasLayer[];
  /** True when a model is nested in the model. */
  nested: boolean;
}

/** Parses JSON text from the file, refusing what is not JSON or nests absurdly deep. */
export function parseConfigJson(src: Src, text: string, place: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(src.file, src.label, `${place} is not valid JSON: ${(e as Error).message}`);
  }
  const deep = tooDeep(json);
  if (deep) throw new ModelFormatError(src.file, src.label, `${place} nests too deeply (at ${deep})`);
  return json;
}

/** Whether `json` is a Keras model config (or an object holding one as model_config). */
export function isModelConfig(json: unknown): boolean {
  if (!isRecord(json)) return false;
  const inner = isRecord(json.model_config) ? json.model_config : json;
  return (
    typeof inner.class_name === 'string' && MODEL_CLASSES.has(inner.class_name) && (isRecord(inner.config) || Array.isArray(inner.config))
  );
}

function checkClass(src: Src, l: KerasLayer): void {
  if (SUPPORTED.has(l.className) || MODEL_CLASSES.has(l.className)) return;
  throw new ModelFormatError(
    src.file,
    src.label,
    `${l.className} is not supported: ${whyUnsupported(l.className)} (PruneScope reads Dense layers with InputLayer, BatchNormalization, Activation, Dropout, Flatten, Reshape, ReLU, LeakyReLU and Softmax)`,
    where(l),
  );
}

interface Flat {
  chain: KerasLayer[];
  varsPaths: Map<KerasLayer, string>;
  nested: boolean;
}

/** Appends the chain of `topo` (at `prefix` in the weights file) to `out`, nested models in place. */
function flatten(src: Src, topo: Topology, prefix: string, out: Flat, depth: number): void {
  // Refuse what is not an MLP before looking at the graph or the weights.
  for (const l of topo.layers) checkClass(src, l);
  const chain = topo.sequential ? topo.layers : functionalChain(src, topo.layers, topo.config as Json);
  const paths = containerPaths(
    `${prefix}/layers`,
    topo.layers.map((l) => l.className),
  );
  const pathOf = new Map(topo.layers.map((l, i) => [l, paths[i]]));
  for (const l of chain) {
    if (MODEL_CLASSES.has(l.className)) {
      if (depth >= MAX_NESTING) throw new ModelFormatError(src.file, src.label, `models nest more than ${MAX_NESTING} deep`, where(l));
      out.nested = true;
      flatten(src, readTopology(src, l.raw, where(l)), pathOf.get(l)!, out, depth + 1);
      continue;
    }
    // A nested model's own InputLayer only repeats the shape its outer model feeds it.
    if (l.className === 'InputLayer' && out.chain.length > 0) continue;
    out.chain.push(l);
    out.varsPaths.set(l, pathOf.get(l)!);
  }
}

/** The model a config describes, as a chain of supported layers. `place` says where the config sits, for messages. */
export function kerasModel(src: Src, json: unknown, place: string): KerasModel {
  if (!isModelConfig(json)) {
    const cls = isRecord(json) ? (isRecord(json.model_config) ? json.model_config.class_name : json.class_name) : undefined;
    throw new ModelFormatError(
      src.file,
      src.label,
      cls === undefined
        ? `${place} is not a Keras model config (no class_name)`
        : `model class ${preview(cls)} is not supported (expected Sequential or a Functional Model)`,
      place,
    );
  }
  const topology = readTopology(src, json, place);
  const out: Flat = { chain: [], varsPaths: new Map(), nested: false };
  flatten(src, topology, '', out, 0);
  if (out.chain.length === 0) throw new ModelFormatError(src.file, src.label, 'the model has no layers');
  const weighted = topology.layers.filter((l) => WEIGHTED.has(l.className));
  return { topology, chain: out.chain, varsPaths: out.varsPaths, weighted, nested: out.nested };
}
