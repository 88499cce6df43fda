/**
 * ONNX files written by hand for the tests: ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto and ValueInfoProto encoded field by field with the wire-format writer beside this
 * file, from the field numbers of onnx/onnx.proto. Independent of the product's ONNX reader and
 * writer (src/core/formats/onnx) and of the onnx-proto package (which the kit's own test uses
 * only to decode what this writes). Like protobuf's C++ serializer for onnx.proto (proto2), dims
 * and attribute ints/floats are written unpacked and the *_data arrays packed.
 */
import {
  bytesField,
  concat,
  floatField,
  intField,
  message,
  packedDoubles,
  packedFloats,
  packedInts,
  stringField,
  float32LE,
  type Bytes,
} from './protobuf';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface Tensor {
  name?: string;
  dims: readonly number[];
  dataType: number;
  /** raw_data: little-endian bytes. */
  raw?: Uint8Array;
  /** float_data (packed). */
  floatData?: ArrayLike<number>;
  int32Data?: readonly number[];
  int64Data?: readonly (number | bigint)[];
  doubleData?: ArrayLike<number>;
}

export type Attribute =
  | { name: string; f: number }
  | { name: string; i: number | bigint }
  | { name: string; s: string }
  | { name: string; t: Tensor }
  | { name: string; floats: readonly number[] }
  | { name: string; ints: readonly (number | bigint)[] };

export interface Node {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: readonly Attribute[];
}

export interface ValueInfo {
  name: string;
  /** Element type; FLOAT when left out. */
  elemType?: number;
  /** Numbers are dim_value, strings dim_param. */
  dims: readonly (number | string)[];
}

export interface Graph {
  name?: string;
  nodes: readonly Node[];
  initializers?: readonly Tensor[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  valueInfo?: readonly ValueInfo[];
}

export interface Model {
  irVersion: number;
  opsets: readonly { domain?: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: Graph;
}

const repeated = <T>(items: readonly T[] | undefined, each: (item: T) => Bytes): Bytes[] => (items ?? []).map(each);

/** TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10. */
export function encodeTensor(t: Tensor): Bytes {
  return message([
    ...t.dims.map((d) => intField(1, d)),
    intField(2, t.dataType),
    t.floatData !== undefined ? packedFloats(4, t.floatData) : undefined,
    t.int32Data !== undefined ? packedInts(5, t.int32Data) : undefined,
    t.int64Data !== undefined ? packedInts(7, t.int64Data) : undefined,
    t.name !== undefined ? stringField(8, t.name) : undefined,
    t.raw !== undefined ? bytesField(9, t.raw) : undefined,
    t.doubleData !== undefined ? packedDoubles(10, t.doubleData) : undefined,
  ]);
}

/** AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20. */
function encodeAttribute(a: Attribute): Bytes {
  const name = stringField(1, a.name);
  if ('f' in a) return message([name, floatField(2, a.f), intField(20, AttributeType.FLOAT)]);
  if ('i' in a) return message([name, intField(3, a.i), intField(20, AttributeType.INT)]);
  if ('s' in a) return message([name, stringField(4, a.s), intField(20, AttributeType.STRING)]);
  if ('t' in a) return message([name, bytesField(5, encodeTensor(a.t)), intField(20, AttributeType.TENSOR)]);
  if ('floats' in a) return message([name, ...a.floats.map((v) => floatField(7, v)), intField(20, AttributeType.FLOATS)]);
  return message([name, ...a.ints.map((v) => intField(8, v)), intField(20, AttributeType.INTS)]);
}

/** NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7. */
function encodeNode(n: Node): Bytes {
  return message([
    ...n.inputs.map((i) => stringField(1, i)),
    ...n.outputs.map((o) => stringField(2, o)),
    n.name !== undefined ? stringField(3, n.name) : undefined,
    stringField(4, n.opType),
    ...repeated(n.attributes, (a) => bytesField(5, encodeAttribute(a))),
    n.domain !== undefined ? stringField(7, n.domain) : undefined,
  ]);
}

/** ValueInfoProto { name 1, type 2 }, TypeProto { tensor_type 1 }, Tensor { elem_type 1, shape 2 }, TensorShapeProto { dim 1 }, Dimension { dim_value 1, dim_param 2 }. */
function encodeValueInfo(v: ValueInfo): Bytes {
  const dims = v.dims.map((d) => bytesField(1, typeof d === 'string' ? stringField(2, d) : intField(1, d)));
  const tensorType = message([intField(1, v.elemType ?? DataType.FLOAT), bytesField(2, concat(dims))]);
  return message([stringField(1, v.name), bytesField(2, bytesField(1, tensorType))]);
}

/** GraphProto: node 1, name 2, initializer 5, input 11, output 12, value_info 13. */
function encodeGraph(g: Graph): Bytes {
  return message([
    ...repeated(g.nodes, (n) => bytesField(1, encodeNode(n))),
    g.name !== undefined ? stringField(2, g.name) : undefined,
    ...repeated(g.initializers, (t) => bytesField(5, encodeTensor(t))),
    ...repeated(g.inputs, (v) => bytesField(11, encodeValueInfo(v))),
    ...repeated(g.outputs, (v) => bytesField(12, encodeValueInfo(v))),
    ...repeated(g.valueInfo, (v) => bytesField(13, encodeValueInfo(v))),
  ]);
}

/** ModelProto: ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5, doc_string 6, graph 7, opset_import 8 ({ domain 1, version 2 }). */
export function encodeModel(m: Model): Bytes {
  return message([
    intField(1, m.irVersion),
    m.producerName !== undefined ? stringField(2, m.producerName) : undefined,
    m.producerVersion !== undefined ? stringField(3, m.producerVersion) : undefined,
    m.domain !== undefined ? stringField(4, m.domain) : undefined,
    m.modelVersion !== undefined ? intField(5, m.modelVersion) : undefined,
    m.docString !== undefined ? stringField(6, m.docString) : undefined,
    bytesField(7, encodeGraph(m.graph)),
    ...m.opsets.map((o) => bytesField(8, message([o.domain !== undefined ? stringField(1, o.domain) : undefined, intField(2, o.version)]))),
  ]);
}

/** A FLOAT tensor with its values in raw_data. */
export function rawFloats(name: string, dims: readonly number[], values: ArrayLike<number>): Tensor {
  return { name, dims, dataType: DataType.FLOAT, raw: float32LE(values) };
}

/** A FLOAT tensor with its values in float_data. */
export function floatData(name: string, dims: readonly number[], values: ArrayLike<number>): Tensor {
  return { name, dims, dataType: DataType.FLOAT, floatData: values };
}

/** An INT64 tensor with its values in raw_data (as PyTorch writes a Reshape's shape constant). */
export function rawInt64s(name: string | undefined, dims: readonly number[], values: readonly number[]): Tensor {
  const raw = new Uint8Array(8 * values.length);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
  return { name, dims, dataType: DataType.INT64, raw };
}

export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name?: string,
  attributes?: readonly Attribute[],
): Node {
  return { opType, inputs, outputs, name, attributes };
}
