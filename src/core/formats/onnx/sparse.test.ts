// Sparse initializers (GraphProto.sparse_initializer), as pruning tools and our own writer store
// mostly-zero kernels: read as the dense weights onnxruntime computes with, and refused with the
// file, the tensor and what is wrong when the indices are damaged.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { predict } from '../../model/forward';
import { readOnnx } from './onnx';
import { MAX_SPARSE_DENSE_VALUES } from './tensor';
import {
  assertClose,
  buildModel,
  fTensor,
  i64Tensor,
  node,
  rand32,
  randomArray,
  rng,
  runOrt,
  tempDir,
  valueInfo,
  writeTemp,
} from '../../../../test/kits/onnx';

const DT = onnx.TensorProto.DataType;
let dir: string;
let counter = 0;

before(async () => {
  await initBackend();
  dir = await tempDir('onnx-sparse');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A dense [4, 3] kernel with five stored values, and where they sit. */
const DENSE = Float32Array.from([0, 1.5, 0, 0, 0, -2, 0.25, 0, 0, 0, 3, -1]);
const AT = [1, 5, 6, 10, 11];
const VALUES = AT.map((k) => DENSE[k]);

function model(sparse: onnx.ISparseTensorProto, listedAsInput = false): Uint8Array {
  return buildModel({
    opset: 13,
    nodes: [node('Gemm', ['x', 'W', 'b'], ['h']), node('Relu', ['h'], ['y'])],
    initializers: [fTensor('b', [3], rand32(3, 7))],
    sparseInitializers: [sparse],
    // IR 3 files list initializers among the graph inputs too; that must not make W a run-time input.
    inputs: [valueInfo('x', ['N', 4]), ...(listedAsInput ? [valueInfo('W', [4, 3])] : [])],
    outputs: [valueInfo('y', ['N', 3])],
  });
}

const linear = (indices = AT, values = VALUES, dims = [4, 3]): onnx.ISparseTensorProto => ({
  values: fTensor('W', [values.length], values),
  indices: i64Tensor('', [indices.length], indices),
  dims,
});

async function write(bytes: Uint8Array): Promise<string> {
  return writeTemp(dir, `s${++counter}.onnx`, bytes);
}

async function refuses(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const file = await write(bytes);
  await assert.rejects(readOnnx(file), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, String(e));
    assert.match(e.message, /s\d+\.onnx: ONNX: /);
    assert.match(e.message, /tensor 'W'/);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('ONNX sparse initializers', () => {
  for (const [form, sparse] of [
    ['linear indices [NNZ]', linear()],
    [
      'coordinates [NNZ, rank]',
      {
        values: fTensor('W', [5], VALUES),
        indices: i64Tensor(
          '',
          [5, 2],
          AT.flatMap((k) => [Math.floor(k / 3), k % 3]),
        ),
        dims: [4, 3],
      },
    ],
    [
      'int32 linear indices listed among the graph inputs',
      { values: fTensor('W', [5], VALUES), indices: { dims: [5], dataType: DT.INT32, int32Data: AT }, dims: [4, 3] },
    ],
  ] as [string, onnx.ISparseTensorProto][]) {
    test(`${form}: read as the dense kernel, and the model computes what onnxruntime does`, async () => {
      const file = await write(model(sparse, form.includes('graph inputs')));
      const mlp = await readOnnx(file);
      assert.equal(mlp.layers.length, 1);
      assert.deepEqual(Array.from(mlp.layers[0].weights), Array.from(DENSE));
      const x = randomArray(6 * 4, rng(3), 2);
      assertClose(predict(mlp, x, 6), await runOrt(file, x, [6, 4]), 1e-6, 'predict vs onnxruntime');
    });
  }

  test('no stored values: an all-zero kernel', async () => {
    const mlp = await readOnnx(await write(model({ values: fTensor('W', [0], []), indices: i64Tensor('', [0], []), dims: [4, 3] })));
    assert.deepEqual(Array.from(mlp.layers[0].weights), new Array(12).fill(0));
  });

  test('damaged indices are refused, naming the tensor and the fault', async () => {
    await refuses(model(linear([1, 6, 5, 10, 11])), /not strictly ascending \(index 2 is 5, after 6\)/);
    await refuses(model(linear([1, 5, 5, 10, 11])), /not strictly ascending/);
    await refuses(model(linear([1, 5, 6, 10, 12])), /index 4 is 12, outside its 12 values/);
    await refuses(model(linear([-1, 5, 6, 10, 11])), /index 0 is -1/);
    await refuses(model(linear([1, 5, 6], VALUES)), /indices have shape \[3\]; expected \[5\] \(linear\) or \[5, 2\]/);
    await refuses(
      model({ values: fTensor('W', [5], VALUES), indices: i64Tensor('', [5, 2], [0, 1, 1, 2, 2, 0, 3, 3, 3, 2]), dims: [4, 3] }),
      /index 3 has coordinate 3 in dimension 1, outside \[0, 3\)/,
    );
    await refuses(model({ values: fTensor('W', [5], VALUES), dims: [4, 3] }), /5 values but no indices/);
    await refuses(
      model({ values: fTensor('W', [5, 1], VALUES), indices: i64Tensor('', [5], AT), dims: [4, 3] }),
      /values have shape \[5, 1\]; they must be a vector/,
    );
  });

  test('a sparse tensor whose dense shape would not fit in memory is refused before anything is allocated', async () => {
    const huge = [65536, 65536];
    assert.ok(huge[0] * huge[1] > MAX_SPARSE_DENSE_VALUES);
    await refuses(model(linear(AT, VALUES, huge)), /shape \[65536, 65536\] \(4294967296 values dense\).*stops at 268435456/);
  });
});
