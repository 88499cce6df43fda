/**
 * Hostile ONNX files for the tests, written as raw protobuf bytes: onnx-proto's encoder recurses
 * once per nesting level, so it cannot build the files that exhaust a recursive decoder. Test-only.
 */
import { onnx } from 'onnx-proto';

export function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
export const tag = (field: number, wire: number) => varint(field * 8 + wire);
export const str = (field: number, s: string) => [...tag(field, 2), ...varint(Buffer.byteLength(s)), ...Buffer.from(s)];

/**
 * A ModelProto whose graph holds an If node whose then_branch holds an If node ... `levels` deep,
 * written from the inside out as byte prefixes so the file costs O(levels) to build.
 */
export function nestedSubgraphs(levels: number): Uint8Array {
  const attrFixed = [...str(1, 'then_branch'), ...tag(20, 0), ...varint(onnx.AttributeProto.AttributeType.GRAPH)];
  const nodeFixed = str(4, 'If');
  const heads: number[][] = [];
  let inner = 0; // the innermost graph is empty
  for (let l = 0; l < levels; l++) {
    const attrSize = attrFixed.length + tag(6, 2).length + varint(inner).length + inner;
    const nodeSize = nodeFixed.length + tag(5, 2).length + varint(attrSize).length + attrSize;
    const head = [
      ...tag(1, 2),
      ...varint(nodeSize),
      ...nodeFixed,
      ...tag(5, 2),
      ...varint(attrSize),
      ...attrFixed,
      ...tag(6, 2),
      ...varint(inner),
    ];
    heads.push(head);
    inner += head.length;
  }
  const opset = [...tag(2, 0), ...varint(13)];
  const prefix = [...tag(1, 0), ...varint(8), ...tag(8, 2), ...varint(opset.length), ...opset, ...tag(7, 2), ...varint(inner)];
  const out = new Uint8Array(prefix.length + inner);
  out.set(prefix, 0);
  let at = prefix.length;
  for (let l = heads.length - 1; l >= 0; l--) {
    out.set(heads[l], at);
    at += heads[l].length;
  }
  return out;
}

/** A graph input whose type is a sequence of sequences of ... `levels` deep (TypeProto nesting). */
export function nestedTypes(levels: number): Uint8Array {
  const heads: number[][] = [];
  let inner = 0;
  for (let l = 0; l < levels; l++) {
    // TypeProto { sequence_type (4): Sequence { elem_type (1): TypeProto <inner> } }
    const seqSize = tag(1, 2).length + varint(inner).length + inner;
    const head = [...tag(4, 2), ...varint(seqSize), ...tag(1, 2), ...varint(inner)];
    heads.push(head);
    inner += head.length;
  }
  const valueInfoSize = str(1, 'x').length + tag(2, 2).length + varint(inner).length + inner;
  const graphHead = [...tag(11, 2), ...varint(valueInfoSize), ...str(1, 'x'), ...tag(2, 2), ...varint(inner)];
  const graphSize = graphHead.length + inner;
  const prefix = [...tag(1, 0), ...varint(8), ...tag(7, 2), ...varint(graphSize), ...graphHead];
  const out = new Uint8Array(prefix.length + inner);
  out.set(prefix, 0);
  let at = prefix.length;
  for (let l = heads.length - 1; l >= 0; l--) {
    out.set(heads[l], at);
    at += heads[l].length;
  }
  return out;
}
