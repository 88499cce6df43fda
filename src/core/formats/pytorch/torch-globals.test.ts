import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PyDict, PyObject, PyTuple, type PyValue, unpickle } from './pickle';
import { DTYPES, StorageType, TorchGlobalError, TorchStorage, TorchTensor, storageDtype, torchGlobal } from './torch-globals';

const none = new Uint8Array(0);
const f32 = DTYPES.get('float32')!;

function refusedGlobal(module: string, name: string, pattern: RegExp, rest = none): void {
  assert.throws(
    () => torchGlobal(module, name, rest),
    (e: Error) =>
      e instanceof TorchGlobalError &&
      pattern.test(e.message) &&
      e.message.includes(`${module === '__builtin__' ? 'builtins' : module}.${name}`),
  );
}

const call = (module: string, name: string, ...args: PyValue[]) => torchGlobal(module, name, none).call!(args);

describe('torch globals', () => {
  test('refuses names that would run code, saying nothing was run', () => {
    for (const [m, n] of [
      ['posix', 'system'],
      ['os', 'system'],
      ['nt', 'system'],
      ['subprocess', 'Popen'],
      ['builtins', 'eval'],
      ['__builtin__', 'eval'],
      ['builtins', 'exec'],
      ['builtins', 'getattr'],
      ['builtins', '__import__'],
      ['sys', 'modules'],
      ['importlib', 'import_module'],
    ]) {
      refusedGlobal(m, n, /would run code .*nothing was run/);
    }
  });

  test('refuses a pickled nn.Module with the advice to save its state dict', () => {
    refusedGlobal('torch.nn.modules.linear', 'Linear', /whole pickled model .*model\.state_dict\(\)/);
    refusedGlobal('torch.nn.modules.container', 'Sequential', /whole pickled model .*model\.state_dict\(\)/);
    // A user's class is recognised as a model by the nn modules the rest of the pickle names.
    refusedGlobal('__main__', 'Net', /whole pickled model/, Buffer.from('...ctorch.nn.modules.linear\nLinear\n...'));
    refusedGlobal('__main__', 'Net', /only tensors, containers, dtypes and NumPy scalars are read .*state_dict/);
    refusedGlobal('argparse', 'Namespace', /only tensors, containers/);
    refusedGlobal('__torch__.Net', 'forward', /TorchScript/);
  });

  test('refuses untyped and raw storages, and storage types PyTorch does not write', () => {
    refusedGlobal('torch', 'UntypedStorage', /raw storage/);
    refusedGlobal('torch.storage', 'UntypedStorage', /raw storage/);
    refusedGlobal('torch.storage', '_load_from_bytes', /raw storage/);
    assert.throws(() => torchGlobal('torch', 'MadeUpStorage', none), /storage type torch\.MadeUpStorage, which is not one PyTorch writes/);
    assert.throws(() => storageDtype('FloatStorage'), /where a storage type/);
  });

  test('knows storage types (also from torch.cuda) with their element sizes, and dtypes as data', () => {
    const sizes: Record<string, number> = {
      FloatStorage: 4,
      DoubleStorage: 8,
      HalfStorage: 2,
      BFloat16Storage: 2,
      LongStorage: 8,
      IntStorage: 4,
      ByteStorage: 1,
      BoolStorage: 1,
    };
    for (const [name, size] of Object.entries(sizes)) {
      const g = torchGlobal('torch', name, none);
      assert.ok(g instanceof StorageType);
      assert.equal(storageDtype(g).size, size);
    }
    assert.equal(storageDtype(torchGlobal('torch.cuda', 'HalfStorage', none)).name, 'float16');
    for (const d of ['float32', 'bfloat16', 'int64', 'uint16', 'float8_e4m3fn'])
      assert.equal(torchGlobal('torch', d, none).call, undefined);
  });

  test('_rebuild_tensor_v2 and _rebuild_tensor make strided views, checked to stay inside the storage', () => {
    const s = new TorchStorage(f32, '0', 'cpu', 12);
    const t = call('torch._utils', '_rebuild_tensor_v2', s, 2, new PyTuple([2, 5]), new PyTuple([1, 2]), false, new PyDict('OrderedDict'));
    assert.ok(t instanceof TorchTensor);
    assert.deepEqual([t.offset, t.shape, t.stride, t.numel], [2, [2, 5], [1, 2], 10]);
    const v1 = call('torch._utils', '_rebuild_tensor', s, 0, new PyTuple([12]), new PyTuple([1]));
    assert.ok(v1 instanceof TorchTensor && v1.numel === 12);
    // offset 3 + (2-1)*1 + (5-1)*2 = 12, one past the last element
    assert.throws(
      () => call('torch._utils', '_rebuild_tensor_v2', s, 3, new PyTuple([2, 5]), new PyTuple([1, 2]), false, null),
      /reaches element 12 of storage "0", which holds 12/,
    );
    assert.throws(() => call('torch._utils', '_rebuild_tensor_v2', s, -1, new PyTuple([1]), new PyTuple([1])), /storage offset -1/);
    assert.throws(() => call('torch._utils', '_rebuild_tensor_v2', s, 0, new PyTuple([2, 2]), new PyTuple([1])), /differ in length/);
    assert.throws(() => call('torch._utils', '_rebuild_tensor_v2', 'x', 0, new PyTuple([1]), new PyTuple([1])), /where a storage belongs/);
    assert.throws(
      () => call('torch._utils', '_rebuild_tensor_v2', s, 0, new PyTuple([-1]), new PyTuple([1])),
      /not a tuple of non-negative integers/,
    );
    // an empty tensor reaches nothing
    const empty = call('torch._utils', '_rebuild_tensor_v2', s, 99, new PyTuple([0, 5]), new PyTuple([5, 1]));
    assert.ok(empty instanceof TorchTensor && empty.numel === 0);
  });

  test('parameters and tensor subclasses unwrap to their tensor', () => {
    const s = new TorchStorage(f32, '0', 'cpu', 4);
    const rebuild = torchGlobal('torch._utils', '_rebuild_tensor_v2', none);
    const t = rebuild.call!([s, 0, new PyTuple([4]), new PyTuple([1]), false, null]);
    assert.equal(call('torch._utils', '_rebuild_parameter', t, true, new PyDict()), t);
    assert.equal(call('torch._utils', '_rebuild_parameter_with_state', t, true, new PyDict(), new PyDict()), t);
    const param = torchGlobal('torch.nn.parameter', 'Parameter', none);
    const fromType = call(
      'torch._tensor',
      '_rebuild_from_type_v2',
      rebuild,
      param,
      new PyTuple([s, 0, new PyTuple([2]), new PyTuple([1]), false, null]),
      new PyDict(),
    );
    assert.ok(fromType instanceof TorchTensor && fromType.numel === 2);
    assert.throws(
      () => call('torch._tensor', '_rebuild_from_type_v2', rebuild, torchGlobal('torch', 'float32', none), new PyTuple([]), null),
      /only plain tensors/,
    );
    assert.throws(() => call('torch._utils', '_rebuild_parameter', 'x', true, null), /where a tensor belongs/);
  });

  test('containers, torch.device, bytes and NumPy values are inert data', () => {
    const od = call('collections', 'OrderedDict', new PyTuple([new PyTuple(['a', 1]), new PyTuple(['b', 2])]));
    assert.ok(od instanceof PyDict && od.type === 'OrderedDict');
    assert.deepEqual(od.entries, [
      ['a', 1],
      ['b', 2],
    ]);
    const dev = call('torch', 'device', 'cuda', 0);
    assert.ok(dev instanceof PyObject && dev.type === 'torch.device');
    assert.deepEqual(dev.args, ['cuda', 0]);
    assert.deepEqual([...(call('_codecs', 'encode', '\u00ffA', 'latin1') as Uint8Array)], [255, 65]);
    assert.ok(call('numpy._core.multiarray', 'scalar', null, new Uint8Array(8)) instanceof PyObject);
    assert.ok(call('numpy.core.multiarray', 'scalar', null, new Uint8Array(8)) instanceof PyObject);
    assert.deepEqual(call('torch', 'Size', new PyTuple([3, 4])), new PyTuple([3, 4]));
  });

  test('a NumPy scalar pickled by numpy 2 (protocol 2) reads as inert data', () => {
    // pickle.dumps(np.float64(0.25), protocol=2), as numpy 2 writes it; the 8 raw bytes travel as latin-1 text through _codecs.encode
    const text = Buffer.from('\x00\x00\x00\x00\x00\x00\xd0?', 'utf-8');
    const b = Buffer.concat([
      Buffer.from(
        '\x80\x02cnumpy._core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbc_codecs\nencode\nX',
        'latin1',
      ),
      Buffer.from([text.length, 0, 0, 0]),
      text,
      Buffer.from('X\x06\x00\x00\x00latin1\x86R\x86R.', 'latin1'),
    ]);
    const bytes = new Uint8Array(b);
    const v = unpickle(bytes, 0, { findGlobal: (m, n) => torchGlobal(m, n, bytes) }).value;
    assert.ok(v instanceof PyObject && v.type === 'numpy scalar');
    const raw = v.args[1] as Uint8Array;
    assert.equal(new DataView(raw.buffer, raw.byteOffset, 8).getFloat64(0, true), 0.25);
  });
});
