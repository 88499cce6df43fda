// The ONNX reader's refusals and its handling of external data and damaged files: every failure
// is a ModelFormatError that names the file, what is wrong and where; nothing hangs or crashes.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { ModelFormatError } from '../../errors';
import type { MLP } from '../../model/mlp';
import { built } from '../../../../test/kits/encode/models';
import { predict } from '../../model/forward';
import { readOnnx } from './onnx';
import { buildModel, fTensor, node, rand32, rawFloat32, tempDir, valueInfo, writeTemp, type ModelSpec } from '../../../../test/kits/onnx';

const DT = onnx.TensorProto.DataType;
let dir: string;
let counter = 0;

before(async () => {
  dir = await tempDir('onnx-errors');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function read(bytes: Uint8Array): Promise<MLP> {
  return readOnnx(await writeTemp(dir, `e${++counter}.onnx`, bytes));
}

/** Expects a ModelFormatError from reading `bytes` whose message matches every pattern. */
async function refuses(bytes: Uint8Array, ...patterns: RegExp[]): Promise<ModelFormatError> {
  let caught: unknown;
  try {
    await read(bytes);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ModelFormatError, `expected a ModelFormatError, got ${String(caught)}`);
  assert.match(caught.message, /e\d+\.onnx: ONNX: /);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

const mlpSpec = (nodes: onnx.INodeProto[], extra: Partial<ModelSpec> = {}): ModelSpec => ({
  opset: 13,
  nodes,
  initializers: [fTensor('W', [4, 3], rand32(12, 1)), fTensor('b', [3], rand32(3, 2)), fTensor('W2', [3, 2], rand32(6, 3))],
  inputs: [valueInfo('x', ['N', 4])],
  outputs: [valueInfo('y', ['N', 2])],
  ...extra,
});

describe('operators that are not part of an MLP', () => {
  test('Conv in the middle of a graph is refused with its position, name and operator', async () => {
    const e = await refuses(
      buildModel({
        opset: 13,
        nodes: [
          node('Constant', [], ['s'], { value: { dims: [4], dataType: DT.INT64, int64Data: [-1, 1, 2, 2] } }, 'shape'),
          node('Reshape', ['x', 's'], ['img'], {}, 'to_image'),
          node('Conv', ['img', 'K'], ['c'], { kernel_shape: [1, 1] }, 'conv1'),
          node('Flatten', ['c'], ['f']),
          node('Gemm', ['f', 'W', 'b'], ['y'], {}, 'fc'),
        ],
        initializers: [fTensor('K', [1, 1, 1, 1], [1]), fTensor('W', [4, 3], rand32(12, 1)), fTensor('b', [3], rand32(3, 2))],
        inputs: [valueInfo('x', ['N', 4])],
        outputs: [valueInfo('y', ['N', 3])],
      }),
      /node 3 of 5 'conv1' \(Conv\): operator Conv \(a convolution\) is not supported/,
    );
    assert.equal(e.location, "node 3 of 5 'conv1' (Conv)");
  });

  for (const [op, what] of [
    ['MaxPool', 'pooling'],
    ['LSTM', 'a recurrent layer'],
    ['GRU', 'a recurrent layer'],
    ['Gather', 'an embedding lookup or indexing'],
  ] as const) {
    test(`${op} is refused as ${what}`, async () => {
      await refuses(
        buildModel(mlpSpec([node(op, ['x', 'W'], ['h'], {}, `my_${op}`), node('Gemm', ['h', 'W2'], ['y'], {}, 'fc')])),
        new RegExp(`node 1 of 2 'my_${op}' \\(${op}\\): operator ${op} \\(${what}\\) is not supported`),
      );
    });
  }

  test('unknown operators and other domains are refused by name', async () => {
    await refuses(
      buildModel(mlpSpec([node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc'), node('Swish', ['h'], ['y'], {}, 'act')])),
      /node 2 of 2 'act' \(Swish\): operator Swish is not supported/,
    );
    await refuses(
      buildModel(mlpSpec([node('FusedGemm', ['x', 'W', 'b'], ['y'], {}, 'fused', 'com.microsoft')])),
      /node 1 of 1 'fused' \(com\.microsoft\.FusedGemm\): operator com\.microsoft\.FusedGemm is not supported/,
    );
  });
});

describe('graphs that are not a single chain', () => {
  test('several outputs are refused', async () => {
    await refuses(
      buildModel(
        mlpSpec(
          [node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'W2'], ['y'], {}, 'fc2')],
          {
            outputs: [valueInfo('y', ['N', 2]), valueInfo('h', ['N', 3])],
          },
        ),
      ),
      /several outputs: 'h' \(output of node 1 of 3 'fc1' \(Gemm\)\) is a graph output and also feeds node 2 of 3/,
    );
  });

  test('a second output computed from the input is refused', async () => {
    await refuses(
      buildModel(
        mlpSpec(
          [
            node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'),
            node('Gemm', ['h', 'W2'], ['y'], {}, 'fc2'),
            node('Identity', ['b'], ['z'], {}, 'other'),
          ],
          {
            outputs: [valueInfo('y', ['N', 2]), valueInfo('z', [3])],
          },
        ),
      ),
      /several outputs \('y', 'z'\); 'z' is not computed from the network output 'y'/,
    );
  });

  test('a branch (residual connection) is refused naming both consumers', async () => {
    await refuses(
      buildModel(
        mlpSpec([
          node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'),
          node('Relu', ['h'], ['r'], {}, 'relu'),
          node('Add', ['h', 'r'], ['s'], {}, 'skip'),
          node('Gemm', ['s', 'W2'], ['y'], {}, 'fc2'),
        ]),
      ),
      /the graph branches: 'h' \(output of node 1 of 4 'fc1' \(Gemm\)\) feeds 2 nodes \(node 2 of 4 'relu' \(Relu\); node 3 of 4 'skip' \(Add\)\)/,
    );
  });

  test('a weight computed at run time and a dangling input are named', async () => {
    await refuses(
      buildModel(mlpSpec([node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'), node('Gemm', ['h', 'W_missing'], ['y'], {}, 'fc2')])),
      /node 2 of 2 'fc2' \(Gemm\): its weight \(B\) 'W_missing' is not produced by any node, initializer or graph input \(a dangling input\)/,
    );
    await refuses(
      buildModel(
        mlpSpec([
          node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'),
          node('Relu', ['W2'], ['W2r'], {}, 'relu_w'),
          node('Gemm', ['h', 'W2r'], ['y'], {}, 'fc2'),
        ]),
      ),
      /node 3 of 3 'fc2' \(Gemm\): its weight \(B\) 'W2r' is computed at run time by node 2 of 3 'relu_w' \(Relu\)/,
    );
  });

  test('cycles are reported, not followed forever', async () => {
    // Two Identity nodes feeding each other the weight.
    await refuses(
      buildModel(
        mlpSpec([
          node('Identity', ['w_b'], ['w_a'], {}, 'id_a'),
          node('Identity', ['w_a'], ['w_b'], {}, 'id_b'),
          node('Gemm', ['x', 'w_a'], ['y'], {}, 'fc'),
        ]),
      ),
      /cycle/,
    );
    // A data path that loops back through a Relu.
    await refuses(
      buildModel(
        mlpSpec([
          node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'),
          node('Add', ['h', 'loop'], ['s'], {}, 'join'),
          node('Relu', ['s'], ['loop'], {}, 'back'),
          node('Gemm', ['loop', 'W2'], ['y'], {}, 'fc2'),
        ]),
      ),
      /node 2 of 4 'join' \(Add\): its operand 'loop' is computed at run time by node 3 of 4 'back' \(Relu\)/,
    );
    // A value produced twice.
    await refuses(
      buildModel(
        mlpSpec([
          node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'),
          node('Relu', ['h'], ['h'], {}, 'again'),
          node('Gemm', ['h', 'W2'], ['y'], {}, 'fc2'),
        ]),
      ),
      /node 2 of 3 'again' \(Relu\): value 'h' is also produced by node 1 of 3 'fc1' \(Gemm\)/,
    );
  });

  test('an activation on the input, two activations in a row, and a dense layer on unflattened input are refused', async () => {
    await refuses(
      buildModel(mlpSpec([node('Relu', ['x'], ['r'], {}, 'pre'), node('Gemm', ['r', 'W', 'b'], ['y'], {}, 'fc')])),
      /'pre' \(Relu\): applies Relu to the model input before any dense layer/,
    );
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc'), node('Relu', ['h'], ['r']), node('Sigmoid', ['r'], ['y'], {}, 'second')]),
      ),
      /'second' \(Sigmoid\): is a second activation after dense layer 'fc' \(already relu\)/,
    );
    await refuses(
      buildModel(mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')], { inputs: [valueInfo('x', ['N', 2, 2])] })),
      /'fc' \(Gemm\): receives a rank-3 tensor; a dense layer needs \[batch, features\]/,
    );
  });

  test('products that mix samples are refused: transA on [batch, features] data, MatMul with the weights first', async () => {
    await refuses(
      buildModel(mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], { transA: 1 }, 'fc')], { inputs: [valueInfo('x', [4, 4])] })),
      /'fc' \(Gemm\): with transA=1 it would multiply across the batch of data laid out \[batch, features\]/,
    );
    await refuses(
      buildModel(mlpSpec([node('MatMul', ['W', 'x'], ['y'], {}, 'mm')])),
      /'mm' \(MatMul\): multiplies weights by data laid out \[batch, features\]: this mixes the batch/,
    );
  });

  test('Softmax across the batch and Flatten at axis 0 are refused', async () => {
    await refuses(
      buildModel(mlpSpec([node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc'), node('Softmax', ['h'], ['y'], { axis: 0 }, 'sm')])),
      /'sm' \(Softmax\): normalises along axis 0/,
    );
    // A declared batch of 3 would be flattened into one row: refused.
    await refuses(
      buildModel(
        mlpSpec([node('Flatten', ['x'], ['f'], { axis: 0 }, 'fl'), node('Gemm', ['f', 'W', 'b'], ['y'], {}, 'fc')], {
          inputs: [valueInfo('x', [3, 4])],
        }),
      ),
      /'fl' \(Flatten\): flattens at axis 0/,
    );
  });

  test('Flatten at axis 0 on a batch-1 input (PyTorch 1.3 exports) reads as a per-sample MLP, with a note', async () => {
    const w = rand32(12 * 3, 5);
    const bias = rand32(3, 6);
    const spec = mlpSpec([node('Flatten', ['x'], ['f'], { axis: 0 }, 'fl'), node('Gemm', ['f', 'W', 'b'], ['y'], {}, 'fc')], {
      inputs: [valueInfo('x', [1, 3, 4])],
      outputs: [valueInfo('y', [1, 3])],
      initializers: [fTensor('W', [12, 3], w), fTensor('b', [3], bias)],
    });
    const mlp = await read(buildModel(spec));
    assert.deepEqual([mlp.inputShape, mlp.inputSize, mlp.layers.map((l) => l.units)], [[3, 4], 12, [3]]);
    assert.ok(
      mlp.source?.notes?.some((n) => /axis 0.*batch 1.*per-sample MLP/.test(n)),
      JSON.stringify(mlp.source?.notes),
    );
    // Two samples at once give each sample's own x W + b (the graph itself would take one).
    const x = rand32(24, 7);
    const got = predict(mlp, x, 2);
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < 3; o++) {
        let want = bias[o];
        for (let k = 0; k < 12; k++) want += x[r * 12 + k] * w[k * 3 + o];
        assert.ok(Math.abs(got[r * 3 + o] - want) < 1e-5, `row ${r} output ${o}: ${got[r * 3 + o]} vs ${want}`);
      }
    }
  });

  test('a Reshape that fixes the batch size and an input without a batch dimension are refused', async () => {
    await refuses(
      buildModel(
        mlpSpec([node('Reshape', ['x', 'shape'], ['f'], {}, 'rs'), node('Gemm', ['f', 'W', 'b'], ['y'], {}, 'fc')], {
          inputs: [valueInfo('x', ['N', 2, 2])],
          initializers: [
            { name: 'shape', dims: [2], dataType: DT.INT64, int64Data: [1, 4] },
            fTensor('W', [4, 3], rand32(12, 1)),
            fTensor('b', [3], rand32(3, 2)),
          ],
        }),
      ),
      /'rs' \(Reshape\): reshapes to \[1, 4\], fixing the batch size to 1 while the input batch size is not fixed/,
    );
    await refuses(
      buildModel(mlpSpec([node('MatMul', ['x', 'W'], ['y'], {}, 'fc')], { inputs: [valueInfo('x', [4])] })),
      /input 'x' has rank 1; PruneScope expects a batch dimension/,
    );
  });

  test('a computed Reshape that moves the batch size into the features is refused', async () => {
    await refuses(
      buildModel(
        mlpSpec(
          [
            node('Shape', ['x'], ['shape'], {}, 'shape'),
            node('Slice', ['shape', 'starts', 'ends'], ['batch'], {}, 'slice'),
            node('Concat', ['minus1', 'batch'], ['target'], { axis: 0 }, 'concat'),
            node('Reshape', ['x', 'target'], ['f'], {}, 'rs'),
            node('Gemm', ['f', 'W', 'b'], ['y'], {}, 'fc'),
          ],
          {
            inputs: [valueInfo('x', ['N', 2, 2])],
            initializers: [
              { name: 'starts', dims: [1], dataType: DT.INT64, int64Data: [0] },
              { name: 'ends', dims: [1], dataType: DT.INT64, int64Data: [1] },
              { name: 'minus1', dims: [1], dataType: DT.INT64, int64Data: [-1] },
              fTensor('W', [4, 3], rand32(12, 1)),
              fTensor('b', [3], rand32(3, 2)),
            ],
          },
        ),
      ),
      /'rs' \(Reshape\): reshapes to \[-1, batch\]; only the first dimension may be the batch size/,
    );
  });

  test('a graph with two run-time inputs is refused', async () => {
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')], { inputs: [valueInfo('x', ['N', 4]), valueInfo('mask', ['N', 4])] }),
      ),
      /the graph has 2 run-time inputs \('x', 'mask'\)/,
    );
  });
});

describe('damaged files and declared sizes', () => {
  test('a truncated file is refused with a ModelFormatError at every cut point', async () => {
    const whole = new Uint8Array(await fs.readFile(built('onnx', 'mnist2x10.onnx')));
    let truncatedMessages = 0;
    for (let k = 1; k < 40; k++) {
      const cut = Math.floor((whole.length * k) / 40);
      const e = await refuses(whole.subarray(0, cut));
      if (/truncated/.test(e.message)) truncatedMessages++;
    }
    assert.ok(truncatedMessages >= 30, `most cuts are reported as truncated (${truncatedMessages} of 39)`);
    await refuses(new Uint8Array(0), /the file is empty/);
  });

  test('a weight cut short inside the file names the tensor and the sizes', async () => {
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')], {
          initializers: [{ name: 'W', dims: [4, 3], dataType: DT.FLOAT, rawData: rawFloat32([1, 2, 3]) }, fTensor('b', [3], [0, 0, 0])],
        }),
      ),
      /'fc' \(Gemm\): tensor 'W' declares 12 FLOAT values \(48 bytes\) but holds 12 bytes/,
    );
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')], {
          initializers: [{ name: 'W', dims: [4, 3], dataType: DT.FLOAT, floatData: [1, 2] }, fTensor('b', [3], [0, 0, 0])],
        }),
      ),
      /tensor 'W' declares 12 values but float_data holds 2/,
    );
  });

  test('huge declared dimensions are refused before any allocation', async () => {
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')], {
          inputs: [valueInfo('x', ['N', 4])],
          initializers: [
            { name: 'W', dims: [4, 2_000_000_000_000], dataType: DT.FLOAT, rawData: rawFloat32([1]) },
            fTensor('b', [3], [0, 0, 0]),
          ],
        }),
      ),
      /declares 8000000000000 FLOAT values \(32000000000000 bytes\) but holds 4 bytes/,
    );
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')], {
          initializers: [
            { name: 'W', dims: [2 ** 40, 2 ** 40], dataType: DT.FLOAT, rawData: rawFloat32([1]) },
            fTensor('b', [3], [0, 0, 0]),
          ],
        }),
      ),
      /tensor 'W' shape \[1099511627776, 1099511627776\] holds too many values/,
    );
  });
});

describe('external data', () => {
  const W1 = rand32(4 * 3, 10);
  const b1 = rand32(3, 11);
  const W2 = rand32(3 * 2, 12);

  function external(name: string, dims: number[], entries: Record<string, string>): onnx.ITensorProto {
    return {
      name,
      dims,
      dataType: DT.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: Object.entries(entries).map(([key, value]) => ({ key, value })),
    };
  }

  function spec(initializers: onnx.ITensorProto[]): ModelSpec {
    return mlpSpec(
      [node('Gemm', ['x', 'W', 'b'], ['h'], {}, 'fc1'), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'W2'], ['y'], {}, 'fc2')],
      { initializers },
    );
  }

  async function modelIn(folder: string, initializers: onnx.ITensorProto[]): Promise<string> {
    await fs.mkdir(folder, { recursive: true });
    return writeTemp(folder, 'net.onnx', buildModel(spec(initializers)));
  }

  async function refusesFile(path: string, pattern: RegExp): Promise<void> {
    await assert.rejects(readOnnx(path), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, String(e));
      assert.ok(e.message.startsWith(`${path}: ONNX: `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }

  test('weights in a differently named file at offsets (with and without length) read as the embedded ones', async () => {
    const folder = join(dir, 'ext-ok');
    await fs.mkdir(join(folder, 'data'), { recursive: true });
    // weights-v2.bin: 8 bytes of padding, W1 (48 bytes), 8 more, then b1 (12 bytes) up to the end
    const blob = new Uint8Array(8 + 48 + 8 + 12);
    blob.set(rawFloat32(W1), 8);
    blob.set(rawFloat32(b1), 64);
    await fs.writeFile(join(folder, 'weights-v2.bin'), blob);
    await fs.writeFile(join(folder, 'data', 'w2.bin'), rawFloat32(W2));
    const file = await modelIn(folder, [
      external('W', [4, 3], { location: 'weights-v2.bin', offset: '8', length: '48' }),
      external('b', [3], { location: 'weights-v2.bin', offset: '64' }),
      external('W2', [3, 2], { location: 'data/w2.bin' }),
    ]);
    const fromExternal = await readOnnx(file);
    const embedded = await read(buildModel(spec([fTensor('W', [4, 3], W1), fTensor('b', [3], b1), fTensor('W2', [3, 2], W2)])));
    assert.deepEqual(fromExternal.layers, embedded.layers);
    assert.deepEqual(fromExternal.layers[0].weights, W1);
    assert.deepEqual(fromExternal.source?.files, [file, join(folder, 'weights-v2.bin'), join(folder, 'data', 'w2.bin')]);
  });

  test('locations outside the model folder are refused: ../, absolute paths, symlinks', async () => {
    const folder = join(dir, 'ext-escape');
    await fs.mkdir(folder, { recursive: true });
    const outside = join(dir, 'outside.bin');
    await fs.writeFile(outside, rawFloat32(W1));
    const rest = [fTensor('b', [3], b1), fTensor('W2', [3, 2], W2)];

    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: '../outside.bin' }), ...rest]),
      /tensor 'W' external location "\.\.\/outside\.bin" points outside the model's folder/,
    );
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: 'sub/../../outside.bin' }), ...rest]),
      /points outside the model's folder/,
    );
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: outside }), ...rest]),
      /is an absolute path; it must be a file in the model's folder/,
    );
    await fs.symlink(outside, join(folder, 'link.bin'));
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: 'link.bin' }), ...rest]),
      /external location "link\.bin" resolves \(through a symbolic link\) to .*outside\.bin, outside the model's folder/,
    );
  });

  test('missing files, wrong lengths and offsets past the end are refused', async () => {
    const folder = join(dir, 'ext-bad');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(join(folder, 'w.bin'), rawFloat32(W1));
    const rest = [fTensor('b', [3], b1), fTensor('W2', [3, 2], W2)];
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: 'nope.bin' }), ...rest]),
      /external location "nope\.bin" not found in /,
    );
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: 'w.bin', length: '40' }), ...rest]),
      /declares 48 bytes of FLOAT values but external_data gives length 40/,
    );
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: 'w.bin', offset: '8', length: '48' }), ...rest]),
      /has 48 bytes; offset 8 \+ length 48 runs past its end/,
    );
    await refusesFile(
      await modelIn(folder, [external('W', [4, 3], { location: 'w.bin', offset: '-4' }), ...rest]),
      /external_data offset "-4" is not a non-negative integer/,
    );
    await refusesFile(await modelIn(folder, [external('W', [4, 3], {}), ...rest]), /tensor 'W' is stored externally but names no location/);
  });

  test('a non-MLP is refused before its external data is opened', async () => {
    const folder = join(dir, 'ext-conv');
    await fs.mkdir(folder, { recursive: true });
    const file = await writeTemp(
      folder,
      'conv.onnx',
      buildModel({
        opset: 13,
        nodes: [node('Conv', ['x', 'K'], ['y'], {}, 'conv')],
        initializers: [external('K', [1, 1, 1, 1], { location: '../../etc/passwd' })],
        inputs: [valueInfo('x', ['N', 1, 2, 2])],
        outputs: [valueInfo('y', ['N', 1, 2, 2])],
      }),
    );
    await refusesFile(file, /node 1 of 1 'conv' \(Conv\): operator Conv/);
  });
});
