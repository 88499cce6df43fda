import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compat, fixture } from '../../../../test/fixtures';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { predict } from '../../model/forward';
import type { Activation, MLP } from '../../model/mlp';
import { readModel, writerFor } from '../registry';
import { pytorchFormat } from './pytorch';
import { zipSync } from 'fflate';
import { listZip } from '../../io/inflate';
import { zipStored } from './write';

const TESTDATA = join(__dirname, 'testdata');
const data = (name: string) => join(TESTDATA, name);

interface Expected {
  inputs: number[][];
  outputs: number[][];
  names: string[];
  activation: Activation;
  outputActivation: Activation;
  notes: string[];
}
/** Inputs and the outputs numpy computed from the raw parameters (testdata/make_testdata.py). */
const EXPECTED = JSON.parse(readFileSync(data('expected.json'), 'utf8')) as Record<string, Expected>;
const FIXTURES_EXPECTED = JSON.parse(readFileSync(data('fixtures-expected.json'), 'utf8')) as Record<
  string,
  { outputs: number[][]; activation: Activation }
>;

const dir = mkdtempSync(join(tmpdir(), 'prunescope-pytorch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  await initBackend();
});

function assertOutputs(mlp: MLP, inputs: number[][], expected: number[][], what: string): void {
  const x = Float32Array.from(inputs.flat());
  const got = predict(mlp, x, inputs.length);
  const width = expected[0].length;
  assert.equal(got.length, inputs.length * width, what);
  for (let r = 0; r < expected.length; r++) {
    for (let j = 0; j < width; j++) {
      const e = expected[r][j];
      assert.ok(
        Math.abs(got[r * width + j] - e) <= 1e-4 * Math.max(1, Math.abs(e)),
        `${what}: row ${r} output ${j}: ${got[r * width + j]} vs ${e}`,
      );
    }
  }
}

async function refused(path: string, pattern: RegExp, location?: RegExp): Promise<ModelFormatError> {
  let caught: unknown;
  try {
    await pytorchFormat.read(path);
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof ModelFormatError,
    `expected a ModelFormatError, got ${caught instanceof Error ? caught.stack : String(caught)}`,
  );
  assert.equal(caught.file, path);
  assert.match(caught.problem, pattern);
  if (location) assert.match(caught.location ?? '', location);
  return caught;
}

describe('PyTorch fixtures (third-party files)', () => {
  const cases: [string, number[]][] = [
    ['lirpa-mnist-fc-3layer/mnist_fc_3layer.pth', [784, 128, 64, 10]],
    ['lirpa-spectral-mlp-sequential/spectral_NOR_MLP_B.pth', [784, 100, 100, 10]],
    ['hddm-lan-ddm-tanh/d27193a4153011ecb76ca0423f39a3e6_ddm_torch_state_dict.pt', [6, 100, 100, 100, 1]],
  ];
  for (const [rel, sizes] of cases) {
    test(`${rel} loads as ${sizes.join(' -> ')} and matches numpy on its raw storages`, compat(), async () => {
      const path = fixture('pytorch', ...rel.split('/'));
      const exp = FIXTURES_EXPECTED[rel];
      const mlp = await pytorchFormat.read(path, { activation: exp.activation });
      assert.deepEqual([mlp.inputSize, ...mlp.layers.map((l) => l.units)], sizes);
      assert.equal(mlp.source?.format, 'pytorch');
      assert.match(mlp.source?.producer ?? '', /zip format, version 3/);
      // the same inputs as make_testdata.py --fixtures: x[r][i] = ((7 i + 13 r) mod 17) / 17 - 0.5
      const inputs = [0, 1, 2].map((r) => Array.from({ length: sizes[0] }, (_, i) => ((7 * i + 13 * r) % 17) / 17 - 0.5));
      assertOutputs(mlp, inputs, exp.outputs, rel);
    });
  }

  test('layer names are the state-dict prefixes; cuda:0 storages load on the CPU', compat(), async () => {
    const lirpa = await pytorchFormat.read(fixture('pytorch', 'lirpa-mnist-fc-3layer', 'mnist_fc_3layer.pth'));
    assert.deepEqual(
      lirpa.layers.map((l) => l.name),
      ['fc1', 'fc2', 'fc3'],
    );
    const spectral = await pytorchFormat.read(fixture('pytorch', 'lirpa-spectral-mlp-sequential', 'spectral_NOR_MLP_B.pth'));
    assert.deepEqual(
      spectral.layers.map((l) => l.name),
      ['1', '3', '5'],
    );
    assert.ok(spectral.source?.notes.some((n) => /saved on cuda:0, read on the CPU/.test(n)));
    const hddm = await pytorchFormat.read(
      fixture('pytorch', 'hddm-lan-ddm-tanh', 'd27193a4153011ecb76ca0423f39a3e6_ddm_torch_state_dict.pt'),
    );
    assert.deepEqual(
      hddm.layers.map((l) => l.name),
      ['layers.0', 'layers.2', 'layers.4', 'layers.6'],
    );
    assert.ok(hddm.source?.notes.some((n) => /no byteorder record/.test(n)));
  });

  for (const [rel, key, shape] of [
    ['refuse-cnn-legacy-kw-mnist/kw_mnist.pth', '0.weight', '[16, 1, 4, 4]'],
    ['refuse-cnn-legacy-plain-dict/mnist_cnn_small.pth', 'conv1.weight', '[8, 1, 4, 4]'],
    ['refuse-cnn-zip-cifar-2c2f/cifar_2c2f.pth', '0.weight', '[4, 3, 3, 3]'],
  ]) {
    test(`${rel} is refused naming ${key} ${shape}`, compat(), async () => {
      const path = fixture('unsupported', 'pytorch', ...rel.split('/'));
      await refused(
        path,
        /4-D weight \(a Conv2d kernel\?\): not an MLP/,
        new RegExp(`tensor "${key.replace('.', '\\.')}" \\${shape.replace(']', '\\]')}`),
      );
    });
  }

  test('a .keras zip is not claimed', compat(), () => {
    const path = fixture('unsupported', 'keras', 'refuse-moonflower-cnn-k3.1', 'mnist_model.keras');
    assert.equal(pytorchFormat.detect(path, new Uint8Array(readFileSync(path)).subarray(0, 65536)), false);
  });
});

describe('PyTorch files built by testdata/make_testdata.py', () => {
  for (const [name, exp] of Object.entries(EXPECTED)) {
    if (name === 'write-reference') continue;
    test(`${name}: layers ${exp.names.join(', ')}, outputs equal numpy's on the raw parameters`, async () => {
      const mlp = await pytorchFormat.read(data(name), { activation: exp.activation, outputActivation: exp.outputActivation });
      assert.deepEqual(
        mlp.layers.map((l) => l.name),
        exp.names,
      );
      assert.deepEqual(
        mlp.layers.map((l) => l.activation),
        exp.names.map((_, i) => (i === exp.names.length - 1 ? exp.outputActivation : exp.activation)),
      );
      for (const note of exp.notes)
        assert.ok(
          mlp.source?.notes.some((n) => n.includes(note)),
          `${name}: no note says "${note}": ${mlp.source?.notes.join(' | ')}`,
        );
      assertOutputs(mlp, exp.inputs, exp.outputs, name);
    });
  }

  test('legacy format: the oldest _rebuild_tensor, offsets into one storage, storage views', async () => {
    const mlp = await pytorchFormat.read(data('legacy.pth'));
    assert.equal(mlp.source?.producer, 'torch.save (legacy format)');
  });

  test('BatchNorm1d layers are folded and named in the notes', async () => {
    const seq = await pytorchFormat.read(data('batchnorm-sequential.pt'));
    assert.ok(seq.source?.notes.includes('folded BatchNorm1d "1" into "0"'));
    assert.ok(seq.source?.notes.includes('folded BatchNorm1d "4" into "3"'));
    const named = await pytorchFormat.read(data('batchnorm-named.pt'));
    assert.ok(named.source?.notes.some((n) => n.startsWith('folded BatchNorm1d "bn0" into the inputs of "fc1"')));
    assert.ok(named.source?.notes.includes('folded BatchNorm1d "bn1" into "fc1"'));
    assert.ok(named.source?.notes.includes('folded BatchNorm1d "bn2" into "fc2"'));
  });

  test('a whole pickled model is refused with the advice to save its state dict', async () => {
    await refused(
      data('whole-model.pt'),
      /refused global __main__\.Net: the file is a whole pickled model .*torch\.save\(model\.state_dict\(\), path\)/,
      /archive\/data\.pkl, byte 2/,
    );
  });

  test('malicious pickles (os.system, builtins.eval through REDUCE) are refused and nothing runs', async () => {
    for (const [file, marker, global] of [
      ['malicious-system.pt', '/tmp/prunescope-pytorch-pwned-system', 'posix.system'],
      ['malicious-eval.pt', '/tmp/prunescope-pytorch-pwned-eval', 'builtins.eval'],
    ]) {
      rmSync(marker, { force: true });
      await refused(data(file), new RegExp(`refused global ${global.replace('.', '\\.')}: unpickling it would run code .*nothing was run`));
      assert.equal(existsSync(marker), false, `${marker} exists: the pickle ran`);
    }
  });

  test('pickle bombs are refused at once', async () => {
    for (const [file, pattern] of [
      ['bomb-laughs.pt', /holds no tensors: a dict of 1 entries \(history\)/],
      ['bomb-marks.pt', /more than 10000 MARKs are open at once/],
      ['bomb-length.pt', /BINUNICODE8 declares 4611686018427387904 bytes/],
      ['cycle.pt', /holds no tensors: a dict of 2 entries \(self, loop\)/],
    ] as const) {
      const start = Date.now();
      await refused(data(file), pattern);
      assert.ok(Date.now() - start < 2000, `${file} took ${Date.now() - start} ms`);
    }
  });

  test('a tensor reaching past its storage, and a storage record shorter than declared, are refused', async () => {
    await refused(
      data('hostile-stride.pt'),
      /size \[5,4\], stride \[4,1\] at offset 0 reaches element 19 of storage "0", which holds 10/,
      /data\.pkl, byte \d+/,
    );
    await refused(data('hostile-short-record.pt'), /record archive\/data\/0 holds 40 bytes but its storage of 20 float32 needs 80/);
  });
});

describe('containers', () => {
  const legacy = () => new Uint8Array(readFileSync(data('legacy.pth')));

  test('a truncated legacy file, or one whose storage count differs from its pickle, is refused', async () => {
    const b = legacy();
    const cut = join(dir, 'cut.pth');
    writeFileSync(cut, b.subarray(0, b.length - 5));
    await refused(cut, /needs \d+ bytes but the file ends after \d+ \(truncated\?\)/, /storage "94000002" at byte \d+/);
    // the storage data starts with the 8-byte count of the first listed key ("94000001": 20 floats)
    const changed = Buffer.from(b);
    const at = changed.length - (8 + 20 * 4) - (8 + 22 * 4);
    assert.equal(changed.readBigInt64LE(at), 20n);
    changed.writeBigInt64LE(21n, at);
    const bad = join(dir, 'count.pth');
    writeFileSync(bad, changed);
    await refused(bad, /declares 21 elements but the pickle says 20/);
  });

  test('a pickle of something other than torch.save is refused as such', async () => {
    const p = join(dir, 'config.pkl');
    writeFileSync(p, readFileSync(data('plain-p2.pkl')));
    await refused(p, /starts with a pickle of a dict of 11 entries, not with torch\.save's magic number/);
    const q = join(dir, 'weird.pt');
    writeFileSync(q, Buffer.from('\x80\x02cos\nsystem\n.', 'latin1'));
    await refused(q, /cannot be read as data \(refused global os\.system/);
    const tar = Buffer.alloc(1024);
    tar.write('ustar', 257, 'latin1');
    const t = join(dir, 'old.pt');
    writeFileSync(t, tar);
    assert.equal(pytorchFormat.detect(t, tar), true);
    await refused(t, /tar archive: the format of PyTorch before 0\.1\.10/);
    const r = join(dir, 'text.pt');
    writeFileSync(r, 'hello');
    await refused(r, /neither a zip archive nor a pickle/);
  });

  test('zip archives: any folder name; no data.pkl, TorchScript, bad byteorder, not in a folder are refused', async () => {
    const pkl = new Uint8Array(readFileSync(data('write-reference.data.pkl')));
    const f32 = (n: number) => new Uint8Array(n * 4);
    const records = (folder: string, extra: { name: string; data: Uint8Array }[] = []) => [
      { name: `${folder}/data.pkl`, data: pkl },
      ...extra,
      ...[12, 4, 8, 2].map((n, i) => ({ name: `${folder}/data/${i}`, data: f32(n) })),
      { name: `${folder}/version`, data: Buffer.from('3\n') },
    ];
    const write = (name: string, recs: { name: string; data: Uint8Array }[]) => {
      const p = join(dir, name);
      writeFileSync(p, zipStored(recs));
      return p;
    };
    const mlp = await pytorchFormat.read(write('any.pt', records('my weights v2')));
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.inputSize, l.units]),
      [
        ['fc1', 3, 4],
        ['fc2', 4, 2],
      ],
    );
    await refused(write('nopkl.pt', records('a').slice(1)), /has no a\/data\.pkl/);
    await refused(write('script.pt', records('a', [{ name: 'a/constants.pkl', data: pkl }])), /TorchScript archive/);
    await refused(
      write('order.pt', records('a', [{ name: 'a/byteorder', data: Buffer.from('middle') }])),
      /byteorder record says "middle"/,
    );
    await refused(write('flat.pt', [{ name: 'data.pkl', data: pkl }]), /first file "data\.pkl" is not in a folder/);
    await refused(
      write(
        'missing.pt',
        records('a').filter((r) => r.name !== 'a/data/2'),
      ),
      /storage "2" has no record a\/data\/2/,
    );
    const broken = join(dir, 'broken.pt');
    writeFileSync(broken, readFileSync(data('dtypes.pt')).subarray(0, 1500));
    await refused(broken, /cannot read the zip archive: no end-of-central-directory record/);
  });
});

describe('zip CRC-32', () => {
  /** checkpoint.pt's records, by name without the folder, as the archive holds them. */
  const checkpoint = () => new Uint8Array(readFileSync(data('checkpoint.pt')));
  const entry = (bytes: Uint8Array, name: string) => {
    const e = listZip(bytes, 'checkpoint.pt').find((x) => x.name === `archive/${name}`);
    assert.ok(e, name);
    return e;
  };

  test('a flipped byte in a tensor record is refused naming the file and the record; the intact file loads', async () => {
    const intact = join(dir, 'crc-intact.pt');
    writeFileSync(intact, checkpoint());
    const mlp = await pytorchFormat.read(intact);
    assertOutputs(mlp, EXPECTED['checkpoint.pt'].inputs, EXPECTED['checkpoint.pt'].outputs, 'intact checkpoint.pt');
    for (const at of ['first', 'last'] as const) {
      const bytes = checkpoint();
      const e = entry(bytes, 'data/0');
      bytes[at === 'first' ? e.dataOffset : e.dataOffset + e.size - 1] ^= 0x01;
      const p = join(dir, `crc-${at}.pt`);
      writeFileSync(p, bytes);
      const err = await refused(p, /^CRC mismatch \(corrupted file\?\)/, /^zip entry archive\/data\/0$/);
      assert.equal(err.message.split('\n').length, 1);
      assert.ok(err.message.startsWith(`${p}: PyTorch: zip entry archive/data/0: CRC mismatch (corrupted file?)`), err.message);
    }
  });

  test('so is a changed data.pkl, and a deflated archive (zipped again by another tool) whose record differs from its CRC', async () => {
    const bytes = checkpoint();
    const pkl = entry(bytes, 'data.pkl');
    // A byte of a pickled string (a key's letter) the unpickler would read without complaint.
    const text = Buffer.from(bytes.subarray(pkl.dataOffset, pkl.dataOffset + pkl.size)).toString('latin1');
    const at = text.indexOf('weight');
    assert.ok(at > 0);
    bytes[pkl.dataOffset + at] = 'W'.charCodeAt(0);
    const p = join(dir, 'crc-pkl.pt');
    writeFileSync(p, bytes);
    await refused(p, /^CRC mismatch \(corrupted file\?\)/, /^zip entry archive\/data\.pkl$/);

    // The same records deflated by fflate: the intact archive loads; with the CRC the central
    // directory records for data/1 changed, it is refused the same way.
    const records = listZip(checkpoint(), 'checkpoint.pt').map(
      (e) => [e.name, checkpoint().subarray(e.dataOffset, e.dataOffset + e.size)] as const,
    );
    const deflated = Buffer.from(zipSync(Object.fromEntries(records.map(([n, d]) => [n, [d, { level: 6 }]]))));
    assert.ok(listZip(deflated, 'deflated.pt').every((e) => e.method === 8 || e.size === 0));
    const ok = join(dir, 'crc-deflated.pt');
    writeFileSync(ok, deflated);
    assertOutputs(await pytorchFormat.read(ok), EXPECTED['checkpoint.pt'].inputs, EXPECTED['checkpoint.pt'].outputs, 'deflated');
    const central = deflated.lastIndexOf(Buffer.from('archive/data/1', 'latin1')) - 46;
    assert.equal(deflated.readUInt32LE(central), 0x02014b50);
    deflated.writeUInt32LE((deflated.readUInt32LE(central + 16) ^ 0x80) >>> 0, central + 16);
    const bad = join(dir, 'crc-deflated-bad.pt');
    writeFileSync(bad, deflated);
    await refused(bad, /^CRC mismatch \(corrupted file\?\)/, /^zip entry archive\/data\/1$/);
  });
});

describe('detection and the registry', () => {
  const head = (p: string) => new Uint8Array(readFileSync(p)).subarray(0, 65536);

  test("claims torch.save's zip by its first record whatever the extension, and the legacy magic", () => {
    for (const f of ['checkpoint.pt', 'lightning.ckpt', 'legacy.pth', 'legacy-sysinfo-big.pt', 'strided.pt']) {
      assert.equal(pytorchFormat.detect(join(dir, 'model.bin'), head(data(f))), true, f);
    }
    assert.equal(pytorchFormat.detect('x.pt', Buffer.from(`L${0x1950a86a20f9469cfc6cn}L\n.`)), true);
  });

  test('claims a zip, pickle or tar only under a PyTorch extension; never a .keras or .npz zip', () => {
    const otherZip = zipStored([{ name: 'config.json', data: Buffer.from('{}') }]);
    assert.equal(pytorchFormat.detect('m.keras', otherZip), false);
    assert.equal(pytorchFormat.detect('m.npz', otherZip), false);
    assert.equal(pytorchFormat.detect('m.pt', otherZip), true);
    assert.equal(pytorchFormat.detect('m.pkl', head(data('plain-p2.pkl'))), true);
    assert.equal(pytorchFormat.detect('m.json', head(data('plain-p2.pkl'))), false);
    assert.equal(pytorchFormat.detect('m.bin', Uint8Array.from([1, 2, 3])), false);
  });

  test('readModel picks the format by content; .pt and .pth choose it as the writer', async () => {
    const mlp = await readModel(data('checkpoint.pt'));
    assert.equal(mlp.source?.format, 'pytorch');
    assert.equal(writerFor('out.pt').id, 'pytorch');
    assert.equal(writerFor('OUT.PTH').id, 'pytorch');
  });
});
