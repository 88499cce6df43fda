import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelFormatError } from '../../errors';
import { attachNorms, foldAfter, foldInput } from './batchnorm';
import { PyDict, PyList, type PyValue } from './pickle';
import { findStateDict, groupLayers, orderLinears } from './state-dict';
import { type NamedTensor, tensorValues } from './tensors';
import { DTYPES, TorchStorage, TorchTensor } from './torch-globals';

/** A contiguous float32 tensor of `values` (default zeros) with its own storage. */
function tensor(shape: number[], values?: number[], dtype = 'float32'): TorchTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const s = new TorchStorage(DTYPES.get(dtype)!, 'k', 'cpu', n);
  const data = new Float32Array(values ?? new Array<number>(n).fill(0));
  s.setBytes(dtype === 'float32' ? new Uint8Array(data.buffer) : new Uint8Array(n * DTYPES.get(dtype)!.size));
  return new TorchTensor(
    s,
    0,
    shape,
    shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1)),
  );
}

const named = (entries: [string, TorchTensor][]): NamedTensor[] => entries.map(([key, t]) => ({ key, tensor: t }));

function dict(entries: [string, PyValue][], type = 'dict'): PyDict {
  const d = new PyDict(type);
  for (const [k, v] of entries) d.set(k, v);
  return d;
}

function refused(fn: () => unknown, pattern: RegExp, location?: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof ModelFormatError, String(e));
    assert.match(e.problem, pattern);
    if (location) assert.match(e.location ?? '', location);
    return true;
  });
}

const linear = (out: number, inp: number) => tensor([out, inp]);

describe('finding the state dict', () => {
  test('a state dict at the top level, non-tensor values listed', () => {
    const w = linear(2, 3);
    const found = findStateDict(
      'f.pt',
      dict([
        ['fc.weight', w],
        ['epoch', 3],
      ]),
    );
    assert.deepEqual(
      found.tensors.map((t) => t.key),
      ['fc.weight'],
    );
    assert.equal(found.key, '');
    assert.deepEqual(found.others, ['epoch']);
  });

  test('checkpoint keys in order: state_dict before model_state_dict before model; any lone dict of tensors else', () => {
    const sd = dict([['a.weight', linear(2, 2)]]);
    const other = dict([['b.weight', linear(2, 2)]]);
    assert.equal(
      findStateDict(
        'f',
        dict([
          ['model', other],
          ['state_dict', sd],
        ]),
      ).key,
      'state_dict',
    );
    assert.equal(
      findStateDict(
        'f',
        dict([
          ['model', other],
          ['model_state_dict', sd],
        ]),
      ).key,
      'model_state_dict',
    );
    const found = findStateDict(
      'f',
      dict([
        ['epoch', 1],
        ['ema_weights', sd],
        ['optimizer', dict([])],
      ]),
    );
    assert.equal(found.key, 'ema_weights');
    assert.deepEqual(found.others, ['epoch', 'optimizer']);
  });

  test('refuses what holds no state dict, saying what it holds', () => {
    refused(() => findStateDict('f', new PyList([])), /holds a list of 0, not a state dict/);
    refused(() => findStateDict('f', linear(2, 2)), /\(a single tensor\)/);
    refused(
      () =>
        findStateDict(
          'f',
          dict([
            ['epoch', 1],
            ['lr', 0.1],
          ]),
        ),
      /holds no tensors: a dict of 2 entries \(epoch, lr\)/,
    );
    // two candidate dicts under unknown names: ambiguous
    refused(
      () =>
        findStateDict(
          'f',
          dict([
            ['a', dict([['x.weight', linear(1, 1)]])],
            ['b', dict([['y.weight', linear(1, 1)]])],
          ]),
        ),
      /holds no tensors/,
    );
  });
});

describe('grouping tensors into layers', () => {
  test('Linear layers with and without bias; BatchNorm1d buffers; num_batches_tracked dropped', () => {
    const { linears, norms } = groupLayers(
      'f',
      named([
        ['0.weight', linear(4, 3)],
        ['0.bias', tensor([4])],
        ['1.weight', tensor([4])],
        ['1.bias', tensor([4])],
        ['1.running_mean', tensor([4])],
        ['1.running_var', tensor([4])],
        ['1.num_batches_tracked', tensor([], [0], 'int64')],
        ['3.weight', linear(2, 4)],
      ]),
    );
    assert.deepEqual(
      linears.map((l) => [l.prefix, l.inputSize, l.units, !!l.bias]),
      [
        ['0', 3, 4, true],
        ['3', 4, 2, false],
      ],
    );
    assert.deepEqual(
      norms.map((n) => [n.prefix, n.features, !!n.weight]),
      [['1', 4, true]],
    );
  });

  test('refuses convolutions naming the key and its shape ("not an MLP")', () => {
    refused(
      () => groupLayers('f', named([['conv1.weight', tensor([8, 1, 4, 4])]])),
      /4-D weight \(a Conv2d kernel\?\): not an MLP/,
      /tensor "conv1\.weight" \[8, 1, 4, 4\]/,
    );
    refused(
      () => groupLayers('f', named([['c.weight', tensor([8, 1, 3])]])),
      /3-D weight \(a Conv1d kernel\?\)/,
      /"c\.weight" \[8, 1, 3\]/,
    );
    // the first offending tensor in the file's order is the one named
    refused(
      () =>
        groupLayers(
          'f',
          named([
            ['fc.weight', linear(2, 2)],
            ['conv.weight', tensor([2, 2, 2, 2])],
          ]),
        ),
      /not an MLP/,
      /conv\.weight/,
    );
  });

  test('refuses what is not a Linear or BatchNorm1d parameter', () => {
    refused(() => groupLayers('f', named([['pos_embedding', tensor([4, 4])]])), /not a parameter of a Linear or BatchNorm1d layer/);
    refused(
      () =>
        groupLayers(
          'f',
          named([
            ['ln.weight', tensor([4])],
            ['ln.bias', tensor([4])],
          ]),
        ),
      /1-D weight without running statistics \(a LayerNorm/,
    );
    refused(() => groupLayers('f', named([['fc.bias', tensor([4])]])), /has no matching "fc\.weight"/);
    refused(() => groupLayers('f', named([['embed.weight', linear(10, 4)]])), /embedding table/);
    refused(
      () =>
        groupLayers(
          'f',
          named([
            ['fc.weight', linear(3, 2)],
            ['fc.bias', tensor([2])],
          ]),
        ),
      /should be 1-D of 3 values/,
    );
    refused(() => groupLayers('f', named([['bn.running_mean', tensor([3])]])), /without the other/);
    refused(
      () =>
        groupLayers(
          'f',
          named([
            ['bn.running_mean', tensor([3])],
            ['bn.running_var', tensor([4])],
          ]),
        ),
      /1-D of 3 values/,
    );
    refused(() => groupLayers('f', named([['fc.weight', tensor([2, 2], undefined, 'int64')]])), /has dtype int64/);
    refused(() => groupLayers('f', named([['fc.weight', linear(0, 2)]])), /0 outputs/);
    refused(
      () =>
        groupLayers(
          'f',
          named([
            ['bn.running_mean', tensor([3])],
            ['bn.running_var', tensor([3])],
          ]),
        ),
      /holds no Linear layer/,
    );
  });

  test('reads torch.nn.utils.prune reparametrisations (weight_orig and weight_mask)', () => {
    const { linears } = groupLayers(
      'f',
      named([
        ['fc.weight_orig', linear(2, 2)],
        ['fc.weight_mask', linear(2, 2)],
        ['fc.bias', tensor([2])],
      ]),
    );
    assert.equal(linears[0].weight.key, 'fc.weight_orig');
    assert.equal(linears[0].mask?.key, 'fc.weight_mask');
    refused(() => groupLayers('f', named([['fc.weight_orig', linear(2, 2)]])), /without its weight_mask/);
  });
});

describe('layer order', () => {
  const group = (entries: [string, TorchTensor][]) => groupLayers('f', named(entries)).linears;

  test('by name in natural order (layers.10 after layers.9)', () => {
    const notes: string[] = [];
    const order = orderLinears(
      'f',
      group([
        ['layers.10.weight', linear(2, 5)],
        ['layers.9.weight', linear(5, 3)],
      ]),
      notes,
    );
    assert.deepEqual(
      order.map((l) => l.prefix),
      ['layers.9', 'layers.10'],
    );
    assert.deepEqual(notes, []);
  });

  test("by the state dict's order when the names do not sort into a chain", () => {
    const notes: string[] = [];
    const order = orderLinears(
      'f',
      group([
        ['input.weight', linear(5, 3)],
        ['hidden.weight', linear(4, 5)],
        ['output.weight', linear(2, 4)],
      ]),
      notes,
    );
    assert.deepEqual(
      order.map((l) => l.prefix),
      ['input', 'hidden', 'output'],
    );
    assert.match(notes[0], /state dict's order/);
  });

  test('by the shapes when neither does, and refused when nothing chains', () => {
    const notes: string[] = [];
    const order = orderLinears(
      'f',
      group([
        ['b.weight', linear(2, 4)],
        ['c.weight', linear(5, 3)],
        ['a.weight', linear(4, 5)],
      ]),
      notes,
    );
    assert.deepEqual(
      order.map((l) => l.prefix),
      ['c', 'a', 'b'],
    );
    assert.match(notes[0], /from the shapes/);
    refused(
      () =>
        orderLinears(
          'f',
          group([
            ['a.weight', linear(4, 3)],
            ['b.weight', linear(2, 5)],
          ]),
          [],
        ),
      /takes 5 inputs but the layer before it by name, tensor "a\.weight" \[4, 3\], gives 4/,
    );
  });
});

describe('BatchNorm1d', () => {
  const bn = (prefix: string, n: number, first = 0) => ({
    prefix,
    first,
    mean: { key: `${prefix}.running_mean`, tensor: tensor([n]) },
    variance: { key: `${prefix}.running_var`, tensor: tensor([n]) },
    features: n,
  });

  test('pairs bn1 with fc1 by number, else with the Linear layer before it in the file, else the one that fits', () => {
    const linears = groupLayers(
      'f',
      named([
        ['fc1.weight', linear(5, 3)],
        ['fc2.weight', linear(5, 5)],
      ]),
    ).linears;
    const notes: string[] = [];
    const a = attachNorms('f', linears, [bn('bn2', 5, 3), bn('bn1', 5, 2)], notes);
    assert.equal(a.after.get(linears[0])?.prefix, 'bn1');
    assert.equal(a.after.get(linears[1])?.prefix, 'bn2');
    assert.match(notes.join('\n'), /eps 0\.00001/);
    const seq = groupLayers(
      'f',
      named([
        ['0.weight', linear(4, 4)],
        ['2.weight', linear(4, 4)],
      ]),
    ).linears;
    seq[1].first = 2; // the state dict's order: 0.weight, 1.*, 2.weight
    const b = attachNorms('f', seq, [bn('1', 4, 1)], []);
    assert.equal(b.after.get(seq[0])?.prefix, '1');
    refused(() => attachNorms('f', seq, [bn('x', 7, 5)], []), /no Linear layer has 7 outputs/, /BatchNorm1d "x" \(7 features\)/);
  });

  test('a BatchNorm1d before the first Linear layer normalises its inputs', () => {
    const linears = groupLayers('f', named([['fc1.weight', linear(5, 3)]])).linears;
    linears[0].first = 1;
    const a = attachNorms('f', linears, [bn('norm', 3, 0)], []);
    assert.equal(a.input?.prefix, 'norm');
  });

  test('folding equals BatchNorm1d applied after (and before) the layer, worked by hand', () => {
    const norm = {
      prefix: 'bn',
      first: 0,
      mean: { key: 'm', tensor: tensor([2], [1, -2]) },
      variance: { key: 'v', tensor: tensor([2], [4 - 1e-5, 0.25 - 1e-5]) },
      weight: { key: 'g', tensor: tensor([2], [3, 1]) },
      bias: { key: 'b', tensor: tensor([2], [0.5, 0]) },
      features: 2,
    };
    // kernel [in=2, units=2] rows: input 0 -> [1, 2], input 1 -> [3, 4]; bias [1, 1]
    const kernel = Float32Array.from([1, 2, 3, 4]);
    const bias = foldAfter('f', kernel, Float32Array.from([1, 1]), 2, norm, true);
    // scale = [3 / 2, 1 / 0.5] = [1.5, 2]; bias' = (b - mean) * scale + beta = [0 * 1.5 + 0.5, 3 * 2]
    assert.deepEqual([...kernel], [1.5, 4, 4.5, 8]);
    assert.deepEqual([...bias], [0.5, 6]);
    // before: x' = (x - mean) * scale + beta; W x' + b = (W * scale) x + W (beta - mean * scale) + b
    const k2 = Float32Array.from([1, 2, 3, 4]);
    const b2 = foldInput('f', k2, null, 2, norm, true);
    assert.deepEqual([...k2], [1.5, 3, 6, 8]);
    // shift = beta - mean * scale = [0.5 - 1.5, 0 + 4] = [-1, 4]; bias = [1*-1 + 3*4, 2*-1 + 4*4]
    assert.deepEqual([...b2], [11, 14]);
  });

  test('refuses a negative running variance', () => {
    const norm = {
      prefix: 'bn',
      first: 0,
      mean: { key: 'm', tensor: tensor([1], [0]) },
      variance: { key: 'v', tensor: tensor([1], [-1]) },
      features: 1,
    };
    refused(() => foldAfter('f', Float32Array.from([1]), null, 1, norm, true), /running_var\[0\] is -1/);
  });
});

describe('tensor values', () => {
  test('reads strided, offset views of a storage in row-major order', () => {
    const s = new TorchStorage(DTYPES.get('float32')!, '0', 'cpu', 12);
    s.setBytes(new Uint8Array(Float32Array.from({ length: 12 }, (_, i) => i).buffer));
    // a transposed 3x4 matrix: element (i, j) at j*3 + i
    const t = new TorchTensor(s, 0, [3, 4], [1, 3]);
    assert.deepEqual([...tensorValues('f', { key: 'x', tensor: t }, true, Float64Array)], [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    const slice = new TorchTensor(s, 1, [2, 3], [6, 2]);
    assert.deepEqual([...tensorValues('f', { key: 'y', tensor: slice }, true, Float32Array)], [1, 3, 5, 7, 9, 11]);
  });

  test('float16, bfloat16 and float64, little and big endian', () => {
    const half = new TorchStorage(DTYPES.get('float16')!, '0', 'cpu', 3);
    half.setBytes(Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38])); // 1, -2, 0.5 little endian
    assert.deepEqual([...tensorValues('f', { key: 'h', tensor: new TorchTensor(half, 0, [3], [1]) }, true, Float32Array)], [1, -2, 0.5]);
    const bf = new TorchStorage(DTYPES.get('bfloat16')!, '0', 'cpu', 2);
    bf.setBytes(Uint8Array.from([0x3f, 0x80, 0xc0, 0x40])); // 1, -3 big endian
    assert.deepEqual([...tensorValues('f', { key: 'b', tensor: new TorchTensor(bf, 0, [2], [1]) }, false, Float32Array)], [1, -3]);
    const f64 = new TorchStorage(DTYPES.get('float64')!, '0', 'cpu', 1);
    const d = new DataView(new ArrayBuffer(8));
    d.setFloat64(0, 0.1, false);
    f64.setBytes(new Uint8Array(d.buffer));
    assert.deepEqual([...tensorValues('f', { key: 'd', tensor: new TorchTensor(f64, 0, [1], [1]) }, false, Float64Array)], [0.1]);
  });
});
