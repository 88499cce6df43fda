import { constants as bufferConstants } from 'node:buffer';
import { promises as fs } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { ModelFormatError } from '../../errors';
import { ACTIVATIONS, type Activation, type DenseLayer, type MLP, validateMLP } from '../../model/mlp';
import type { ModelFormat, ReadOptions } from '../format';
import { type Attached, attachNorms, foldAfter, foldInput } from './batchnorm';
import { type Container, LABEL } from './container';
import { LEGACY_HEAD, MAGIC_NUMBER, readLegacyContainer } from './legacy-container';
import { PyDict, type PyValue } from './pickle';
import { type FoundStateDict, type LinearGroup, findStateDict, groupLayers, orderLinears } from './state-dict';
import { tensorValues } from './tensors';
import { META_INPUT_SHAPE, META_LAYERS, META_NAME, META_PRODUCER, writePytorch } from './write';
import { ZIP_MAGIC, readZipContainer } from './zip-container';

/**
 * PyTorch `torch.save` files (.pt, .pth, .bin, .ckpt, .pkl) holding a state dict of Linear
 * layers (with optional BatchNorm1d, folded in), in the zip format of PyTorch 1.6+ or the legacy
 * pickle stream. The pickle is read by a restricted interpreter (pickle.ts) that runs nothing;
 * see zip-container.ts and legacy-container.ts for the layouts, state-dict.ts for how layers are
 * found and ordered, write.ts for what is written. A state dict stores no activations: they come
 * from ReadOptions (relu, and linear for the output), unless the file was written by PruneScope,
 * which records them in the state dict's `_metadata`.
 */

/** Extensions torch.save files go by. */
export const PYTORCH_EXTENSIONS = ['.pt', '.pth', '.bin', '.ckpt', '.pkl'];
/** Extensions under which a file that merely starts like a pickle or a zip is taken to be torch.save's (to say clearly what is wrong with it). */
const CLAIMED_EXTENSIONS = ['.pt', '.pth', '.ckpt', '.pkl', '.pickle'];

const startsWith = (head: Uint8Array, bytes: number[]) => head.length >= bytes.length && bytes.every((b, i) => head[i] === b);

/** The magic number as protocol 0 and 1 pickle it (LONG in decimal). */
const LEGACY_TEXT_HEAD = [...Buffer.from(`L${MAGIC_NUMBER}L`, 'latin1')];

/** The name of the zip's first record, from its local header. */
function firstZipName(head: Uint8Array): string {
  if (head.length < 30) return '';
  const len = head[26] | (head[27] << 8);
  return Buffer.from(head.subarray(30, 30 + len)).toString('latin1');
}

function isTar(head: Uint8Array): boolean {
  return head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar';
}

/**
 * torch.save's zip (its first record is <folder>/data.pkl) or legacy stream (the magic number),
 * whatever the name; a zip, pickle or tar only under a PyTorch extension (so a .keras or .npz zip
 * is never claimed).
 */
export function detectPytorch(path: string, head: Uint8Array): boolean {
  const ext = extname(path).toLowerCase();
  if (startsWith(head, ZIP_MAGIC)) return /^[^/]+\/data\.pkl$/.test(firstZipName(head)) || CLAIMED_EXTENSIONS.includes(ext);
  if (startsWith(head, LEGACY_HEAD) || startsWith(head, LEGACY_TEXT_HEAD)) return true;
  return CLAIMED_EXTENSIONS.includes(ext) && (head[0] === 0x80 || isTar(head));
}

async function readBytes(path: string): Promise<Uint8Array> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFormatError(path, LABEL, code === 'ENOENT' ? 'file not found' : `cannot open: ${(e as Error).message}`);
  }
  if (!stat.isFile()) throw new ModelFormatError(path, LABEL, 'is not a regular file');
  if (stat.size > bufferConstants.MAX_LENGTH) throw new ModelFormatError(path, LABEL, `is ${stat.size} bytes, more than one buffer holds`);
  const b = await fs.readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function openContainer(path: string, bytes: Uint8Array): Container {
  if (startsWith(bytes, ZIP_MAGIC)) return readZipContainer(path, bytes);
  if (isTar(bytes)) {
    throw new ModelFormatError(
      path,
      LABEL,
      'is a tar archive: the format of PyTorch before 0.1.10, which is not read; load and save it again with a recent PyTorch',
    );
  }
  if (bytes[0] !== 0x80 && bytes[0] !== 0x4c) {
    throw new ModelFormatError(path, LABEL, 'is neither a zip archive nor a pickle: not a file of torch.save');
  }
  return readLegacyContainer(path, bytes);
}

interface Recorded {
  name?: string;
  inputShape?: number[];
  layers?: { name: string; activation: Activation; alpha?: number; dropout?: number }[];
  producer?: string;
}

function recordedLayers(text: PyValue | undefined, count: number, notes: string[]): Recorded['layers'] {
  if (typeof text !== 'string') return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v) || v.length !== count) throw new Error(`expected ${count} entries`);
    return v.map((e: { name?: unknown; activation?: unknown; alpha?: unknown; dropout?: unknown }, i) => {
      if (typeof e !== 'object' || e === null || !ACTIVATIONS.includes(e.activation as Activation))
        throw new Error(`entry ${i} has no known activation`);
      return {
        name: typeof e.name === 'string' ? e.name : '',
        activation: e.activation as Activation,
        ...(typeof e.alpha === 'number' ? { alpha: e.alpha } : {}),
        ...(typeof e.dropout === 'number' ? { dropout: e.dropout } : {}),
      };
    });
  } catch (e) {
    notes.push(
      `ignored "${META_LAYERS}" in the state dict's _metadata (${(e as Error).message}); activations come from the reader options`,
    );
    return undefined;
  }
}

/** What PruneScope recorded in `_metadata['']` when it wrote the file. */
function readRecorded(dict: PyDict, count: number, inputSize: number, notes: string[]): Recorded {
  const meta = dict.attributes instanceof PyDict ? dict.attributes.get('_metadata') : undefined;
  const root = meta instanceof PyDict ? meta.get('') : undefined;
  if (!(root instanceof PyDict)) return {};
  const str = (k: string) => {
    const v = root.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  let inputShape: number[] | undefined;
  try {
    const v = JSON.parse(str(META_INPUT_SHAPE) ?? 'null') as unknown;
    const ok =
      Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d > 0) && v.reduce((a: number, b: number) => a * b, 1) === inputSize;
    if (ok) inputShape = v as number[];
  } catch {
    // the flat shape then
  }
  return { name: str(META_NAME), inputShape, layers: recordedLayers(root.get(META_LAYERS), count, notes), producer: str(META_PRODUCER) };
}

/** One Linear layer as a dense layer: [out, in] transposed to [in, out] (times its prune mask), with its BatchNorm1d folded in. */
function denseLayer(path: string, g: LinearGroup, attached: Attached, first: boolean, le: boolean): Omit<DenseLayer, 'activation'> {
  const w = tensorValues(path, g.weight, le, Float32Array);
  if (g.mask) {
    const mask = tensorValues(path, g.mask, le, Float32Array);
    for (let i = 0; i < w.length; i++) w[i] *= mask[i];
  }
  const kernel = new Float32Array(w.length);
  for (let o = 0; o < g.units; o++) {
    for (let k = 0; k < g.inputSize; k++) kernel[k * g.units + o] = w[o * g.inputSize + k];
  }
  let bias: Float32Array | null = g.bias ? tensorValues(path, g.bias, le, Float32Array) : null;
  if (first && attached.input) bias = foldInput(path, kernel, bias, g.units, attached.input, le);
  const norm = attached.after.get(g);
  if (norm) bias = foldAfter(path, kernel, bias, g.units, norm, le);
  return { name: g.prefix || 'linear', inputSize: g.inputSize, units: g.units, weights: kernel, bias };
}

function sourceNotes(found: FoundStateDict, container: Container): string[] {
  const notes = [...container.notes];
  if (found.key) notes.push(`state dict read from the checkpoint entry "${found.key}"`);
  if (found.others.length) {
    const shown = found.others.slice(0, 12).join(', ');
    notes.push(`also holds: ${shown}${found.others.length > 12 ? `, ... (${found.others.length} entries)` : ''} (not read)`);
  }
  const cuda = new Set(found.tensors.map((t) => t.tensor.storage.location).filter((l) => l !== 'cpu'));
  if (cuda.size) notes.push(`tensors saved on ${[...cuda].join(', ')}, read on the CPU`);
  return notes;
}

async function readPytorch(path: string, options: ReadOptions = {}): Promise<MLP> {
  const bytes = await readBytes(path);
  const container = openContainer(path, bytes);
  const found = findStateDict(path, container.root);
  const notes = sourceNotes(found, container);
  const { linears, norms } = groupLayers(path, found.tensors);
  const order = orderLinears(path, linears, notes);
  const attached = attachNorms(path, order, norms, notes);
  const recorded = readRecorded(found.dict, order.length, order[0].inputSize, notes);
  const hidden = options.activation ?? 'relu';
  const last = options.outputActivation ?? 'linear';
  if (!recorded.layers)
    notes.push(`a state dict stores no activations: ${hidden} after hidden layers, ${last} after the output layer (reader options)`);
  const layers: DenseLayer[] = order.map((g, i) => {
    const rec = recorded.layers?.[i];
    const layer: DenseLayer = {
      ...denseLayer(path, g, attached, i === 0, container.littleEndian),
      activation: rec?.activation ?? (i === order.length - 1 ? last : hidden),
    };
    if (rec?.alpha !== undefined) layer.alpha = rec.alpha;
    if (rec?.dropout !== undefined) layer.dropout = rec.dropout;
    return layer;
  });
  const mlp: MLP = {
    name: recorded.name || basename(path, extname(path)),
    inputShape: recorded.inputShape ?? [order[0].inputSize],
    inputSize: order[0].inputSize,
    layers,
    source: { format: 'pytorch', path: resolve(path), producer: recorded.producer ?? container.producer, notes, files: [resolve(path)] },
  };
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(path, LABEL, (e as Error).message);
  }
  return mlp;
}

export const pytorchFormat: ModelFormat = {
  id: 'pytorch',
  label: LABEL,
  detect: detectPytorch,
  read: readPytorch,
  writeExtensions: ['.pt', '.pth'],
  write: (mlp, path) => writePytorch(mlp, path),
};
