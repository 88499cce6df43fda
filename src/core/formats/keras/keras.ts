/**
 * Keras models: `.keras` (Keras 3's zip of config.json, metadata.json and model.weights.h5) and
 * `.h5` / `.hdf5` (HDF5 full models of Keras 2 and of Keras 3's legacy writer, and weights-only
 * files with their architecture in a JSON file beside them, see sidecar.ts). Reads Sequential and
 * single-chain Functional MLPs; writes `.keras` (write.ts).
 */
import { promises as fs } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { ModelFormatError } from '../../errors';
import { validateMLP, type MLP } from '../../model/mlp';
import type { ModelFormat } from '../format';
import { KerasChain } from './chain';
import { KERAS_LABEL, kerasModel, parseConfigJson, type KerasModel } from './config';
import { H5Error, hdf5Offset, looksLikeHdf5, type H5Reader } from './h5';
import { readKerasHdf5 } from './h5-run';
import { findSidecar } from './sidecar';
import { declaredInputShape, isRecord, type Src } from './topology';
import { detectLayout, LegacyWeights, VarsWeights, stringList, type Layout, type WeightSource } from './weights';
import { writeKeras } from './write';
import { describeStart, looksLikeZip, openKerasArchive, WEIGHTS_ENTRY } from './zip';

const EXTENSIONS = new Set(['.keras', '.h5', '.hdf5']);

/** What the HDF5 file says before its weights are read. */
interface H5Overview {
  modelConfig: string | undefined;
  layout: Layout | undefined;
  producer: string | undefined;
  /** The root's members, for messages. */
  members: string[];
}

function src(file: string): Src {
  return { file, label: KERAS_LABEL };
}

function attrString(r: H5Reader, path: string, name: string): string | undefined {
  const list = stringList(r.attr(path, name));
  return list && list.length === 1 ? list[0] : undefined;
}

function overview(r: H5Reader): H5Overview {
  const modelConfig = attrString(r, '/', 'model_config');
  const members = r.keys('/');
  const version =
    attrString(r, '/', 'keras_version') ??
    (r.kind('/model_weights') === 'group' ? attrString(r, '/model_weights', 'keras_version') : undefined);
  const backend = attrString(r, '/', 'backend');
  const producer = version ? `keras ${version}${backend ? ` (${backend})` : ''}` : undefined;
  return { modelConfig, layout: detectLayout(r), producer, members };
}

interface Chain {
  dense: MLP['layers'];
  inputShape: number[] | undefined;
}

/** The Dense layers from an open weights file, its layout and the model config. */
function buildChain(s: Src, r: H5Reader, layout: Layout, model: KerasModel, notes: string[]): Chain {
  if (layout.kind === 'legacy' && model.nested) {
    throw new ModelFormatError(
      s.file,
      s.label,
      'models nested in the model are not supported in legacy HDF5 files; save the model as .keras',
    );
  }
  const weights: WeightSource =
    layout.kind === 'vars' ? new VarsWeights(s, r, model.varsPaths) : new LegacyWeights(s, r, layout.root, model.weighted);
  const chain = new KerasChain(s, notes, declaredInputShape(s, model.chain[0], model.topology.config), weights);
  model.chain.forEach((l, i) => chain.add(l, i));
  const dense = chain.finish();
  return { dense, inputShape: chain.inputShape };
}

interface Built extends Chain {
  name: string | undefined;
  file: string;
  notes: string[];
  files: string[];
  producer: string | undefined;
}

function toMLP(b: Built): MLP {
  const shape = b.inputShape ?? [b.dense[0].inputSize];
  const mlp: MLP = {
    name: b.name ?? basename(b.file, extname(b.file)),
    inputShape: shape,
    inputSize: shape.reduce((a, c) => a * c, 1),
    layers: b.dense,
    source: { format: 'keras', path: b.file, producer: b.producer, notes: b.notes, files: b.files },
  };
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(b.file, KERAS_LABEL, (e as Error).message);
  }
  return mlp;
}

/** Reads HDF5 bytes (in a worker, see h5-run.ts), HDF5's own errors becoming a ModelFormatError about `place`. */
async function snapshot(s: Src, bytes: Uint8Array, place: string): Promise<H5Reader> {
  try {
    return await readKerasHdf5(bytes);
  } catch (e) {
    throw fromH5(s, place, e);
  }
}

/** Runs `fn` on a snapshot; reading what the snapshot could not read (an H5Error) becomes a ModelFormatError. */
function inSnapshot<T>(s: Src, place: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromH5(s, place, e);
  }
}

function fromH5(s: Src, place: string, e: unknown): unknown {
  return e instanceof H5Error ? new ModelFormatError(s.file, s.label, `cannot read the HDF5 data: ${e.message}`, place) : e;
}

async function readH5(file: string, bytes: Uint8Array): Promise<MLP> {
  const s = src(file);
  const reader = await snapshot(s, bytes, 'HDF5 file');
  const info = inSnapshot(s, 'HDF5 file', () => overview(reader));
  const files = [file];
  let model: KerasModel;
  if (info.modelConfig !== undefined) {
    model = kerasModel(s, parseConfigJson(s, info.modelConfig, 'model_config'), 'model_config');
  } else if (info.layout) {
    const sidecar = await findSidecar(s);
    files.push(sidecar.path);
    model = kerasModel(src(sidecar.path), sidecar.config, basename(sidecar.path));
  } else {
    throw new ModelFormatError(
      file,
      KERAS_LABEL,
      `an HDF5 file that is not a Keras model: no model_config attribute and no Keras weights (it holds ${info.members.join(', ') || 'nothing'})`,
    );
  }
  if (!info.layout) throw new ModelFormatError(file, KERAS_LABEL, 'the file has a model_config but no model_weights group');
  const layout = info.layout;
  const notes: string[] = [];
  const chain = inSnapshot(s, 'HDF5 file', () => buildChain(s, reader, layout, model, notes));
  return toMLP({ ...chain, name: model.topology.modelName, file, notes, files, producer: info.producer });
}

function producerOfMetadata(s: Src, metadata: string | undefined): string | undefined {
  if (metadata === undefined) return undefined;
  const json = parseConfigJson(s, metadata, 'metadata.json');
  return isRecord(json) && typeof json.keras_version === 'string' ? `keras ${json.keras_version}` : undefined;
}

async function readZip(file: string, bytes: Uint8Array): Promise<MLP> {
  const s = src(file);
  const archive = openKerasArchive(s, bytes);
  const model = kerasModel(s, parseConfigJson(s, archive.config, 'config.json'), 'config.json');
  const producer = producerOfMetadata(s, archive.metadata);
  if (hdf5Offset(archive.weights) === undefined) {
    throw new ModelFormatError(file, KERAS_LABEL, `${WEIGHTS_ENTRY} is not an HDF5 file (${describeStart(archive.weights)})`);
  }
  const notes: string[] = [];
  const reader = await snapshot(s, archive.weights, WEIGHTS_ENTRY);
  const chain = inSnapshot(s, WEIGHTS_ENTRY, () => buildChain(s, reader, { kind: 'vars' }, model, notes));
  return toMLP({ ...chain, name: model.topology.modelName, file, notes, files: [file], producer });
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_FS_FILE_TOO_LARGE' || e instanceof RangeError) {
      throw new ModelFormatError(file, KERAS_LABEL, 'is too large to read into memory');
    }
    throw new ModelFormatError(file, KERAS_LABEL, `cannot be read: ${(e as Error).message}`);
  }
}

/** Reads a .keras or .h5 file, telling the two apart by their content. */
export async function readKeras(path: string): Promise<MLP> {
  const file = resolve(path);
  const bytes = await readBytes(file);
  if (looksLikeZip(bytes)) return readZip(file, bytes);
  if (hdf5Offset(bytes) !== undefined) return readH5(file, bytes);
  if (extname(file).toLowerCase() === '.keras') {
    throw new ModelFormatError(
      file,
      KERAS_LABEL,
      `not a Keras file: a .keras file is a zip archive of config.json, metadata.json and model.weights.h5, and this one is neither zip nor HDF5 (${describeStart(bytes)})`,
    );
  }
  throw new ModelFormatError(file, KERAS_LABEL, `not an HDF5 file, as a Keras .h5 file is (${describeStart(bytes)})`);
}

export const kerasFormat: ModelFormat = {
  id: 'keras',
  label: KERAS_LABEL,
  detect: (path, head) => EXTENSIONS.has(extname(path).toLowerCase()) || looksLikeHdf5(head),
  read: (path) => readKeras(path),
  writeExtensions: ['.keras'],
  write: writeKeras,
};
