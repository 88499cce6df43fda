// The ONNX reader on files of real exporters: exported MLPs load with the right layers and compute
// what onnxruntime (or the ONNX backend's reference outputs) compute; non-MLPs are refused by name.
// The third-party files (../shared/fixtures) form the compatibility suite, skipped without them;
// twins in the same exporters' layouts, written by the test encoder (test/kits/encode), always run.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { applyActivation, predict } from '../../model/forward';
import { validateMLP } from '../../model/mlp';
import { compat, fixture } from '../../../../test/fixtures';
import { built, PRODUCER } from '../../../../test/kits/encode/models';
import { onnxFormat, readOnnx } from './onnx';
import { assertClose, randomArray, readTensorPb, rng, runOrt } from '../../../../test/kits/onnx';

before(async () => {
  await initBackend();
});

function shape(mlp: Awaited<ReturnType<typeof readOnnx>>): string {
  return [mlp.inputSize, ...mlp.layers.map((l) => `${l.units} ${l.activation}`)].join(' -> ');
}

/** Our predict against onnxruntime-web running the original file, on random inputs. */
async function compareWithOrt(file: string, n: number, seed: number, scale = 1): Promise<void> {
  const mlp = await readOnnx(file);
  const x = randomArray(n * mlp.inputSize, rng(seed), scale, 0);
  const expected = await runOrt(file, x, [n, ...mlp.inputShape]);
  assertClose(predict(mlp, x, n), expected, 1e-5, file);
}

/** What a PyTorch 1.11 export of mnist2x10 reads as (the fixture, or its twin in the same layout). */
async function readsMnist2x10(file: string, producer: string): Promise<void> {
  const mlp = await readOnnx(file);
  validateMLP(mlp);
  assert.equal(shape(mlp), '784 -> 10 relu -> 10 relu -> 10 linear');
  assert.deepEqual(mlp.inputShape, [1, 28, 28]);
  assert.equal(mlp.source?.producer, producer);
  assert.equal(mlp.source?.format, 'onnx');
  assert.deepEqual(mlp.source?.notes, []);
  assert.ok(mlp.layers.every((l) => l.bias !== null));
  await compareWithOrt(file, 32, 1);
}

async function readsMnist2x5Sigmoid(file: string, producer: string): Promise<void> {
  const mlp = await readOnnx(file);
  assert.equal(shape(mlp), '784 -> 5 sigmoid -> 5 sigmoid -> 10 linear');
  assert.deepEqual(mlp.inputShape, [1, 28, 28]);
  assert.equal(mlp.source?.producer, producer);
  assert.deepEqual(
    mlp.layers.map((l) => l.name),
    ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm'],
  );
  await compareWithOrt(file, 32, 2);
}

async function readsFc1(file: string, producer: string): Promise<void> {
  const mlp = await readOnnx(file);
  assert.equal(shape(mlp), '2 -> 25 relu -> 25 relu -> 25 relu -> 2 linear');
  assert.deepEqual(mlp.inputShape, [2]);
  assert.equal(mlp.source?.producer, producer);
  await compareWithOrt(file, 64, 3, 4);
}

async function readsFc223(file: string, producer: string): Promise<void> {
  const mlp = await readOnnx(file);
  assert.equal(shape(mlp), '2 -> 2 relu -> 3 linear');
  assert.deepEqual(
    mlp.layers.map((l) => l.name),
    ['dense_12', 'dense_13'],
  );
  assert.equal(mlp.source?.producer, producer);
  await compareWithOrt(file, 64, 4, 4);
}

describe('ONNX fixtures from real exporters', () => {
  test('mnist2x10.onnx (PyTorch 1.11, Constant+Reshape, Gemm transB=1) reads as 784 -> 10 relu -> 10 relu -> 10', compat(), async () => {
    await readsMnist2x10(fixture('onnx', 'mnist2x10.onnx'), 'pytorch 1.11.0');
  });

  test('mnist2x5_sigmoid.onnx (PyTorch 2.2) reads as 784 -> 5 sigmoid -> 5 sigmoid -> 10', compat(), async () => {
    await readsMnist2x5Sigmoid(fixture('onnx', 'mnist2x5_sigmoid.onnx'), 'pytorch 2.2.0');
  });

  test('fc1.onnx (tf2onnx, Gemm without transB, initializers also listed as inputs) reads as 2 -> 25 x3 -> 2', compat(), async () => {
    await readsFc1(fixture('onnx', 'fc1.onnx'), 'tf2onnx 1.5.4');
  });

  test('fc_2-2-3.onnx (keras2onnx, MatMul+Add, weights in float_data) reads as 2 -> 2 relu -> 3', compat(), async () => {
    await readsFc223(fixture('onnx', 'fc_2-2-3.onnx'), 'keras2onnx 1.8.1');
  });
});

describe('the same exporter layouts, written by the test encoder', () => {
  test('PyTorch 1.11 layout (Constant+Reshape, Gemm transB=1, raw_data) reads as 784 -> 10 relu -> 10 relu -> 10', async () => {
    await readsMnist2x10(built('onnx', 'mnist2x10.onnx'), `${PRODUCER} pytorch-1.11-layout`);
  });

  test('PyTorch 2.2 layout (/fc1/Gemm names, Sigmoid) reads as 784 -> 5 sigmoid -> 5 sigmoid -> 10', async () => {
    await readsMnist2x5Sigmoid(built('onnx', 'mnist2x5_sigmoid.onnx'), `${PRODUCER} pytorch-2.2-layout`);
  });

  test('tf2onnx layout (Gemm without transB, initializers also listed as inputs, Identity output) reads as 2 -> 25 x3 -> 2', async () => {
    await readsFc1(built('onnx', 'fc1.onnx'), `${PRODUCER} tf2onnx-1.5-layout`);
  });

  test('keras2onnx layout (MatMul+Add, weights in float_data) reads as 2 -> 2 relu -> 3', async () => {
    await readsFc223(built('onnx', 'fc_2-2-3.onnx'), `${PRODUCER} keras2onnx-1.8-layout`);
  });

  test('keras2onnx CNN layout (Transpose, Conv, ..., MatMul+Add) is refused at its first Conv node', async () => {
    const file = built('unsupported', 'cnn_max_mninst2.onnx');
    await assert.rejects(readOnnx(file), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.equal(e.location, "node 2 of 13 'conv2d_14' (Conv)");
      assert.ok(e.message.startsWith(`${file}: ONNX: node 2 of 13 'conv2d_14' (Conv): operator Conv`));
      return true;
    });
  });

  test('detect picks .onnx files and ONNX headers, not JSON or safetensors', async () => {
    const { readFile } = await import('node:fs/promises');
    const bytes = new Uint8Array(await readFile(built('onnx', 'fc1.onnx')));
    assert.equal(onnxFormat.detect('/x/model.bin', bytes.subarray(0, 64)), true);
    assert.equal(onnxFormat.detect('/x/a.ONNX', new Uint8Array()), true);
    assert.equal(onnxFormat.detect('/x/model.json', new TextEncoder().encode('{"format":"layers-model"}')), false);
    // safetensors: 8-byte little-endian header length, then JSON
    assert.equal(onnxFormat.detect('/x/m.safetensors', Uint8Array.of(0x08, 0x12, 0, 0, 0, 0, 0, 0, 0x7b)), false);
  });
});

describe('ONNX backend node tests (PyTorch 0.3, IR 3, opset 6)', () => {
  const dir = (name: string, ...rest: string[]) => fixture('onnx', 'onnx-backend', name, ...rest);

  async function checkReference(name: string): Promise<void> {
    const mlp = await readOnnx(dir(name, 'model.onnx'));
    const input = await readTensorPb(dir(name, 'test_data_set_0', 'input_0.pb'));
    const output = await readTensorPb(dir(name, 'test_data_set_0', 'output_0.pb'));
    const n = input.dims[0];
    assert.deepEqual(input.dims.slice(1), mlp.inputShape);
    assertClose(predict(mlp, input.values, n), output.values, 1e-5, name);
  }

  test('test_Linear (Gemm with the old broadcast attribute, initializers listed as inputs) matches output_0.pb', compat(), async () => {
    const mlp = await readOnnx(dir('test_Linear', 'model.onnx'));
    assert.equal(shape(mlp), '10 -> 8 linear');
    assert.ok(mlp.layers[0].bias);
    assert.equal(mlp.source?.producer, 'pytorch 0.3');
    await checkReference('test_Linear');
  });

  test('test_Linear_no_bias (Transpose of the weight + MatMul) matches output_0.pb', compat(), async () => {
    const mlp = await readOnnx(dir('test_Linear_no_bias', 'model.onnx'));
    assert.equal(shape(mlp), '10 -> 8 linear');
    assert.equal(mlp.layers[0].bias, null);
    await checkReference('test_Linear_no_bias');
  });

  // Decision: a graph with an activation and no dense layer is not an MLP (there is nothing to
  // inspect or prune, and inventing an identity layer would show weights the file does not have),
  // so it is refused. The reference data still checks that PruneScope's activations follow the
  // ONNX operators' semantics, which is what matters once such an op follows a dense layer.
  for (const [name, op, activation] of [
    ['test_ReLU', 'Relu', 'relu'],
    ['test_Sigmoid', 'Sigmoid', 'sigmoid'],
    ['test_Tanh', 'Tanh', 'tanh'],
    ['test_Softmax', 'Softmax', 'softmax'],
  ] as const) {
    test(
      `${name} (activation only) is refused as having no dense layer; its reference data matches our ${activation}`,
      compat(),
      async () => {
        await assert.rejects(readOnnx(dir(name, 'model.onnx')), (e: unknown) => {
          assert.ok(e instanceof ModelFormatError);
          assert.match(e.message, /model\.onnx: ONNX: the graph has no dense layer/);
          assert.match(e.message, new RegExp(`operators: ${op}\\)`));
          return true;
        });
        const input = await readTensorPb(dir(name, 'test_data_set_0', 'input_0.pb'));
        const output = await readTensorPb(dir(name, 'test_data_set_0', 'output_0.pb'));
        const rows = input.dims[0];
        const cols = input.values.length / rows;
        const y = tf.tidy(() => applyActivation(tf.tensor2d(input.values, [rows, cols]), activation).dataSync());
        assertClose(y, output.values, 1e-5, name);
      },
    );
  }

  test('test_operator_flatten (Flatten only) is refused as having no dense layer', compat(), async () => {
    await assert.rejects(readOnnx(dir('test_operator_flatten', 'model.onnx')), /no dense layer \(operators: Flatten\)/);
  });

  // Decision: mm and addmm multiply run-time inputs (input_1.pb and input_2.pb are data the caller
  // passes, not stored weights), so there is no MLP to read; they are refused with the reason.
  test('test_operator_mm and test_operator_addmm are refused: their "weights" are run-time inputs', compat(), async () => {
    await assert.rejects(readOnnx(dir('test_operator_mm', 'model.onnx')), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.match(e.message, /the graph has 2 run-time inputs \('0', '1'\)/);
      assert.match(e.message, /node 2 of 2 \(Gemm, output '3'\) takes '1' from the caller at run time/);
      return true;
    });
    await assert.rejects(readOnnx(dir('test_operator_addmm', 'model.onnx')), /the graph has 3 run-time inputs \('0', '1', '2'\)/);
  });
});

describe('ONNX models that are not MLPs', () => {
  test('unsupported/onnx-backend-test_Conv2d is refused naming Conv and its position', compat(), async () => {
    const file = fixture('unsupported', 'onnx-backend-test_Conv2d', 'model.onnx');
    await assert.rejects(readOnnx(file), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.equal(e.file, file);
      assert.equal(e.location, "node 1 of 1 (Conv, output '3')");
      assert.match(e.message, /operator Conv \(a convolution\) is not supported/);
      return true;
    });
  });

  test('unsupported/cnn_max_mninst2.onnx is refused at its first Conv node', compat(), async () => {
    const file = fixture('unsupported', 'cnn_max_mninst2.onnx');
    await assert.rejects(readOnnx(file), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.equal(e.location, "node 2 of 13 'conv2d_14' (Conv)");
      assert.ok(e.message.startsWith(`${file}: ONNX: node 2 of 13 'conv2d_14' (Conv): operator Conv`));
      return true;
    });
  });
});
