import { promises as fs } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { ModelFormatError, PruneScopeError } from '../errors';
import type { MLP } from '../model/mlp';
import type { ModelFormat, ReadOptions, WriteOptions, WriteResult } from './format';
import { kerasFormat } from './keras/keras';
import { onnxFormat } from './onnx/onnx';
import { pytorchFormat } from './pytorch/pytorch';
import { safetensorsFormat } from './safetensors/safetensors';
import { tfjsGraphFormat } from './tfjs/graph';
import { tfjsLayersFormat } from './tfjs/layers';
import { assertNotSource } from '../io/atomic';
import { noteInputs } from '../io/scope';

/** Every model format, in detection order. A new format is one file plus one line here. */
export const MODEL_FORMATS: readonly ModelFormat[] = [
  tfjsLayersFormat,
  tfjsGraphFormat,
  kerasFormat,
  onnxFormat,
  pytorchFormat,
  safetensorsFormat,
];

const HEAD_BYTES = 64 * 1024;

async function readHead(path: string): Promise<Uint8Array> {
  const handle = await fs.open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buf, 0, HEAD_BYTES, 0);
    return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Resolves a folder to the model file inside it (a tfjs folder holds model.json). */
async function resolveModelPath(path: string): Promise<string> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch {
    throw new ModelFormatError(path, 'model', 'file not found');
  }
  if (stat.isFile()) return path;
  if (!stat.isDirectory()) throw new ModelFormatError(path, 'model', 'is not a regular file (a device, socket or pipe)');
  const candidate = join(path, 'model.json');
  try {
    await fs.access(candidate);
    return candidate;
  } catch {
    throw new ModelFormatError(path, 'model', 'is a folder without a model.json; give the model file itself');
  }
}

/** Reads any supported model file into an MLP, choosing the format from the file's content. */
export async function readModel(path: string, options: ReadOptions = {}): Promise<MLP> {
  const file = await resolveModelPath(path);
  const head = await readHead(file);
  const format = MODEL_FORMATS.find((f) => f.detect(file, head));
  if (!format) {
    throw new ModelFormatError(file, 'model', `not a recognised model format (expected ${MODEL_FORMATS.map((f) => f.label).join(', ')})`);
  }
  const mlp = await format.read(file, options);
  if (mlp.source && !mlp.source.files) mlp.source.files = [file];
  // No write of the command that read it may replace any file of the model.
  await noteInputs(mlp.source?.files ?? [file]);
  return mlp;
}

/** The writer chosen by the output's extension (.json: tfjs LayersModel, .onnx, .safetensors). */
export function writerFor(outPath: string): ModelFormat {
  const ext = extname(outPath).toLowerCase();
  const format = MODEL_FORMATS.find((f) => f.write && f.writeExtensions.includes(ext));
  if (!format) {
    const known = MODEL_FORMATS.flatMap((f) => (f.write ? f.writeExtensions : []));
    throw new PruneScopeError(
      `${outPath}: cannot tell the output format from "${ext || '(no extension)'}"; use one of ${known.join(', ')}`,
    );
  }
  return format;
}

/** Every file writing a model to `outPath` creates (so that none of them replaces a file nobody gave up). */
export function outputFilesOf(outPath: string): string[] {
  const format = writerFor(outPath);
  return format.outputFiles?.(outPath) ?? [resolve(outPath)];
}

export async function writeModel(mlp: MLP, outPath: string, options: WriteOptions = {}): Promise<WriteResult> {
  assertNotSource(outPath, [mlp.source?.path]);
  const format = writerFor(outPath);
  return format.write!(mlp, outPath, options);
}
