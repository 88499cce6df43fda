/**
 * A restricted pickle interpreter: reads the opcodes of pickle protocols 0-5 as data. Nothing in
 * a pickle is ever imported or called: a GLOBAL is handed to `findGlobal`, which returns one of
 * the few callables the caller allows (each a plain TypeScript function that builds inert values)
 * or refuses the name. References are shared, never copied, so a pickle that nests one object in
 * itself many times ("billion laughs") stays as small as its opcodes; stack, marks, memo and
 * string lengths are bounded, and every length a pickle declares is checked against the bytes
 * that remain, so a malicious pickle can neither run anything nor make the reader hang.
 *
 * Opcode semantics follow CPython's Lib/pickle.py (the reference implementation of the format).
 */

export class PickleError extends Error {
  override name = 'PickleError';
  constructor(
    message: string,
    /** Byte offset (in the buffer given to unpickle) of the opcode that failed. */
    readonly at: number,
  ) {
    super(message);
  }
}

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A Python list. */
export class PyList {
  constructor(readonly items: PyValue[]) {}
}

/** A Python set or frozenset. */
export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen: boolean,
  ) {}
}

/** The key under which a hashable scalar is looked up (Python: 1 == 1.0 == True). */
function hashKey(key: PyValue): string | undefined {
  if (typeof key === 'string') return `s${key}`;
  if (typeof key === 'number') return `n${key}`;
  if (typeof key === 'boolean') return `n${key ? 1 : 0}`;
  if (typeof key === 'bigint') return `n${key.toString()}`;
  if (key === null) return 'None';
  return undefined;
}

/** A Python dict (or OrderedDict, Counter), in insertion order. */
export class PyDict {
  readonly entries: [PyValue, PyValue][] = [];
  private readonly index = new Map<string, number>();
  /** What a BUILD gave it (an OrderedDict's `__dict__`, e.g. a state dict's `_metadata`). */
  attributes: PyValue = null;
  constructor(readonly type = 'dict') {}

  set(key: PyValue, value: PyValue): void {
    // Keys that are not scalars (tuples, objects) are kept without hashing: hashing a deeply shared tuple could take exponential time.
    const h = hashKey(key);
    if (h !== undefined) {
      const i = this.index.get(h);
      if (i !== undefined) {
        this.entries[i][1] = value;
        return;
      }
      this.index.set(h, this.entries.length);
    }
    this.entries.push([key, value]);
  }

  get(key: string): PyValue | undefined {
    const i = this.index.get(`s${key}`);
    return i === undefined ? undefined : this.entries[i][1];
  }

  get size(): number {
    return this.entries.length;
  }
}

/** An object of an allowed, inert type (a NumPy scalar, a torch.device), kept as the arguments it was made from. */
export class PyObject {
  /** What a BUILD gave it. */
  state: PyValue = null;
  constructor(
    readonly type: string,
    readonly args: PyValue[],
  ) {}
}

/** A global the caller allows: a class or function that the pickle may name, and perhaps call. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    /** What REDUCE (and INST/OBJ) on it makes; absent for names that are only data (a dtype, a type marker). */
    readonly call?: (args: PyValue[]) => PyValue,
  ) {}

  get fullName(): string {
    return printable(`${this.module}.${this.name}`);
  }
}

/** A value made by the caller's callables (a tensor, a storage): anything with a Python type name. */
export interface PyHost {
  readonly pyType: string;
}

export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyTuple | PyList | PyDict | PySet | PyObject | PyGlobal | PyHost;

export interface PickleLimits {
  /** Values on the stack, all mark levels together. */
  stack: number;
  /** Open MARKs at once. */
  marks: number;
  /** Memo entries. */
  memo: number;
  /** Bytes of one LONG (a Python int). */
  longBytes: number;
  /** Bytes of one text line (protocol 0 arguments). */
  line: number;
}

export const DEFAULT_LIMITS: PickleLimits = { stack: 2_000_000, marks: 10_000, memo: 5_000_000, longBytes: 4096, line: 1 << 20 };

export interface UnpickleOptions {
  /** The value a GLOBAL, STACK_GLOBAL or INST names; throws (a PickleError, or the caller's error) to refuse it. */
  findGlobal(module: string, name: string): PyGlobal;
  /** The value of a persistent id (PERSID, BINPERSID); without it, persistent ids are refused. */
  persistentLoad?(pid: PyValue): PyValue;
  limits?: Partial<PickleLimits>;
}

export interface Unpickled {
  value: PyValue;
  /** Offset just past the STOP opcode. */
  end: number;
  /** The protocol the PROTO opcode declared (0 without one). */
  protocol: number;
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** Text from a file made safe for a message: control characters escaped, cut to `max` characters. */
export function printable(text: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe.length > max ? `${safe.slice(0, max)}... (${text.length} characters)` : safe;
}

/** A short, printable rendering of a value for messages. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return v.length > 60 ? `a string of ${v.length} characters` : `"${printable(v)}"`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof PyList) return `a list of ${v.items.length}`;
  if (v instanceof PyDict) return `a ${v.type} of ${v.size} entries`;
  if (v instanceof PySet) return `a ${v.frozen ? 'frozenset' : 'set'} of ${v.items.length}`;
  if (v instanceof PyObject) return `a ${v.type}`;
  if (v instanceof PyGlobal) return v.fullName;
  return `a ${v.pyType}`;
}

/** The interpreter's state: the bytes, the position, the stack with its marks and the memo. */
export class Machine {
  pos: number;
  /** Offset of the opcode being run (for messages). */
  opAt = 0;
  protocol = 0;
  readonly stack: PyValue[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, PyValue>();
  readonly limits: PickleLimits;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly options: UnpickleOptions,
  ) {
    this.pos = start;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  fail(message: string): PickleError {
    return new PickleError(message, this.opAt);
  }

  take(n: number, what: string): Uint8Array {
    const left = this.bytes.length - this.pos;
    if (!Number.isSafeInteger(n) || n < 0 || n > left) {
      throw this.fail(`${what} declares ${n} bytes but only ${left} remain (truncated or damaged pickle)`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private view(n: number, what: string): DataView {
    const b = this.take(n, what);
    return new DataView(b.buffer, b.byteOffset, n);
  }

  u8(what: string): number {
    return this.take(1, what)[0];
  }
  u16(what: string): number {
    return this.view(2, what).getUint16(0, true);
  }
  i32(what: string): number {
    return this.view(4, what).getInt32(0, true);
  }
  u32(what: string): number {
    return this.view(4, what).getUint32(0, true);
  }
  u64(what: string): number {
    const v = this.view(8, what).getBigUint64(0, true);
    if (v > BigInt(this.bytes.length)) throw this.fail(`${what} declares ${v} bytes, more than the whole pickle holds`);
    return Number(v);
  }
  f64be(what: string): number {
    return this.view(8, what).getFloat64(0, false);
  }

  /** A text line (protocol 0 argument), without its newline. */
  line(what: string): string {
    const max = Math.min(this.bytes.length, this.pos + this.limits.line + 1);
    for (let i = this.pos; i < max; i++) {
      if (this.bytes[i] === 0x0a) {
        const text = latin1.decode(this.bytes.subarray(this.pos, i));
        this.pos = i + 1;
        return text;
      }
    }
    throw this.fail(`${what} has no end of line within ${Math.min(this.limits.line, this.bytes.length - this.pos)} bytes`);
  }

  utf8(b: Uint8Array): string {
    return utf8.decode(b);
  }

  /** The start of the values above the innermost MARK (0 without one). */
  private floor(): number {
    return this.marks.length ? this.marks[this.marks.length - 1] : 0;
  }

  push(v: PyValue): void {
    if (this.stack.length >= this.limits.stack) throw this.fail(`the stack holds more than ${this.limits.stack} values (a pickle bomb?)`);
    this.stack.push(v);
  }

  pop(): PyValue {
    if (this.stack.length <= this.floor()) throw this.fail('pops an empty stack (damaged pickle)');
    return this.stack.pop()!;
  }

  top(): PyValue {
    if (this.stack.length <= this.floor()) throw this.fail('reads an empty stack (damaged pickle)');
    return this.stack[this.stack.length - 1];
  }

  setTop(v: PyValue): void {
    this.top();
    this.stack[this.stack.length - 1] = v;
  }

  mark(): void {
    if (this.marks.length >= this.limits.marks) throw this.fail(`more than ${this.limits.marks} MARKs are open at once (a pickle bomb?)`);
    this.marks.push(this.stack.length);
  }

  /** The values pushed since the innermost MARK, removed with the mark. */
  popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) throw this.fail('expects a MARK that is not there (damaged pickle)');
    return this.stack.splice(m);
  }

  memoPut(key: number, v: PyValue): void {
    if (!this.memo.has(key) && this.memo.size >= this.limits.memo)
      throw this.fail(`the memo holds more than ${this.limits.memo} values (a pickle bomb?)`);
    this.memo.set(key, v);
  }

  memoGet(key: number): PyValue {
    const v = this.memo.get(key);
    if (v === undefined) throw this.fail(`reads memo entry ${key}, which was never stored (damaged pickle)`);
    return v;
  }
}

// ---- decoding of arguments ----

/** A little-endian two's-complement integer (LONG1, LONG4), as a number when it is exact, else a bigint. */
export function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return normalizeInt(v);
}

function normalizeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** The decimal text of a protocol 0 INT or LONG ("01"/"00" are True/False for INT). */
function parseIntText(m: Machine, text: string, op: 'INT' | 'LONG'): number | bigint | boolean {
  if (op === 'INT' && text === '00') return false;
  if (op === 'INT' && text === '01') return true;
  const t = text.endsWith('L') ? text.slice(0, -1) : text;
  if (!/^[+-]?\d+$/.test(t) || t.length > m.limits.longBytes * 3) throw m.fail(`${op} argument "${t.slice(0, 40)}" is not an integer`);
  return normalizeInt(BigInt(t));
}

/** The body of a Python 2 `repr` of a str (STRING): quotes removed, backslash escapes decoded. */
function decodeStringRepr(m: Machine, text: string): string {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) throw m.fail('STRING argument is not quoted');
  const body = text.slice(1, -1);
  const simple: Record<string, string> = {
    n: '\n',
    t: '\t',
    r: '\r',
    '\\': '\\',
    "'": "'",
    '"': '"',
    a: '\x07',
    b: '\b',
    f: '\f',
    v: '\v',
  };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    return simple[e] ?? `\\${e}`;
  });
}

/** Python's raw-unicode-escape (UNICODE): latin-1 with \uXXXX and \UXXXXXXXX escapes. */
function decodeRawUnicode(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (s, u: string | undefined, U: string | undefined) => {
    const cp = parseInt(u ?? U ?? '', 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : s;
  });
}

// ---- the opcodes ----

type Op = (m: Machine) => void;

function asString(m: Machine, v: PyValue, what: string): string {
  if (typeof v !== 'string') throw m.fail(`${what} is ${describe(v)}, not a string`);
  return v;
}

function global(m: Machine, module: string, name: string): PyGlobal {
  return m.options.findGlobal(module, name);
}

function callGlobal(m: Machine, f: PyValue, args: PyValue[], op: string): PyValue {
  if (!(f instanceof PyGlobal) || !f.call) throw m.fail(`${op} calls ${describe(f)}, which is not a callable the reader allows`);
  return f.call(args);
}

function persistent(m: Machine, pid: PyValue): PyValue {
  if (!m.options.persistentLoad) throw m.fail('holds a persistent id, which this pickle may not have');
  return m.options.persistentLoad(pid);
}

function tupleItems(m: Machine, v: PyValue, what: string): PyValue[] {
  if (!(v instanceof PyTuple)) throw m.fail(`${what} is ${describe(v)}, not a tuple`);
  return v.items;
}

function pairsInto(m: Machine, d: PyValue, items: PyValue[], op: string): void {
  if (!(d instanceof PyDict)) throw m.fail(`${op} on ${describe(d)}, which is not a dict`);
  if (items.length % 2) throw m.fail(`${op} has an odd number of values (damaged pickle)`);
  for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
}

function appendInto(m: Machine, l: PyValue, items: PyValue[], op: string): void {
  if (l instanceof PyList) {
    for (const it of items) l.items.push(it);
  } else if (l instanceof PySet && !l.frozen) {
    for (const it of items) l.items.push(it);
  } else {
    throw m.fail(`${op} on ${describe(l)}, which is not a list`);
  }
}

function build(m: Machine): void {
  const state = m.pop();
  const inst = m.top();
  if (inst instanceof PyDict) inst.attributes = state;
  else if (inst instanceof PyObject) inst.state = state;
  else if (inst instanceof PyTuple || inst instanceof PyList || typeof inst !== 'object' || inst === null || inst instanceof Uint8Array) {
    throw m.fail(`BUILD on ${describe(inst)}, which has no state to set`);
  } else if (state !== null && !(state instanceof PyDict && state.size === 0)) {
    throw m.fail(`BUILD on ${describe(inst)} with ${describe(state)}: only an empty state is accepted`);
  }
}

const memoIndex = (m: Machine, text: string, op: string): number => {
  if (!/^\d+$/.test(text)) throw m.fail(`${op} argument "${text.slice(0, 40)}" is not a memo index`);
  return Number(text);
};

const NEWOBJ_REFUSED = (m: Machine, cls: PyValue) =>
  m.fail(`NEWOBJ makes an instance of ${describe(cls)}; only the allowed functions may build objects`);

const OPS: Record<string, Op> = {
  '(': (m) => m.mark(),
  '0': (m) => (m.stack.length > (m.marks[m.marks.length - 1] ?? 0) ? m.pop() : m.popMark()),
  '1': (m) => m.popMark(),
  '2': (m) => m.push(m.top()),
  F: (m) => {
    const t = m.line('FLOAT').trim();
    const special: Record<string, number> = { inf: Infinity, '+inf': Infinity, '-inf': -Infinity, nan: NaN, '+nan': NaN, '-nan': NaN };
    const v = Object.hasOwn(special, t.toLowerCase()) ? special[t.toLowerCase()] : Number(t);
    if (Number.isNaN(v) && !/^[+-]?nan$/i.test(t)) throw m.fail(`FLOAT argument "${printable(t, 40)}" is not a number`);
    m.push(v);
  },
  G: (m) => m.push(m.f64be('BINFLOAT')),
  I: (m) => m.push(parseIntText(m, m.line('INT'), 'INT')),
  J: (m) => m.push(m.i32('BININT')),
  K: (m) => m.push(m.u8('BININT1')),
  M: (m) => m.push(m.u16('BININT2')),
  L: (m) => m.push(parseIntText(m, m.line('LONG'), 'LONG')),
  '\x8a': (m) => m.push(decodeLong(m.take(m.u8('LONG1'), 'LONG1'))),
  '\x8b': (m) => {
    const n = m.i32('LONG4');
    if (n > m.limits.longBytes) throw m.fail(`LONG4 of ${n} bytes: longer than any number a model file holds (${m.limits.longBytes})`);
    m.push(decodeLong(m.take(n, 'LONG4')));
  },
  N: (m) => m.push(null),
  '\x88': (m) => m.push(true),
  '\x89': (m) => m.push(false),
  P: (m) => m.push(persistent(m, m.line('PERSID'))),
  Q: (m) => m.push(persistent(m, m.pop())),
  R: (m) => {
    const args = tupleItems(m, m.pop(), 'REDUCE argument');
    m.setTop(callGlobal(m, m.top(), args, 'REDUCE'));
  },
  S: (m) => m.push(decodeStringRepr(m, m.line('STRING'))),
  T: (m) => m.push(m.utf8(m.take(m.i32('BINSTRING'), 'BINSTRING'))),
  U: (m) => m.push(m.utf8(m.take(m.u8('SHORT_BINSTRING'), 'SHORT_BINSTRING'))),
  V: (m) => m.push(decodeRawUnicode(m.line('UNICODE'))),
  X: (m) => m.push(m.utf8(m.take(m.u32('BINUNICODE'), 'BINUNICODE'))),
  '\x8c': (m) => m.push(m.utf8(m.take(m.u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE'))),
  '\x8d': (m) => m.push(m.utf8(m.take(m.u64('BINUNICODE8'), 'BINUNICODE8'))),
  B: (m) => m.push(m.take(m.u32('BINBYTES'), 'BINBYTES')),
  C: (m) => m.push(m.take(m.u8('SHORT_BINBYTES'), 'SHORT_BINBYTES')),
  '\x8e': (m) => m.push(m.take(m.u64('BINBYTES8'), 'BINBYTES8')),
  '\x96': (m) => m.push(m.take(m.u64('BYTEARRAY8'), 'BYTEARRAY8')),
  '\x97': (m) => {
    throw m.fail('NEXT_BUFFER asks for an out-of-band buffer (pickle protocol 5), which a file cannot supply');
  },
  '\x98': () => undefined,
  a: (m) => {
    const v = m.pop();
    appendInto(m, m.top(), [v], 'APPEND');
  },
  e: (m) => {
    const items = m.popMark();
    appendInto(m, m.top(), items, 'APPENDS');
  },
  l: (m) => m.push(new PyList(m.popMark())),
  ']': (m) => m.push(new PyList([])),
  t: (m) => m.push(new PyTuple(m.popMark())),
  ')': (m) => m.push(new PyTuple([])),
  '\x85': (m) => m.setTop(new PyTuple([m.top()])),
  '\x86': (m) => {
    const b = m.pop();
    m.setTop(new PyTuple([m.top(), b]));
  },
  '\x87': (m) => {
    const c = m.pop();
    const b = m.pop();
    m.setTop(new PyTuple([m.top(), b, c]));
  },
  d: (m) => {
    const d = new PyDict();
    pairsInto(m, d, m.popMark(), 'DICT');
    m.push(d);
  },
  '}': (m) => m.push(new PyDict()),
  s: (m) => {
    const v = m.pop();
    const k = m.pop();
    pairsInto(m, m.top(), [k, v], 'SETITEM');
  },
  u: (m) => {
    const items = m.popMark();
    pairsInto(m, m.top(), items, 'SETITEMS');
  },
  '\x8f': (m) => m.push(new PySet([], false)),
  '\x90': (m) => {
    const items = m.popMark();
    appendInto(m, m.top(), items, 'ADDITEMS');
  },
  '\x91': (m) => m.push(new PySet(m.popMark(), true)),
  g: (m) => m.push(m.memoGet(memoIndex(m, m.line('GET'), 'GET'))),
  h: (m) => m.push(m.memoGet(m.u8('BINGET'))),
  j: (m) => m.push(m.memoGet(m.u32('LONG_BINGET'))),
  p: (m) => m.memoPut(memoIndex(m, m.line('PUT'), 'PUT'), m.top()),
  q: (m) => m.memoPut(m.u8('BINPUT'), m.top()),
  r: (m) => m.memoPut(m.u32('LONG_BINPUT'), m.top()),
  '\x94': (m) => m.memoPut(m.memo.size, m.top()),
  c: (m) => {
    const module = m.line('GLOBAL module');
    m.push(global(m, module, m.line('GLOBAL name')));
  },
  '\x93': (m) => {
    const name = asString(m, m.pop(), 'STACK_GLOBAL name');
    m.push(global(m, asString(m, m.pop(), 'STACK_GLOBAL module'), name));
  },
  i: (m) => {
    const module = m.line('INST module');
    const cls = global(m, module, m.line('INST name'));
    m.push(callGlobal(m, cls, m.popMark(), 'INST'));
  },
  o: (m) => {
    const [cls, ...args] = m.popMark();
    m.push(callGlobal(m, cls ?? null, args, 'OBJ'));
  },
  '\x81': (m) => {
    m.pop();
    throw NEWOBJ_REFUSED(m, m.pop());
  },
  '\x92': (m) => {
    m.pop();
    m.pop();
    throw NEWOBJ_REFUSED(m, m.pop());
  },
  b: build,
  '\x82': (m) => {
    throw m.fail('EXT1 names an object by its copyreg extension code, which the reader does not resolve');
  },
  '\x83': (m) => {
    throw m.fail('EXT2 names an object by its copyreg extension code, which the reader does not resolve');
  },
  '\x84': (m) => {
    throw m.fail('EXT4 names an object by its copyreg extension code, which the reader does not resolve');
  },
  '\x95': (m) => {
    // A frame is only a hint for buffering; its length must still fit.
    const n = m.u64('FRAME');
    if (n > m.bytes.length - m.pos) throw m.fail(`FRAME of ${n} bytes runs past the end of the pickle`);
  },
  '\x80': (m) => {
    const p = m.u8('PROTO');
    if (p > 5) throw m.fail(`declares pickle protocol ${p}; protocols 0 to 5 are known`);
    m.protocol = p;
  },
};

const OP_TABLE: (Op | undefined)[] = Array.from({ length: 256 }, (_, i) => OPS[String.fromCharCode(i)]);

const STOP = 0x2e;

/**
 * Runs one pickle from `start` to its STOP and returns the value it leaves. Throws PickleError
 * (with the offset of the opcode) for anything that is not well-formed pickle data, an unknown
 * opcode or a refused name; whatever `findGlobal` or a callable throws passes through.
 */
export function unpickle(bytes: Uint8Array, start: number, options: UnpickleOptions): Unpickled {
  const m = new Machine(bytes, start, options);
  for (;;) {
    m.opAt = m.pos;
    if (m.pos >= bytes.length) throw m.fail('ends without a STOP opcode (truncated pickle)');
    const code = bytes[m.pos++];
    if (code === STOP) {
      const value = m.pop();
      return { value, end: m.pos, protocol: m.protocol };
    }
    const op = OP_TABLE[code];
    if (!op) {
      const ch = code >= 0x20 && code < 0x7f ? ` ('${String.fromCharCode(code)}')` : '';
      throw m.fail(`unknown opcode 0x${code.toString(16).padStart(2, '0')}${ch}: not pickle data of protocol 0-5 (damaged file?)`);
    }
    try {
      op(m);
    } catch (e) {
      // Errors of the caller's callables carry no position; they get the opcode's.
      if (e instanceof PickleError && e.at < 0) throw new PickleError(e.message, m.opAt);
      throw e;
    }
  }
}
