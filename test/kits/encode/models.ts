/**
 * The models the test suite builds itself: one twin for each third-party model that tests used as
 * "a model of this kind", laid out as its exporter lays it out (node names and order, Gemm transB,
 * MatMul + Add, float_data or raw_data, a Reshape constant, initializers listed as inputs, tfjs
 * Sequential configs as an object or a list, "./" shard paths, a manifest before the topology,
 * dfdx's tensor names and order) but with weights made by nets.ts and files written by this kit's
 * encoders. They live under the same relative paths as in ../shared/fixtures, in one temporary
 * folder per process that is removed when the process exits.
 *
 * Every file says that this kit wrote it: ONNX producer "encode-kit" with the exporter whose
 * layout it follows as the version, tfjs generatedBy/convertedBy likewise; the dfdx twin, like
 * dfdx, has no metadata.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { mnistNet, randomNet, rng } from './nets';
import { encodeModel, floatData, node, rawFloats, rawInt64s, type Model, type Node, type Tensor, type ValueInfo } from './onnx';
import { kernelOf, type Net } from './reference';
import { encodeSafetensors } from './safetensors';
import { denseLayer, graphDef, writeTfjsFolder } from './tfjs';

export const PRODUCER = 'encode-kit';

let rootDir: string | undefined;

/** The per-process folder the models are written to. */
export function builtRoot(): string {
  if (!rootDir) {
    const dir = mkdtempSync(join(tmpdir(), 'prunescope-built-'));
    rootDir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return rootDir;
}

const gemmAttrs = [
  { name: 'alpha', f: 1 },
  { name: 'beta', f: 1 },
  { name: 'transB', i: 1 },
];
const float = (n: number, seed: number, scale = 1): Float32Array => {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * r() - 1) * scale;
  return out;
};

/** 784 -> 10 relu -> 10 relu -> 10, three first-layer units and one second-layer unit never fire; trained a little. */
function mnist2x10Net(): Net {
  return mnistNet({
    hidden: [10, 10],
    activation: 'relu',
    names: ['Gemm_2', 'Gemm_4', 'Gemm_6'],
    dead: [[1, 2, 9], [9]],
    seed: 1,
    sample: 2000,
    epochs: 3,
    rate: 0.01,
    inputShape: [1, 28, 28],
  });
}

function mnist2x5SigmoidNet(): Net {
  return mnistNet({
    hidden: [5, 5],
    activation: 'sigmoid',
    names: ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm'],
    seed: 2,
    sample: 2000,
    epochs: 3,
    rate: 0.01,
    inputShape: [1, 28, 28],
  });
}

/** PyTorch's torch.onnx.export layout: Constant [-1, 784] + Reshape, then Gemm(transB=1) [+ activation] per Linear. */
function pytorchGraph(
  net: Net,
  names: { constant: string; reshape: string; act: (i: number) => string; value: (node: string) => string },
  actOp: string,
): Model['graph'] {
  const nodes = [
    node('Constant', [], [names.value(names.constant)], names.constant, [{ name: 'value', t: rawInt64s(undefined, [2], [-1, 784]) }]),
  ];
  nodes.push(node('Reshape', ['input', names.value(names.constant)], [names.value(names.reshape)], names.reshape));
  let x = names.value(names.reshape);
  const initializers: Tensor[] = [];
  net.layers.forEach((l, i) => {
    const last = i === net.layers.length - 1;
    const out = last ? 'output' : names.value(l.name);
    nodes.push(node('Gemm', [x, `fc${i + 1}.weight`, `fc${i + 1}.bias`], [out], l.name, gemmAttrs));
    initializers.push(rawFloats(`fc${i + 1}.weight`, [l.units, l.inputSize], l.w), rawFloats(`fc${i + 1}.bias`, [l.units], l.bias!));
    x = out;
    if (!last) {
      nodes.push(node(actOp, [out], [names.value(names.act(i))], names.act(i)));
      x = names.value(names.act(i));
    }
  });
  return {
    nodes,
    initializers,
    inputs: [{ name: 'input', dims: ['batch_size', 1, 28, 28] }],
    outputs: [{ name: 'output', dims: ['batch_size', 10] }],
  };
}

/** PyTorch 1.11 names: Constant_0, Reshape_1, Gemm_2, Relu_3, ...; values onnx::<Op>_<n>. */
function mnist2x10Onnx(net: Net): Uint8Array {
  const valueOf: Record<string, string> = {
    Constant_0: 'onnx::Reshape_7',
    Reshape_1: 'onnx::Gemm_8',
    Gemm_2: 'onnx::Relu_9',
    Relu_3: 'onnx::Gemm_10',
    Gemm_4: 'onnx::Relu_11',
    Relu_5: 'onnx::Gemm_12',
  };
  const graph = pytorchGraph(
    net,
    { constant: 'Constant_0', reshape: 'Reshape_1', act: (i) => `Relu_${3 + 2 * i}`, value: (n) => valueOf[n] },
    'Relu',
  );
  return encodeModel({
    irVersion: 6,
    opsets: [{ version: 11 }],
    producerName: PRODUCER,
    producerVersion: 'pytorch-1.11-layout',
    graph: { ...graph, name: 'torch-jit-export' },
  });
}

/** PyTorch 2.x names: /Constant, /Reshape, /fc1/Gemm, /Sigmoid, /fc2/Gemm, /Sigmoid_1, /fc3/Gemm; values <node>_output_0. */
function mnist2x5SigmoidOnnx(net: Net): Uint8Array {
  const graph = pytorchGraph(
    net,
    { constant: '/Constant', reshape: '/Reshape', act: (i) => (i === 0 ? '/Sigmoid' : `/Sigmoid_${i}`), value: (n) => `${n}_output_0` },
    'Sigmoid',
  );
  return encodeModel({
    irVersion: 6,
    opsets: [{ version: 11 }],
    producerName: PRODUCER,
    producerVersion: 'pytorch-2.2-layout',
    graph: { ...graph, name: 'main_graph' },
  });
}

/** tf2onnx 1.5 layout: Gemm without transB on [in, out] weights, every initializer also a graph input, an Identity at the end. */
function fc1Onnx(net: Net): Uint8Array {
  const nodes: Node[] = [];
  let x = 'Placeholder:0';
  const reluNames = ['Relu', 'Relu_1', 'Relu_2'];
  net.layers.forEach((_, i) => {
    const gemm = `Gemm__${6 + i}`;
    nodes.push(node('Gemm', [x, `W${i + 1}:0`, `b${i + 1}:0`], [`${gemm}:0`], gemm));
    x = `${gemm}:0`;
    if (i < net.layers.length - 1) {
      nodes.push(node('Relu', [x], [`${reluNames[i]}:0`], reluNames[i]));
      x = `${reluNames[i]}:0`;
    }
  });
  nodes.push(node('Identity', [x], ['y_out:0'], 'y_out_graph_outputs_Identity__4'));
  const order = [...net.layers.keys()].reverse();
  const initializers = [
    ...order.map((i) => rawFloats(`b${i + 1}:0`, [net.layers[i].units], net.layers[i].bias!)),
    ...order.map((i) => rawFloats(`W${i + 1}:0`, [net.layers[i].inputSize, net.layers[i].units], kernelOf(net.layers[i]))),
  ];
  const inputs: ValueInfo[] = [
    { name: 'Placeholder:0', dims: ['unk__10', 2] },
    ...initializers.map((t) => ({ name: t.name!, dims: t.dims })),
  ];
  return encodeModel({
    irVersion: 5,
    opsets: [
      { domain: '', version: 8 },
      { domain: 'ai.onnx.converters.tensorflow', version: 1 },
    ],
    producerName: PRODUCER,
    producerVersion: 'tf2onnx-1.5-layout',
    graph: { name: 'tf2onnx', nodes, initializers, inputs, outputs: [{ name: 'y_out:0', dims: ['unk__11', 2] }] },
  });
}

/** keras2onnx 1.8 layout: MatMul + Add (+ Relu) per Dense, weights in float_data, model domain onnxmltools. */
function fc223Onnx(net: Net): Uint8Array {
  const [a, b] = net.layers;
  return encodeModel({
    irVersion: 4,
    opsets: [{ domain: '', version: 9 }],
    producerName: PRODUCER,
    producerVersion: 'keras2onnx-1.8-layout',
    domain: 'onnxmltools',
    graph: {
      name: 'fc_2-2-3_for_simulation',
      nodes: [
        node('MatMul', ['dense_12_input', 'dense_12_1/kernel:0'], ['dense_120'], 'dense_12'),
        node('Add', ['dense_120', 'dense_12_1/bias:0'], ['biased_tensor_name1'], 'Add1'),
        node('Relu', ['biased_tensor_name1'], ['dense_12_1/Identity:0'], 'Relu'),
        node('MatMul', ['dense_12_1/Identity:0', 'dense_13_1/kernel:0'], ['dense_130'], 'dense_13'),
        node('Add', ['dense_130', 'dense_13_1/bias:0'], ['dense_13'], 'Add'),
      ],
      initializers: [
        floatData('dense_13_1/kernel:0', [2, 3], kernelOf(b)),
        floatData('dense_13_1/bias:0', [3], b.bias!),
        floatData('dense_12_1/kernel:0', [2, 2], kernelOf(a)),
        floatData('dense_12_1/bias:0', [2], a.bias!),
      ],
      inputs: [{ name: 'dense_12_input', dims: ['N', 2] }],
      outputs: [{ name: 'dense_13', dims: ['N', 3] }],
    },
  });
}

/** keras2onnx's CNN layout (Transpose, Conv, Relu, Conv, Relu, MaxPool, Transpose, Flatten, MatMul, Add, Relu, MatMul, Add): not an MLP. */
function cnnOnnx(): Uint8Array {
  const s = (v: string) => ({ name: 'auto_pad', s: v });
  const conv = (name: string, x: string, k: string, out: string) =>
    node('Conv', [x, `${k}/kernel:0`, `${k}/bias:0`], [out], name, [
      s('VALID'),
      { name: 'dilations', ints: [1, 1] },
      { name: 'group', i: 1 },
      { name: 'kernel_shape', ints: [4, 4] },
      { name: 'strides', ints: [1, 1] },
    ]);
  return encodeModel({
    irVersion: 7,
    opsets: [{ domain: '', version: 12 }],
    producerName: PRODUCER,
    producerVersion: 'keras2onnx-1.7-layout',
    domain: 'onnxmltools',
    graph: {
      name: 'cnn_max_mnist',
      nodes: [
        node('Transpose', ['conv2d_14_input'], ['adjusted_input1'], 'Transpose3', [{ name: 'perm', ints: [0, 3, 1, 2] }]),
        conv('conv2d_14', 'adjusted_input1', 'conv2d_14_1', 'convolution_output1'),
        node('Relu', ['convolution_output1'], ['conv2d_14_1/Identity:0'], 'Relu2'),
        conv('conv2d_15', 'conv2d_14_1/Identity:0', 'conv2d_15_1', 'convolution_output'),
        node('Relu', ['convolution_output'], ['conv2d_15_1/Identity:0'], 'Relu1'),
        node('MaxPool', ['conv2d_15_1/Identity:0'], ['pooled'], 'pooling', [
          s('VALID'),
          { name: 'kernel_shape', ints: [2, 2] },
          { name: 'strides', ints: [2, 2] },
        ]),
        node('Transpose', ['pooled'], ['pooled_t'], 'pooled_transpose', [{ name: 'perm', ints: [0, 2, 3, 1] }]),
        node('Flatten', ['pooled_t'], ['flat'], 'flatten_7', [{ name: 'axis', i: 1 }]),
        node('MatMul', ['flat', 'dense_14_1/kernel:0'], ['dense_140'], 'dense_14'),
        node('Add', ['dense_140', 'dense_14_1/bias:0'], ['biased_tensor_name1'], 'Add1'),
        node('Relu', ['biased_tensor_name1'], ['dense_14_1/Identity:0'], 'Relu'),
        node('MatMul', ['dense_14_1/Identity:0', 'dense_15_1/kernel:0'], ['dense_150'], 'dense_15'),
        node('Add', ['dense_150', 'dense_15_1/bias:0'], ['dense_15'], 'Add'),
      ],
      initializers: [
        floatData('dense_15_1/kernel:0', [32, 10], float(320, 41, 0.3)),
        floatData('dense_15_1/bias:0', [10], float(10, 42, 0.1)),
        floatData('dense_14_1/kernel:0', [484, 32], float(484 * 32, 43, 0.1)),
        floatData('dense_14_1/bias:0', [32], float(32, 44, 0.1)),
        floatData('conv2d_15_1/kernel:0', [4, 8, 4, 4], float(512, 45, 0.3)),
        floatData('conv2d_15_1/bias:0', [4], float(4, 46, 0.1)),
        floatData('conv2d_14_1/kernel:0', [8, 1, 4, 4], float(128, 47, 0.3)),
        floatData('conv2d_14_1/bias:0', [8], float(8, 48, 0.1)),
      ],
      inputs: [{ name: 'conv2d_14_input', dims: ['N', 28, 28, 1] }],
      outputs: [{ name: 'dense_15', dims: ['N', 10] }],
    },
  });
}

/** dfdx's MNIST MLP layout: 784 -> 512 -> 128 -> 32 -> 10, ReLU, tensors "<i>.0.bias", "<i>.0.weight" [out, in], the last "3.*", sorted by name. */
function dfdxNet(): Net {
  return mnistNet({ hidden: [512, 128, 32], activation: 'relu', names: ['0.0', '1.0', '2.0', '3'], seed: 3, sample: 300 });
}

function dfdxSafetensors(net: Net): Uint8Array {
  return encodeSafetensors(
    net.layers.flatMap((l) => [
      { name: `${l.name}.bias`, shape: [l.units], values: l.bias! },
      { name: `${l.name}.weight`, shape: [l.units, l.inputSize], values: l.w },
    ]),
  );
}

const tfjsLayersModel = (topology: Record<string, unknown>, version: string) => ({
  modelTopology: topology,
  weightsManifest: null,
  format: 'layers-model',
  generatedBy: `${PRODUCER} (TensorFlow.js tfjs-layers v${version} layout)`,
  convertedBy: null,
});

/** tfjs-layers 1.3 (Node) layout: Sequential, config { name, layers }, batch_input_shape on the first Dense. */
function abaloneFolder(net: Net, dir: string): void {
  const [l1, l2, l3] = net.layers;
  writeTfjsFolder({
    dir,
    json: tfjsLayersModel(
      {
        class_name: 'Sequential',
        config: {
          name: 'sequential_1',
          layers: [
            denseLayer(l1.name, l1.units, l1.activation, { batch_input_shape: [null, 8], dtype: 'float32' }),
            denseLayer(l2.name, l2.units, l2.activation),
            denseLayer(l3.name, l3.units, l3.activation),
          ],
        },
        keras_version: 'tfjs-layers 1.3.2',
        backend: 'tensor_flow.js',
      },
      '1.3.2',
    ),
    weights: net.layers.flatMap((l) => [
      { name: `${l.name}/kernel`, shape: [l.inputSize, l.units], values: kernelOf(l) },
      { name: `${l.name}/bias`, shape: [l.units], values: l.bias! },
    ]),
  });
}

/** tfjs-layers 1.2 layout: Sequential config as a bare list of layers, the shard named with "./". */
function rn59LayersFolder(net: Net, dir: string): void {
  const l = net.layers[0];
  const { weightsManifest: _, ...json } = tfjsLayersModel(
    {
      class_name: 'Sequential',
      config: [denseLayer(l.name, 1, 'linear', { batch_input_shape: [null, 10], dtype: 'float32' })],
      keras_version: 'tfjs-layers 1.2.7',
      backend: 'tensor_flow.js',
    },
    '1.2.7',
  );
  writeTfjsFolder({
    dir,
    jsonName: 'bundle_model_test.json',
    shardName: 'bundle_model_test_weights.bin',
    manifestPath: './bundle_model_test_weights.bin',
    json,
    weights: [
      { name: `${l.name}/kernel`, shape: [10, 1], values: kernelOf(l) },
      { name: `${l.name}/bias`, shape: [1], values: l.bias! },
    ],
  });
}

/** tfjs converter 1.3 layout of the same Dense: weightsManifest first, Placeholder, Consts with control inputs, MatMul, BiasAdd, Identity. */
function rn59GraphFolder(net: Net, dir: string): void {
  const l = net.layers[0];
  const scope = 'StatefulPartitionedCall/sequential/dense_Dense2';
  const [biasName, kernelName] = [`${scope}/BiasAdd/ReadVariableOp`, `${scope}/MatMul/ReadVariableOp`];
  writeTfjsFolder({
    dir,
    shardName: 'group1-shard1of1.bin',
    json: {
      weightsManifest: null,
      modelTopology: {
        node: [
          graphDef.placeholder('dense_dense2_input', [-1, 10]),
          graphDef.constant(biasName, [1], 'dense_dense2_input'),
          graphDef.constant(kernelName, [10, 1], 'dense_dense2_input'),
          graphDef.matMul(`${scope}/MatMul`, 'dense_dense2_input', kernelName),
          graphDef.biasAdd(`${scope}/BiasAdd`, `${scope}/MatMul`, biasName),
          graphDef.unary('Identity', 'Identity', `${scope}/BiasAdd`),
        ],
        versions: { minConsumer: 12, producer: 134 },
      },
      generatedBy: '1.15.0',
      convertedBy: `${PRODUCER} (TensorFlow.js Converter v1.3.1.1 layout)`,
      format: 'graph-model',
    },
    weights: [
      { name: biasName, shape: [1], values: l.bias! },
      { name: kernelName, shape: [10, 1], values: kernelOf(l) },
    ],
  });
}

/** tfjs converter 1.7 layout: a signature in userDefinedMetadata, a Const before a [2, 2] Placeholder, one MatMul. */
function matmulGraphFolder(net: Net, dir: string): void {
  const dims = { dim: [{ size: '2' }, { size: '2' }] };
  writeTfjsFolder({
    dir,
    json: {
      format: 'graph-model',
      generatedBy: '2.1.0',
      convertedBy: `${PRODUCER} (TensorFlow.js Converter v1.7.4r1 layout)`,
      userDefinedMetadata: {
        signature: {
          inputs: { 'Placeholder:0': { name: 'Placeholder:0', dtype: 'DT_FLOAT', tensorShape: dims } },
          outputs: { 'MatMul:0': { name: 'MatMul:0', dtype: 'DT_FLOAT', tensorShape: dims } },
        },
      },
      modelTopology: {
        node: [
          { name: 'w', op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims } }, dtype: { type: 'DT_FLOAT' } } },
          graphDef.placeholder('Placeholder', [2, 2]),
          graphDef.matMul('MatMul', 'Placeholder', 'w', { device: '/device:CPU:0' }),
        ],
        versions: { producer: 175 },
      },
    },
    weights: [{ name: 'w', shape: [2, 2], values: kernelOf(net.layers[0]) }],
  });
}

/** A Keras 2.2 Functional model converted to tfjs (model_config, no format key) whose third layer is a Conv2D. */
function lenetFolder(dir: string): void {
  const inbound = (from: string) => [[[from, 0, 0, {}]]];
  writeTfjsFolder({
    dir,
    json: {
      modelTopology: {
        keras_version: '2.2.2',
        backend: 'tensorflow',
        model_config: {
          class_name: 'Model',
          config: {
            name: 'model_1',
            layers: [
              {
                name: 'input_1',
                class_name: 'InputLayer',
                config: { batch_input_shape: [null, 28, 28], dtype: 'float32', sparse: false, name: 'input_1' },
                inbound_nodes: [],
              },
              {
                name: 'reshape_1',
                class_name: 'Reshape',
                config: { name: 'reshape_1', trainable: true, target_shape: [28, 28, 1] },
                inbound_nodes: inbound('input_1'),
              },
              {
                name: 'Conv2D_1',
                class_name: 'Conv2D',
                config: {
                  name: 'Conv2D_1',
                  trainable: true,
                  filters: 2,
                  kernel_size: [5, 5],
                  strides: [1, 1],
                  padding: 'valid',
                  data_format: 'channels_last',
                  dilation_rate: [1, 1],
                  activation: 'relu',
                  use_bias: true,
                },
                inbound_nodes: inbound('reshape_1'),
              },
              {
                name: 'flatten_1',
                class_name: 'Flatten',
                config: { name: 'flatten_1', trainable: true, data_format: 'channels_last' },
                inbound_nodes: inbound('Conv2D_1'),
              },
              {
                name: 'Softmax',
                class_name: 'Dense',
                config: { ...(denseLayer('Softmax', 10, 'softmax').config as object) },
                inbound_nodes: inbound('flatten_1'),
              },
            ],
            input_layers: [['input_1', 0, 0]],
            output_layers: [['Softmax', 0, 0]],
          },
        },
      },
    },
    shardName: 'group1-shard1of1',
    weights: [
      { name: 'Conv2D_1/kernel', shape: [5, 5, 1, 2], values: float(50, 51, 0.3) },
      { name: 'Conv2D_1/bias', shape: [2], values: float(2, 52, 0.1) },
      { name: 'Softmax/kernel', shape: [1152, 10], values: float(11520, 53, 0.05) },
      { name: 'Softmax/bias', shape: [10], values: float(10, 54, 0.1) },
    ],
  });
}

interface Entry {
  /** Builds the file or folder at `path`; returns the network it holds, if any. */
  build(path: string): Net | undefined;
}

const fileEntry = (make: () => { net?: Net; bytes: Uint8Array }): Entry => ({
  build(path) {
    const { net, bytes } = make();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return net;
  },
});

const withNet = (net: () => Net, encode: (net: Net) => Uint8Array) =>
  fileEntry(() => {
    const n = net();
    return { net: n, bytes: encode(n) };
  });

let rn59: Net | undefined;
const rn59Net = () => (rn59 ??= randomNet([10, 1], ['linear'], 59, ['dense_Dense2']));

const CATALOG: Record<string, Entry> = {
  'onnx/mnist2x10.onnx': withNet(mnist2x10Net, mnist2x10Onnx),
  'onnx/mnist2x5_sigmoid.onnx': withNet(mnist2x5SigmoidNet, mnist2x5SigmoidOnnx),
  'onnx/fc1.onnx': withNet(
    () => randomNet([2, 25, 25, 25, 2], ['relu', 'relu', 'relu', 'linear'], 11, ['Gemm__6', 'Gemm__7', 'Gemm__8', 'Gemm__9']),
    fc1Onnx,
  ),
  'onnx/fc_2-2-3.onnx': withNet(() => randomNet([2, 2, 3], ['relu', 'linear'], 12, ['dense_12', 'dense_13']), fc223Onnx),
  'unsupported/cnn_max_mninst2.onnx': fileEntry(() => ({ bytes: cnnOnnx() })),
  'safetensors/dfdx-mnist': {
    build(path) {
      const net = dfdxNet();
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, 'mnist.safetensors'), dfdxSafetensors(net));
      return net;
    },
  },
  'tfjs/abalone-node': {
    build(path) {
      const net = randomNet([8, 50, 50, 1], ['sigmoid', 'sigmoid', 'linear'], 8, ['dense_Dense1', 'dense_Dense2', 'dense_Dense3']);
      abaloneFolder(net, path);
      return net;
    },
  },
  'tfjs/rn59-layers': {
    build(path) {
      rn59LayersFolder(rn59Net(), path);
      return rn59Net();
    },
  },
  'tfjs/rn59-graph': {
    build(path) {
      rn59GraphFolder(rn59Net(), path);
      return rn59Net();
    },
  },
  'tfjs/matmul-graph': {
    build(path) {
      const net = randomNet([2, 2], ['linear'], 22, ['MatMul']);
      net.layers[0].bias = null;
      net.inputShape = [2];
      matmulGraphFolder(net, path);
      return net;
    },
  },
  'unsupported/keras-lenet-layers': {
    build(path) {
      lenetFolder(path);
      return undefined;
    },
  },
};

const nets = new Map<string, Net | undefined>();

function entryOf(rel: string): string {
  const key = Object.keys(CATALOG).find((k) => rel === k || rel.startsWith(`${k}/`));
  if (!key) throw new Error(`the encoder kit builds no twin of ${rel}; it builds ${Object.keys(CATALOG).join(', ')}`);
  return key;
}

function ensure(key: string): void {
  if (nets.has(key)) return;
  nets.set(key, CATALOG[key].build(join(builtRoot(), key)));
}

/**
 * The built twin of a fixture, by the fixture's relative path (as `fixture(...parts)` takes it):
 * a file, a model folder, or a file inside a model folder. Built on first use.
 */
export function built(...parts: string[]): string {
  const rel = normalize(parts.join('/')).split(sep).join('/');
  ensure(entryOf(rel));
  const path = join(builtRoot(), rel);
  if (!existsSync(path)) throw new Error(`the built twin of ${entryOf(rel)} has no ${rel}`);
  return path;
}

/** The network a built model holds (weights as written), for reference computations. */
export function builtNet(...parts: string[]): Net {
  const key = entryOf(normalize(parts.join('/')).split(sep).join('/'));
  ensure(key);
  const net = nets.get(key);
  if (!net) throw new Error(`${key} holds no network the kit can run`);
  return net;
}
