import { PickleError, PyDict, PyGlobal, PyList, PyObject, PySet, PyTuple, type PyHost, type PyValue, describe, printable } from './pickle';

/**
 * What a torch.save pickle may name, and what each name makes. The list follows
 * torch/_weights_only_unpickler.py (`_get_allowed_globals`): containers, the tensor rebuild
 * functions, storage types, dtypes, torch.device, plus the NumPy scalars and dtypes that training
 * loops leave in checkpoint dicts, kept as inert data. Every other name is refused with a
 * TorchGlobalError that says why; nothing named in a file is ever imported or run.
 */

/** A refused name or a bad argument of an allowed callable; the interpreter gives it the opcode's position. */
export class TorchGlobalError extends PickleError {
  override name = 'TorchGlobalError';
  constructor(message: string) {
    super(message, -1);
  }
}

/** One element type of torch storages: its dtype name, its legacy storage class and its element size. */
export interface TorchDtype {
  name: string;
  storage: string;
  size: number;
}

const DTYPE_LIST: TorchDtype[] = [
  { name: 'float32', storage: 'FloatStorage', size: 4 },
  { name: 'float64', storage: 'DoubleStorage', size: 8 },
  { name: 'float16', storage: 'HalfStorage', size: 2 },
  { name: 'bfloat16', storage: 'BFloat16Storage', size: 2 },
  { name: 'int64', storage: 'LongStorage', size: 8 },
  { name: 'int32', storage: 'IntStorage', size: 4 },
  { name: 'int16', storage: 'ShortStorage', size: 2 },
  { name: 'int8', storage: 'CharStorage', size: 1 },
  { name: 'uint8', storage: 'ByteStorage', size: 1 },
  { name: 'bool', storage: 'BoolStorage', size: 1 },
  { name: 'complex64', storage: 'ComplexFloatStorage', size: 8 },
  { name: 'complex128', storage: 'ComplexDoubleStorage', size: 16 },
  { name: 'qint8', storage: 'QInt8Storage', size: 1 },
  { name: 'quint8', storage: 'QUInt8Storage', size: 1 },
  { name: 'qint32', storage: 'QInt32Storage', size: 4 },
  { name: 'quint4x2', storage: 'QUInt4x2Storage', size: 1 },
  { name: 'quint2x4', storage: 'QUInt2x4Storage', size: 1 },
];

export const DTYPES: ReadonlyMap<string, TorchDtype> = new Map(DTYPE_LIST.map((d) => [d.name, d]));
const BY_STORAGE = new Map(DTYPE_LIST.map((d) => [d.storage, d]));
/** dtype names torch.save may write besides those of the storages (as `torch.<name>` data, e.g. a tensor's dtype in metadata). */
const OTHER_DTYPES = ['uint16', 'uint32', 'uint64', 'float8_e4m3fn', 'float8_e5m2', 'float8_e4m3fnuz', 'float8_e5m2fnuz', 'complex32'];
export const FLOAT_DTYPES = ['float32', 'float16', 'bfloat16', 'float64'];

/** A storage type named in a persistent id (torch.FloatStorage ...): its dtype. */
export class StorageType extends PyGlobal {
  constructor(
    module: string,
    name: string,
    readonly dtype: TorchDtype,
  ) {
    super(module, name);
  }
}

/** One storage of the file: a flat run of `numel` elements of `dtype`, found by `key` in the container. */
export class TorchStorage implements PyHost {
  readonly pyType = 'torch storage';
  /** The raw bytes, once the container has them (a view of the root's bytes for a legacy view). */
  private bytes?: Uint8Array;
  constructor(
    readonly dtype: TorchDtype,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
    private readonly load?: () => Uint8Array,
  ) {}

  setBytes(b: Uint8Array): void {
    this.bytes = b;
  }

  /** The storage's bytes (numel x element size of them), loaded from the container on first use. */
  data(): Uint8Array {
    if (!this.bytes) {
      if (!this.load) throw new TorchGlobalError(`storage "${this.key}" has no data in the file`);
      this.bytes = this.load();
    }
    return this.bytes;
  }
}

/** A tensor: a strided view (offset, shape, stride, in elements) of a storage. */
export class TorchTensor implements PyHost {
  readonly pyType = 'torch.Tensor';
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }
}

function ints(v: PyValue, what: string): number[] {
  const items = v instanceof PyTuple || v instanceof PyList ? v.items : undefined;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new TorchGlobalError(`${what} is ${describe(v)}, not a tuple of non-negative integers`);
  }
  return items as number[];
}

/** _rebuild_tensor(storage, storage_offset, size, stride), checked to stay inside the storage. */
function rebuildTensor(fn: string, args: PyValue[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new TorchGlobalError(`${fn} is given ${describe(storage ?? null)} where a storage belongs`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new TorchGlobalError(`${fn} is given storage offset ${describe(offset ?? null)}`);
  }
  const shape = ints(size ?? null, `${fn} size`);
  const strides = ints(stride ?? null, `${fn} stride`);
  if (shape.length !== strides.length) throw new TorchGlobalError(`${fn}: size [${shape}] and stride [${strides}] differ in length`);
  if (shape.every((d) => d > 0)) {
    const last = shape.reduce((acc, d, i) => acc + (d - 1) * strides[i], offset);
    if (!Number.isSafeInteger(last) || last >= storage.numel) {
      throw new TorchGlobalError(
        `${fn}: a tensor of size [${shape}], stride [${strides}] at offset ${offset} reaches element ${last} of storage "${storage.key}", which holds ${storage.numel}`,
      );
    }
  }
  return new TorchTensor(storage, offset, shape, strides);
}

function asTensor(fn: string, v: PyValue | undefined): TorchTensor {
  if (!(v instanceof TorchTensor)) throw new TorchGlobalError(`${fn} is given ${describe(v ?? null)} where a tensor belongs`);
  return v;
}

const TYPE_MARKERS = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter']);

function rebuildFromType(args: PyValue[]): PyValue {
  const [func, type, fnArgs] = args;
  if (!(type instanceof PyGlobal) || !TYPE_MARKERS.has(type.fullName)) {
    throw new TorchGlobalError(
      `torch._tensor._rebuild_from_type_v2 makes ${describe(type ?? null)}; only plain tensors and parameters are read`,
    );
  }
  if (!(func instanceof PyGlobal) || !func.call || !(fnArgs instanceof PyTuple)) {
    throw new TorchGlobalError('torch._tensor._rebuild_from_type_v2 is not given a rebuild function and its arguments');
  }
  return func.call(fnArgs.items);
}

function orderedDict(type: string) {
  return (args: PyValue[]): PyDict => {
    const d = new PyDict(type);
    const init = args[0];
    if (init instanceof PyList || init instanceof PyTuple) {
      for (const pair of init.items) {
        if (!(pair instanceof PyTuple) || pair.items.length !== 2)
          throw new TorchGlobalError(`${type} is given ${describe(pair)} where a (key, value) pair belongs`);
        d.set(pair.items[0], pair.items[1]);
      }
    } else if (init instanceof PyDict) {
      for (const [k, v] of init.entries) d.set(k, v);
    }
    return d;
  };
}

/** _codecs.encode(text, encoding): how protocol 2 pickles bytes. */
function encode(args: PyValue[]): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== 'string') throw new TorchGlobalError(`_codecs.encode is given ${describe(text ?? null)}, not a string`);
  if (encoding === 'latin1' || encoding === 'latin-1' || encoding === 'iso-8859-1') {
    return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  }
  return new TextEncoder().encode(text);
}

function setOf(frozen: boolean) {
  return (args: PyValue[]): PySet => {
    const init = args[0];
    const items = init instanceof PyList || init instanceof PyTuple || init instanceof PySet ? [...init.items] : [];
    return new PySet(items, frozen);
  };
}

const inert = (type: string) => (args: PyValue[]) => new PyObject(type, args);

type Maker = (args: PyValue[]) => PyValue;

const TENSOR_FNS: Record<string, Maker> = {
  _rebuild_tensor: (a) => rebuildTensor('_rebuild_tensor', a),
  _rebuild_tensor_v2: (a) => rebuildTensor('_rebuild_tensor_v2', a),
  _rebuild_parameter: (a) => asTensor('_rebuild_parameter', a[0]),
  _rebuild_parameter_with_state: (a) => asTensor('_rebuild_parameter_with_state', a[0]),
};

const ALLOWED: Record<string, Maker | null> = {
  'collections.OrderedDict': orderedDict('OrderedDict'),
  'collections.Counter': orderedDict('Counter'),
  'torch._tensor._rebuild_from_type_v2': rebuildFromType,
  'torch.Tensor': null,
  'torch.nn.parameter.Parameter': null,
  'torch.device': inert('torch.device'),
  'torch.Size': (a) => new PyTuple(ints(a[0] ?? null, 'torch.Size').slice()),
  'torch.serialization._get_layout': inert('torch.layout'),
  '_codecs.encode': encode,
  'builtins.set': setOf(false),
  'builtins.frozenset': setOf(true),
  'builtins.slice': inert('slice'),
  'builtins.complex': inert('complex'),
  'builtins.bytearray': (a) => (typeof a[0] === 'string' ? encode(a) : a[0] instanceof Uint8Array ? a[0] : new PyObject('bytearray', a)),
  'numpy.core.multiarray.scalar': inert('numpy scalar'),
  'numpy._core.multiarray.scalar': inert('numpy scalar'),
  'numpy.dtype': inert('numpy.dtype'),
  'numpy.core.multiarray._reconstruct': inert('numpy.ndarray'),
  'numpy._core.multiarray._reconstruct': inert('numpy.ndarray'),
  'numpy.ndarray': null,
};

/** Python 2 module names, as pickle's own compatibility mapping renames them. */
const MODULE_RENAMES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg', 'torch.tensor': 'torch._tensor' };

const CODE_RUNNERS = new Set([
  'os', 'posix', 'nt', 'sys', 'subprocess', 'shutil', 'socket', 'importlib', 'runpy', 'pty', 'commands', 'webbrowser',
  'ctypes', 'code', 'marshal', 'pickle', '_pickle', 'types', 'io', 'pathlib', 'platform', 'multiprocessing', 'asyncio', 'signal',
]); // prettier-ignore
const RISKY_BUILTINS = new Set([
  'eval', 'exec', 'compile', '__import__', 'open', 'getattr', 'setattr', 'delattr', 'globals', 'locals', 'vars',
  'input', 'breakpoint', 'exit', 'quit', 'help', 'print', 'memoryview', 'type', 'object', 'super', 'apply', 'execfile', 'file',
]); // prettier-ignore

/** True for a dotted name of the pickle that is a torch tensor rebuild function. */
function tensorFn(module: string, name: string): Maker | undefined {
  return module === 'torch._utils' && Object.hasOwn(TENSOR_FNS, name) ? TENSOR_FNS[name] : undefined;
}

/** A storage class (torch.FloatStorage ...) or a dtype (torch.float32 ...), or undefined. */
function torchData(module: string, name: string): PyGlobal | undefined {
  if ((module === 'torch' || module === 'torch.cuda') && name.endsWith('Storage')) {
    const dtype = BY_STORAGE.get(name);
    if (dtype) return new StorageType(module, name, dtype);
    if (name === 'UntypedStorage' || name === 'TypedStorage') return undefined;
    throw new TorchGlobalError(`names storage type ${printable(`${module}.${name}`)}, which is not one PyTorch writes`);
  }
  if (module === 'torch' && (DTYPES.has(name) || OTHER_DTYPES.includes(name))) return new PyGlobal(module, name);
  return undefined;
}

/**
 * The why of a refused name: code that would run, a whole pickled model, a raw storage, or
 * simply a class the reader does not know. `rest` is the pickle's bytes, searched for the names
 * of nn.Module classes so that a model pickled whole gets the advice to save its state dict.
 */
function refusal(module: string, name: string, rest: Uint8Array): TorchGlobalError {
  const full = printable(`${module}.${name}`);
  const advice = 'save the weights with torch.save(model.state_dict(), path) and read that file';
  if (CODE_RUNNERS.has(module.split('.')[0]) || (module === 'builtins' && RISKY_BUILTINS.has(name))) {
    return new TorchGlobalError(`refused global ${full}: unpickling it would run code (an unsafe or malicious file); nothing was run`);
  }
  if ((module === 'torch' || module === 'torch.storage') && /Storage$|^_load_from_bytes$/.test(name)) {
    return new TorchGlobalError(`refused global ${full}: the file holds a raw storage rather than tensors; ${advice}`);
  }
  const wholeModel = (module.startsWith('torch.nn.') && module !== 'torch.nn.parameter') || mentions(rest, 'torch.nn.modules');
  if (wholeModel) {
    return new TorchGlobalError(
      `refused global ${full}: the file is a whole pickled model (torch.save(model)), which can only be loaded by running its code; ${advice}`,
    );
  }
  if (module.startsWith('__torch__')) {
    return new TorchGlobalError(`refused global ${full}: the file is a TorchScript module (torch.jit.save); ${advice}`);
  }
  return new TorchGlobalError(
    `refused global ${full}: only tensors, containers, dtypes and NumPy scalars are read (the file is read as data, never run); ${advice}`,
  );
}

function mentions(bytes: Uint8Array, text: string): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(text, 0, 'latin1');
}

/** The allowed meaning of a name a torch.save pickle gives, or a TorchGlobalError saying why it is refused. */
export function torchGlobal(rawModule: string, name: string, pickle: Uint8Array): PyGlobal {
  const module = MODULE_RENAMES[rawModule] ?? rawModule;
  const fn = tensorFn(module, name);
  if (fn) return new PyGlobal(module, name, fn);
  const data = torchData(module, name);
  if (data) return data;
  const full = `${module}.${name}`;
  if (Object.hasOwn(ALLOWED, full)) return new PyGlobal(module, name, ALLOWED[full] ?? undefined);
  throw refusal(module, name, pickle);
}

/** The dtype of a storage type given in a persistent id, refusing untyped storages. */
export function storageDtype(v: PyValue): TorchDtype {
  if (v instanceof StorageType) return v.dtype;
  throw new TorchGlobalError(`a persistent id names ${describe(v)} where a storage type (torch.FloatStorage ...) belongs`);
}
