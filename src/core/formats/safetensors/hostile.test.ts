// safetensors files built to hurt the reader: a tensor named twice in the header, sizes that lie
// (a huge declared header, offsets past the end, a sparse multi-GB file far larger than its header
// says), layers of 0 units, headers in UTF-16 or with a byte order mark, JSON nested deep enough
// to break a recursive formatter. Each is refused with a ModelFormatError naming the file, or read
// reading only what the header declares.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ModelFormatError } from '../../errors';
import { duplicateJsonKey, readSafetensorsHeader, safetensorsFormat } from './safetensors';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-st-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file of the 8-byte length, the header text exactly as given, then `data`. */
function writeHeader(name: string, header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declared?: bigint): string {
  const h = typeof header === 'string' ? Buffer.from(header, 'utf-8') : Buffer.from(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declared ?? BigInt(h.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, h, data]));
  return path;
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

async function refused(path: string, ...patterns: RegExp[]): Promise<string> {
  let caught: unknown;
  try {
    await safetensorsFormat.read(path);
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof ModelFormatError,
    `expected a ModelFormatError, got ${caught instanceof Error ? caught.stack : String(caught)}`,
  );
  assert.ok(caught.message.startsWith(`${path}: safetensors: `), caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught.message;
}

const entry = (shape: number[], begin: number, end: number, dtype = 'F32') => JSON.stringify({ dtype, shape, data_offsets: [begin, end] });

describe('a tensor named twice', () => {
  test('the same tensor key twice in the header is refused, naming the tensor', async () => {
    // JSON.parse would keep the second "0.weight" (the zeros) without a word.
    const header = `{"0.weight":${entry([2, 2], 0, 16)},"0.bias":${entry([2], 32, 40)},"0.weight":${entry([2, 2], 16, 32)}}`;
    await refused(
      writeHeader('dup.safetensors', header, f32([1, 2, 3, 4, 0, 0, 0, 0, 0, 0])),
      /tensor "0\.weight" appears twice in the header; JSON readers keep one of the two silently/,
    );
  });

  test('names equal after JSON unescaping count as the same', async () => {
    const header = `{"0.weight":${entry([2, 2], 0, 16)},"0.\\u0077eight":${entry([2, 2], 16, 32)}}`;
    await refused(writeHeader('dup-escaped.safetensors', header, f32([1, 2, 3, 4, 5, 6, 7, 8])), /tensor "0\.weight" appears twice/);
  });

  test('a key twice inside a tensor entry or in __metadata__ is refused', async () => {
    const dtypeTwice = `{"0.weight":{"dtype":"F32","shape":[2,2],"dtype":"F16","data_offsets":[0,16]}}`;
    await refused(
      writeHeader('dup-dtype.safetensors', dtypeTwice, f32([1, 2, 3, 4])),
      /key "dtype" appears twice in the entry of tensor "0\.weight"/,
    );
    const metaTwice = `{"__metadata__":{"format":"pt","format":"tf"},"0.weight":${entry([2, 2], 0, 16)}}`;
    await refused(
      writeHeader('dup-meta.safetensors', metaTwice, f32([1, 2, 3, 4])),
      /metadata key "format" appears twice in "__metadata__"/,
    );
  });

  test('the key scan: escaped quotes, keys inside arrays, no false alarms', () => {
    assert.equal(duplicateJsonKey('{"a\\"":1,"a":2,"b":[{"a":1},{"a":2}],"c":{"a":{"a":1}}}'), null);
    assert.deepEqual(duplicateJsonKey('{"x":{"k":1,"k":2}}'), { key: 'k', path: ['x'] });
    assert.deepEqual(duplicateJsonKey('{"a\\\\":1,"a\\\\":2}'), { key: 'a\\', path: [] });
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    assert.equal(duplicateJsonKey(`{"a":${deep},"b":1}`), null);
  });
});

describe('sizes that lie', () => {
  test('a declared header far past the file or over the limit is refused without reading it', async () => {
    await refused(
      writeHeader('len-huge.safetensors', '{}', undefined, 2n ** 62n),
      /header length 4611686018427387904 bytes is over the 100 MB limit/,
    );
    await refused(
      writeHeader('len-past.safetensors', '{"a":1}', undefined, 50n * 1024n * 1024n),
      /header length 52428800 bytes runs past the end of the \d+-byte file/,
    );
    await refused(writeHeader('len-short.safetensors', '{}', undefined, 1n), /header length is 1 bytes, too short for a JSON object/);
  });

  test('data offsets past the end of the file are refused', async () => {
    await refused(
      writeHeader('past.safetensors', `{"0.weight":${entry([2, 2], 1_000_000_000, 1_000_000_016)}}`, f32([1, 2, 3, 4])),
      /tensor "0\.weight": data_offsets \[1000000000, 1000000016\] run past the end of the data \(16 bytes/,
    );
  });

  test('a 3 GiB sparse file with a small header reads only the declared tensors, with a note', { timeout: 30_000 }, async () => {
    const path = writeHeader(
      'sparse-tail.safetensors',
      `{"0.weight":${entry([2, 2], 0, 16)},"0.bias":${entry([2], 16, 24)}}`,
      f32([1, 2, 3, 4, 5, 6]),
    );
    execFileSync('truncate', ['-s', '3G', path]);
    const rss = process.memoryUsage().rss;
    const mlp = await safetensorsFormat.read(path);
    assert.ok(process.memoryUsage().rss - rss < 256 * 1024 * 1024, 'the file was not loaded');
    assert.deepEqual(Array.from(mlp.layers[0].weights), [1, 3, 2, 4]);
    assert.ok(
      mlp.source?.notes.some((n) =>
        /the file has \d+ bytes after the last tensor's data that the header does not account for; they were not read/.test(n),
      ),
      mlp.source?.notes.join('\n'),
    );
  });

  test('a 3 GiB sparse file whose header declares a 3 GB weight is refused before the weight is read', { timeout: 30_000 }, async () => {
    const n = 30_000 * 25_000;
    const path = writeHeader('sparse-big.safetensors', `{"0.weight":${entry([30_000, 25_000], 0, n * 4)}}`);
    execFileSync('truncate', ['-s', '3G', path]);
    await refused(
      path,
      /tensor "0\.weight" \[30000, 25000\]: holds 750000000 values; PruneScope holds weights in memory as float32 and stops at 268435456/,
    );
  });

  test('a 3 GiB sparse file of zeros declaring a 50 MB header is refused from its first bytes', { timeout: 30_000 }, async () => {
    const path = join(dir, 'sparse-zeros.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(50n * 1024n * 1024n);
    writeFileSync(path, len);
    execFileSync('truncate', ['-s', '3G', path]);
    await refused(path, /header does not start with "\{" \(its first byte is 0x00\)/);
  });
});

describe('layers of 0 units', () => {
  test('a weight with no rows or no columns is refused, naming the tensor', async () => {
    await refused(
      writeHeader('zero-units.safetensors', `{"0.weight":${entry([0, 4], 0, 0)},"0.bias":${entry([0], 0, 0)}}`),
      /tensor "0\.weight" \[0, 4\]: has 0 outputs: a Linear layer of 0 units/,
    );
    await refused(
      writeHeader(
        'zero-inputs.safetensors',
        `{"0.weight":${entry([3, 0], 0, 0)},"1.weight":${entry([2, 3], 0, 24)}}`,
        f32([1, 2, 3, 4, 5, 6]),
      ),
      /tensor "0\.weight" \[3, 0\]: takes 0 inputs/,
    );
    // A zero-unit hidden layer between two real ones.
    await refused(
      writeHeader('zero-hidden.safetensors', `{"0.weight":${entry([0, 4], 0, 0)},"1.weight":${entry([2, 0], 0, 0)}}`),
      /tensor "0\.weight" \[0, 4\]: has 0 outputs/,
    );
  });
});

describe('header encodings', () => {
  const json = `{"0.weight":${entry([2, 2], 0, 16)}}`;
  const utf16 = (s: string, be: boolean) => {
    const le = Buffer.from(s, 'utf16le');
    if (be) for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1], le[i]];
    return le;
  };

  test('a UTF-8 byte order mark is refused, naming the encoding', async () => {
    await refused(
      writeHeader('bom.safetensors', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]), f32([1, 2, 3, 4])),
      /header is encoded as UTF-8 with a byte order mark; the format requires UTF-8 JSON without a byte order mark/,
    );
  });

  test('UTF-16 (with or without a byte order mark) and UTF-32 are refused, naming the encoding', async () => {
    await refused(
      writeHeader('u16le-bom.safetensors', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16(json, false)]), f32([1, 2, 3, 4])),
      /encoded as UTF-16LE \(byte order mark FF FE\)/,
    );
    await refused(
      writeHeader('u16be-bom.safetensors', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16(json, true)]), f32([1, 2, 3, 4])),
      /encoded as UTF-16BE \(byte order mark FE FF\)/,
    );
    await refused(writeHeader('u16le.safetensors', utf16(json, false), f32([1, 2, 3, 4])), /encoded as UTF-16LE \(every other byte is 0\)/);
    await refused(writeHeader('u16be.safetensors', utf16(json, true), f32([1, 2, 3, 4])), /encoded as UTF-16BE \(every other byte is 0\)/);
    await refused(
      writeHeader('u32le.safetensors', Buffer.from([0xff, 0xfe, 0, 0, 0x7b, 0, 0, 0, 0x7d, 0, 0, 0]), f32([])),
      /encoded as UTF-32LE/,
    );
  });

  test('the header reader alone refuses them too', async () => {
    await assert.rejects(
      readSafetensorsHeader(
        writeHeader('bom2.safetensors', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]), f32([1, 2, 3, 4])),
      ),
      /byte order mark/,
    );
  });
});

describe('values that break recursive formatting', () => {
  test('a shape nested 100,000 levels deep is refused with a short message', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const message = await refused(
      writeHeader('deep-shape.safetensors', `{"0.weight":{"dtype":"F32","shape":${deep},"data_offsets":[0,16]}}`, f32([1, 2, 3, 4])),
      /tensor "0\.weight": shape \[\[\.\.\.\]\] is not a list of non-negative integers/,
    );
    assert.ok(message.length < 500, message);
  });

  test('a very long tensor name is shortened in messages', async () => {
    const name = 'x'.repeat(100_000);
    const message = await refused(
      writeHeader('long-name.safetensors', `{"${name}":${entry([2, 2], 0, 16)}}`, f32([1, 2, 3, 4])),
      /is not the weight or bias/,
    );
    assert.ok(message.length < 1000, message);
  });
});
