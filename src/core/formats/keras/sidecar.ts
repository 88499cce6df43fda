/**
 * The architecture of a weights-only HDF5 file (Keras `save_weights`), from a JSON file beside it
 * holding the model config as `model.to_json()` writes it (a Keras 3 config.json taken out of a
 * .keras archive works too). Only the file's own folder is looked in, through openContained, and
 * only these names, in this order, for `<stem>.h5` (or .hdf5):
 *
 *   1. `<stem>.json`
 *   2. `<name>.json` when the stem is `<name>.weights` (Keras 3 names weights `model.weights.h5`)
 *   3. `config.json`
 *   4. `model.json`
 *
 * The first that exists and holds a Keras model config (class_name Sequential, Functional or
 * Model, possibly under model_config) is used; files of those names that hold something else (a
 * tfjs model.json) are passed over.
 */
import { dirname } from 'node:path';
import { ModelFormatError } from '../../errors';
import { ContainmentError, readContained } from '../../io/contained';
import { MiB } from '../../io/inflate';
import { sidecarNames } from '../model-files';
import { isModelConfig, parseConfigJson } from './config';
import type { Src } from './topology';

/** Larger than any model config; a bigger file is not one. */
const MAX_SIDECAR_BYTES = 64 * MiB;

export interface Sidecar {
  /** The JSON file's path. */
  path: string;
  config: unknown;
}

/** What happened to each name, for the message when none fits. */
type Look = { name: string; found: false } | { name: string; found: true; why?: string; sidecar?: Sidecar };

async function look(src: Src, dir: string, name: string): Promise<Look> {
  let read: { path: string; bytes: Uint8Array };
  try {
    read = await readContained(dir, name, 0, (size) => {
      if (size > MAX_SIDECAR_BYTES) throw new ContainmentError(`"${name}" has ${size} bytes, too large for a model config`);
      return size;
    });
  } catch (e) {
    if (!(e instanceof ContainmentError)) throw e;
    return /not found/.test(e.message) ? { name, found: false } : { name, found: true, why: e.message };
  }
  const text = new TextDecoder('utf-8').decode(read.bytes).replace(/^\uFEFF/, '');
  let json: unknown;
  try {
    json = parseConfigJson({ file: read.path, label: src.label }, text, name);
  } catch (e) {
    if (e instanceof ModelFormatError) return { name, found: true, why: 'is not valid JSON' };
    throw e;
  }
  if (!isModelConfig(json)) return { name, found: true, why: 'does not hold a Keras model config' };
  return { name, found: true, sidecar: { path: read.path, config: json } };
}

/** The first architecture file beside a weights-only `src.file`; a ModelFormatError saying what was looked for when there is none. */
export async function findSidecar(src: Src): Promise<Sidecar> {
  const dir = dirname(src.file);
  const names = sidecarNames(src.file);
  const looks: Look[] = [];
  for (const name of names) {
    const l = await look(src, dir, name);
    if (l.found && l.sidecar) return l.sidecar;
    looks.push(l);
  }
  const passed = looks.filter((l): l is Look & { found: true } => l.found).map((l) => `${l.name} ${l.why}`);
  throw new ModelFormatError(
    src.file,
    src.label,
    `the file holds only weights (no model_config); reading it needs the model's architecture: save model.to_json() beside it as ${names.join(', ')} (looked for in that order, in the same folder)${passed.length ? `; ${passed.join('; ')}` : ''}`,
  );
}
