import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { nestedSubgraphs } from './kits/onnx-hostile';
import { buildModel, fTensor, node, rand32, rawFloat32, valueInfo } from './kits/onnx';
import { repoRoot } from './fixtures';

// Hostile ONNX and safetensors files through the CLI as a person runs it (the built bundle, in its
// own process): exit 1, the file named on stderr, no stack trace, no "internal error".
const bin = join(repoRoot, 'bin', 'prunescope.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function refusedCleanly(r: { code: number | null; stderr: string }, file: string, pattern: RegExp) {
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes(file), `stderr names ${file}:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|Maximum call stack/i, r.stderr);
}

let dir: string;
before(() => {
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  dir = mkdtempSync(join(tmpdir(), 'prunescope-cli-hostile-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('prunescope inspect on hostile files', () => {
  it('ONNX external data through a symlink to a file outside the model folder: exit 1, file named, no stack', () => {
    const folder = join(dir, 'model');
    mkdirSync(folder);
    const secret = join(dir, 'secret.bin');
    writeFileSync(secret, rawFloat32(rand32(12, 1)));
    symlinkSync(secret, join(folder, 'weights.bin'));
    const W: onnx.ITensorProto = {
      name: 'W',
      dims: [4, 3],
      dataType: onnx.TensorProto.DataType.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: 'weights.bin' }],
    };
    const file = join(folder, 'net.onnx');
    writeFileSync(
      file,
      buildModel({
        opset: 13,
        nodes: [node('Gemm', ['x', 'W', 'b'], ['y'], {}, 'fc')],
        initializers: [W, fTensor('b', [3], [0, 0, 0])],
        inputs: [valueInfo('x', ['N', 4])],
        outputs: [valueInfo('y', ['N', 3])],
      }),
    );
    refusedCleanly(
      cli('inspect', file),
      file,
      /tensor 'W' external location "weights\.bin" resolves \(through a symbolic link\) to .*secret\.bin, outside the model's folder/,
    );
  });

  it('ONNX with 200,000 levels of nested subgraphs: exit 1, file named, no stack overflow', () => {
    const file = join(dir, 'deep.onnx');
    writeFileSync(file, nestedSubgraphs(200_000));
    refusedCleanly(cli('inspect', file), file, /protobuf messages are nested more than 100 levels deep/);
  });

  it('ONNX weight behind 100,000 Identity nodes: inspect reads it', () => {
    const n = 100_000;
    const file = join(dir, 'chain.onnx');
    writeFileSync(
      file,
      buildModel({
        opset: 13,
        nodes: [
          ...Array.from({ length: n }, (_, k) => node('Identity', [k === 0 ? 'W' : `w${k - 1}`], [`w${k}`])),
          node('Gemm', ['x', `w${n - 1}`], ['y'], {}, 'fc'),
        ],
        initializers: [fTensor('W', [4, 3], rand32(12, 2))],
        inputs: [valueInfo('x', ['N', 4])],
        outputs: [valueInfo('y', ['N', 3])],
      }),
    );
    const r = cli('inspect', file, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).layers.map((l: { units: number }) => l.units),
      [3],
    );
  });

  it('safetensors naming a tensor twice: exit 1, file and tensor named', () => {
    const header = Buffer.from(
      '{"0.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"0.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}}',
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const file = join(dir, 'dup.safetensors');
    writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(8)]));
    refusedCleanly(cli('inspect', file), file, /tensor "0\.weight" appears twice in the header/);
  });
});
