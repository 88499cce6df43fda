import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { f32Bytes, randomArray, seededRandom, tempDir } from '../../../../test/kits/tfjs';
import { float16ToNumber as float16ToFloat32 } from '../../io/float16';
import { encodeWeights, float32ToFloat16, loadWeightsManifest } from './weights';

const LABEL = 'test';

/** Writes one shard and a model.json whose manifest is `weights`; returns the model path. */
async function oneShard(dir: string, name: string, weights: unknown[], data: Uint8Array): Promise<string> {
  await fs.writeFile(join(dir, `${name}.bin`), data);
  const model = join(dir, `${name}.json`);
  await fs.writeFile(model, JSON.stringify({ weightsManifest: [{ paths: [`${name}.bin`], weights }] }));
  return model;
}

async function load(model: string) {
  const json = JSON.parse(await fs.readFile(model, 'utf8'));
  return loadWeightsManifest(model, LABEL, json.weightsManifest);
}

/** tfjs-core's own decoding of the same bytes and specs. */
function tfjsDecode(specs: tf.io.WeightsManifestEntry[], data: Uint8Array): Record<string, Float32Array | Int32Array> {
  const map = tf.io.decodeWeights(data.slice().buffer, specs);
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const [k, t] of Object.entries(map)) {
    if (t.dtype !== 'string') out[k] = t.dataSync() as Float32Array | Int32Array;
    t.dispose();
  }
  return out;
}

async function rejects(promise: Promise<unknown>, ...needles: string[]): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected a ModelFormatError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `"${e.message}" should mention ${n}`);
    return true;
  });
}

describe('tfjs weights manifest', () => {
  let dir: string;
  before(async () => {
    await initBackend();
    dir = await tempDir('prunescope-tfjs-weights-');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('decodes every float16 value exactly as tfjs-core does, and rounds float32 to the nearest half', async () => {
    const halves = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) halves[i] = i;
    const data = new Uint8Array(halves.buffer);
    const specs: tf.io.WeightsManifestEntry[] = [{ name: 'h', shape: [65536], dtype: 'float32', quantization: { dtype: 'float16' } }];
    const ours = (await load(await oneShard(dir, 'f16', specs, data))).byName.get('h')!.values as Float32Array;
    const theirs = tfjsDecode(specs, data).h;
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(theirs[i])) assert.ok(Number.isNaN(ours[i]), `half ${i}`);
      else assert.ok(Object.is(ours[i], theirs[i]), `half 0x${i.toString(16)}: ${ours[i]} vs ${theirs[i]}`);
    }
    assert.equal(float16ToFloat32(0x3c00), 1);
    assert.equal(float16ToFloat32(0xc000), -2);
    assert.equal(float16ToFloat32(0x7bff), 65504);
    assert.equal(float16ToFloat32(0x0001), 2 ** -24);
    for (let i = 0; i < 65536; i++) {
      const v = float16ToFloat32(i);
      if (!Number.isNaN(v)) assert.equal(float32ToFloat16(v), i, `round trip of half 0x${i.toString(16)}`);
    }
    assert.equal(float32ToFloat16(1 + 2 ** -11), 0x3c00); // tie to even
    assert.equal(float32ToFloat16(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(float32ToFloat16(70000), 0x7c00);
  });

  it('dequantizes uint8/uint16 to float32 and int32, and skips string weights, like tfjs-core', async () => {
    const rand = seededRandom(41);
    const u8 = new Uint8Array(40).map(() => Math.floor(rand() * 256));
    const u16 = new Uint16Array(30).map(() => Math.floor(rand() * 65536));
    const i16 = new Uint8Array(12).map(() => Math.floor(rand() * 256));
    const strings = [new TextEncoder().encode('hello'), new TextEncoder().encode('tfjs!')];
    const stringBytes = new Uint8Array(strings.reduce((a, s) => a + 4 + s.length, 0));
    let off = 0;
    for (const s of strings) {
      new DataView(stringBytes.buffer).setUint32(off, s.length, true);
      stringBytes.set(s, off + 4);
      off += 4 + s.length;
    }
    const plain = randomArray(7, rand);
    const parts = [u8, new Uint8Array(u16.buffer), stringBytes, i16, f32Bytes(plain), new Uint8Array(new Int32Array([3, -4]).buffer)];
    const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: 'a', shape: [5, 8], dtype: 'float32', quantization: { dtype: 'uint8', min: -0.731, scale: 0.0057 } },
      {
        name: 'b',
        shape: [30],
        dtype: 'float32',
        quantization: { dtype: 'uint16', min: 1.5, scale: 3.1e-5, original_dtype: 'float32' } as tf.io.WeightsManifestEntry['quantization'],
      },
      { name: 's', shape: [2], dtype: 'string' },
      { name: 'c', shape: [12], dtype: 'int32', quantization: { dtype: 'uint8', min: -100, scale: 0.7 } },
      { name: 'd', shape: [7], dtype: 'float32' },
      { name: 'e', shape: [2], dtype: 'int32' },
    ];
    const loaded = await load(await oneShard(dir, 'mixed', specs, data));
    const theirs = tfjsDecode(specs, data);
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const w = loaded.byName.get(name)!;
      assert.deepEqual(Array.from(w.values!), Array.from(theirs[name]), name);
    }
    assert.equal(loaded.byName.get('c')!.dtype, 'int32');
    assert.equal(loaded.byName.get('s')!.values, null);
    assert.equal(loaded.byName.get('a')!.values![0], Math.fround(u8[0] * 0.0057 - 0.731));
    assert.deepEqual(
      loaded.all.map((w) => w.name),
      ['a', 'b', 's', 'c', 'd', 'e'],
    );
  });

  it('refuses bad manifests with the group and weight named', async () => {
    const data = new Uint8Array(64);
    await rejects(
      load(await oneShard(dir, 'bad-shape', [{ name: 'w', shape: [2, -1], dtype: 'float32' }], data)),
      "group 1 of 1, entry 1, weight 'w'",
      'shape',
    );
    await rejects(
      load(await oneShard(dir, 'bad-dtype', [{ name: 'w', shape: [2], dtype: 'float64' }], data)),
      "weight 'w'",
      'unknown dtype',
    );
    await rejects(
      load(await oneShard(dir, 'bad-q', [{ name: 'w', shape: [2], dtype: 'float32', quantization: { dtype: 'int4' } }], data)),
      "weight 'w'",
      'quantization',
    );
    await rejects(
      load(await oneShard(dir, 'no-scale', [{ name: 'w', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8', min: 0 } }], data)),
      'min and scale',
    );
    const url = join(dir, 'url.json');
    await fs.writeFile(url, '{}');
    await rejects(loadWeightsManifest(url, LABEL, [{ paths: ['https://example.invalid/w.bin'], weights: [] }]), 'URL');
    await rejects(loadWeightsManifest(url, LABEL, [{ paths: ['nowhere.bin'], weights: [] }]), "shard 1 of 1 'nowhere.bin'", 'not found');
    await rejects(loadWeightsManifest(url, LABEL, { paths: [] }), 'not a list');
  });

  it('notes bytes beyond what the manifest declares, and reports a too-large shape before allocating', async () => {
    const loaded = await load(await oneShard(dir, 'extra', [{ name: 'w', shape: [2], dtype: 'float32' }], new Uint8Array(12)));
    assert.deepEqual(Array.from(loaded.byName.get('w')!.values!), [0, 0]);
    assert.ok(loaded.notes.some((n) => n.includes('declares 8 bytes but its files hold 12')));
    await rejects(
      load(await oneShard(dir, 'huge', [{ name: 'w', shape: [100000, 100000, 100], dtype: 'float32' }], new Uint8Array(16))),
      "'huge.bin' (16 bytes)",
      "weight 'w'",
    );
  });

  it('encodes float32 weights back to back with a manifest group naming the file', () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const b = new Float32Array([7, 8]);
    const { group, data } = encodeWeights(
      [
        { name: 'd/kernel', shape: [3, 2], values: a },
        { name: 'd/bias', shape: [2], values: b },
      ],
      '/some/dir/out.weights.bin',
    );
    assert.deepEqual(group, {
      paths: ['out.weights.bin'],
      weights: [
        { name: 'd/kernel', shape: [3, 2], dtype: 'float32' },
        { name: 'd/bias', shape: [2], dtype: 'float32' },
      ],
    });
    assert.deepEqual(Array.from(new Float32Array(data.slice().buffer)), [1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
