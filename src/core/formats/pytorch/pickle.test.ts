import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PickleError, PyDict, PyGlobal, PyList, PyObject, PySet, PyTuple, type PyValue, decodeLong, printable, unpickle } from './pickle';
import { torchGlobal } from './torch-globals';

const testdata = (name: string) => new Uint8Array(readFileSync(join(__dirname, 'testdata', name)));

/** Bytes from a mix of strings (latin-1, one byte per character) and byte values. */
function bytes(...parts: (string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'string') for (const c of p) out.push(c.charCodeAt(0));
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

const noGlobals = {
  findGlobal: (m: string, n: string): PyGlobal => {
    throw new PickleError(`refused ${m}.${n}`, -1);
  },
};

const load = (b: Uint8Array, options: Parameters<typeof unpickle>[2] = { findGlobal: (m, n) => torchGlobal(m, n, b) }) =>
  unpickle(b, 0, options).value;

function refused(b: Uint8Array, pattern: RegExp, options?: Parameters<typeof unpickle>[2]): PickleError {
  let caught: unknown;
  try {
    load(b, options);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PickleError, `expected a PickleError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

function entry(d: PyValue, key: string): PyValue {
  assert.ok(d instanceof PyDict);
  const v = d.get(key);
  assert.notEqual(v, undefined, key);
  return v!;
}

const items = (v: PyValue | undefined) => {
  assert.ok(v instanceof PyList || v instanceof PyTuple || v instanceof PySet, `not a sequence: ${String(v)}`);
  return v.items;
};

describe('pickle interpreter', () => {
  // The same object, pickled by CPython with each protocol (testdata/make_testdata.py make_protocols).
  for (let proto = 0; proto <= 5; proto++) {
    test(`reads CPython's pickle of plain data at protocol ${proto}`, () => {
      const b = testdata(`plain-p${proto}.pkl`);
      const r = unpickle(b, 0, { findGlobal: (m, n) => torchGlobal(m, n, b) });
      assert.equal(r.end, b.length);
      assert.equal(r.protocol, proto >= 2 ? proto : 0);
      const v = r.value;
      assert.deepEqual(items(entry(v, 'ints')), [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2n ** 70n, -(2n ** 70n)]);
      assert.deepEqual(items(entry(v, 'floats')), [0.5, -1.25, 1e300]);
      assert.equal(entry(v, 'text'), 'h\u00e9llo \u2713 a\\b\nc');
      assert.deepEqual([...(entry(v, 'bytes') as Uint8Array)], [0, 255, 97, 98]);
      const nested = items(entry(v, 'nested'));
      assert.equal(nested[0], 1);
      assert.deepEqual(items(nested[1]), [2, 3]);
      const inner = items(nested[2]);
      assert.equal(inner[0], 4);
      assert.equal(entry(inner[1], 'k'), null);
      assert.deepEqual(items(entry(v, 'flags')), [true, false]);
      const set = entry(v, 'set');
      assert.ok(set instanceof PySet && !set.frozen);
      assert.deepEqual(set.items, [3]);
      const frozen = entry(v, 'frozen');
      assert.ok(frozen instanceof PySet && frozen.frozen);
      assert.deepEqual(frozen.items, [4]);
      assert.deepEqual([...(entry(v, 'array') as Uint8Array)], [120, 121]);
      const [t, l, d] = items(entry(v, 'empty'));
      assert.ok(
        t instanceof PyTuple && t.items.length === 0 && l instanceof PyList && l.items.length === 0 && d instanceof PyDict && d.size === 0,
      );
      // memo references give the same object, not a copy
      const [a, b2] = items(entry(v, 'shared'));
      assert.equal(a, b2);
    });
  }

  test('decodes LONG1 two-complement integers', () => {
    assert.equal(decodeLong(Uint8Array.from([])), 0);
    assert.equal(decodeLong(Uint8Array.from([0xff])), -1);
    assert.equal(decodeLong(Uint8Array.from([0x00, 0x80])), -32768);
    assert.equal(decodeLong(Uint8Array.from([0xff, 0x00])), 255);
    assert.equal(decodeLong(Uint8Array.from([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19])), 0x1950a86a20f9469cfc6cn);
  });

  test('runs protocol 4 framing, MEMOIZE, STACK_GLOBAL and SHORT_BINUNICODE', () => {
    const b = bytes(
      [0x80, 4, 0x95, 30, 0, 0, 0, 0, 0, 0, 0],
      [0x8c, 11],
      'collections',
      [0x94, 0x8c, 11],
      'OrderedDict',
      [0x94, 0x93, 0x94, 0x29, 0x52, 0x94],
      [0x8c, 1],
      'a',
      'K',
      [5],
      's.',
    );
    const v = load(b);
    assert.ok(v instanceof PyDict && v.type === 'OrderedDict');
    assert.equal(v.get('a'), 5);
  });

  test('reads protocol 0 text opcodes: INT booleans, LONG, FLOAT, STRING escapes, PERSID, GET/PUT, POP, DUP, POP_MARK', () => {
    const seen: PyValue[] = [];
    const b = bytes("(I01\nI00\nL-12L\nF2.5\nS'a\\n\\x41\\''\np0\n0g0\n2(I9\n1t.");
    const v = load(b, { ...noGlobals, persistentLoad: (pid) => (seen.push(pid), 'loaded') });
    assert.deepEqual(items(v), [true, false, -12, 2.5, "a\nA'", "a\nA'"]);
    assert.deepEqual(items(load(bytes('(Finf\nF-inf\nF1e-3\nt.'), noGlobals)), [Infinity, -Infinity, 0.001]);
    const withPid = load(bytes('(Pkey\nt.'), { ...noGlobals, persistentLoad: (pid) => (seen.push(pid), 'loaded') });
    assert.deepEqual(items(withPid), ['loaded']);
    assert.deepEqual(seen, ['key']);
  });

  test('a pickle that shares one list 10 levels deep, 100 levels (10**100 leaves), is read at once, by reference', () => {
    const parts: (string | number[])[] = [[0x80, 2, 0x5d, 0x71, 0], 'X', [3, 0, 0, 0], 'lol', 'a0'];
    for (let i = 1; i <= 100; i++) parts.push('(', ...Array<number[]>(10).fill([0x68, i - 1]), [0x6c, 0x71, i, 0x30]);
    parts.push([0x68, 100], '.');
    const start = Date.now();
    const v = load(bytes(...parts), noGlobals);
    assert.ok(Date.now() - start < 1000);
    let level: PyValue = v;
    for (let i = 0; i < 100; i++) level = items(level)[9];
    assert.deepEqual(items(level), ['lol']);
  });

  test('a list that holds itself is read without recursion', () => {
    const v = load(bytes([0x80, 2, 0x5d, 0x71, 0, 0x68, 0], 'a.'), noGlobals);
    assert.equal(items(v)[0], v);
  });

  test('refuses unknown opcodes, naming them and their offset', () => {
    const e = refused(bytes([0x80, 2], 'N', [0xff]), /unknown opcode 0xff: not pickle data/, noGlobals);
    assert.equal(e.at, 3);
    refused(bytes([0x80, 2, 0x4e, 0x21]), /unknown opcode 0x21 \('!'\)/, noGlobals);
    refused(bytes([0x80, 6, 0x4e, 0x2e]), /protocol 6/, noGlobals);
  });

  test('refuses truncated and damaged pickles', () => {
    refused(bytes([0x80, 2], 'N'), /ends without a STOP/, noGlobals);
    refused(bytes([0x80, 2, 0x58, 100, 0, 0, 0], 'abc.'), /BINUNICODE declares 100 bytes but only 4 remain/, noGlobals);
    refused(
      bytes([0x80, 2, 0x8d], [0, 0, 0, 0, 0, 0, 0, 0x40], '.'),
      /BINUNICODE8 declares \d+ bytes, more than the whole pickle holds/,
      noGlobals,
    );
    refused(bytes([0x80, 2, 0x68, 5, 0x2e]), /memo entry 5, which was never stored/, noGlobals);
    refused(bytes([0x80, 2, 0x2e]), /pops an empty stack/, noGlobals);
    refused(bytes([0x80, 2, 0x4e, 0x28, 0x61, 0x2e]), /pops an empty stack/, noGlobals); // APPEND cannot reach below a MARK
    refused(bytes([0x80, 2, 0x4e, 0x74, 0x2e]), /expects a MARK/, noGlobals);
    refused(bytes([0x80, 2, 0x4e, 0x4e, 0x61, 0x2e]), /APPEND on None, which is not a list/, noGlobals);
    refused(bytes([0x80, 2, 0x7d, 0x28, 0x4e, 0x75, 0x2e]), /odd number/, noGlobals);
    refused(bytes('Ix\n.'), /INT argument "x" is not an integer/, noGlobals);
    refused(bytes('S"abc\n.'), /not quoted/, noGlobals);
    refused(bytes('I1'), /no end of line/, noGlobals);
  });

  test('refuses what would build or call objects: NEWOBJ, REDUCE on data, EXT codes, out-of-band buffers, BUILD on data', () => {
    refused(bytes([0x80, 2], 'N)', [0x81], '.'), /NEWOBJ makes an instance of None/, noGlobals);
    refused(bytes([0x80, 2], 'N)R.'), /REDUCE calls None, which is not a callable/, noGlobals);
    refused(bytes([0x80, 2, 0x82, 1, 0x2e]), /EXT1 .* extension code/, noGlobals);
    refused(bytes([0x80, 5, 0x97, 0x2e]), /out-of-band buffer/, noGlobals);
    refused(bytes([0x80, 2], ']N', 'b.'), /BUILD on a list of 0/, noGlobals);
    refused(bytes([0x80, 2], 'N(P', 'x\n.'), /persistent id/, noGlobals);
  });

  test('hands every GLOBAL, STACK_GLOBAL and INST name to findGlobal, and REDUCE/INST/OBJ call only what it returns', () => {
    const asked: string[] = [];
    const options = {
      findGlobal: (m: string, n: string) => {
        asked.push(`${m}.${n}`);
        if (n === 'refuse') throw new PickleError('no', -1);
        return new PyGlobal(m, n, (args) => new PyObject(`${m}.${n}`, args));
      },
    };
    const v = load(bytes('(cmod\nf\n(K', [1], 'tR(K', [2], 'imod\ng\n(cmod\nh\nK', [3], 'ol.'), options);
    const [f, g, h] = items(v) as PyObject[];
    assert.deepEqual([f.type, f.args, g.type, g.args, h.type, h.args], ['mod.f', [1], 'mod.g', [2], 'mod.h', [3]]);
    assert.deepEqual(asked, ['mod.f', 'mod.g', 'mod.h']);
    const e = refused(bytes([0x80, 4, 0x8c, 1], 'x', [0x8c, 6], 'refuse', [0x93], '.'), /^no$/, options);
    assert.equal(e.at, 13);
  });

  test('bounds the stack, the open MARKs and the memo (pickle bombs)', () => {
    const limits = { stack: 100, marks: 10, memo: 5 };
    refused(bytes([0x80, 2], '('.repeat(11), '.'), /more than 10 MARKs/, { ...noGlobals, limits });
    refused(bytes([0x80, 2], 'N'.repeat(101), '.'), /stack holds more than 100 values/, { ...noGlobals, limits });
    refused(bytes([0x80, 2], 'N', ...[0, 1, 2, 3, 4, 5].map((i) => [0x71, i]), '.'), /memo holds more than 5/, { ...noGlobals, limits });
    refused(bytes([0x80, 2, 0x8b], [0xff, 0xff, 0xff, 0x7f], '.'), /LONG4 of 2147483647 bytes/, noGlobals);
    // defaults: 20,000 MARKs are refused
    refused(bytes([0x80, 2], '('.repeat(20000), '.'), /more than 10000 MARKs/, noGlobals);
  });

  test('messages show names from the file printable and cut short', () => {
    assert.equal(printable('a\nb\x00'), 'a\\x0ab\\x00');
    assert.match(printable('x'.repeat(500)), /^x{120}\.\.\. \(500 characters\)$/);
  });
});
