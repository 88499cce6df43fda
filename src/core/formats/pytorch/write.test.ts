import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { PruneScopeError } from '../../errors';
import { listZip } from '../../io/inflate';
import type { Activation, MLP } from '../../model/mlp';
import { pytorchFormat } from './pytorch';
import { crc32, tableCrc32 } from '../../io/crc32';
import { archiveFolder, encodePytorch, keyPrefixes } from './write';

const TESTDATA = join(__dirname, 'testdata');
const dir = mkdtempSync(join(tmpdir(), 'prunescope-pytorch-write-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface RefLayer {
  name: string;
  activation: Activation;
  kernel: number[];
  bias: number[];
  inputSize: number;
  units: number;
}
const REF = (
  JSON.parse(readFileSync(join(TESTDATA, 'expected.json'), 'utf8')) as Record<
    string,
    { name: string; inputShape: number[]; layers: RefLayer[] }
  >
)['write-reference'];

/** The MLP make_testdata.py pickled as write-reference.data.pkl (layers named dense_a, dense_b; no source, so keys fc1, fc2). */
const refMLP = (): MLP => ({
  name: REF.name,
  inputShape: REF.inputShape,
  inputSize: REF.layers[0].inputSize,
  layers: REF.layers.map((l) => ({
    name: l.name,
    inputSize: l.inputSize,
    units: l.units,
    activation: l.activation,
    weights: Float32Array.from(l.kernel),
    bias: Float32Array.from(l.bias),
  })),
});

/** The records of a stored zip, by name, read with the shared zip reader. */
function records(bytes: Uint8Array): Map<string, { data: Uint8Array; offset: number }> {
  const out = new Map<string, { data: Uint8Array; offset: number }>();
  for (const e of listZip(bytes, 'w.pt')) {
    assert.equal(e.method, 0, `${e.name} is stored`);
    out.set(e.name, { data: bytes.subarray(e.dataOffset, e.dataOffset + e.size), offset: e.dataOffset });
  }
  return out;
}

function sameMLP(a: MLP, b: MLP): void {
  assert.equal(b.inputSize, a.inputSize);
  assert.deepEqual(b.inputShape, a.inputShape);
  assert.equal(b.name, a.name);
  assert.deepEqual(
    b.layers.map((l) => [l.name, l.inputSize, l.units, l.activation]),
    a.layers.map((l) => [l.name, l.inputSize, l.units, l.activation]),
  );
  a.layers.forEach((l, i) => {
    assert.deepEqual(b.layers[i].weights, l.weights);
    assert.deepEqual(b.layers[i].bias, l.bias);
  });
}

describe('writing a state dict as torch.save does', () => {
  test("data.pkl is byte for byte what CPython's pickler writes for the same state dict (protocol 2)", () => {
    const zip = records(encodePytorch(refMLP()));
    const expected = readFileSync(join(TESTDATA, 'write-reference.data.pkl'));
    assert.equal(Buffer.compare(Buffer.from(zip.get('archive/data.pkl')!.data), expected), 0);
  });

  test('records in the order and with the content torch.save writes, each 64-byte aligned', () => {
    const bytes = encodePytorch(refMLP(), 'tiny');
    const zip = records(bytes);
    assert.deepEqual(
      [...zip.keys()],
      ['data.pkl', '.format_version', '.storage_alignment', 'byteorder', 'data/0', 'data/1', 'data/2', 'data/3', 'version'].map(
        (n) => `tiny/${n}`,
      ),
    );
    const text = (n: string) => Buffer.from(zip.get(`tiny/${n}`)!.data).toString('latin1');
    assert.deepEqual(
      [text('.format_version'), text('.storage_alignment'), text('byteorder'), text('version')],
      ['1', '64', 'little', '3\n'],
    );
    for (const [name, r] of zip) assert.equal(r.offset % 64, 0, `${name} at ${r.offset}`);
    // fc1.weight [4, 3]: element (o, k) is kernel[k][o]
    const w = zip.get('tiny/data/0')!.data;
    const view = new DataView(w.buffer, w.byteOffset, w.byteLength);
    const kernel = REF.layers[0].kernel;
    for (let o = 0; o < 4; o++)
      for (let k = 0; k < 3; k++) assert.equal(view.getFloat32((o * 3 + k) * 4, true), Math.fround(kernel[k * 4 + o]));
  });

  test('CRC-32 of the standard check string (what the archive records)', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(tableCrc32(Buffer.from('123456789')), 0xcbf43926);
  });

  test('round trip: what is written reads back equal, activations and input shape included', async () => {
    for (const name of ['batchnorm-named.pt', 'lightning.ckpt', 'dtypes.pt', 'legacy.pth']) {
      const src = await pytorchFormat.read(join(TESTDATA, name), { activation: 'tanh', outputActivation: 'sigmoid' });
      src.inputShape = [1, src.inputSize];
      const out = join(dir, `${name}.pt`);
      const result = await pytorchFormat.write!(src, out);
      assert.deepEqual(result, { files: [out], bytes: statSync(out).size });
      const back = await pytorchFormat.read(out);
      sameMLP(src, back);
      assert.equal(back.source?.producer, 'PruneScope');
    }
  });

  test('an MLP read from PyTorch keeps its keys; any other gets fc1, fc2, ...', async () => {
    const src = await pytorchFormat.read(join(TESTDATA, 'lightning.ckpt'));
    assert.deepEqual(keyPrefixes(src), ['model.net.0', 'model.net.2', 'model.net.4']);
    assert.deepEqual(keyPrefixes(refMLP()), ['fc1', 'fc2']);
    const odd = { ...refMLP(), source: { format: 'pytorch' as const, path: '/x.pt', notes: [] } };
    odd.layers[0].name = 'has space';
    assert.deepEqual(keyPrefixes(odd), ['fc1', 'fc2']);
    const written = records(encodePytorch(src));
    const pkl = Buffer.from(written.get('archive/data.pkl')!.data).toString('latin1');
    for (const key of ['model.net.0.weight', 'model.net.0.bias', 'model.net.4.bias']) assert.ok(pkl.includes(key), key);
  });

  test('structured pruning writes the new shapes', async () => {
    const src = await pytorchFormat.read(join(TESTDATA, 'checkpoint.pt'));
    // drop hidden unit 0 of fc1 (6 -> 5): its column of fc1 and its row of fc2
    const [l1, l2] = src.layers;
    const keep = [1, 2, 3, 4, 5];
    const k1 = new Float32Array(l1.inputSize * 5);
    for (let i = 0; i < l1.inputSize; i++) keep.forEach((o, j) => (k1[i * 5 + j] = l1.weights[i * 6 + o]));
    const k2 = new Float32Array(5 * l2.units);
    keep.forEach((o, j) => k2.set(l2.weights.subarray(o * l2.units, (o + 1) * l2.units), j * l2.units));
    const pruned: MLP = {
      ...src,
      layers: [
        { ...l1, units: 5, weights: k1, bias: Float32Array.from(keep.map((o) => l1.bias![o])) },
        { ...l2, inputSize: 5, weights: k2 },
      ],
    };
    const out = join(dir, 'pruned.pth');
    await pytorchFormat.write!(pruned, out);
    const back = await pytorchFormat.read(out);
    assert.deepEqual(
      back.layers.map((l) => [l.name, l.inputSize, l.units]),
      [
        ['fc1', 3, 5],
        ['fc2', 5, 2],
      ],
    );
    sameMLP(pruned, back);
  });

  test('the archive folder is the output name without extension, as torch names it', () => {
    assert.equal(archiveFolder('/a/b/mlp.pruned.pt'), 'mlp.pruned');
    assert.equal(archiveFolder('/a/b/m o d.pt'), 'archive');
  });

  test('refuses to overwrite the source model', async () => {
    const src = await pytorchFormat.read(join(TESTDATA, 'checkpoint.pt'));
    await assert.rejects(
      pytorchFormat.write!(src, resolve(TESTDATA, 'checkpoint.pt')),
      (e: Error) => e instanceof PruneScopeError && /source model/.test(e.message),
    );
  });
});
