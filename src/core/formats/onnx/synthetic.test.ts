// The ONNX reader on models built here with onnx-proto, each checked against onnxruntime-web
// running the same file (or against values computed by hand where onnxruntime has no kernel).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { initBackend } from '../../backend';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { readOnnx } from './onnx';
import {
  assertClose,
  buildModel,
  fDataTensor,
  fTensor,
  i64Tensor,
  node,
  randomArray,
  rng,
  runOrt,
  tempDir,
  valueInfo,
  writeTemp,
  type ModelSpec,
} from '../../../../test/kits/onnx';

const DT = onnx.TensorProto.DataType;
let dir: string;
let counter = 0;

before(async () => {
  await initBackend();
  dir = await tempDir('onnx-synthetic');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function read(bytes: Uint8Array): Promise<MLP> {
  return readOnnx(await writeTemp(dir, `m${++counter}.onnx`, bytes));
}

function summary(mlp: MLP): string {
  return [mlp.inputSize, ...mlp.layers.map((l) => `${l.units} ${l.activation}`)].join(' -> ');
}

/** Reads the model and checks predict against onnxruntime on random inputs; returns the MLP. */
async function checkOrt(bytes: Uint8Array, sampleDims: number[], n = 7, seed = 11): Promise<MLP> {
  const mlp = await read(bytes);
  const size = sampleDims.reduce((a, b) => a * b, 1);
  const x = randomArray(n * size, rng(seed), 4);
  const expected = await runOrt(bytes, x, [n, ...sampleDims]);
  assertClose(predict(mlp, x, n), expected, 1e-5, 'predict vs onnxruntime');
  return mlp;
}

const r = rng(2024);
const rand = (n: number, scale = 1) => randomArray(n, r, scale);

describe('Gemm attributes', () => {
  test('transA on transposed data, alpha and beta fold into the kernel and bias', async () => {
    const W = rand(4 * 3);
    const C = rand(3);
    const bytes = buildModel({
      opset: 11,
      nodes: [
        node('Transpose', ['x'], ['xt'], { perm: [1, 0] }, 'to_cols'),
        node('Gemm', ['xt', 'W', 'C'], ['g'], { transA: 1, alpha: { f: 0.5 }, beta: { f: 2 } }, 'fc'),
        node('Relu', ['g'], ['y']),
      ],
      initializers: [fTensor('W', [4, 3], W), fTensor('C', [3], C)],
      inputs: [valueInfo('x', ['N', 4])],
      outputs: [valueInfo('y', ['N', 3])],
    });
    const mlp = await checkOrt(bytes, [4]);
    assert.equal(summary(mlp), '4 -> 3 relu');
    assert.equal(mlp.layers[0].name, 'fc');
    assertClose(
      mlp.layers[0].weights,
      W.map((w) => 0.5 * w),
      0,
      'alpha * W',
    );
    assertClose(
      mlp.layers[0].bias!,
      C.map((c) => 2 * c),
      0,
      'beta * C',
    );
  });

  test('weights on the left (Gemm(W, x, transB=1) gives [units, batch]) with a [units, 1] bias, then Transpose back', async () => {
    const W1 = rand(5 * 4);
    const W2 = rand(3 * 5);
    const bytes = buildModel({
      opset: 13,
      nodes: [
        node('Gemm', ['W1', 'x', 'C1'], ['h1'], { transB: 1, alpha: { f: 1.5 }, beta: { f: 0.5 } }, 'left1'),
        node('Tanh', ['h1'], ['a1']),
        // transA=1 with A stored [K, N]: op(A) = A^T is [N, K]
        node('Gemm', ['W1t', 'a1', 'C2'], ['h2'], { transA: 1 }, 'left2'),
        node('Sigmoid', ['h2'], ['a2']),
        node('Transpose', ['a2'], ['a2r']),
        node('Gemm', ['a2r', 'W2', 'C3'], ['y'], { transB: 1 }, 'right'),
      ],
      initializers: [
        fTensor('W1', [5, 4], W1),
        fTensor('C1', [5, 1], rand(5)),
        fTensor('W1t', [5, 5], rand(25)),
        fTensor('C2', [], [0.25]),
        fTensor('W2', [3, 5], W2),
        fTensor('C3', [3], rand(3)),
      ],
      inputs: [valueInfo('x', ['N', 4])],
      outputs: [valueInfo('y', ['N', 3])],
    });
    const mlp = await checkOrt(bytes, [4]);
    assert.equal(summary(mlp), '4 -> 5 tanh -> 5 sigmoid -> 3 linear');
  });

  test('Gemm with a scalar C and without C (opset 11 makes C optional)', async () => {
    const bytes = buildModel({
      opset: 11,
      nodes: [
        node('Gemm', ['x', 'W1', 'c'], ['h'], { transB: 1 }, 'a'),
        node('Relu', ['h'], ['r']),
        node('Gemm', ['r', 'W2'], ['y'], { alpha: { f: -0.75 } }, 'b'),
      ],
      initializers: [fTensor('W1', [6, 3], rand(18)), fTensor('c', [1], [0.3]), fTensor('W2', [6, 2], rand(12))],
      inputs: [valueInfo('x', ['N', 3])],
      outputs: [valueInfo('y', ['N', 2])],
    });
    const mlp = await checkOrt(bytes, [3]);
    assert.deepEqual(Array.from(mlp.layers[0].bias!), new Array(6).fill(Math.fround(0.3)));
    assert.equal(mlp.layers[1].bias, null);
  });

  // onnxruntime has no Gemm-6 kernel, so the opset-6 broadcast attribute is checked by hand.
  test('opset 6 Gemm with broadcast=1 (IR 3) computes alpha*x*W^T + beta*C; broadcast=0 is refused', async () => {
    const W = rand(3 * 4); // [3, 4], transB=1
    const C = rand(3);
    const spec = (broadcast: number): ModelSpec => ({
      ir: 3,
      opset: 6,
      nodes: [node('Gemm', ['x', 'W', 'C'], ['y'], { transB: 1, broadcast, alpha: { f: 2 }, beta: { f: 0.5 } })],
      initializers: [fTensor('W', [3, 4], W), fTensor('C', [3], C)],
      inputs: [valueInfo('x', [2, 4]), valueInfo('W', [3, 4]), valueInfo('C', [3])],
      outputs: [valueInfo('y', [2, 3])],
    });
    const mlp = await read(buildModel(spec(1)));
    assert.equal(summary(mlp), '4 -> 3 linear');
    assert.equal(mlp.layers[0].name, 'dense_1');
    const x = rand(2 * 4);
    const expected = new Float32Array(6);
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += x[b * 4 + k] * W[j * 4 + k];
        expected[b * 3 + j] = 2 * s + 0.5 * C[j];
      }
    }
    assertClose(predict(mlp, x, 2), expected, 1e-6, 'opset 6 Gemm');
    await assert.rejects(
      read(buildModel(spec(0))),
      /\(Gemm, output 'y'\): has broadcast=0, so its C input 'C' must have the full output shape/,
    );
  });
});

describe('MatMul, Add and friends', () => {
  test('MatMul + Add with the bias first, Transpose of a weight initializer, a [1, N] bias', async () => {
    const Wt = rand(3 * 4); // stored [out, in] like PyTorch
    const b1 = rand(3);
    const bytes = buildModel({
      opset: 13,
      nodes: [
        node('Transpose', ['Wt'], ['W'], { perm: [1, 0] }, 'transpose_weight'),
        node('MatMul', ['x', 'W'], ['mm'], {}, 'layer1'),
        node('Add', ['b1', 'mm'], ['h']),
        node('Sigmoid', ['h'], ['s']),
        node('MatMul', ['s', 'W2'], ['mm2'], {}, 'layer2'),
        node('Add', ['mm2', 'b2'], ['y']),
      ],
      initializers: [fTensor('Wt', [3, 4], Wt), fTensor('b1', [3], b1), fTensor('W2', [3, 2], rand(6)), fTensor('b2', [1, 2], rand(2))],
      inputs: [valueInfo('x', ['batch', 4])],
      outputs: [valueInfo('y', ['batch', 2])],
    });
    const mlp = await checkOrt(bytes, [4]);
    assert.equal(summary(mlp), '4 -> 3 sigmoid -> 2 linear');
    assert.deepEqual(
      mlp.layers.map((l) => l.name),
      ['layer1', 'layer2'],
    );
    const expectW = new Float32Array(12);
    for (let o = 0; o < 3; o++) for (let i = 0; i < 4; i++) expectW[i * 3 + o] = Wt[o * 4 + i];
    assert.deepEqual(mlp.layers[0].weights, expectW);
    assert.deepEqual(mlp.layers[0].bias, b1);
  });

  test('LeakyRelu keeps its alpha (0.2, not 0.200000003) and LogSoftmax reads as log_softmax', async () => {
    const bytes = buildModel({
      opset: 13,
      nodes: [
        node('Gemm', ['x', 'W1', 'b1'], ['h'], {}, 'fc1'),
        node('LeakyRelu', ['h'], ['a'], { alpha: { f: 0.2 } }),
        node('Gemm', ['a', 'W2', 'b2'], ['z'], {}, 'fc2'),
        node('LogSoftmax', ['z'], ['y'], { axis: 1 }),
      ],
      initializers: [
        fTensor('W1', [5, 6], rand(30)),
        fTensor('b1', [6], rand(6)),
        fTensor('W2', [6, 4], rand(24)),
        fTensor('b2', [4], rand(4)),
      ],
      inputs: [valueInfo('x', ['N', 5])],
      outputs: [valueInfo('y', ['N', 4])],
    });
    const mlp = await checkOrt(bytes, [5]);
    assert.equal(summary(mlp), '5 -> 6 leaky_relu -> 4 log_softmax');
    assert.equal(mlp.layers[0].alpha, 0.2);
  });

  test('per-feature Sub and Div before Flatten-free input fold into the first layer; Mul after the linear part folds into the layer', async () => {
    const mean = rand(4);
    const std = Float32Array.from(rand(4), (v) => 0.5 + Math.abs(v));
    const bytes = buildModel({
      opset: 13,
      nodes: [
        node('Sub', ['x', 'mean'], ['c']),
        node('Div', ['c', 'std'], ['z']),
        node('MatMul', ['z', 'W'], ['m'], {}, 'fc'),
        node('Mul', ['m', 'gain'], ['g']),
        node('Add', ['g', 'b'], ['h']),
        node('Relu', ['h'], ['y']),
      ],
      initializers: [
        fTensor('mean', [4], mean),
        fTensor('std', [1, 4], std),
        fTensor('W', [4, 3], rand(12)),
        fTensor('gain', [3], rand(3)),
        fTensor('b', [3], rand(3)),
      ],
      inputs: [valueInfo('x', ['N', 4])],
      outputs: [valueInfo('y', ['N', 3])],
    });
    const mlp = await checkOrt(bytes, [4]);
    assert.equal(summary(mlp), '4 -> 3 relu');
  });

  test('an ai.onnx.ml Scaler reads the same as the equivalent Sub and Mul', async () => {
    const offset = Array.from(rand(3));
    const scale = Array.from(rand(3));
    const tail = [node('Gemm', ['z', 'W', 'b'], ['y'], {}, 'fc')];
    const inits = [fTensor('W', [3, 2], rand(6)), fTensor('b', [2], rand(2))];
    const io = { inputs: [valueInfo('x', ['N', 3])], outputs: [valueInfo('y', ['N', 2])] };
    const scaler = await read(
      buildModel({
        opset: 13,
        mlOpset: 1,
        nodes: [node('Scaler', ['x'], ['z'], { offset: { floats: offset }, scale: { floats: scale } }, 'scaler', 'ai.onnx.ml'), ...tail],
        initializers: inits,
        ...io,
      }),
    );
    const plain = await checkOrt(
      buildModel({
        opset: 13,
        nodes: [node('Sub', ['x', 'off'], ['c']), node('Mul', ['c', 'sc'], ['z']), ...tail],
        initializers: [...inits, fTensor('off', [3], offset), fTensor('sc', [3], scale)],
        ...io,
      }),
      [3],
    );
    assertClose(scaler.layers[0].weights, plain.layers[0].weights, 1e-6, 'weights');
    assertClose(scaler.layers[0].bias!, plain.layers[0].bias!, 1e-6, 'bias');
  });
});

describe('Reshape with a computed shape (PyTorch 1.x `x.view(x.size(0), -1)`)', () => {
  function viewModel(opset: number, pick: 'gather' | 'slice'): Uint8Array {
    const nodes: onnx.INodeProto[] = [node('Shape', ['x'], ['shape'], {}, 'Shape_0')];
    const init: onnx.ITensorProto[] = [
      fTensor('W', [5, 16], rand(80)),
      fTensor('b', [5], rand(5)),
      fTensor('W2', [2, 5], rand(10)),
      fTensor('b2', [2], rand(2)),
    ];
    if (pick === 'gather') {
      init.push({ name: 'zero', dims: [], dataType: DT.INT64, int64Data: [0] });
      nodes.push(node('Gather', ['shape', 'zero'], ['batch'], { axis: 0 }, 'Gather_1'));
      if (opset < 13) nodes.push(node('Unsqueeze', ['batch'], ['batch1'], { axes: [0] }, 'Unsqueeze_2'));
      else {
        init.push(i64Tensor('axes', [1], [0]));
        nodes.push(node('Unsqueeze', ['batch', 'axes'], ['batch1'], {}, 'Unsqueeze_2'));
      }
    } else {
      init.push(i64Tensor('starts', [1], [0]), i64Tensor('ends', [1], [1]));
      nodes.push(node('Slice', ['shape', 'starts', 'ends'], ['batch1'], {}, 'Slice_1'));
    }
    nodes.push(
      node('Constant', [], ['minus1'], { value: i64Tensor('', [1], [-1]) }, 'Constant_3'),
      node('Concat', ['batch1', 'minus1'], ['target'], { axis: 0 }, 'Concat_4'),
      node('Reshape', ['x', 'target'], ['flat'], {}, 'Reshape_5'),
      node('Gemm', ['flat', 'W', 'b'], ['h'], { transB: 1 }, 'Gemm_6'),
      node('Relu', ['h'], ['r'], {}, 'Relu_7'),
      node('Gemm', ['r', 'W2', 'b2'], ['y'], { transB: 1 }, 'Gemm_8'),
    );
    return buildModel({
      opset,
      nodes,
      initializers: init,
      inputs: [valueInfo('x', ['batch_size', 1, 4, 4])],
      outputs: [valueInfo('y', ['batch_size', 2])],
    });
  }

  for (const [opset, pick] of [
    [9, 'gather'],
    [13, 'gather'],
    [11, 'slice'],
  ] as const) {
    test(`opset ${opset}: Shape -> ${pick === 'gather' ? 'Gather -> Unsqueeze' : 'Slice'} -> Concat -> Reshape reads as a flatten`, async () => {
      const mlp = await checkOrt(viewModel(opset, pick), [1, 4, 4]);
      assert.equal(summary(mlp), '16 -> 5 relu -> 2 linear');
      assert.deepEqual(mlp.inputShape, [1, 4, 4]);
      assert.deepEqual(mlp.source!.notes, []);
    });
  }
});

describe('BatchNormalization folding', () => {
  test('BatchNormalization right after Gemm and after MatMul folds as w*gamma/sqrt(var+eps), (b-mean)*gamma/sqrt(var+eps)+beta', async () => {
    const W = rand(4 * 5);
    const b = rand(5);
    const gamma = rand(5, 2);
    const beta = rand(5);
    const mean = rand(5);
    const variance = Float32Array.from(rand(5), (v) => 0.1 + Math.abs(v));
    const eps = Math.fround(1e-3);
    const bytes = buildModel({
      opset: 15,
      nodes: [
        node('Gemm', ['x', 'W', 'b'], ['g'], {}, 'fc1'),
        node('BatchNormalization', ['g', 'gamma', 'beta', 'mean', 'var'], ['n'], { epsilon: { f: eps } }, 'bn1'),
        node('Relu', ['n'], ['r']),
        node('MatMul', ['r', 'W2'], ['m'], {}, 'fc2'),
        node('BatchNormalization', ['m', 'gamma2', 'beta2', 'mean2', 'var2'], ['n2'], {}, 'bn2'),
        node('Softmax', ['n2'], ['y']),
      ],
      initializers: [
        fTensor('W', [4, 5], W),
        fTensor('b', [5], b),
        fTensor('gamma', [5], gamma),
        fTensor('beta', [5], beta),
        fTensor('mean', [5], mean),
        fTensor('var', [5], variance),
        fTensor('W2', [5, 3], rand(15)),
        fTensor('gamma2', [3], rand(3)),
        fTensor('beta2', [3], rand(3)),
        fTensor('mean2', [3], rand(3)),
        fTensor('var2', [3], [0.5, 1, 2]),
      ],
      inputs: [valueInfo('x', ['N', 4])],
      outputs: [valueInfo('y', ['N', 3])],
    });
    const mlp = await checkOrt(bytes, [4], 16);
    assert.equal(summary(mlp), '4 -> 5 relu -> 3 softmax');
    const l = mlp.layers[0];
    for (let j = 0; j < 5; j++) {
      const s = gamma[j] / Math.sqrt(variance[j] + eps);
      assert.ok(Math.abs(l.bias![j] - ((b[j] - mean[j]) * s + beta[j])) < 1e-6, `bias ${j}`);
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(l.weights[k * 5 + j] - W[k * 5 + j] * s) < 1e-6, `w ${k},${j}`);
    }
    assert.ok(mlp.layers[1].bias, 'MatMul without a bias gains one from BatchNormalization');
    assert.ok(mlp.source!.notes.some((n) => /BatchNormalization node 2 of 6 'bn1' .*folded into dense layer 'fc1'/.test(n)));
  });

  test('BatchNormalization on the input and after an activation folds into the next layer', async () => {
    const bnInputs = (p: string, n: number) => [
      fTensor(`${p}_g`, [n], rand(n)),
      fTensor(`${p}_b`, [n], rand(n)),
      fTensor(`${p}_m`, [n], rand(n)),
      fTensor(
        `${p}_v`,
        [n],
        Float32Array.from(rand(n), (v) => 0.2 + Math.abs(v)),
      ),
    ];
    const bytes = buildModel({
      opset: 13,
      nodes: [
        node('BatchNormalization', ['x', 'in_g', 'in_b', 'in_m', 'in_v'], ['xn'], {}, 'bn_in'),
        node('Gemm', ['xn', 'W1', 'b1'], ['h'], {}, 'fc1'),
        node('Tanh', ['h'], ['t']),
        node('BatchNormalization', ['t', 'mid_g', 'mid_b', 'mid_m', 'mid_v'], ['tn'], {}, 'bn_mid'),
        node('Gemm', ['tn', 'W2'], ['y'], {}, 'fc2'),
      ],
      initializers: [
        ...bnInputs('in', 3),
        ...bnInputs('mid', 4),
        fTensor('W1', [3, 4], rand(12)),
        fTensor('b1', [4], rand(4)),
        fTensor('W2', [4, 2], rand(8)),
      ],
      inputs: [valueInfo('x', ['N', 3])],
      outputs: [valueInfo('y', ['N', 2])],
    });
    const mlp = await checkOrt(bytes, [3]);
    assert.equal(summary(mlp), '3 -> 4 tanh -> 2 linear');
    assert.ok(mlp.layers[1].bias, 'the shift of bn_mid becomes a bias of fc2');
    assert.equal(mlp.source!.notes.filter((n) => n.includes('into the inputs of the next dense layer')).length, 2);
  });
});

describe('IR versions 3-10 and opsets 6-21', () => {
  // [ir, opset] pairs as the ONNX releases paired them.
  const pairs: [number, number][] = [
    [3, 6],
    [3, 7],
    [3, 8],
    [4, 9],
    [5, 10],
    [6, 11],
    [7, 12],
    [7, 13],
    [8, 14],
    [8, 15],
    [8, 16],
    [8, 17],
    [8, 18],
    [9, 19],
    [9, 20],
    [10, 21],
  ];
  const rw = rng(7);
  const W1 = randomArray(8 * 6, rw);
  const b1 = randomArray(8, rw);
  const bn = [randomArray(8, rw), randomArray(8, rw), randomArray(8, rw), Float32Array.from(randomArray(8, rw), (v) => 0.3 + Math.abs(v))];
  const W2 = randomArray(8 * 5, rw, 2);
  const b2 = randomArray(5, rw);
  const W3 = randomArray(5 * 4, rw);
  const b3 = randomArray(4, rw);

  function model(ir: number, opset: number): Uint8Array {
    const init: onnx.ITensorProto[] = [
      fTensor('W1', [8, 6], W1),
      fTensor('b1', [8], b1),
      ...['scale', 'B', 'mean', 'var'].map((n, k) => (opset % 2 ? fDataTensor(n, [8], bn[k]) : fTensor(n, [8], bn[k]))),
      fTensor('W2', [8, 5], W2),
      fTensor('b2', [5], b2),
      fTensor('W3', [5, 4], W3),
      fTensor('b3', [4], b3),
    ];
    const nodes: onnx.INodeProto[] = [];
    // Reshape's shape from a Constant node on odd opsets, from an initializer on even ones.
    if (opset % 2) nodes.push(node('Constant', [], ['shape'], { value: i64Tensor('', [2], [-1, 6]) }, 'shape_const'));
    else init.push(i64Tensor('shape', [2], [0, 6]));
    nodes.push(node('Reshape', ['x', 'shape'], ['flat'], {}, 'reshape'));
    nodes.push(node('Gemm', ['flat', 'W1', 'b1'], ['g1'], opset < 7 ? { transB: 1, broadcast: 1 } : { transB: 1 }, 'fc1'));
    const bnAttrs: Record<string, number | { f: number }> = { epsilon: { f: 1e-4 } };
    if (opset < 7) bnAttrs.is_test = 1;
    if (opset < 9) bnAttrs.spatial = 1;
    nodes.push(node('BatchNormalization', ['g1', 'scale', 'B', 'mean', 'var'], ['n1'], bnAttrs, 'bn'));
    nodes.push(node('Relu', ['n1'], ['r1']));
    if (opset < 12)
      nodes.push(node('Dropout', ['r1'], ['d1'], opset < 7 ? { ratio: { f: 0.3 }, is_test: 1 } : { ratio: { f: 0.3 } }, 'drop'));
    else {
      init.push(fTensor('ratio', [], [0.3]));
      nodes.push(node('Dropout', ['r1', 'ratio'], ['d1'], {}, 'drop'));
    }
    nodes.push(node('MatMul', ['d1', 'W2'], ['m2'], {}, 'fc2'));
    nodes.push(node('Add', ['m2', 'b2'], ['a2'], opset < 7 ? { broadcast: 1 } : {}));
    if (opset < 11) nodes.push(node('Clip', ['a2'], ['c2'], { min: { f: 0 }, max: { f: 6 } }));
    else {
      init.push(fTensor('lo', [], [0]), fTensor('hi', [], [6]));
      nodes.push(node('Clip', ['a2', 'lo', 'hi'], ['c2']));
    }
    nodes.push(node('Gemm', ['c2', 'W3', 'b3'], ['g3'], opset < 7 ? { broadcast: 1 } : {}, 'fc3'));
    nodes.push(node('Softmax', ['g3'], ['y'], opset < 13 ? { axis: 1 } : {}));
    return buildModel({ ir, opset, nodes, initializers: init, inputs: [valueInfo('x', ['N', 2, 3])], outputs: [valueInfo('y', ['N', 4])] });
  }

  let opset7: MLP | undefined;
  for (const [ir, opset] of pairs) {
    test(`IR ${ir}, opset ${opset}: Reshape, Gemm, BatchNormalization, Relu, Dropout, MatMul+Add, Clip(0,6), Gemm, Softmax`, async () => {
      const bytes = model(ir, opset);
      // onnxruntime has no opset-6 Gemm kernel: that model must read exactly as its opset-7 twin.
      const mlp = opset === 6 ? await read(bytes) : await checkOrt(bytes, [2, 3], 9, opset);
      assert.equal(summary(mlp), '6 -> 8 relu -> 5 relu6 -> 4 softmax');
      assert.deepEqual(mlp.inputShape, [2, 3]);
      assert.equal(mlp.layers[0].dropout, 0.3);
      assert.deepEqual(
        mlp.layers.map((l) => l.name),
        ['fc1', 'fc2', 'fc3'],
      );
      if (opset === 7) opset7 = mlp;
      if (opset === 6) {
        const twin = await read(model(3, 7));
        assert.deepEqual(mlp.layers, twin.layers);
      }
    });
  }

  test('a newer IR (11) and opset (22) are read, with a note saying so', async () => {
    const mlp = await read(
      buildModel({
        ir: 11,
        opset: 22,
        nodes: [node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')],
        initializers: [fTensor('W', [2, 2], [1, 2, 3, 4]), fTensor('b', [2], [0, 1])],
        inputs: [valueInfo('x', ['N', 2])],
        outputs: [valueInfo('y', ['N', 2])],
      }),
    );
    assert.equal(summary(mlp), '2 -> 2 linear');
    assert.deepEqual(mlp.source!.notes, [
      'IR version 11 is outside 3–10, the versions this reader was written for',
      'opset 22 is outside 6–21, the versions this reader was written for',
    ]);
  });

  test('the opset 7 model was read (guards the loop above)', () => {
    assert.ok(opset7);
  });
});

describe('weight data types', () => {
  function oneLayer(weight: onnx.ITensorProto, elemType: number): Uint8Array {
    return buildModel({
      opset: 13,
      nodes: [node('MatMul', ['x', 'W'], ['y'], {}, 'fc')],
      initializers: [weight],
      inputs: [valueInfo('x', ['N', 2], elemType)],
      outputs: [valueInfo('y', ['N', 4], elemType)],
    });
  }
  // 0.5, -1.25, 3, 2^-24 (smallest subnormal), 65504 (largest), -2, 1, -0
  const halfBits = [0x3800, 0xbd00, 0x4200, 0x0001, 0x7bff, 0xc000, 0x3c00, 0x8000];
  const halfValues = [0.5, -1.25, 3, 2 ** -24, 65504, -2, 1, -0];

  test('FLOAT16 weights in raw_data and in int32_data widen exactly', async () => {
    const raw = new Uint8Array(16);
    halfBits.forEach((h, i) => new DataView(raw.buffer).setUint16(i * 2, h, true));
    for (const t of [
      { name: 'W', dims: [2, 4], dataType: DT.FLOAT16, rawData: raw },
      { name: 'W', dims: [2, 4], dataType: DT.FLOAT16, int32Data: halfBits },
    ]) {
      const mlp = await read(oneLayer(t, DT.FLOAT16));
      assert.deepEqual(Array.from(mlp.layers[0].weights), halfValues);
      assert.ok(mlp.source!.notes.some((n) => n.includes('computes in FLOAT16')));
    }
  });

  test('DOUBLE weights in raw_data and in double_data narrow to float32', async () => {
    const values = [0.1, -0.2, 1 / 3, 2, 1e-3, -7.5, 0, 123.456];
    const raw = new Uint8Array(new Float64Array(values).buffer);
    for (const t of [
      { name: 'W', dims: [2, 4], dataType: DT.DOUBLE, rawData: raw },
      { name: 'W', dims: [2, 4], dataType: DT.DOUBLE, doubleData: values },
    ]) {
      const mlp = await read(oneLayer(t, DT.DOUBLE));
      assert.deepEqual(Array.from(mlp.layers[0].weights), values.map(Math.fround));
    }
  });

  test('INT8 weights are refused naming the tensor and type', async () => {
    await assert.rejects(
      read(oneLayer({ name: 'W', dims: [2, 4], dataType: DT.INT8, rawData: new Uint8Array(8) }, DT.FLOAT)),
      /\(MatMul\): tensor 'W' has data type INT8; weights must be FLOAT, DOUBLE or FLOAT16/,
    );
  });
});

describe('IR 3 and converter output', () => {
  test('IR 3 with the initializers also listed as graph inputs: the input is the one that is not an initializer', async () => {
    const bytes = buildModel({
      ir: 3,
      opset: 8,
      nodes: [
        node('Gemm', ['x', 'W1', 'b1'], ['h'], {}, 'fc1'),
        node('Relu', ['h'], ['r']),
        node('Gemm', ['r', 'W2', 'b2'], ['y'], {}, 'fc2'),
      ],
      initializers: [
        fTensor('W1', [3, 5], rand(15)),
        fTensor('b1', [5], rand(5)),
        fTensor('W2', [5, 2], rand(10)),
        fTensor('b2', [2], rand(2)),
      ],
      inputs: [valueInfo('W1', [3, 5]), valueInfo('b1', [5]), valueInfo('W2', [5, 2]), valueInfo('x', [1, 3]), valueInfo('b2', [2])],
      outputs: [valueInfo('y', [1, 2])],
    });
    const mlp = await checkOrt(bytes, [3], 1);
    assert.equal(summary(mlp), '3 -> 5 relu -> 2 linear');
    assert.deepEqual(mlp.inputShape, [3]);
  });

  // The shape of skl2onnx's MLPClassifier export: MatMul/Add/Relu ... Softmax, then ArgMax ->
  // ArrayFeatureExtractor -> Cast -> Reshape for the label and ZipMap for the probabilities.
  function skl2onnxLike(postprocess: boolean): Uint8Array {
    const ML = 'ai.onnx.ml';
    const network = [
      node('MatMul', ['float_input', 'coefficient'], ['mul_result'], {}, 'MatMul'),
      node('Add', ['mul_result', 'intercepts'], ['add_result'], {}, 'Add'),
      node('Relu', ['add_result'], ['next_activations'], {}, 'Relu'),
      node('MatMul', ['next_activations', 'coefficient1'], ['mul_result1'], {}, 'MatMul1'),
      node('Add', ['mul_result1', 'intercepts1'], ['add_result1'], {}, 'Add1'),
      node('Softmax', ['add_result1'], ['out_activations_result'], { axis: 1 }, 'Softmax'),
    ];
    const post = [
      node('ArgMax', ['out_activations_result'], ['argmax_output'], { axis: 1 }, 'ArgMax'),
      node('ArrayFeatureExtractor', ['classes', 'argmax_output'], ['array_feature_extractor_result'], {}, 'ArrayFeatureExtractor', ML),
      node('Cast', ['array_feature_extractor_result'], ['cast2_result'], { to: DT.INT64 }, 'Cast'),
      node('Reshape', ['cast2_result', 'shape_tensor'], ['label'], {}, 'Reshape'),
      node('ZipMap', ['out_activations_result'], ['output_probability'], { classlabels_int64s: [0, 1, 2] }, 'ZipMap', ML),
    ];
    const r2 = rng(99);
    const initializers = [
      fTensor('coefficient', [4, 6], randomArray(24, r2)),
      fTensor('intercepts', [1, 6], randomArray(6, r2)),
      fTensor('coefficient1', [6, 3], randomArray(18, r2)),
      fTensor('intercepts1', [1, 3], randomArray(3, r2)),
      i64Tensor('classes', [3], [0, 1, 2]),
      i64Tensor('shape_tensor', [1], [-1]),
    ];
    const probabilityMaps: onnx.IValueInfoProto = {
      name: 'output_probability',
      type: { sequenceType: { elemType: { mapType: { keyType: DT.INT64, valueType: { tensorType: { elemType: DT.FLOAT } } } } } },
    };
    return buildModel({
      opset: 13,
      mlOpset: 1,
      producer: ['skl2onnx', '1.16.0'],
      nodes: postprocess ? [...network, ...post] : network,
      initializers: postprocess ? initializers : initializers.slice(0, 4),
      inputs: [valueInfo('float_input', ['N', 4])],
      outputs: postprocess ? [valueInfo('label', ['N'], DT.INT64), probabilityMaps] : [valueInfo('out_activations_result', ['N', 3])],
    });
  }

  test('skl2onnx-style MLPClassifier: the network is read and the left-out post-processing is noted', async () => {
    const mlp = await read(skl2onnxLike(true));
    assert.equal(summary(mlp), '4 -> 6 relu -> 3 softmax');
    assert.deepEqual(
      mlp.layers.map((l) => l.name),
      ['MatMul', 'MatMul1'],
    );
    assert.equal(mlp.source!.producer, 'skl2onnx 1.16.0');
    assert.equal(mlp.source!.notes.length, 1);
    const note = mlp.source!.notes[0];
    assert.match(note, /^left out post-processing after the network output 'out_activations_result'/);
    for (const op of [
      "'ArgMax' (ArgMax)",
      "'ArrayFeatureExtractor' (ai.onnx.ml.ArrayFeatureExtractor)",
      "'Cast' (Cast)",
      "'Reshape' (Reshape)",
      "'ZipMap' (ai.onnx.ml.ZipMap)",
    ]) {
      assert.ok(note.includes(op), `${op} in ${note}`);
    }
    assert.match(note, /graph output\(s\) 'label', 'output_probability'/);
    // The network alone (without post-processing) runs in onnxruntime; both files read alike.
    const bare = await checkOrt(skl2onnxLike(false), [4]);
    assert.deepEqual(bare.layers, mlp.layers);
  });
});
