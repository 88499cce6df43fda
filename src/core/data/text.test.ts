import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { DataError } from '../errors';
import { readCsvFile } from './csv';
import { loadDataset } from './load';
import { decodeText } from './text';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, data: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

// The label column comes first, so a BOM glued to "label" would hide it (the last column would be taken).
const TEXT = 'label,width,height,note\n1,0.5,2,3\n0,1.25,-4,5e-1\n2,7,8,9\n';
const utf8 = Buffer.from(TEXT, 'utf8');
const utf8Bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, 'utf16le')]);
const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(TEXT, 'utf16le').swap16()]);

async function same(path: string) {
  const twin = await loadDataset(put('twin.csv', utf8), { normalize: 'none' });
  const got = await loadDataset(path, { normalize: 'none' });
  assert.deepEqual(Array.from(got.test!.x), Array.from(twin.test!.x));
  assert.deepEqual(Array.from(got.test!.y!), Array.from(twin.test!.y!));
  assert.deepEqual(got.test!.sampleShape, twin.test!.sampleShape);
  assert.deepEqual(Array.from(got.test!.y!), [1, 0, 2]);
  const table = await readCsvFile(path);
  assert.deepEqual(table.header, ['label', 'width', 'height', 'note']);
  assert.equal(table.labelIndex, 0);
}

describe('CSV text encodings', () => {
  test('a UTF-8 byte-order mark is skipped (the first header cell is still "label")', async () => {
    await same(put('bom8.csv', utf8Bom));
  });

  test('UTF-16LE with a byte-order mark gives the same dataset as its UTF-8 twin, plain or gzipped', async () => {
    await same(put('le.csv', utf16le));
    await same(put('le.csv.gz', gzipSync(utf16le)));
  });

  test('UTF-16BE with a byte-order mark too', async () => {
    await same(put('be.csv', utf16be));
  });

  test('decodeText: BOMs, non-ASCII text', () => {
    assert.equal(decodeText(Buffer.from([0xef, 0xbb, 0xbf, 0x61]), 'f'), 'a');
    assert.equal(decodeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('é,ü\n', 'utf16le')]), 'f'), 'é,ü\n');
    assert.equal(decodeText(Buffer.from('é,ü\n', 'utf8'), 'f'), 'é,ü\n');
    assert.equal(decodeText(new Uint8Array(0), 'f'), '');
  });

  test('UTF-32, UTF-16 without a mark, odd-length UTF-16 and binary data are refused naming the encoding', async () => {
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'u32le.csv',
        Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('a\0\0\0', 'latin1')]),
        /is UTF-32LE text \(byte-order mark FF FE 00 00\), which cannot be read; save it as UTF-8/,
      ],
      ['u32be.csv', Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x61]), /is UTF-32BE text/],
      [
        'nobom-le.csv',
        Buffer.from(TEXT, 'utf16le'),
        /is not UTF-8 text: it holds a NUL byte at offset 1 \(it looks like UTF-16LE without a byte-order mark/,
      ],
      ['nobom-be.csv', Buffer.from(TEXT, 'utf16le').swap16(), /NUL byte at offset 0 \(it looks like UTF-16BE without a byte-order mark/],
      ['odd.csv', utf16le.subarray(0, utf16le.length - 1), /is UTF-16LE text \(by its byte-order mark\) but has an odd number of bytes/],
      ['binary.csv', Buffer.from([0x31, 0x2c, 0x32, 0x0a, 0x33, 0x2c, 0, 0, 0, 0]), /NUL byte at offset 6 \(binary data/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const p = put(name, bytes);
      await assert.rejects(loadDataset(p), (e) => {
        assert.ok(e instanceof DataError, String(e));
        assert.ok(e.message.startsWith(`${p}: `), e.message);
        assert.match(e.message, pattern);
        return true;
      });
    }
  });
});
