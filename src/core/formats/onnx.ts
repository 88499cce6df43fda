/**
 * ONNX models: reads MLPs exported by PyTorch, tf2onnx, keras2onnx, skl2onnx and others
 * (IR 3–10, opsets 6–21), and writes MLPs as IR 8 / opset 13 files that onnxruntime runs.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { ModelFormatError } from '../errors';
import { writeFilesAtomically } from '../io/atomic';
import type { MLP } from '../model/mlp';
import { version as packageVersion } from '../../../package.json';
import type { ModelFormat, WriteOptions, WriteResult } from './format';
import { ONNX_LABEL, OnnxGraphReader } from './onnx-graph';
import { TensorError, loadExternalData } from './onnx-tensor';
import { buildOnnxModel, encodeOnnxModel } from './onnx-write';

/** Metadata key under which the writer keeps the MLP's name, so a round trip keeps it. */
export const NAME_METADATA_KEY = 'prunescope.name';

// ModelProto field tags that can follow ir_version (field 1) at the start of a file.
const SECOND_FIELD_TAGS = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);

function looksLikeOnnx(head: Uint8Array): boolean {
  return head.length >= 3 && head[0] === 0x08 && head[1] >= 1 && head[1] <= 20 && SECOND_FIELD_TAGS.has(head[2]);
}

export function decodeOnnxModel(bytes: Uint8Array, file: string): onnx.ModelProto {
  if (bytes.length === 0) throw new ModelFormatError(file, ONNX_LABEL, 'the file is empty');
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(
      file,
      ONNX_LABEL,
      `the file is truncated or is not an ONNX model (protobuf decoding stopped: ${(e as Error).message})`,
    );
  }
}

export async function readOnnx(path: string): Promise<MLP> {
  const file = resolve(path);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new ModelFormatError(file, ONNX_LABEL, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const model = decodeOnnxModel(bytes, file);
  const reader = new OnnxGraphReader(model, file);
  const external = reader.prescan();
  const files = [file];
  for (const t of external) {
    try {
      const dataFile = await loadExternalData(t, dirname(file));
      if (!files.includes(dataFile)) files.push(dataFile);
    } catch (e) {
      const why =
        e instanceof TensorError
          ? e.message
          : `external data cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      throw new ModelFormatError(file, ONNX_LABEL, `tensor '${t.name}' ${why}`);
    }
  }
  const result = reader.walk();
  const producer = [model.producerName, model.producerVersion].filter((x) => x).join(' ');
  const storedName = (model.metadataProps ?? []).find((p) => p.key === NAME_METADATA_KEY)?.value;
  return {
    name: storedName || basename(file, extname(file)),
    inputShape: result.inputShape,
    inputSize: result.inputSize,
    layers: result.layers,
    source: { format: 'onnx', path: file, producer: producer || undefined, notes: result.notes, files },
  };
}

export async function writeOnnx(mlp: MLP, path: string, options: WriteOptions = {}): Promise<WriteResult> {
  const model = buildOnnxModel(mlp, packageVersion, options);
  model.metadataProps = [onnx.StringStringEntryProto.create({ key: NAME_METADATA_KEY, value: mlp.name })];
  const file = resolve(path);
  const bytes = await writeFilesAtomically([{ path: file, data: encodeOnnxModel(model) }]);
  return { files: [file], bytes };
}

export const onnxFormat: ModelFormat = {
  id: 'onnx',
  label: ONNX_LABEL,
  detect: (path, head) => extname(path).toLowerCase() === '.onnx' || looksLikeOnnx(head),
  read: (path) => readOnnx(path),
  writeExtensions: ['.onnx'],
  write: (mlp, path, options) => writeOnnx(mlp, path, options),
  writesSparse: true,
};
