import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import { fTensor } from '../../../../test/kits/onnx';
import { onnxExternalLocations } from './external-files';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-onnx-external-'));
let serial = 0;
function put(bytes: Uint8Array): string {
  const p = join(dir, `m${++serial}.onnx`);
  writeFileSync(p, bytes);
  return p;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
const tensor = (name: string, entries: [string, string][], location = EXTERNAL): onnx.ITensorProto => ({
  name,
  dims: [2],
  dataType: FLOAT,
  dataLocation: location,
  externalData: entries.map(([key, value]) => ({ key, value })),
});

/** Every place prescan (graph-base.ts) takes a tensor from, each stored externally. */
function everywhere(): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      graph: {
        name: 'g',
        node: [
          {
            opType: 'Constant',
            output: ['c'],
            attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensor('c', [['location', 'c.bin']]) }],
          },
        ],
        initializer: [
          fTensor('embedded', [2], [1, 2]),
          tensor('a', [
            ['offset', '0'],
            ['location', 'a.bin'],
          ]),
          tensor('a2', [['location', 'a.bin']]),
          // External data entries but stored in the file: not read from outside (tensor.ts isExternal).
          tensor('inline', [['location', 'not-read.bin']], onnx.TensorProto.DataLocation.DEFAULT),
        ],
        sparseInitializer: [
          {
            values: tensor('sv', [['location', 'sparse/values.bin']]),
            indices: tensor('si', [['location', 'sparse/indices.bin']]),
            dims: [4],
          },
        ],
      },
    }),
  ).finish();
}

test('external locations: initializers, then sparse values and indices, then node attributes, each once', async () => {
  assert.deepEqual(await onnxExternalLocations(put(everywhere())), ['a.bin', 'sparse/values.bin', 'sparse/indices.bin', 'c.bin']);
});

test('external locations: an unknown group field (which protobuf parsers skip) is skipped too', async () => {
  // Field 99 as a group holding a varint and a nested group 100, before the graph.
  const group = Uint8Array.from([0x9b, 0x06, 0x08, 0x01, 0xa3, 0x06, 0x10, 0x02, 0xa4, 0x06, 0x9c, 0x06]);
  const bytes = Buffer.concat([group, everywhere()]);
  assert.equal(onnx.ModelProto.decode(bytes).graph?.initializer?.length, 4);
  assert.deepEqual(await onnxExternalLocations(put(bytes)), ['a.bin', 'sparse/values.bin', 'sparse/indices.bin', 'c.bin']);
});

test('external locations: a truncated or foreign file gives none, without an error', async () => {
  const bytes = everywhere();
  assert.deepEqual(await onnxExternalLocations(put(bytes.subarray(0, bytes.length - 3))), []);
  assert.deepEqual(await onnxExternalLocations(put(Buffer.from('PK\x03\x04 not a protobuf at all'))), []);
  assert.deepEqual(await onnxExternalLocations(put(new Uint8Array(0))), []);
});
