/**
 * TensorFlow.js model folders built to hurt the readers: files named outside the folder, shards
 * far larger than declared, nesting deep enough to overflow a recursive walk, UTF-16 text,
 * zero-sized layers and ambiguous weight names. Every one must end in a ModelFormatError that
 * names the file and the place, never in a crash, a hang or a read of a file outside the folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../../../test/fixtures';
import { built } from '../../../../test/kits/encode/models';
import { initBackend } from '../../backend';
import { ModelFormatError } from '../../errors';
import { validateMLP, type MLP } from '../../model/mlp';
import { readModel } from '../registry';
import { tfjsGraphFormat } from './graph';
import { tfjsLayersFormat } from './layers';
import { f32Bytes, tempDir } from '../../../../test/kits/tfjs';
import { loadWeightsManifest, MAX_JSON_DEPTH } from './weights';

const LAYERS = 'TensorFlow.js LayersModel';
const GRAPH = 'TensorFlow.js GraphModel';

async function refusal(promise: Promise<unknown>, ...needles: (string | RegExp)[]): Promise<ModelFormatError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ModelFormatError, `expected a ModelFormatError, got ${error instanceof Error ? error.stack : String(error)}`);
  for (const n of needles) {
    if (typeof n === 'string') assert.ok(error.message.includes(n), `"${error.message}" should mention ${n}`);
    else assert.match(error.message, n);
  }
  assert.ok(error.message.length < 2000, `the message is ${error.message.length} characters long`);
  return error;
}

/** A one-layer Sequential (2 inputs, `units` relu units) whose Dense config can be patched. */
function layersModel(dense: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'layers-model',
    generatedBy: 'test',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'hostile',
        layers: [
          {
            class_name: 'Dense',
            config: { name: 'dense_1', units: 1, activation: 'relu', use_bias: true, batch_input_shape: [null, 2], ...dense },
          },
        ],
      },
    },
    ...extra,
  };
}

const KERNEL = new Float32Array([0.5, -2]);
const BIAS = new Float32Array([0.25]);
const WEIGHTS_BYTES = Buffer.concat([f32Bytes(KERNEL), f32Bytes(BIAS)]);
const MANIFEST_ENTRIES = [
  { name: 'dense_1/kernel', shape: [2, 1], dtype: 'float32' },
  { name: 'dense_1/bias', shape: [1], dtype: 'float32' },
];

/** A fresh folder holding model.json (whose text is `text`, or `model` serialized) and weights.bin. */
async function folder(
  parent: string,
  name: string,
  model: Record<string, unknown> | string,
  paths = ['weights.bin'],
): Promise<{ dir: string; json: string }> {
  const dir = join(parent, name);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(join(dir, 'weights.bin'), WEIGHTS_BYTES);
  const text =
    typeof model === 'string'
      ? model
      : JSON.stringify({ ...model, weightsManifest: model.weightsManifest ?? [{ paths, weights: MANIFEST_ENTRIES }] });
  const json = join(dir, 'model.json');
  await fs.writeFile(json, text);
  return { dir, json };
}

/** `{"class_name":` nested n deep around "relu", written as text (JSON.stringify would itself overflow). */
function deepObject(key: string, n: number, inner = '"relu"'): string {
  return `{"${key}":`.repeat(n) + inner + '}'.repeat(n);
}

function deepList(n: number, inner = ''): string {
  return '['.repeat(n) + inner + ']'.repeat(n);
}

/** model serialized with the string value "__DEEP__" replaced by raw JSON text. */
function withRaw(model: Record<string, unknown>, raw: string): string {
  const text = JSON.stringify({
    ...model,
    weightsManifest: model.weightsManifest ?? [{ paths: ['weights.bin'], weights: MANIFEST_ENTRIES }],
  });
  assert.ok(text.includes('"__DEEP__"'));
  return text.replace('"__DEEP__"', () => raw);
}

function utf16(text: string, endian: 'le' | 'be', bom = true): Buffer {
  const le = Buffer.from(text, 'utf16le');
  if (endian === 'be') le.swap16();
  const mark = endian === 'le' ? [0xff, 0xfe] : [0xfe, 0xff];
  return Buffer.concat([bom ? Buffer.from(mark) : Buffer.alloc(0), le]);
}

function sameModel(a: MLP, b: MLP): void {
  assert.equal(a.inputSize, b.inputSize);
  assert.deepEqual(
    a.layers.map((l) => [l.name, l.units, l.activation, Array.from(l.weights), l.bias && Array.from(l.bias)]),
    b.layers.map((l) => [l.name, l.units, l.activation, Array.from(l.weights), l.bias && Array.from(l.bias)]),
  );
}

describe('tfjs readers against hostile model folders', () => {
  let root: string;
  let outside: string;
  let secret: string;
  before(async () => {
    await initBackend();
    root = await tempDir('prunescope-tfjs-hostile-');
    outside = await tempDir('prunescope-tfjs-outside-');
    secret = join(outside, 'secret.bin');
    // 12 bytes, enough for the manifest: a reader that follows the link would load it.
    await fs.writeFile(secret, WEIGHTS_BYTES);
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
  });

  describe('shard paths stay inside the model folder', () => {
    it('reads a plain folder, a ./ path, a subfolder and a symbolic link that stays inside', async () => {
      const plain = await readModel((await folder(root, 'plain', layersModel())).dir);
      assert.deepEqual(Array.from(plain.layers[0].weights), Array.from(KERNEL));
      const dot = await folder(root, 'dot', layersModel(), ['./weights.bin']);
      sameModel(await readModel(dot.dir), plain);
      const sub = await folder(root, 'sub', layersModel(), ['shards/w.bin']);
      await fs.mkdir(join(sub.dir, 'shards'));
      await fs.writeFile(join(sub.dir, 'shards', 'w.bin'), WEIGHTS_BYTES);
      sameModel(await readModel(sub.dir), plain);
      const link = await folder(root, 'inner-link', layersModel(), ['link.bin']);
      await fs.symlink('weights.bin', join(link.dir, 'link.bin'));
      sameModel(await readModel(link.dir), plain);
    });

    it('refuses a shard that is a symbolic link to a file outside the folder', async () => {
      const { dir, json } = await folder(root, 'link-out', layersModel());
      await fs.rm(join(dir, 'weights.bin'));
      await fs.symlink(secret, join(dir, 'weights.bin'));
      await refusal(readModel(dir), json, LAYERS, "weightsManifest group 1 of 1, shard 1 of 1 'weights.bin'", "outside the model's folder");
      // The same through an absolute link to /etc/passwd, as in the report.
      await fs.rm(join(dir, 'weights.bin'));
      await fs.symlink('/etc/passwd', join(dir, 'weights.bin'));
      await refusal(readModel(dir), json, 'shard 1 of 1', "outside the model's folder");
    });

    it('refuses an absolute path, a URL and a ../ path', async () => {
      const abs = await folder(root, 'absolute', layersModel(), [secret]);
      await refusal(readModel(abs.dir), abs.json, LAYERS, 'shard 1 of 1', 'absolute path');
      for (const url of ['https://example.invalid/weights.bin', 'file:///etc/passwd', 'data:application/octet-stream;base64,AAAA']) {
        const u = await folder(root, `url-${url.slice(0, 4)}`, layersModel(), [url]);
        await refusal(readModel(u.dir), u.json, 'shard 1 of 1', 'URL');
      }
      const up = await folder(root, 'dotdot', layersModel(), ['../dotdot-outside.bin']);
      await fs.writeFile(join(root, 'dotdot-outside.bin'), WEIGHTS_BYTES);
      await refusal(readModel(up.dir), up.json, "shard 1 of 1 '../dotdot-outside.bin'", "outside the model's folder");
      const deepUp = await folder(root, 'dotdot2', layersModel(), ['sub/../../dotdot-outside.bin']);
      await refusal(readModel(deepUp.dir), deepUp.json, "outside the model's folder");
    });

    it('refuses a shard inside a symbolically linked folder that lies outside', async () => {
      const { dir, json } = await folder(root, 'linked-folder', layersModel(), ['shards/secret.bin']);
      await fs.symlink(outside, join(dir, 'shards'));
      await refusal(readModel(dir), json, "shard 1 of 1 'shards/secret.bin'", "outside the model's folder");
    });

    it('names the group and shard of a bad path in a later group, and a folder given as a shard', async () => {
      const model = layersModel(
        {},
        {
          weightsManifest: [
            { paths: ['weights.bin'], weights: MANIFEST_ENTRIES },
            { paths: ['weights.bin', '/etc/passwd'], weights: [] },
          ],
        },
      );
      const { json } = await folder(root, 'second-group', model);
      await refusal(tfjsLayersFormat.read(json), json, "weightsManifest group 2 of 2, shard 2 of 2 '/etc/passwd'", 'absolute path');
      const dirShard = await folder(root, 'dir-shard', layersModel(), ['.']);
      await refusal(tfjsLayersFormat.read(dirShard.json), dirShard.json, 'shard 1 of 1');
    });
  });

  describe('weight shards are read by range', () => {
    it('reads a 3 GiB (sparse) shard for the 12 bytes the manifest declares without loading it', async () => {
      const { dir, json } = await folder(root, 'sparse', layersModel());
      const handle = await fs.open(join(dir, 'weights.bin'), 'r+');
      await handle.truncate(3 * 2 ** 30);
      await handle.close();
      const rss = process.memoryUsage().rss;
      const mlp = await readModel(dir);
      assert.ok(process.memoryUsage().rss - rss < 512 * 2 ** 20, 'the shard was loaded into memory');
      assert.deepEqual(Array.from(mlp.layers[0].weights), Array.from(KERNEL));
      assert.deepEqual(Array.from(mlp.layers[0].bias!), Array.from(BIAS));
      assert.ok(
        mlp.source!.notes.some((n) => n.includes(`declares 12 bytes but its files hold ${3 * 2 ** 30}`)),
        mlp.source!.notes.join('; '),
      );
      // Weights that run past the end are still reported by shard, even behind a huge one.
      const two = layersModel(
        {},
        {
          weightsManifest: [
            { paths: ['weights.bin', 'small.bin'], weights: [{ name: 'dense_1/kernel', shape: [2 ** 30, 1], dtype: 'float32' }] },
          ],
        },
      );
      await fs.writeFile(join(dir, 'small.bin'), new Uint8Array(4));
      await fs.writeFile(json, JSON.stringify(two));
      await refusal(tfjsLayersFormat.read(json), json, "weight 'dense_1/kernel'", "'small.bin' (4 bytes)", 'truncated');
      // Two 3 GiB shards really holding a 6 GiB weight: more than one buffer can hold, said before allocating.
      await fs.writeFile(join(dir, 'more.bin'), '');
      await fs.truncate(join(dir, 'more.bin'), 3 * 2 ** 30);
      const big = layersModel(
        {},
        {
          weightsManifest: [
            { paths: ['weights.bin', 'more.bin'], weights: [{ name: 'dense_1/kernel', shape: [3 * 2 ** 29, 1], dtype: 'float32' }] },
          ],
        },
      );
      await fs.writeFile(json, JSON.stringify(big));
      await refusal(tfjsLayersFormat.read(json), json, "weight 'dense_1/kernel'", `takes ${6 * 2 ** 30} bytes`, 'at most');
    });

    it('decodes weights that straddle shards and string weights by range', async () => {
      const dir = join(root, 'split');
      await fs.mkdir(dir);
      const str = Buffer.alloc(4 + 3);
      str.writeUInt32LE(3, 0);
      str.write('abc', 4);
      const all = Buffer.concat([str, WEIGHTS_BYTES]);
      await fs.writeFile(join(dir, 'a.bin'), all.subarray(0, 9));
      await fs.writeFile(join(dir, 'b.bin'), all.subarray(9));
      const manifest = [{ paths: ['a.bin', 'b.bin'], weights: [{ name: 'names', shape: [1], dtype: 'string' }, ...MANIFEST_ENTRIES] }];
      const json = join(dir, 'model.json');
      await fs.writeFile(json, JSON.stringify({ ...layersModel(), weightsManifest: manifest }));
      const mlp = await tfjsLayersFormat.read(json);
      assert.deepEqual(Array.from(mlp.layers[0].weights), Array.from(KERNEL));
      assert.deepEqual(Array.from(mlp.layers[0].bias!), Array.from(BIAS));
      // A string tensor whose lengths point past the end.
      const bad = Buffer.alloc(8);
      bad.writeUInt32LE(1000, 0);
      await fs.writeFile(join(dir, 'a.bin'), bad);
      await fs.writeFile(
        json,
        JSON.stringify({ weightsManifest: [{ paths: ['a.bin'], weights: [{ name: 'names', shape: [1], dtype: 'string' }] }] }),
      );
      await refusal(
        loadWeightsManifest(json, 'test', [{ paths: ['a.bin'], weights: [{ name: 'names', shape: [1], dtype: 'string' }] }]),
        "weight 'names' runs past the end",
        "'a.bin' (8 bytes)",
      );
    });
  });

  describe('nesting the input controls', () => {
    it(`refuses a 100,000-deep nested activation config with the file and the place, not a stack overflow`, async () => {
      const { dir, json } = await folder(
        root,
        'deep-activation',
        withRaw(layersModel({ activation: '__DEEP__' }), deepObject('class_name', 100_000)),
      );
      await refusal(
        readModel(dir),
        json,
        LAYERS,
        `nesting deeper than ${MAX_JSON_DEPTH} levels`,
        'modelTopology.config.layers[0].config.activation.class_name',
      );
    });

    it('refuses deep inbound_nodes, deep shapes in a layer and in the manifest, and 1e6 nested [', async () => {
      const functional = {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Functional',
          config: {
            name: 'f',
            layers: [
              { class_name: 'InputLayer', name: 'input_1', config: { name: 'input_1', batch_input_shape: [null, 2] }, inbound_nodes: [] },
              {
                class_name: 'Dense',
                name: 'dense_1',
                config: { name: 'dense_1', units: 1, activation: 'relu' },
                inbound_nodes: '__DEEP__',
              },
            ],
            input_layers: [['input_1', 0, 0]],
            output_layers: [['dense_1', 0, 0]],
          },
        },
      };
      const inbound = await folder(root, 'deep-inbound', withRaw(functional, deepList(100_000, '["input_1", 0, 0, {}]')));
      await refusal(readModel(inbound.dir), inbound.json, `nesting deeper than ${MAX_JSON_DEPTH} levels`, 'inbound_nodes[0][0]');

      const shape = await folder(
        root,
        'deep-shape',
        withRaw(layersModel({ batch_input_shape: '__DEEP__' }), `[null, 2, ${deepList(100_000, '3')}]`),
      );
      await refusal(readModel(shape.dir), shape.json, 'nesting deeper', 'batch_input_shape[2]');

      const manifest = layersModel(
        {},
        { weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'dense_1/kernel', shape: '__DEEP__' }] }] },
      );
      const wshape = await folder(root, 'deep-weight-shape', withRaw(manifest, deepList(100_000, '2')));
      await refusal(readModel(wshape.dir), wshape.json, 'nesting deeper', 'weightsManifest[0].weights[0].shape');

      const million = await folder(root, 'million', withRaw(layersModel({}, { userDefinedMetadata: '__DEEP__' }), deepList(1_000_000)));
      await refusal(readModel(million.dir), million.json, 'nesting deeper', 'userDefinedMetadata');
      // Not even an object: read directly (detection has nothing to go on).
      const bare = await folder(root, 'bare', deepList(1_000_000));
      await refusal(tfjsLayersFormat.read(bare.json), bare.json, LAYERS, 'nesting deeper');
      await refusal(tfjsGraphFormat.read(bare.json), bare.json, GRAPH, 'nesting deeper');
      await refusal(readModel(bare.dir), bare.json);
    });

    it('keeps reading nesting a real model could have, and refuses one level past the limit', async () => {
      // The document itself is level 1; metadata nested up to the limit is read.
      const ok = await folder(root, 'nest-ok', withRaw(layersModel({}, { userDefinedMetadata: '__DEEP__' }), deepList(MAX_JSON_DEPTH - 1)));
      await readModel(ok.dir);
      const over = await folder(root, 'nest-over', withRaw(layersModel({}, { userDefinedMetadata: '__DEEP__' }), deepList(MAX_JSON_DEPTH)));
      await refusal(readModel(over.dir), over.json, `nesting deeper than ${MAX_JSON_DEPTH} levels`);
    });

    it('refuses deep nesting in a GraphModel', async () => {
      const graph = JSON.parse(await fs.readFile(built('tfjs', 'rn59-graph', 'model.json'), 'utf8'));
      graph.modelTopology.node[0].attr = '__DEEP__';
      const dir = join(root, 'deep-graph');
      await fs.cp(join(built('tfjs', 'rn59-graph')), dir, { recursive: true });
      await fs.writeFile(
        join(dir, 'model.json'),
        JSON.stringify(graph).replace('"__DEEP__"', () => deepObject('attr', 100_000, '{}')),
      );
      await refusal(readModel(dir), join(dir, 'model.json'), GRAPH, 'nesting deeper', 'modelTopology.node[0].attr.attr');
    });

    it('reports deep values handed to the weights manifest reader directly without overflowing', async () => {
      const json = join(root, 'direct.json');
      await fs.writeFile(json, '{}');
      let shape: unknown = [2];
      for (let i = 0; i < 100_000; i++) shape = [shape];
      await refusal(loadWeightsManifest(json, 'test', [{ paths: [], weights: [{ name: 'w', shape }] }]), "weight 'w'", 'shape [[[[');
    });

    it('refuses a fused op name of a million character codes without a stack overflow', async () => {
      const graph = JSON.parse(await fs.readFile(built('tfjs', 'rn59-graph', 'model.json'), 'utf8'));
      const mm = graph.modelTopology.node.find((n: { op: string }) => n.op === 'MatMul');
      assert.ok(mm, 'the rn59-graph layout has a MatMul');
      mm.op = '_FusedMatMul';
      mm.attr.fused_ops = { list: { s: [Array.from({ length: 1_000_000 }, () => 65)] } };
      const dir = join(root, 'fused-huge');
      await fs.cp(built('tfjs', 'rn59-graph'), dir, { recursive: true });
      await fs.writeFile(join(dir, 'model.json'), JSON.stringify(graph));
      await refusal(readModel(dir), GRAPH, 'fused operation');
    });
  });

  describe('text encodings of model.json', () => {
    for (const [kind, name] of [
      ['layers', 'abalone-node'],
      ['graph', 'rn59-graph'],
    ] as const) {
      it(`reads a ${kind} model.json in UTF-16LE and UTF-16BE with a BOM, and UTF-8 after a BOM`, async () => {
        const src = built('tfjs', name);
        const text = await fs.readFile(join(src, 'model.json'), 'utf8');
        const reference = await readModel(src);
        const variants: [string, Buffer][] = [
          ['utf16le', utf16(text, 'le')],
          ['utf16be', utf16(text, 'be')],
          ['utf8bom', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])],
          ['utf16le-nobom', utf16(text, 'le', false)],
        ];
        for (const [label, bytes] of variants) {
          const dir = join(root, `${name}-${label}`);
          await fs.cp(src, dir, { recursive: true });
          await fs.writeFile(join(dir, 'model.json'), bytes);
          const mlp = await readModel(dir);
          assert.equal(mlp.source!.format, `tfjs-${kind}`, label);
          sameModel(mlp, reference);
        }
      });
    }

    it('refuses UTF-32 naming the encoding', async () => {
      const { json } = await folder(root, 'utf32', layersModel());
      const text = await fs.readFile(json, 'utf8');
      const bytes = Buffer.alloc(4 + 4 * text.length);
      bytes.writeUInt32LE(0xfeff, 0);
      for (let i = 0; i < text.length; i++) bytes.writeUInt32LE(text.charCodeAt(i), 4 + 4 * i);
      await fs.writeFile(json, bytes);
      await refusal(tfjsLayersFormat.read(json), json, LAYERS, 'UTF-32');
    });
  });

  describe('zero-sized layers and inputs', () => {
    it('refuses a Dense layer of 0 units in a LayersModel, naming the layer', async () => {
      const zero = layersModel(
        { units: 0 },
        {
          weightsManifest: [
            {
              paths: ['weights.bin'],
              weights: [
                { name: 'dense_1/kernel', shape: [2, 0], dtype: 'float32' },
                { name: 'dense_1/bias', shape: [0], dtype: 'float32' },
              ],
            },
          ],
        },
      );
      const a = await folder(root, 'zero-units', zero);
      await refusal(readModel(a.dir), a.json, 'dense_1', '0 units');
      // Without a units key, the 0 comes from the kernel.
      const cfg = (zero.modelTopology as { config: { layers: { config: Record<string, unknown> }[] } }).config.layers[0].config;
      delete cfg.units;
      const b = await folder(root, 'zero-units-kernel', zero);
      await refusal(readModel(b.dir), b.json, 'dense_1', '0 units');
    });

    it('refuses a zero-sized input in a LayersModel and a GraphModel', async () => {
      const zero = layersModel(
        { batch_input_shape: [null, 0] },
        {
          weightsManifest: [
            {
              paths: ['weights.bin'],
              weights: [
                { name: 'dense_1/kernel', shape: [0, 1], dtype: 'float32' },
                { name: 'dense_1/bias', shape: [1], dtype: 'float32' },
              ],
            },
          ],
        },
      );
      const a = await folder(root, 'zero-input', zero);
      await refusal(readModel(a.dir), a.json, LAYERS, 'input');

      const graph = JSON.parse(await fs.readFile(built('tfjs', 'rn59-graph', 'model.json'), 'utf8'));
      const dir = join(root, 'graph-zero-units');
      await fs.cp(built('tfjs', 'rn59-graph'), dir, { recursive: true });
      const w = graph.weightsManifest[0].weights;
      const kernel = w.find((x: { shape: number[] }) => x.shape.length === 2);
      kernel.shape = [kernel.shape[0], 0];
      const bias = w.find((x: { shape: number[] }) => x.shape.length === 1);
      bias.shape = [0];
      await fs.writeFile(join(dir, 'model.json'), JSON.stringify(graph));
      await refusal(readModel(dir), GRAPH, '0 units');
    });

    it('validateMLP names the layer of 0 units and refuses a zero-sized input', () => {
      const layer = (name: string, inputSize: number, units: number) => ({
        name,
        inputSize,
        units,
        weights: new Float32Array(inputSize * units),
        bias: new Float32Array(units),
        activation: 'relu' as const,
      });
      const mlp = (inputSize: number, ...layers: ReturnType<typeof layer>[]): MLP => ({
        name: 'm',
        inputShape: [inputSize],
        inputSize,
        layers,
      });
      validateMLP(mlp(2, layer('a', 2, 3), layer('b', 3, 1)));
      assert.throws(() => validateMLP(mlp(2, layer('a', 2, 0), layer('b', 0, 1))), /layer 1 of 2 'a' has 0 units/);
      assert.throws(() => validateMLP(mlp(2, layer('a', 2, 3), layer('b', 3, 0))), /'b' has 0 units/);
      assert.throws(() => validateMLP(mlp(0, layer('a', 0, 3))), /input shape \[0\]/);
      assert.throws(() => validateMLP({ ...mlp(0, layer('a', 0, 3)), inputShape: [] }), /input shape \[\] does not hold 0 values/);
      assert.throws(() => validateMLP({ ...mlp(0, layer('a', 0, 3)), inputShape: [4, 0] }), /input shape \[4,0\]/);
      assert.throws(() => validateMLP(mlp(2, { ...layer('a', 2, 3), units: 2.5 })), /units/);
    });
  });

  describe('ambiguous weight names', () => {
    it('refuses the same weight name twice in one group and across groups', async () => {
      const twice = layersModel(
        {},
        { weightsManifest: [{ paths: ['weights.bin'], weights: [MANIFEST_ENTRIES[0], { ...MANIFEST_ENTRIES[0], shape: [1] }] }] },
      );
      const a = await folder(root, 'dup-one-group', twice);
      await refusal(readModel(a.dir), a.json, LAYERS, "'dense_1/kernel'", 'more than once', 'group 1 of 1, entry 2', 'entry 1');
      const across = layersModel(
        {},
        {
          weightsManifest: [
            { paths: ['weights.bin'], weights: MANIFEST_ENTRIES },
            { paths: ['weights.bin'], weights: [MANIFEST_ENTRIES[1]] },
          ],
        },
      );
      const b = await folder(root, 'dup-two-groups', across);
      await refusal(readModel(b.dir), b.json, "'dense_1/bias'", 'more than once', 'group 2 of 2, entry 1', 'group 1 of 2, entry 2');
    });
  });

  describe('the CLI', () => {
    const bin = join(repoRoot, 'bin', 'prunescope.js');
    before(() => {
      const build = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
      assert.equal(build.status, 0, build.stderr);
    });

    function inspect(dir: string) {
      const r = spawnSync(process.execPath, [bin, 'inspect', dir], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    function clean(stderr: string) {
      assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${stderr}`);
      assert.doesNotMatch(stderr, /internal error|Maximum call stack/, stderr);
    }

    it('inspect exits 1 on a shard linked to a file outside the folder, naming model.json and the shard', async () => {
      const { dir, json } = await folder(root, 'cli-link-out', layersModel());
      await fs.rm(join(dir, 'weights.bin'));
      await fs.symlink('/etc/passwd', join(dir, 'weights.bin'));
      const r = inspect(dir);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(json), r.stderr);
      assert.match(r.stderr, /shard 1 of 1 'weights.bin'.*outside the model's folder/);
      assert.equal(r.stdout, '');
      clean(r.stderr);
    });

    it('inspect exits 1 on a 100,000-deep activation config, naming model.json', async () => {
      const { dir, json } = await folder(
        root,
        'cli-deep',
        withRaw(layersModel({ activation: '__DEEP__' }), deepObject('class_name', 100_000)),
      );
      const r = inspect(dir);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(json), r.stderr);
      assert.match(r.stderr, /nesting deeper than 64 levels/);
      clean(r.stderr);
    });
  });
});
