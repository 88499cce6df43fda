/**
 * ONNX models: reads MLPs exported by PyTorch, tf2onnx, keras2onnx, skl2onnx and others
 * (IR 3–10, opsets 6–21), and writes MLPs as IR 8 / opset 13 files that onnxruntime runs.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { ModelFormatError } from '../../errors';
import { writeFilesAtomically } from '../../io/atomic';
import { validateMLP, type MLP } from '../../model/mlp';
import { version as packageVersion } from '../../../../package.json';
import type { ModelFormat, WriteOptions, WriteResult } from '../format';
import { ONNX_LABEL, OnnxGraphReader } from './graph';
import { TensorError, loadExternalData } from './tensor';
import { buildOnnxModel, encodeOnnxModel } from './write';

/** Metadata key under which the writer keeps the MLP's name, so a round trip keeps it. */
export const NAME_METADATA_KEY = 'prunescope.name';

// ModelProto field tags that can follow ir_version (field 1) at the start of a file.
const SECOND_FIELD_TAGS = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);

function looksLikeOnnx(head: Uint8Array): boolean {
  return head.length >= 3 && head[0] === 0x08 && head[1] >= 1 && head[1] <= 20 && SECOND_FIELD_TAGS.has(head[2]);
}

/**
 * Deepest nesting of protobuf messages (and of groups in unknown fields) that is decoded: the
 * default recursion limit of Google's own protobuf parsers. Real ONNX models nest a handful of
 * levels (a subgraph in an If inside a Loop, a sequence of tensors); protobufjs decodes nested
 * messages by recursion, so without a cap a small file of deeply nested subgraphs exhausts the stack.
 */
export const MAX_PROTO_DEPTH = 100;

/** How protobufjs reads each field of the ONNX messages (onnx-proto's generated decoders). */
type FieldKind =
  | 'varint'
  | 'long'
  | 'float'
  | 'double'
  | 'string'
  | 'bytes'
  | 'packed-varint'
  | 'packed-long'
  | 'packed-float'
  | 'packed-double'
  | { message: string };

const m = (message: string): FieldKind => ({ message });
/** Field number -> [name, kind] per message type, as onnx-proto 8 (ONNX 1.10) decodes them. */
const ONNX_SCHEMA: Record<string, Record<number, [string, FieldKind]>> = {
  ModelProto: {
    1: ['ir_version', 'long'],
    2: ['producer_name', 'string'],
    3: ['producer_version', 'string'],
    4: ['domain', 'string'],
    5: ['model_version', 'long'],
    6: ['doc_string', 'string'],
    7: ['graph', m('GraphProto')],
    8: ['opset_import', m('OperatorSetIdProto')],
    14: ['metadata_props', m('StringStringEntryProto')],
    20: ['training_info', m('TrainingInfoProto')],
    25: ['functions', m('FunctionProto')],
  },
  OperatorSetIdProto: { 1: ['domain', 'string'], 2: ['version', 'long'] },
  StringStringEntryProto: { 1: ['key', 'string'], 2: ['value', 'string'] },
  TrainingInfoProto: {
    1: ['initialization', m('GraphProto')],
    2: ['algorithm', m('GraphProto')],
    3: ['initialization_binding', m('StringStringEntryProto')],
    4: ['update_binding', m('StringStringEntryProto')],
  },
  FunctionProto: {
    1: ['name', 'string'],
    4: ['input', 'string'],
    5: ['output', 'string'],
    6: ['attribute', 'string'],
    7: ['node', m('NodeProto')],
    8: ['doc_string', 'string'],
    9: ['opset_import', m('OperatorSetIdProto')],
    10: ['domain', 'string'],
  },
  GraphProto: {
    1: ['node', m('NodeProto')],
    2: ['name', 'string'],
    5: ['initializer', m('TensorProto')],
    10: ['doc_string', 'string'],
    11: ['input', m('ValueInfoProto')],
    12: ['output', m('ValueInfoProto')],
    13: ['value_info', m('ValueInfoProto')],
    14: ['quantization_annotation', m('TensorAnnotation')],
    15: ['sparse_initializer', m('SparseTensorProto')],
  },
  NodeProto: {
    1: ['input', 'string'],
    2: ['output', 'string'],
    3: ['name', 'string'],
    4: ['op_type', 'string'],
    5: ['attribute', m('AttributeProto')],
    6: ['doc_string', 'string'],
    7: ['domain', 'string'],
  },
  AttributeProto: {
    1: ['name', 'string'],
    2: ['f', 'float'],
    3: ['i', 'long'],
    4: ['s', 'bytes'],
    5: ['t', m('TensorProto')],
    6: ['g', m('GraphProto')],
    7: ['floats', 'packed-float'],
    8: ['ints', 'packed-long'],
    9: ['strings', 'bytes'],
    10: ['tensors', m('TensorProto')],
    11: ['graphs', m('GraphProto')],
    13: ['doc_string', 'string'],
    14: ['tp', m('TypeProto')],
    15: ['type_protos', m('TypeProto')],
    20: ['type', 'varint'],
    21: ['ref_attr_name', 'string'],
    22: ['sparse_tensor', m('SparseTensorProto')],
    23: ['sparse_tensors', m('SparseTensorProto')],
  },
  TensorAnnotation: { 1: ['tensor_name', 'string'], 2: ['quant_parameter_tensor_names', m('StringStringEntryProto')] },
  ValueInfoProto: { 1: ['name', 'string'], 2: ['type', m('TypeProto')], 3: ['doc_string', 'string'] },
  TensorProto: {
    1: ['dims', 'packed-long'],
    2: ['data_type', 'varint'],
    3: ['segment', m('TensorProto.Segment')],
    4: ['float_data', 'packed-float'],
    5: ['int32_data', 'packed-varint'],
    6: ['string_data', 'bytes'],
    7: ['int64_data', 'packed-long'],
    8: ['name', 'string'],
    9: ['raw_data', 'bytes'],
    10: ['double_data', 'packed-double'],
    11: ['uint64_data', 'packed-long'],
    12: ['doc_string', 'string'],
    13: ['external_data', m('StringStringEntryProto')],
    14: ['data_location', 'varint'],
  },
  'TensorProto.Segment': { 1: ['begin', 'long'], 2: ['end', 'long'] },
  SparseTensorProto: { 1: ['values', m('TensorProto')], 2: ['indices', m('TensorProto')], 3: ['dims', 'packed-long'] },
  TensorShapeProto: { 1: ['dim', m('TensorShapeProto.Dimension')] },
  'TensorShapeProto.Dimension': { 1: ['dim_value', 'long'], 2: ['dim_param', 'string'], 3: ['denotation', 'string'] },
  TypeProto: {
    1: ['tensor_type', m('TypeProto.Tensor')],
    4: ['sequence_type', m('TypeProto.Sequence')],
    5: ['map_type', m('TypeProto.Map')],
    6: ['denotation', 'string'],
    8: ['sparse_tensor_type', m('TypeProto.SparseTensor')],
    9: ['optional_type', m('TypeProto.Optional')],
  },
  'TypeProto.Tensor': { 1: ['elem_type', 'varint'], 2: ['shape', m('TensorShapeProto')] },
  'TypeProto.Sequence': { 1: ['elem_type', m('TypeProto')] },
  'TypeProto.Map': { 1: ['key_type', 'varint'], 2: ['value_type', m('TypeProto')] },
  'TypeProto.Optional': { 1: ['elem_type', m('TypeProto')] },
  'TypeProto.SparseTensor': { 1: ['elem_type', 'varint'], 2: ['shape', m('TensorShapeProto')] },
};

/** The schema the depth scan follows (exported for the test that checks it against onnx-proto's decoders). */
export const ONNX_SCAN_SCHEMA = ONNX_SCHEMA;

/** The scan ran into bytes protobufjs cannot read either; the decoder reports them. */
class ScanStop extends Error {}

/** What the scan found wrong: nesting too deep (where, by field names from the top), or field number 0. */
type ScanFault = { fault: 'deep'; path: string[]; offset: number; groups: boolean } | { fault: 'field0'; offset: number };

/**
 * The reads of protobufjs's BufferReader that the depth scan mirrors, over `b` from `pos`: they
 * consume exactly the bytes the decoder would, and throw ScanStop where the decoder would fail.
 */
class ProtoScanner {
  pos = 0;
  readonly len: number;
  constructor(private readonly b: Uint8Array) {
    this.len = b.length;
  }

  uint32(): number {
    // Reader.uint32: up to 5 bytes; bytes past the end read as undefined (continuing).
    const b = this.b;
    let value = (b[this.pos] & 127) >>> 0;
    if (b[this.pos++] < 128) return value;
    value = (value | ((b[this.pos] & 127) << 7)) >>> 0;
    if (b[this.pos++] < 128) return value;
    value = (value | ((b[this.pos] & 127) << 14)) >>> 0;
    if (b[this.pos++] < 128) return value;
    value = (value | ((b[this.pos] & 127) << 21)) >>> 0;
    if (b[this.pos++] < 128) return value;
    value = (value | ((b[this.pos] & 15) << 28)) >>> 0;
    if (b[this.pos++] < 128) return value;
    if ((this.pos += 5) > this.len) throw new ScanStop();
    return value;
  }

  long(): void {
    // readLongVarint: a fast route while more than 4 bytes remain, else a checked one.
    const b = this.b;
    const len = this.len;
    let i = 0;
    if (len - this.pos > 4) {
      for (; i < 4; ++i) if (b[this.pos++] < 128) return;
      if (b[this.pos++] < 128) return;
      i = 0;
    } else {
      for (; i < 3; ++i) {
        if (this.pos >= len) throw new ScanStop();
        if (b[this.pos++] < 128) return;
      }
      this.pos++;
      return;
    }
    if (len - this.pos > 4) {
      for (; i < 5; ++i) if (b[this.pos++] < 128) return;
    } else {
      for (; i < 5; ++i) {
        if (this.pos >= len) throw new ScanStop();
        if (b[this.pos++] < 128) return;
      }
    }
    throw new ScanStop();
  }

  skip(n: number): void {
    if (this.pos + n > this.len) throw new ScanStop();
    this.pos += n;
  }

  skipVarint(): void {
    do {
      if (this.pos >= this.len) throw new ScanStop();
    } while (this.b[this.pos++] & 128);
  }

  /** Reader.skipType for every wire type but 3 (groups, handled by the caller). */
  skipWire(wire: number): void {
    if (wire === 0) this.skipVarint();
    else if (wire === 1) this.skip(8);
    else if (wire === 2) this.skip(this.uint32());
    else if (wire === 5) this.skip(4);
    else throw new ScanStop();
  }

  one(kind: 'varint' | 'long' | 'float' | 'double'): void {
    if (kind === 'varint') this.uint32();
    else if (kind === 'long') this.long();
    else this.skip(kind === 'float' ? 4 : 8);
  }
}

/** The depth scan: the stack of messages open at `pos`, each with its type, end and field name. */
class NestingScan extends ProtoScanner {
  private readonly stack: { type: string; end: number; field: string }[];
  constructor(b: Uint8Array) {
    super(b);
    this.stack = [{ type: 'ModelProto', end: this.len, field: 'model' }];
  }

  run(): ScanFault | null {
    try {
      return this.walk();
    } catch (e) {
      if (e instanceof ScanStop) return null;
      throw e;
    }
  }

  private walk(): ScanFault | null {
    const stack = this.stack;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (!(this.pos < frame.end)) {
        stack.pop();
        continue;
      }
      const at = this.pos;
      const tag = this.uint32();
      if (tag >>> 3 === 0) return { fault: 'field0', offset: at };
      const entry = ONNX_SCHEMA[frame.type][tag >>> 3];
      const fault = entry ? this.readField(tag, entry) : this.skipUnknown(tag);
      if (fault) return fault;
    }
    return null;
  }

  private tooDeep(extra: string, groups: boolean): ScanFault {
    return { fault: 'deep', path: [...this.stack.map((f) => f.field), extra], offset: this.pos, groups };
  }

  /** A field the schema does not know, skipped by wire type. */
  private skipUnknown(tag: number): ScanFault | null {
    const wire = tag & 7;
    if (wire !== 3) {
      this.skipWire(wire);
      return null;
    }
    // A group: protobufjs skips it by recursion, one call per nesting level.
    let groups = 1;
    while (groups > 0) {
      if (this.stack.length + groups > MAX_PROTO_DEPTH) return this.tooDeep(`group (unknown field ${tag >>> 3})`, true);
      const w = this.uint32() & 7;
      if (w === 4) groups--;
      else if (w === 3) groups++;
      else this.skipWire(w);
    }
    return null;
  }

  /** A known field, read by its declared kind whatever the wire type says; a message opens a frame. */
  private readField(tag: number, [field, kind]: [string, FieldKind]): ScanFault | null {
    if (typeof kind === 'object') {
      const length = this.uint32();
      if (this.stack.length + 1 > MAX_PROTO_DEPTH) return this.tooDeep(field, false);
      this.stack.push({ type: kind.message, end: this.pos + length, field });
    } else if (kind === 'string') {
      // BufferReader.string clamps a length that runs past the end.
      const length = this.uint32();
      this.pos = Math.min(this.pos + length, this.len);
    } else if (kind === 'bytes') {
      this.skip(this.uint32());
    } else if (kind === 'varint' || kind === 'long' || kind === 'float' || kind === 'double') {
      this.one(kind);
    } else {
      this.readPacked(tag, kind);
    }
    return null;
  }

  /** A repeated number field: packed when the wire type is 2, else one element. */
  private readPacked(tag: number, kind: 'packed-varint' | 'packed-long' | 'packed-float' | 'packed-double'): void {
    const element = kind === 'packed-varint' ? 'varint' : kind === 'packed-long' ? 'long' : kind === 'packed-float' ? 'float' : 'double';
    if ((tag & 7) !== 2) {
      this.one(element);
      return;
    }
    const end = this.uint32() + this.pos;
    if (element === 'float' || element === 'double') {
      const size = element === 'float' ? 4 : 8;
      if (this.pos < end) this.skip(Math.ceil((end - this.pos) / size) * size);
    } else {
      while (this.pos < end) this.one(element);
    }
  }
}

/**
 * Walks the protobuf encoding of a ModelProto with a loop and an explicit stack, consuming bytes
 * exactly as protobufjs's BufferReader and onnx-proto's generated decoders do (they read known
 * fields by their declared type whatever the wire type says, and skip unknown ones by wire type,
 * recursing into groups), so the nesting it measures is the recursion depth the decoder would
 * reach. Returns where the nesting first exceeds MAX_PROTO_DEPTH, or a field number 0 (which
 * protobuf never writes: a file of zeros, say, that protobufjs would plod through byte by byte), or
 * null. Bytes the decoder would refuse end the scan: decoding then reports them as it always has.
 */
export function scanOnnxNesting(b: Uint8Array): ScanFault | null {
  return new NestingScan(b).run();
}

function describeNesting(p: string[]): string {
  return p.length <= 14 ? p.join(' > ') : `${p.slice(0, 9).join(' > ')} > ... > ${p.slice(-4).join(' > ')}`;
}

export function decodeOnnxModel(bytes: Uint8Array, file: string): onnx.ModelProto {
  if (bytes.length === 0) throw new ModelFormatError(file, ONNX_LABEL, 'the file is empty');
  // A Buffer, so that protobufjs uses its BufferReader, which the depth scan mirrors.
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const deep = scanOnnxNesting(buf);
  if (deep?.fault === 'field0') {
    throw new ModelFormatError(
      file,
      ONNX_LABEL,
      `the file is truncated or is not an ONNX model (protobuf field number 0 at byte ${deep.offset}, which no protobuf writer produces)`,
    );
  }
  if (deep) {
    throw new ModelFormatError(
      file,
      ONNX_LABEL,
      deep.groups
        ? `unknown fields nest protobuf groups more than ${MAX_PROTO_DEPTH} levels deep (at byte ${deep.offset}); ` +
            'the file is damaged or built to exhaust the reader, and is not decoded'
        : `protobuf messages are nested more than ${MAX_PROTO_DEPTH} levels deep (at byte ${deep.offset}); ` +
            'real ONNX models nest a few levels (subgraphs, sequence types), so the file is damaged or built to exhaust the reader, and is not decoded',
      describeNesting(deep.path),
    );
  }
  try {
    return onnx.ModelProto.decode(buf);
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      // The scan caps the nesting; this is the backstop should a decoder ever recurse where it does not look.
      throw new ModelFormatError(
        file,
        ONNX_LABEL,
        'the file nests its protobuf messages too deeply to decode (the decoder ran out of stack)',
      );
    }
    throw new ModelFormatError(
      file,
      ONNX_LABEL,
      `the file is truncated or is not an ONNX model (protobuf decoding stopped: ${(e as Error).message})`,
    );
  }
}

/** protobuf's limit on a message, and so on an ONNX file; larger models keep their weights in external data. */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

export async function readOnnx(path: string): Promise<MLP> {
  const file = resolve(path);
  let bytes: Buffer;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new ModelFormatError(file, ONNX_LABEL, 'is not a regular file');
    if (stat.size > MAX_ONNX_BYTES) {
      throw new ModelFormatError(
        file,
        ONNX_LABEL,
        `the file has ${stat.size} bytes, more than the 2 GiB a protobuf message can hold; ONNX models that large keep their weights in external data files`,
      );
    }
    bytes = await fs.readFile(file);
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
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
  const mlp: MLP = {
    name: storedName || basename(file, extname(file)),
    inputShape: result.inputShape,
    inputSize: result.inputSize,
    layers: result.layers,
    source: { format: 'onnx', path: file, producer: producer || undefined, notes: result.notes, files },
  };
  try {
    validateMLP(mlp);
  } catch (e) {
    throw new ModelFormatError(file, ONNX_LABEL, (e as Error).message);
  }
  return mlp;
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
