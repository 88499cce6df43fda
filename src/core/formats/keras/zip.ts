/**
 * The Keras 3 `.keras` archive: a zip holding config.json (the model config), metadata.json
 * (keras_version, date_saved) and model.weights.h5 (keras/src/saving/saving_lib.py). Entries are
 * read with the bounded zip reader of src/core/io/inflate.ts.
 */
import { DataError, ModelFormatError } from '../../errors';
import { checkZipEntry, dataLimit, extractZipEntry, listZip, type ZipEntry } from '../../io/inflate';
import type { Src } from './topology';

export const CONFIG_ENTRY = 'config.json';
export const METADATA_ENTRY = 'metadata.json';
export const WEIGHTS_ENTRY = 'model.weights.h5';

export interface KerasArchive {
  config: string;
  /** metadata.json's text, when there is one. */
  metadata: string | undefined;
  weights: Uint8Array;
}

/** Whether the bytes start like a zip archive (a local file header, or the end record of an empty one). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

/** What the start of a file that is neither zip nor HDF5 looks like, for messages. */
export function describeStart(bytes: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 256)).trimStart();
  if (/^<(!doctype html|html|head|body|!--)/i.test(text)) return "it is an HTML page, perhaps a web page saved under the model's name";
  if (/^(version https:\/\/git-lfs|oid sha256:)/.test(text)) return 'it is a Git LFS pointer, not the file itself (run git lfs pull)';
  if (/^[{[]/.test(text)) return 'it is JSON text';
  if (bytes.length === 0) return 'it is empty';
  const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `it starts with the bytes ${hex}`;
}

function entryBytes(src: Src, bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  try {
    checkZipEntry(entry, entry.name, dataLimit(src.file, bytes.length));
    return extractZipEntry(bytes, entry, entry.name);
  } catch (e) {
    if (e instanceof DataError) throw new ModelFormatError(src.file, src.label, e.problem, entry.name);
    throw e;
  }
}

function text(src: Src, bytes: Uint8Array, entry: ZipEntry): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(entryBytes(src, bytes, entry)).replace(/^\uFEFF/, '');
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(src.file, src.label, 'is not UTF-8 text', entry.name);
  }
}

/** The entries of a .keras archive; what is missing or damaged is a ModelFormatError. */
export function openKerasArchive(src: Src, bytes: Uint8Array): KerasArchive {
  let entries: ZipEntry[];
  try {
    entries = listZip(bytes, src.file);
  } catch (e) {
    if (e instanceof DataError) throw new ModelFormatError(src.file, src.label, e.problem.replace('.npz archive', 'the zip archive'));
    throw e;
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  const config = byName.get(CONFIG_ENTRY);
  const weights = byName.get(WEIGHTS_ENTRY);
  const names = entries.map((e) => e.name);
  const holds = `it holds ${names.slice(0, 8).join(', ') || 'nothing'}${names.length > 8 ? ', ...' : ''}`;
  if (!config) {
    throw new ModelFormatError(src.file, src.label, `a zip archive without ${CONFIG_ENTRY}: not a Keras 3 .keras file (${holds})`);
  }
  if (!weights) {
    const npz = byName.has('model.weights.npz')
      ? ' (its weights are in model.weights.npz, which is not supported: save with the default h5 weights)'
      : '';
    throw new ModelFormatError(src.file, src.label, `the archive has no ${WEIGHTS_ENTRY}${npz} (${holds})`);
  }
  const meta = byName.get(METADATA_ENTRY);
  return {
    config: text(src, bytes, config),
    metadata: meta ? text(src, bytes, meta) : undefined,
    weights: entryBytes(src, bytes, weights),
  };
}
