import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compat, fixture } from '../../../../test/fixtures';
import { built } from '../../../../test/kits/encode/models';
import { initBackend } from '../../backend';
import { loadDataset } from '../../data/load';
import { ModelFormatError } from '../../errors';
import { predict } from '../../model/forward';
import type { MLP } from '../../model/mlp';
import { naturalCompare, readSafetensorsHeader, safetensorsFormat } from './safetensors';

/** The dfdx MNIST MLP (third-party, compatibility suite) and its twin in the same layout, written by the test encoder. */
const DFDX_FIXTURE = () => fixture('safetensors', 'dfdx-mnist', 'mnist.safetensors');
const DFDX = () => built('safetensors', 'dfdx-mnist', 'mnist.safetensors');

const dir = mkdtempSync(join(tmpdir(), 'prunescope-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Spec {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Writes a safetensors file the plain way, independently of the module under test. */
function writeRaw(
  name: string,
  tensors: Record<string, Spec>,
  metadata?: Record<string, string>,
  tweak?: (header: Record<string, unknown>) => void,
): string {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [k, t] of Object.entries(tensors)) {
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
    parts.push(t.bytes);
  }
  tweak?.(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, ...parts]));
  return path;
}

const f32 = (shape: number[], values: number[]): Spec => ({ dtype: 'F32', shape, bytes: new Uint8Array(new Float32Array(values).buffer) });
const f64 = (shape: number[], values: number[]): Spec => ({ dtype: 'F64', shape, bytes: new Uint8Array(new Float64Array(values).buffer) });
/** Only for values whose float32 has a zero low half (exact in bfloat16). */
const bf16 = (shape: number[], values: number[]): Spec => {
  const u32 = new Uint32Array(new Float32Array(values).buffer);
  return { dtype: 'BF16', shape, bytes: new Uint8Array(Uint16Array.from(u32, (b) => b >>> 16).buffer) };
};
/** Hand-encoded half floats for a few exact values. */
const HALF: Record<number, number> = {
  0: 0x0000,
  1: 0x3c00,
  [-1]: 0xbc00,
  0.5: 0x3800,
  [-2]: 0xc000,
  0.25: 0x3400,
  3: 0x4200,
  65504: 0x7bff,
};
const f16 = (shape: number[], values: number[]): Spec => ({
  dtype: 'F16',
  shape,
  bytes: new Uint8Array(Uint16Array.from(values, (v) => HALF[v]).buffer),
});
const seq = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

async function refused(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(safetensorsFormat.read(path), (e: Error) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${e}`);
    assert.ok(e.message.startsWith(`${path}: safetensors: `), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('dfdx MNIST MLP (the file, and its layout built by the test encoder)', () => {
  before(async () => {
    await initBackend();
  });

  async function loadsAsDfdx(path: string): Promise<void> {
    const mlp = await safetensorsFormat.read(path);
    assert.equal(mlp.inputSize, 784);
    assert.deepEqual(mlp.inputShape, [784]);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units, l.activation, l.bias?.length]),
      [
        ['0.0', 784, 512, 'relu', 512],
        ['1.0', 512, 128, 'relu', 128],
        ['2.0', 128, 32, 'relu', 32],
        ['3', 32, 10, 'linear', 10],
      ],
    );
    assert.equal(mlp.source?.format, 'safetensors');
    assert.ok(mlp.source?.notes.some((n) => /no activations/.test(n)));
  }

  test('loads as 784 -> 512 -> 128 -> 32 -> 10 with ReLU', compat(), async () => {
    await loadsAsDfdx(DFDX_FIXTURE());
  });

  test('the same layout written by the test encoder loads as 784 -> 512 -> 128 -> 32 -> 10 with ReLU', async () => {
    await loadsAsDfdx(DFDX());
  });

  test('outputs match a plain computation on the raw tensor bytes', async () => {
    const mlp = await safetensorsFormat.read(DFDX());
    const test = (await loadDataset('mnist')).test!;
    const rows = 25;
    const got = predict(mlp, test.x.subarray(0, rows * 784), rows);

    // Independent reading: header JSON, little-endian float32 weights [out, in].
    const buf = readFileSync(DFDX());
    const hlen = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    const tensor = (name: string) => {
      const [b, e] = header[name].data_offsets as number[];
      const out: number[] = [];
      for (let p = 8 + hlen + b; p < 8 + hlen + e; p += 4) out.push(buf.readFloatLE(p));
      return { shape: header[name].shape as number[], values: out };
    };
    const names = ['0.0', '1.0', '2.0', '3'];
    for (let r = 0; r < rows; r++) {
      let h = Array.from(test.x.subarray(r * 784, (r + 1) * 784));
      names.forEach((prefix, li) => {
        const w = tensor(`${prefix}.weight`);
        const b = tensor(`${prefix}.bias`).values;
        const [out, inp] = w.shape;
        const next = new Array<number>(out).fill(0);
        for (let o = 0; o < out; o++) {
          let s = b[o];
          for (let i = 0; i < inp; i++) s += w.values[o * inp + i] * h[i];
          next[o] = li < names.length - 1 ? Math.max(0, s) : s;
        }
        h = next;
      });
      for (let o = 0; o < 10; o++) {
        const g = got[r * 10 + o];
        assert.ok(Math.abs(g - h[o]) <= 1e-4 * Math.max(1, Math.abs(h[o])), `row ${r} output ${o}: ${g} vs ${h[o]}`);
      }
    }
  });

  test('classifies the MNIST test set well (it is a trained model)', compat(), async () => {
    const mlp = await safetensorsFormat.read(DFDX_FIXTURE());
    const test = (await loadDataset('mnist')).test!;
    const out = predict(mlp, test.x, test.n);
    let correct = 0;
    for (let i = 0; i < test.n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (out[i * 10 + j] > out[i * 10 + best]) best = j;
      if (best === test.y![i]) correct++;
    }
    // measured 98.49% with inputs scaled to [0, 1]
    assert.ok(correct / test.n > 0.97, `accuracy ${correct / test.n}`);
  });

  test('read -> write -> read is exact', async () => {
    const a = await safetensorsFormat.read(DFDX(), { activation: 'tanh', outputActivation: 'softmax' });
    const out = join(dir, 'dfdx-copy.safetensors');
    const res = await safetensorsFormat.write!(a, out);
    assert.deepEqual(res.files, [out]);
    assert.equal(res.bytes, readFileSync(out).length);
    const b = await safetensorsFormat.read(out); // no options: the activations come from the metadata
    assert.equal(b.name, a.name);
    assert.deepEqual(b.inputShape, a.inputShape);
    assert.equal(b.layers.length, a.layers.length);
    a.layers.forEach((la, i) => {
      const lb = b.layers[i];
      assert.equal(lb.name, la.name);
      assert.equal(lb.activation, la.activation);
      assert.deepEqual(lb.weights, la.weights);
      assert.deepEqual(lb.bias, la.bias);
    });
    assert.equal(b.layers[0].activation, 'tanh');
    assert.equal(b.layers[3].activation, 'softmax');
    assert.equal(b.source?.producer, 'PruneScope');
  });
});

describe('writer', () => {
  const mlp: MLP = {
    name: 'tiny',
    inputShape: [1, 2, 2],
    inputSize: 4,
    layers: [
      {
        name: 'hidden',
        inputSize: 4,
        units: 3,
        weights: Float32Array.from(seq(12, (i) => i * 0.1 - 0.5)),
        bias: null,
        activation: 'leaky_relu',
        alpha: 0.2,
        dropout: 0.5,
      },
      {
        name: 'out',
        inputSize: 3,
        units: 2,
        weights: Float32Array.from(seq(6, (i) => i - 3)),
        bias: new Float32Array([0.5, -0.5]),
        activation: 'sigmoid',
      },
    ],
  };

  test('writes F32 [out, in] tensors named <i>.weight/<i>.bias with PyTorch metadata', async () => {
    const path = join(dir, 'tiny.safetensors');
    await safetensorsFormat.write!(mlp, path);
    const buf = readFileSync(path);
    const hlen = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + hlen) % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    assert.deepEqual(Object.keys(header).sort(), ['0.weight', '1.bias', '1.weight', '__metadata__']);
    assert.equal(header.__metadata__.format, 'pt');
    assert.equal(header.__metadata__.producer, 'PruneScope');
    assert.deepEqual(header['0.weight'].shape, [3, 4]);
    assert.equal(header['0.weight'].dtype, 'F32');
    // [out, in]: element (o=1, i=2) is our weights[i * units + o] = weights[7]
    const at = (name: string, k: number) => buf.readFloatLE(8 + hlen + header[name].data_offsets[0] + 4 * k);
    assert.equal(at('0.weight', 1 * 4 + 2), mlp.layers[0].weights[2 * 3 + 1]);
    const back = await safetensorsFormat.read(path);
    assert.deepEqual(back.inputShape, [1, 2, 2]);
    assert.equal(back.layers[0].bias, null);
    assert.equal(back.layers[0].activation, 'leaky_relu');
    assert.equal(back.layers[0].alpha, 0.2);
    assert.equal(back.layers[0].dropout, 0.5);
    assert.equal(back.layers[1].activation, 'sigmoid');
    assert.deepEqual(back.layers[0].weights, mlp.layers[0].weights);
    assert.deepEqual(back.layers[1].bias, mlp.layers[1].bias);
  });

  test('refuses to overwrite the model it was read from', async () => {
    const path = join(dir, 'src.safetensors');
    await safetensorsFormat.write!(mlp, path);
    const read = await safetensorsFormat.read(path);
    await assert.rejects(safetensorsFormat.write!(read, path), /refusing to overwrite the source model/);
  });
});

describe('reading state dicts', () => {
  test('F16, BF16 and F64 tensors', async () => {
    const w = [1, -1, 0.5, -2, 0.25, 3]; // exact in all three
    for (const [dt, make] of [
      ['F16', f16],
      ['BF16', bf16],
      ['F64', f64],
    ] as const) {
      const path = writeRaw(`${dt}.safetensors`, { 'fc.weight': make([2, 3], w), 'fc.bias': make([2], [0.5, dt === 'F16' ? 65504 : -1]) });
      const mlp = await safetensorsFormat.read(path);
      assert.equal(mlp.layers.length, 1, dt);
      const l = mlp.layers[0];
      assert.equal(l.inputSize, 3);
      assert.equal(l.units, 2);
      // [out=2, in=3] -> [in=3, out=2]
      assert.deepEqual(Array.from(l.weights), [1, -2, -1, 0.25, 0.5, 3], dt);
      assert.deepEqual(Array.from(l.bias!), [0.5, dt === 'F16' ? 65504 : -1], dt);
      assert.equal(l.activation, 'linear', dt);
    }
  });

  test('layer order is the natural order of the names', () => {
    const names = ['layers.10', 'layers.9', 'layers.0', 'fc2', 'fc10', 'fc1', 'net.0.0', 'net.0.10', 'net.0.2'];
    assert.deepEqual([...names].sort(naturalCompare), [
      'fc1',
      'fc2',
      'fc10',
      'layers.0',
      'layers.9',
      'layers.10',
      'net.0.0',
      'net.0.2',
      'net.0.10',
    ]);
  });

  test('eleven layers named layers.0 .. layers.10, sizes differing, without biases', async () => {
    // layer i maps (i + 2) -> (i + 3): only the natural order chains
    const tensors: Record<string, Spec> = {};
    for (let i = 10; i >= 0; i--)
      tensors[`layers.${i}.weight`] = f32(
        [i + 3, i + 2],
        seq((i + 3) * (i + 2), (k) => k),
      );
    const mlp = await safetensorsFormat.read(writeRaw('eleven.safetensors', tensors), {
      activation: 'sigmoid',
      outputActivation: 'softmax',
    });
    assert.deepEqual(
      mlp.layers.map((l) => l.name),
      seq(11, (i) => `layers.${i}`),
    );
    assert.deepEqual(
      mlp.layers.map((l) => l.inputSize),
      seq(11, (i) => i + 2),
    );
    assert.ok(mlp.layers.every((l) => l.bias === null));
    assert.deepEqual(
      mlp.layers.map((l) => l.activation),
      [...seq(10, () => 'sigmoid'), 'softmax'],
    );
    assert.ok(!mlp.source?.notes.some((n) => /order taken from the shapes/.test(n)));
  });

  test('PyTorch Sequential indices with gaps (ReLU modules hold no tensors)', async () => {
    const path = writeRaw(
      'seq.safetensors',
      {
        'net.0.weight': f32(
          [3, 2],
          seq(6, (i) => i),
        ),
        'net.0.bias': f32([3], [0, 0, 0]),
        'net.2.weight': f32([1, 3], [1, 1, 1]),
        'net.2.bias': f32([1], [0]),
      },
      { format: 'pt' },
    );
    const mlp = await safetensorsFormat.read(path);
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units]),
      [
        ['net.0', 2, 3],
        ['net.2', 3, 1],
      ],
    );
    assert.ok(mlp.source?.notes.some((n) => n.includes('format=pt')));
    assert.equal(mlp.source?.producer, undefined);
  });

  test('names that do not sort into a chain: the unique chain by shapes is used, with a note', async () => {
    const path = writeRaw(
      'io.safetensors',
      {
        'input.weight': f32(
          [8, 4],
          seq(32, () => 0.1),
        ),
        'hidden.weight': f32(
          [6, 8],
          seq(48, () => 0.1),
        ),
        'output.weight': f32(
          [2, 6],
          seq(12, () => 0.1),
        ),
      },
      { producer: 'hand-made' },
    );
    const mlp = await safetensorsFormat.read(path);
    assert.deepEqual(
      mlp.layers.map((l) => l.name),
      ['input', 'hidden', 'output'],
    );
    assert.equal(mlp.source?.producer, 'hand-made');
    assert.ok(mlp.source?.notes.some((n) => /order taken from the shapes/.test(n)));
  });

  test('detect by extension or by header bytes', () => {
    const head = new Uint8Array(readFileSync(DFDX()).subarray(0, 64));
    assert.ok(safetensorsFormat.detect('/x/model.bin', head));
    assert.ok(safetensorsFormat.detect('/x/m.safetensors', new Uint8Array(0)));
    assert.ok(!safetensorsFormat.detect('/x/model.onnx', new Uint8Array([8, 7, 18, 7, 112, 121, 116, 111, 114, 99, 104])));
  });
});

describe('refusals', () => {
  test('4-D convolution weight, naming tensor and shape', async () => {
    const path = writeRaw('conv.safetensors', {
      'conv1.weight': f32(
        [2, 1, 2, 2],
        seq(8, () => 0),
      ),
      'fc.weight': f32(
        [2, 8],
        seq(16, () => 0),
      ),
    });
    await refused(path, /tensor "conv1\.weight" \[2, 1, 2, 2\]: is a 4-D weight \(a 2-D convolution kernel\?\)/);
  });

  test('embedding tables and normalisation buffers', async () => {
    await refused(
      writeRaw('emb.safetensors', {
        'embed_tokens.weight': f32(
          [10, 4],
          seq(40, () => 0),
        ),
      }),
      /tensor "embed_tokens\.weight" \[10, 4\]: looks like an embedding/,
    );
    await refused(
      writeRaw('bn.safetensors', { 'fc.weight': f32([2, 2], [1, 0, 0, 1]), 'bn.running_mean': f32([2], [0, 0]) }),
      /tensor "bn\.running_mean" \[2\]: is not the weight or bias of a Linear layer/,
    );
    await refused(writeRaw('ln.safetensors', { 'ln.weight': f32([4], [1, 1, 1, 1]) }), /tensor "ln\.weight" \[4\]: is a 1-D weight/);
  });

  test('shapes that do not chain', async () => {
    const path = writeRaw('nochain.safetensors', {
      '0.weight': f32(
        [4, 3],
        seq(12, () => 0),
      ),
      '1.weight': f32(
        [2, 5],
        seq(10, () => 0),
      ),
    });
    await refused(path, /tensor "1\.weight" \[2, 5\]: takes 5 inputs but the layer before it by name, "0\.weight" \[4, 3\], gives 4/);
  });

  test('bias that does not fit, bias without weight, integer dtype', async () => {
    await refused(
      writeRaw('b1.safetensors', { '0.weight': f32([2, 2], [1, 0, 0, 1]), '0.bias': f32([3], [0, 0, 0]) }),
      /tensor "0\.bias" \[3\]: has 3 values but "0\.weight" \[2, 2\] has 2 outputs/,
    );
    await refused(
      writeRaw('b2.safetensors', { '0.weight': f32([2, 2], [1, 0, 0, 1]), '1.bias': f32([2], [0, 0]) }),
      /tensor "1\.bias" \[2\]: is a bias without a matching weight/,
    );
    await refused(
      writeRaw('i64.safetensors', { '0.weight': { dtype: 'I64', shape: [1, 1], bytes: new Uint8Array(8) } }),
      /tensor "0\.weight" \[1, 1\]: has dtype I64; Linear parameters must be F32, F16, BF16, F64/,
    );
  });

  test('bad headers', async () => {
    const good = { '0.weight': f32([2, 2], [1, 2, 3, 4]) };
    const tooLong = join(dir, 'long.safetensors');
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(200n * 1024n * 1024n);
    writeFileSync(tooLong, b);
    await refused(tooLong, /header length 209715200 bytes is over the 100 MB limit/);

    const past = join(dir, 'past.safetensors');
    const c = Buffer.alloc(20);
    c.writeBigUInt64LE(1000n);
    writeFileSync(past, c);
    await refused(past, /header length 1000 bytes runs past the end of the 20-byte file/);

    const tiny = join(dir, 'tiny.bin');
    writeFileSync(tiny, Buffer.from([1, 2, 3]));
    await refused(tiny, /file is 3 bytes, too short/);

    const notJson = join(dir, 'notjson.safetensors');
    const d = Buffer.alloc(8);
    d.writeBigUInt64LE(5n);
    writeFileSync(notJson, Buffer.concat([d, Buffer.from('{"a":')]));
    await refused(notJson, /header is not valid UTF-8 JSON/);

    await refused(
      writeRaw('outside.safetensors', good, undefined, (h) => ((h['0.weight'] as { data_offsets: number[] }).data_offsets = [8, 24])),
      /tensor "0\.weight": data_offsets \[8, 24\] run past the end of the data \(16 bytes/,
    );
    await refused(
      writeRaw('size.safetensors', good, undefined, (h) => ((h['0.weight'] as { shape: number[] }).shape = [2, 3])),
      /tensor "0\.weight": shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 16\] span 16/,
    );
    await refused(
      writeRaw('overlap.safetensors', { '0.weight': f32([2, 2], [1, 2, 3, 4]), '0.bias': f32([2], [0, 0]) }, undefined, (h) => {
        (h['0.bias'] as { data_offsets: number[] }).data_offsets = [8, 16];
      }),
      /tensor "0\.bias": data \[8, 16\] overlaps tensor "0\.weight" \[0, 16\]/,
    );
    await refused(
      writeRaw('dtype.safetensors', good, undefined, (h) => ((h['0.weight'] as { dtype: string }).dtype = 'F128')),
      /tensor "0\.weight": unknown dtype "F128"/,
    );
    await refused(
      writeRaw('meta.safetensors', good, undefined, (h) => (h.__metadata__ = { n: 3 })),
      /"__metadata__" value for "n" is not a string/,
    );
    await refused(writeRaw('empty.safetensors', {}), /holds no tensors/);
  });

  test('a truncated copy of a dfdx-layout file', async () => {
    const full = readFileSync(DFDX());
    const path = join(dir, 'cut.safetensors');
    writeFileSync(path, full.subarray(0, full.length - 100));
    await refused(path, /tensor "3\.weight": data_offsets \[1886888, 1888168\] run past the end of the data/);
    // the header alone is still readable for other tools
    const header = await readSafetensorsHeader(DFDX());
    assert.equal(header.tensors.length, 8);
  });

  test('missing file', async () => {
    await refused(join(dir, 'nope.safetensors'), /file not found/);
  });
});
