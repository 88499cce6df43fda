// ONNX files built to hurt the reader: external data that escapes the model's folder, graphs and
// protobuf nesting deep enough to exhaust a recursive reader, values given twice, sizes that lie.
// Each is refused with a ModelFormatError naming the file (or, where the file is a valid MLP, read
// without recursion), quickly and without a stack overflow.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { compat, fixturesDir } from '../../../../test/fixtures';
import { ModelFormatError } from '../../errors';
import { MAX_PROTO_DEPTH, ONNX_SCAN_SCHEMA, decodeOnnxModel, readOnnx, scanOnnxNesting } from './onnx';
import { nestedSubgraphs, nestedTypes, tag } from '../../../../test/kits/onnx-hostile';
import {
  buildModel,
  fDataTensor,
  fTensor,
  node,
  rand32,
  rawFloat32,
  tempDir,
  valueInfo,
  writeTemp,
  type ModelSpec,
} from '../../../../test/kits/onnx';

const DT = onnx.TensorProto.DataType;
let dir: string;
let counter = 0;

before(async () => {
  dir = await tempDir('onnx-hostile');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Expects readOnnx(path) to fail with a ModelFormatError that starts with the file's name and matches every pattern. */
async function refusesFile(path: string, ...patterns: RegExp[]): Promise<string> {
  let caught: unknown;
  try {
    await readOnnx(path);
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof ModelFormatError,
    `expected a ModelFormatError, got ${caught instanceof Error ? caught.stack : String(caught)}`,
  );
  assert.ok(caught.message.startsWith(`${path}: ONNX: `), caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught.message;
}

async function refuses(bytes: Uint8Array, ...patterns: RegExp[]): Promise<string> {
  return refusesFile(await writeTemp(dir, `h${++counter}.onnx`, bytes), ...patterns);
}

const W = rand32(4 * 3, 1);
const B = rand32(3, 2);
const W2 = rand32(3 * 2, 3);

const mlpSpec = (nodes: onnx.INodeProto[], extra: Partial<ModelSpec> = {}): ModelSpec => ({
  opset: 13,
  nodes,
  initializers: [fTensor('W', [4, 3], W), fTensor('b', [3], B), fTensor('W2', [3, 2], W2)],
  inputs: [valueInfo('x', ['N', 4])],
  outputs: [valueInfo('y', ['N', 2])],
  ...extra,
});

const twoLayers = (w = 'W', x = 'x') => [
  node('Gemm', [x, w, 'b'], ['h'], {}, 'fc1'),
  node('Relu', ['h'], ['r']),
  node('Gemm', ['r', 'W2'], ['y'], {}, 'fc2'),
];

describe('external data that leaves the model folder', () => {
  function external(
    name: string,
    dims: number[],
    entries: Record<string, string>,
    extra: Partial<onnx.ITensorProto> = {},
  ): onnx.ITensorProto {
    return {
      name,
      dims,
      dataType: DT.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: Object.entries(entries).map(([key, value]) => ({ key, value })),
      ...extra,
    };
  }

  async function modelWith(folder: string, w: onnx.ITensorProto, file = 'net.onnx'): Promise<string> {
    await fs.mkdir(folder, { recursive: true });
    return writeTemp(
      folder,
      file,
      buildModel(mlpSpec(twoLayers(), { initializers: [w, fTensor('b', [3], B), fTensor('W2', [3, 2], W2)] })),
    );
  }

  test('a symlink inside the folder to a file outside it, ../ and an absolute location are refused, naming the file and tensor', async () => {
    const folder = join(dir, 'escape');
    const secret = join(dir, 'secret.bin');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(secret, rawFloat32(W));
    await fs.symlink(secret, join(folder, 'weights.bin'));
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: 'weights.bin' })),
      /tensor 'W' external location "weights\.bin" resolves \(through a symbolic link\) to .*secret\.bin, outside the model's folder/,
    );
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: '../secret.bin' })),
      /tensor 'W' external location "\.\.\/secret\.bin" points outside the model's folder/,
    );
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: secret })),
      /tensor 'W' external location ".*secret\.bin" is an absolute path/,
    );
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: 'file:///etc/passwd' })),
      /is a URL; only files in the model's folder can be read/,
    );
  });

  test('a symlinked folder on the way out, a directory and a named pipe are refused without being read', async () => {
    const folder = join(dir, 'escape2');
    const outside = join(dir, 'outside-dir');
    await fs.mkdir(join(folder, 'sub'), { recursive: true });
    await fs.mkdir(outside, { recursive: true });
    await fs.writeFile(join(outside, 'w.bin'), rawFloat32(W));
    await fs.symlink(outside, join(folder, 'linked'));
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: 'linked/w.bin' })),
      /resolves \(through a symbolic link\) to .*outside-dir\/w\.bin, outside the model's folder/,
    );
    await refusesFile(await modelWith(folder, external('W', [4, 3], { location: 'sub' })), /external location "sub" is not a file/);
    execFileSync('mkfifo', [join(folder, 'pipe.bin')]);
    // Opening a FIFO for reading would block until a writer comes; it must be refused first.
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: 'pipe.bin' })),
      /external location "pipe\.bin" is not a file/,
    );
  });

  test('values both external and in the model file are refused; a huge external tensor is refused before anything is read', async () => {
    const folder = join(dir, 'ext-twice');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(join(folder, 'w.bin'), rawFloat32(W));
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: 'w.bin' }, { rawData: rawFloat32(rand32(12, 9)) })),
      /tensor 'W' is stored externally in "w\.bin" but also holds raw_data \(48 bytes\) in the model file/,
    );
    await refusesFile(
      await modelWith(folder, external('W', [4, 3], { location: 'w.bin' }, { floatData: Array.from(W) })),
      /also holds float_data \(12 values\)/,
    );
    await refusesFile(
      await modelWith(folder, external('W', [4, 2 ** 30], { location: 'w.bin' })),
      /tensor 'W' is stored externally with shape \[4, 1073741824\] \(4294967296 values\); PruneScope holds weights in memory and stops at 268435456/,
    );
  });

  test('external data in the folder still reads, through the contained opener', async () => {
    const folder = join(dir, 'ext-fine');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(join(folder, 'w.bin'), rawFloat32(W));
    const file = await modelWith(folder, external('W', [4, 3], { location: 'w.bin' }));
    const mlp = await readOnnx(file);
    assert.deepEqual(mlp.layers[0].weights, W);
    assert.deepEqual(mlp.source?.files, [file, join(folder, 'w.bin')]);
  });
});

describe('graphs deep enough to exhaust a recursive walk', () => {
  test('a weight produced by a chain of 100,000 Identity nodes reads, without recursion', { timeout: 60_000 }, async () => {
    const n = 100_000;
    const chain = Array.from({ length: n }, (_, k) => node('Identity', [k === 0 ? 'W' : `w${k - 1}`], [`w${k}`]));
    const mlp = await readOnnx(await writeTemp(dir, 'identity-chain.onnx', buildModel(mlpSpec([...chain, ...twoLayers(`w${n - 1}`)]))));
    assert.equal(mlp.layers.length, 2);
    assert.deepEqual(mlp.layers[0].weights, W);
  });

  test('chains of Constant -> Cast -> Transpose -> Identity compose into one evaluation', { timeout: 60_000 }, async () => {
    // 50,000 Transposes (an even number: the weight comes back as it was), with Casts to float between.
    const n = 50_000;
    const chain: onnx.INodeProto[] = [node('Constant', [], ['c0'], { value: fTensor('', [4, 3], W) })];
    for (let k = 0; k < n; k++) {
      chain.push(node('Transpose', [`c${2 * k}`], [`c${2 * k + 1}`], { perm: [1, 0] }));
      chain.push(node('Cast', [`c${2 * k + 1}`], [`c${2 * k + 2}`], { to: DT.FLOAT }));
    }
    const spec = mlpSpec([...chain, ...twoLayers(`c${2 * n}`)]);
    spec.initializers = spec.initializers!.filter((t) => t.name !== 'W');
    const mlp = await readOnnx(await writeTemp(dir, 'transpose-chain.onnx', buildModel(spec)));
    assert.deepEqual(mlp.layers[0].weights, W);
  });

  test('a long Identity chain that loops back on itself is refused as a cycle', async () => {
    const n = 10_000;
    const chain = Array.from({ length: n }, (_, k) => node('Identity', [k === 0 ? `w${n - 1}` : `w${k - 1}`], [`w${k}`]));
    await refuses(buildModel(mlpSpec([...chain, ...twoLayers(`w${n - 1}`)])), /the graph has a cycle through 'w\d+'/);
  });

  test('100,000 Identity nodes on the data path read', { timeout: 60_000 }, async () => {
    const n = 100_000;
    const chain = Array.from({ length: n }, (_, k) => node('Identity', [k === 0 ? 'x' : `x${k - 1}`], [`x${k}`]));
    const mlp = await readOnnx(await writeTemp(dir, 'data-chain.onnx', buildModel(mlpSpec([...chain, ...twoLayers('W', `x${n - 1}`)]))));
    assert.equal(mlp.layers.length, 2);
  });

  test('100,000 per-feature Mul/Div after a 784x1000 layer fold in linear time', { timeout: 60_000 }, async () => {
    // Each op used to rescale all 784,000 weights at once: 100,000 of them took minutes.
    const [K, N, n] = [784, 1000, 100_000];
    const weights = rand32(K * N, 4);
    const scale = Float32Array.from(rand32(N, 5), (v) => 1.5 + v);
    const nodes = [node('Gemm', ['x', 'W', 'b'], ['h0'], {}, 'fc')];
    for (let k = 0; k < n; k++) nodes.push(node(k % 2 ? 'Div' : 'Mul', [`h${k}`, 's'], [`h${k + 1}`]));
    const file = await writeTemp(
      dir,
      'mul-chain.onnx',
      buildModel({
        opset: 13,
        nodes,
        initializers: [fTensor('W', [K, N], weights), fTensor('b', [N], rand32(N, 6)), fTensor('s', [N], scale)],
        inputs: [valueInfo('x', ['N', K])],
        outputs: [valueInfo(`h${n}`, ['N', N])],
      }),
    );
    const mlp = await readOnnx(file);
    let worst = 0;
    for (let k = 0; k < weights.length; k++) worst = Math.max(worst, Math.abs(mlp.layers[0].weights[k] - weights[k]));
    assert.ok(worst < 1e-4, `Mul and Div by the same scale cancel (worst difference ${worst})`);
  });

  test('Concat fan-out over shape values does not make the walk exponential', { timeout: 30_000 }, async () => {
    // c_k = Concat(c_{k-1}, c_{k-1}): 2^40 paths through the graph, 40 nodes.
    const levels = 40;
    const nodes: onnx.INodeProto[] = [node('Shape', ['x'], ['c0'])];
    for (let k = 1; k <= levels; k++) nodes.push(node('Concat', [`c${k - 1}`, `c${k - 1}`], [`c${k}`], { axis: 0 }));
    nodes.push(node('Reshape', ['x', `c${levels}`], ['xr']), ...twoLayers('W', 'xr'));
    await refuses(buildModel(mlpSpec(nodes)), /Reshape/);
    // The same over data (not shapes): a Gather at the end is an embedding lookup, found without exploring every path.
    const data: onnx.INodeProto[] = [node('Relu', ['x'], ['d0'])];
    for (let k = 1; k <= levels; k++) data.push(node('Concat', [`d${k - 1}`, `d${k - 1}`], [`d${k}`], { axis: 0 }));
    data.push(node('Gather', [`d${levels}`, 'b'], ['g']), ...twoLayers('W', 'g'));
    await refuses(buildModel(mlpSpec(data)), /operator Gather \(an embedding lookup or indexing\) is not supported/);
  });
});

describe('protobuf nesting', () => {
  test('10,000 levels of subgraphs are refused before decoding, naming the file and the nesting', async () => {
    const message = await refuses(nestedSubgraphs(10_000), /protobuf messages are nested more than 100 levels deep \(at byte \d+\)/);
    assert.match(message, /: model > graph > node > attribute > g > node > attribute > g > node > \.\.\. > /);
    assert.doesNotMatch(message, /call stack|internal error/i);
  });

  test('200,000 levels of subgraphs (which overflow protobufjs) are refused the same way', async () => {
    const bytes = nestedSubgraphs(200_000);
    assert.throws(
      () => onnx.ModelProto.decode(bytes),
      /Maximum call stack size exceeded/,
      'the hostile file really does overflow the plain decoder',
    );
    await refuses(bytes, /nested more than 100 levels deep/);
  });

  test('nesting just under the cap decodes (and is refused for what it is: control flow)', async () => {
    const levels = Math.floor((MAX_PROTO_DEPTH - 2) / 3); // model > (graph > node > attribute) x levels > graph
    assert.equal(scanOnnxNesting(nestedSubgraphs(levels)), null);
    await refuses(nestedSubgraphs(levels), /If \(control flow\)|the graph has no run-time input|not supported/);
    assert.notEqual(scanOnnxNesting(nestedSubgraphs(levels + 1)), null);
  });

  test('deeply nested sequence types in a graph input are refused', async () => {
    await refuses(
      nestedTypes(100_000),
      /protobuf messages are nested more than 100 levels deep/,
      /model > graph > input > type > sequence_type > elem_type/,
    );
  });

  test('deeply nested groups in an unknown field are refused (protobufjs skips them by recursion)', async () => {
    const depth = 1_000_000;
    // ir_version 8, then field 99 opened as a group a million times and closed as often
    const start = [...tag(99, 3)];
    const end = [...tag(99, 4)];
    const body = new Uint8Array(2 + depth * (start.length + end.length));
    body.set([0x08, 0x08], 0);
    for (let k = 0; k < depth; k++) body.set(start, 2 + k * start.length);
    for (let k = 0; k < depth; k++) body.set(end, 2 + depth * start.length + k * end.length);
    await refuses(body, /unknown fields nest protobuf groups more than 100 levels deep/);
  });

  test('the scan mirrors onnx-proto: every message field it knows, it reads as the generated decoders do', () => {
    const src = readFileSync(require.resolve('onnx-proto'), 'utf8');
    const decoders = src.split(/\.decode = function decode\(reader, length\) \{/).slice(1);
    let checked = 0;
    for (const body of decoders) {
      const type = /new \$root\.onnx\.([\w.]+)\(\)/.exec(body)?.[1];
      assert.ok(type, 'decoder names its type');
      const fields = ONNX_SCAN_SCHEMA[type];
      assert.ok(fields, `the scan knows ${type}`);
      const cases = body
        .slice(0, body.indexOf('return message;'))
        .split(/\n\s*case /)
        .slice(1);
      assert.deepEqual(
        cases.map((c) => parseInt(c, 10)).sort((a, b) => a - b),
        Object.keys(fields)
          .map(Number)
          .sort((a, b) => a - b),
        `${type}: field numbers`,
      );
      for (const c of cases) {
        const [, kind] = fields[parseInt(c, 10)];
        const message = /\$root\.onnx\.([\w.]+)\.decode\(reader, reader\.uint32\(\)\)/.exec(c)?.[1];
        const reads = [...c.matchAll(/reader\.(\w+)\(\)/g)].map((r) => r[1]).filter((r) => r !== 'uint32' || !/=== 2/.test(c));
        const last = reads[reads.length - 1];
        const packed = /\(tag & 7\) === 2/.test(c);
        if (message) assert.deepEqual(kind, { message }, `${type}.${parseInt(c, 10)}`);
        else {
          const base = {
            int64: 'long',
            uint64: 'long',
            int32: 'varint',
            uint32: 'varint',
            float: 'float',
            double: 'double',
            string: 'string',
            bytes: 'bytes',
          }[last];
          assert.equal(kind, packed ? `packed-${base}` : base, `${type}.${parseInt(c, 10)} reads ${last}`);
        }
        checked++;
      }
    }
    assert.ok(checked > 100, `${checked} fields checked`);
  });

  test('a file of zeros is refused at once (protobuf has no field number 0)', async () => {
    await refuses(new Uint8Array(1 << 20), /truncated or is not an ONNX model \(protobuf field number 0 at byte 0/);
  });

  test('an .onnx file over 2 GiB (sparse) is refused from its size, without reading it', { timeout: 20_000 }, async () => {
    const file = join(dir, 'huge.onnx');
    await fs.writeFile(file, buildModel(mlpSpec(twoLayers())));
    execFileSync('truncate', ['-s', '3G', file]);
    await refusesFile(file, /the file has 3221225472 bytes, more than the 2 GiB a protobuf message can hold/);
    await fs.rm(file);
  });

  test('decodeOnnxModel reports a stack overflow in the decoder as a ModelFormatError (backstop)', () => {
    const bytes = buildModel(mlpSpec(twoLayers()));
    const original = onnx.ModelProto.decode;
    onnx.ModelProto.decode = () => {
      throw new RangeError('Maximum call stack size exceeded');
    };
    try {
      assert.throws(
        () => decodeOnnxModel(bytes, 'f.onnx'),
        (e: unknown) => e instanceof ModelFormatError && /f\.onnx: ONNX: .*nests its protobuf messages too deeply/.test(e.message),
      );
    } finally {
      onnx.ModelProto.decode = original;
    }
  });
});

describe('values given twice', () => {
  test('a tensor with raw_data and float_data is refused, naming the tensor', async () => {
    const both = { ...fTensor('W', [4, 3], W), floatData: Array.from(rand32(12, 7)) };
    await refuses(
      buildModel(mlpSpec(twoLayers(), { initializers: [both, fTensor('b', [3], B), fTensor('W2', [3, 2], W2)] })),
      /tensor 'W' holds its values twice, in raw_data \(48 bytes\) and in float_data \(12 values\)/,
    );
    // Also in a Constant node's tensor, and for int64 shape data.
    const shape = {
      name: 's',
      dims: [2],
      dataType: DT.INT64,
      int64Data: [-1, 4],
      rawData: new Uint8Array(new BigInt64Array([-1n, 4n]).buffer),
    };
    await refuses(
      buildModel(mlpSpec([node('Constant', [], ['s'], { value: shape }), node('Reshape', ['x', 's'], ['xr']), ...twoLayers('W', 'xr')])),
      /tensor 's' holds its values twice, in raw_data \(16 bytes\) and in int64_data \(2 values\)/,
    );
  });

  test('float_data alone and raw_data alone still read (fixtures written both ways)', async () => {
    const a = await readOnnx(
      await writeTemp(
        dir,
        'fd.onnx',
        buildModel(mlpSpec(twoLayers(), { initializers: [fDataTensor('W', [4, 3], W), fTensor('b', [3], B), fTensor('W2', [3, 2], W2)] })),
      ),
    );
    assert.deepEqual(a.layers[0].weights, W);
  });

  test('no real fixture stores a tensor both ways, and every fixture passes the nesting scan', compat(), () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.onnx')) files.push(p);
      }
    };
    walk(fixturesDir);
    assert.ok(files.length >= 10, `found ${files.length} ONNX fixtures`);
    for (const f of files) {
      const bytes = readFileSync(f);
      assert.equal(scanOnnxNesting(bytes), null, f);
      const model = onnx.ModelProto.decode(bytes);
      for (const t of model.graph?.initializer ?? []) {
        const typed = [t.floatData, t.int32Data, t.int64Data, t.doubleData, t.uint64Data, t.stringData].reduce(
          (n, v) => n + (v?.length ?? 0),
          0,
        );
        assert.ok(!((t.rawData?.length ?? 0) > 0 && typed > 0), `${f}: ${t.name}`);
      }
    }
  });

  test('two initializers of the same name are refused, naming both', async () => {
    await refuses(
      buildModel(
        mlpSpec(twoLayers(), {
          initializers: [fTensor('W', [4, 3], W), fTensor('b', [3], B), fTensor('W2', [3, 2], W2), fTensor('W', [4, 3], rand32(12, 5))],
        }),
      ),
      /initializer 4 is named 'W' like initializer 1; a graph defines each value once/,
    );
  });

  test('an initializer that a node also produces is refused', async () => {
    await refuses(
      buildModel(mlpSpec([node('Identity', ['b'], ['W'], {}, 'shadow'), ...twoLayers()])),
      /node 1 of 4 'shadow' \(Identity\): its output 'W' is also an initializer/,
    );
  });
});

describe('layers of no units', () => {
  test('a Gemm with an empty weight matrix is refused', async () => {
    await refuses(
      buildModel(
        mlpSpec([node('Gemm', ['x', 'W0'], ['y'], {}, 'fc')], {
          initializers: [fTensor('W0', [4, 0], [])],
          outputs: [valueInfo('y', ['N', 0])],
        }),
      ),
      /node 1 of 1 'fc' \(Gemm\): makes a dense layer of 0 units/,
    );
  });
});
