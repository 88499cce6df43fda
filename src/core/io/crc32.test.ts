import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { crc32, tableCrc32 } from './crc32';

test('CRC-32: the published check values, by the table and by whichever crc32 this Node uses', () => {
  // The catalogue's check value (CRC-32/ISO-HDLC), the empty string, and the classic pangram.
  const known: [string, number][] = [
    ['123456789', 0xcbf43926],
    ['', 0],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
    ['a', 0xe8b7be43],
  ];
  for (const [text, value] of known) {
    assert.equal(tableCrc32(Buffer.from(text)), value, text);
    assert.equal(crc32(Buffer.from(text)), value, text);
  }
});

test('CRC-32: the table agrees with node:zlib on bytes of every value, at any offset of a buffer', (t) => {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (!native) {
    t.skip('this Node has no zlib.crc32 to compare with');
    return;
  }
  const bytes = new Uint8Array(100_003);
  let x = 12345;
  for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  for (const [from, to] of [
    [0, bytes.length],
    [7, 5000],
    [99_000, 100_003],
  ]) {
    const view = bytes.subarray(from, to);
    assert.equal(tableCrc32(view), native(view) >>> 0);
    assert.equal(crc32(view), native(view) >>> 0);
  }
});
